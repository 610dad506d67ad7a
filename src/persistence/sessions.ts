/**
 * The persistent-session store interface (part of Storage, storage.ts).
 *
 * A persistent session (one with a Session Expiry Interval, or a 3.x session with Clean Session
 * 0) is kept as:
 *
 *   a session row         client id, expiry interval, when its last connection went (null while
 *                         connected), delivery flags
 *   subscriptions         filter and options, one row each
 *   entries               the deliveries it holds, in order (`seq`): queued ones (packetId 0)
 *                         and in-flight ones (the packet id they went out with, and whether
 *                         the PUBREL stage was reached); each refers to a stored message by id
 *   awaiting release      incoming QoS 2 packet ids received and not yet released
 *
 * and messages are stored once however many entries refer to them: the caller (the core's
 * journal, src/broker/durable.ts) counts references and deletes a message with its last entry.
 * Deleting a session deletes its rows, not the messages (their references are the caller's).
 */

import type { StoredMessage } from './storage.js';

export interface SessionRecord {
  readonly clientId: string;
  /** Session Expiry Interval in seconds (0xFFFFFFFF: never). */
  readonly expiryInterval: number;
  /** When its last connection closed (ms since the epoch); null while connected. */
  readonly disconnectedAt: number | null;
  /** Bit 0: upgrade_qos; bit 1: ignore_loop_deliver. */
  readonly flags: number;
}

export interface SubscriptionRecord {
  readonly filter: string;
  readonly qos: 0 | 1 | 2;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly retainHandling: 0 | 1 | 2;
  /** 0 when none. */
  readonly subscriptionId: number;
}

/** Where an entry stands. */
export const EntryState = {
  /** Waiting in the queue (packetId 0), or sent and awaiting PUBACK / PUBREC. */
  Pending: 0,
  /** QoS 2: PUBREC received, PUBREL sent, awaiting PUBCOMP. */
  Released: 1,
} as const;
export type EntryState = (typeof EntryState)[keyof typeof EntryState];

export interface EntryRecord {
  /** Order within the session (increasing). */
  readonly seq: number;
  readonly messageId: number;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly subIds: readonly number[] | null;
  /** The packet id it was sent with; 0 while queued. */
  readonly packetId: number;
  readonly state: EntryState;
  /** The share group that gave it (`<name>/<filter>`), or null. */
  readonly group: string | null;
}

export interface AwaitingRelRecord {
  readonly packetId: number;
  /** When the PUBLISH arrived (ms). */
  readonly at: number;
}

/** One session as loaded at start. */
export interface LoadedSession {
  readonly session: SessionRecord;
  readonly subscriptions: SubscriptionRecord[];
  /** In `seq` order. */
  readonly entries: EntryRecord[];
  readonly awaitingRel: AwaitingRelRecord[];
}

export interface SessionStore {
  /** Inserts or replaces a session row. */
  putSession(record: SessionRecord): void;
  /** Deletes a session with its subscriptions, entries and awaiting-release ids. */
  deleteSession(clientId: string): void;
  putSubscription(clientId: string, record: SubscriptionRecord): void;
  deleteSubscription(clientId: string, filter: string): void;
  putMessage(id: number, message: StoredMessage): void;
  deleteMessage(id: number): void;
  putEntry(clientId: string, entry: EntryRecord): void;
  /** Records the packet id and state of an entry (it was sent, or reached PUBREL). */
  updateEntry(clientId: string, seq: number, packetId: number, state: EntryState): void;
  deleteEntry(clientId: string, seq: number): void;
  putAwaitingRel(clientId: string, record: AwaitingRelRecord): void;
  deleteAwaitingRel(clientId: string, packetId: number): void;
  /** Every stored session. */
  loadSessions(): LoadedSession[];
  /** A stored message by id. */
  loadMessage(id: number): StoredMessage | undefined;
  /** The largest message id stored (0 when none), so new ids continue after it. */
  maxMessageId(): number;
  /**
   * Deletes messages no entry refers to (left by a crash between an entry's deletion and its
   * message's, which are never in different batches, or by older versions); returns how many.
   */
  deleteUnreferencedMessages(): number;
  /** Counts, for statistics and tests. */
  counts(): {
    sessions: number;
    subscriptions: number;
    entries: number;
    messages: number;
    awaitingRel: number;
  };
}
