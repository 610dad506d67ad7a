/**
 * What a session tells the durable store as its state changes. A session that persists (it has
 * a Session Expiry Interval, and the broker has a durable store) has a journal; any other has
 * none (`session.journal === null`), and then these calls cost one null test each.
 *
 * The implementation (src/broker/durable.ts) turns the calls into store writes; the writes of one
 * event-loop turn are committed together before anything leaves the process (group commit).
 */

import type { Delivery, Session } from './session.js';

export interface SessionJournal {
  /** A delivery entered the session: queued (packetId 0) or sent with `packetId`. */
  added(session: Session, delivery: Delivery, packetId: number): void;
  /** A queued delivery was sent with `packetId`. */
  sent(session: Session, delivery: Delivery, packetId: number): void;
  /** QoS 2: PUBREC came for the delivery sent with `packetId`; PUBREL is next. */
  released(session: Session, delivery: Delivery, packetId: number): void;
  /** A delivery left the session: acknowledged, dropped, expired or given to another member. */
  removed(session: Session, delivery: Delivery): void;
  /** An incoming QoS 2 packet id now awaits PUBREL. */
  awaitingRel(session: Session, packetId: number, at: number): void;
  /** An incoming QoS 2 packet id was released (or forgotten after await_rel_timeout). */
  relReleased(session: Session, packetId: number): void;
  subscribed(session: Session, filter: string): void;
  unsubscribed(session: Session, filter: string): void;
  /** Expiry interval, connected state or flags changed. */
  updated(session: Session): void;
}
