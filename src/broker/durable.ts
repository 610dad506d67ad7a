/**
 * Durable sessions: the journal that writes a persistent session's changes to the store, and the
 * restore that rebuilds sessions from it at start (issue 5, docs/durability.md).
 *
 * Which sessions. A session persists when its Session Expiry Interval is above 0 (a 3.x session
 * with Clean Session 0 has the configured `mqtt.session_expiry_interval`). Others never touch
 * the disk, and neither does a QoS 0 message to an online client.
 *
 * Messages are stored once. A message delivered to N persistent sessions is one row in
 * `messages` and N entries referring to it: `Message.storeId` is its row, `Message.storeRefs`
 * counts the entries, and the row goes with the last entry. All the writes of one event-loop
 * turn are one transaction (group-commit.ts), so a message and its entries, or an entry's
 * deletion and its message's, are never split by a crash.
 *
 * Restore. Every stored session comes back detached, with its subscriptions routed, in-flight
 * deliveries (sent again with DUP on reconnect, or their PUBREL), queued deliveries in order and
 * the QoS 2 ids awaiting release. A session that was connected when the broker stopped counts as
 * disconnected from the restart, so its expiry runs from then; one that was already
 * disconnected keeps its stored time.
 */

import { decodePropertyBlock, encodePropertyBlock, PacketType, type QoS } from '../protocol/index.js';
import type { EntryState as EntryStateT, SessionStore, SubscriptionRecord } from '../persistence/sessions.js';
import { EntryState } from '../persistence/sessions.js';
import type { StoredMessage } from '../persistence/storage.js';
import type { SessionJournal } from '../session/journal.js';
import { Delivery, type Session, type ShareGroupRef } from '../session/session.js';
import { Message } from './message.js';
import type { SubscriptionOptions } from './types.js';

const FLAG_UPGRADE_QOS = 1;
const FLAG_IGNORE_LOOP = 2;

/** A message as the store keeps it. */
export function storedMessage(m: Message): StoredMessage {
  return {
    topic: m.topic,
    payload: m.payload,
    qos: m.qos,
    retain: m.retain,
    properties: m.properties === null ? null : encodePropertyBlock(m.properties, PacketType.Publish),
    from: m.from,
    timestamp: m.timestamp,
  };
}

/** A stored message as a Message again (owning its bytes). */
export function loadedMessage(s: StoredMessage): Message {
  const properties = s.properties === null ? null : decodePropertyBlock(s.properties, PacketType.Publish);
  return new Message(s.topic, s.payload, s.qos, s.retain, properties, s.from, s.timestamp).own();
}

function groupName(ref: ShareGroupRef | null): string | null {
  return ref === null ? null : `${ref.name}/${ref.filter}`;
}

function groupRef(stored: string | null): ShareGroupRef | null {
  if (stored === null) return null;
  const slash = stored.indexOf('/');
  return { name: stored.slice(0, slash), filter: stored.slice(slash + 1) };
}

/** What restore needs from the broker: to register a session and route its subscriptions. */
export interface SessionHost {
  adoptSession(clientId: string): Session;
  subscribe(session: Session, filter: string, options: SubscriptionOptions): boolean;
}

export class DurableSessions implements SessionJournal {
  private nextMessageId: number;

  constructor(private readonly store: SessionStore) {
    this.nextMessageId = store.maxMessageId() + 1;
  }

  /** Starts journaling a session that persists: writes its row and subscriptions. */
  track(session: Session): void {
    if (session.journal === this) {
      this.updated(session);
      return;
    }
    session.journal = this;
    this.updated(session);
    for (const filter of session.subscriptions.keys()) this.subscribed(session, filter);
    for (const d of session.deliveries()) if (d.seq === 0) this.added(session, d, 0);
  }

  /** A session ends (discarded, expired, or no longer persisting): its rows go. */
  forget(session: Session): void {
    if (session.journal !== this) return;
    for (const d of session.deliveries()) if (d.seq !== 0) this.unref(d.message);
    session.journal = null;
    this.store.deleteSession(session.clientId);
  }

  added(session: Session, d: Delivery, packetId: number): void {
    d.seq = session.nextSeq++;
    const m = d.message;
    if (m.storeId === 0) {
      m.storeId = this.nextMessageId++;
      this.store.putMessage(m.storeId, storedMessage(m));
    }
    m.storeRefs++;
    this.store.putEntry(session.clientId, {
      seq: d.seq,
      messageId: m.storeId,
      qos: d.qos,
      retain: d.retain,
      subIds: d.subIds,
      packetId,
      state: EntryState.Pending,
      group: groupName(d.group),
    });
  }

  sent(session: Session, d: Delivery, packetId: number): void {
    this.store.updateEntry(session.clientId, d.seq, packetId, EntryState.Pending);
  }

  released(session: Session, d: Delivery, packetId: number): void {
    if (d.seq !== 0) this.store.updateEntry(session.clientId, d.seq, packetId, EntryState.Released);
  }

  removed(session: Session, d: Delivery): void {
    if (d.seq === 0) return;
    this.store.deleteEntry(session.clientId, d.seq);
    d.seq = 0;
    this.unref(d.message);
  }

  awaitingRel(session: Session, packetId: number, at: number): void {
    this.store.putAwaitingRel(session.clientId, { packetId, at });
  }

  relReleased(session: Session, packetId: number): void {
    this.store.deleteAwaitingRel(session.clientId, packetId);
  }

  subscribed(session: Session, filter: string): void {
    const o = session.subscriptions.get(filter);
    if (o === undefined) return;
    this.store.putSubscription(session.clientId, {
      filter,
      qos: o.qos,
      noLocal: o.noLocal,
      retainAsPublished: o.retainAsPublished,
      retainHandling: o.retainHandling,
      subscriptionId: o.subscriptionId,
    });
  }

  unsubscribed(session: Session, filter: string): void {
    this.store.deleteSubscription(session.clientId, filter);
  }

  updated(session: Session): void {
    this.store.putSession({
      clientId: session.clientId,
      expiryInterval: session.expiryInterval,
      disconnectedAt: session.connected ? null : session.disconnectedAt,
      flags: (session.upgradeQos ? FLAG_UPGRADE_QOS : 0) | (session.ignoreLoop ? FLAG_IGNORE_LOOP : 0),
    });
  }

  private unref(m: Message): void {
    if (m.storeId === 0) return;
    if (--m.storeRefs <= 0) {
      this.store.deleteMessage(m.storeId);
      m.storeId = 0;
      m.storeRefs = 0;
    }
  }

  /**
   * Rebuilds every stored session in `host` (the broker) and journals them from then on.
   * Returns how many sessions and deliveries came back.
   */
  restore(host: SessionHost, now: number): { sessions: number; deliveries: number } {
    const messages = new Map<number, Message>();
    let deliveries = 0;
    this.store.deleteUnreferencedMessages();
    const loaded = this.store.loadSessions();
    for (const { session: row, subscriptions, entries, awaitingRel } of loaded) {
      const session = host.adoptSession(row.clientId);
      session.expiryInterval = row.expiryInterval;
      session.disconnectedAt = row.disconnectedAt ?? now;
      session.upgradeQos = (row.flags & FLAG_UPGRADE_QOS) !== 0;
      session.ignoreLoop = (row.flags & FLAG_IGNORE_LOOP) !== 0;
      for (const s of subscriptions) host.subscribe(session, s.filter, subscriptionOptions(s));
      for (const e of entries) {
        let m = messages.get(e.messageId);
        if (m === undefined) {
          const stored = this.store.loadMessage(e.messageId);
          if (stored === undefined) {
            this.store.deleteEntry(row.clientId, e.seq); // cannot happen: written together
            continue;
          }
          m = loadedMessage(stored);
          m.storeId = e.messageId;
          messages.set(e.messageId, m);
        }
        m.storeRefs++;
        const d = new Delivery(
          m,
          e.qos as QoS,
          e.retain,
          e.subIds === null ? null : [...e.subIds],
          groupRef(e.group),
        );
        d.seq = e.seq;
        if (e.packetId !== 0)
          session.restoreInflight(d, e.packetId, e.state === (EntryState.Released as EntryStateT));
        else session.restoreQueued(d);
        deliveries++;
      }
      for (const r of awaitingRel) session.restoreAwaitingRel(r.packetId, r.at);
      session.journal = this;
      if (row.disconnectedAt === null) this.updated(session); // now counts as disconnected
    }
    return { sessions: loaded.length, deliveries };
  }
}

function subscriptionOptions(s: SubscriptionRecord): SubscriptionOptions {
  const share = s.filter.startsWith('$share/')
    ? s.filter.slice(7, s.filter.indexOf('/', 7))
    : s.filter.startsWith('$queue/')
      ? '$queue'
      : null;
  return {
    qos: s.qos,
    noLocal: s.noLocal,
    retainAsPublished: s.retainAsPublished,
    retainHandling: s.retainHandling,
    subscriptionId: s.subscriptionId,
    shareGroup: share,
  };
}
