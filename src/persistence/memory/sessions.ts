/**
 * Persistent sessions in memory (sessions.ts, SessionStore): one ClientRows per client id with
 * its session row, subscriptions by filter, entries by seq and awaiting-release ids by packet
 * id, and the stored messages in a Map by id.
 *
 * It keeps what a durable backend keeps, with the same rules, so the conformance suite holds it
 * to the same behaviour: rows of a client with no session row (written before it, or left after
 * it) are kept and counted but not loaded; entries load in seq order whatever order they were put
 * in. Records are kept as given (they are readonly), not copied.
 */

import type {
  AwaitingRelRecord,
  EntryRecord,
  EntryState,
  LoadedSession,
  SessionRecord,
  SessionStore,
  SubscriptionRecord,
} from '../sessions.js';
import type { StoredMessage } from '../storage.js';

/** Everything stored for one client id. */
class ClientRows {
  session: SessionRecord | undefined = undefined;
  readonly subscriptions = new Map<string, SubscriptionRecord>();
  readonly entries = new Map<number, EntryRecord>();
  readonly awaitingRel = new Map<number, AwaitingRelRecord>();
}

function bySeq(a: EntryRecord, b: EntryRecord): number {
  return a.seq - b.seq;
}

export class MemorySessionStore implements SessionStore {
  private readonly clients = new Map<string, ClientRows>();
  private readonly messages = new Map<number, StoredMessage>();

  constructor(
    /** Called before every write (MemoryStorage opens a batch). */
    private readonly touch: () => void,
  ) {}

  private rows(clientId: string): ClientRows {
    let rows = this.clients.get(clientId);
    if (rows === undefined) this.clients.set(clientId, (rows = new ClientRows()));
    return rows;
  }

  putSession(record: SessionRecord): void {
    this.touch();
    this.rows(record.clientId).session = record;
  }

  deleteSession(clientId: string): void {
    this.touch();
    this.clients.delete(clientId);
  }

  putSubscription(clientId: string, record: SubscriptionRecord): void {
    this.touch();
    this.rows(clientId).subscriptions.set(record.filter, record);
  }

  deleteSubscription(clientId: string, filter: string): void {
    this.touch();
    this.clients.get(clientId)?.subscriptions.delete(filter);
  }

  putMessage(id: number, message: StoredMessage): void {
    this.touch();
    this.messages.set(id, message);
  }

  deleteMessage(id: number): void {
    this.touch();
    this.messages.delete(id);
  }

  putEntry(clientId: string, entry: EntryRecord): void {
    this.touch();
    this.rows(clientId).entries.set(entry.seq, entry);
  }

  updateEntry(clientId: string, seq: number, packetId: number, state: EntryState): void {
    this.touch();
    const entries = this.clients.get(clientId)?.entries;
    const entry = entries?.get(seq);
    if (entries !== undefined && entry !== undefined) entries.set(seq, { ...entry, packetId, state });
  }

  deleteEntry(clientId: string, seq: number): void {
    this.touch();
    this.clients.get(clientId)?.entries.delete(seq);
  }

  putAwaitingRel(clientId: string, record: AwaitingRelRecord): void {
    this.touch();
    this.rows(clientId).awaitingRel.set(record.packetId, record);
  }

  deleteAwaitingRel(clientId: string, packetId: number): void {
    this.touch();
    this.clients.get(clientId)?.awaitingRel.delete(packetId);
  }

  loadSessions(): LoadedSession[] {
    const loaded: LoadedSession[] = [];
    for (const rows of this.clients.values()) {
      if (rows.session === undefined) continue;
      loaded.push({
        session: rows.session,
        subscriptions: [...rows.subscriptions.values()],
        entries: [...rows.entries.values()].sort(bySeq),
        awaitingRel: [...rows.awaitingRel.values()],
      });
    }
    return loaded;
  }

  loadMessage(id: number): StoredMessage | undefined {
    return this.messages.get(id);
  }

  maxMessageId(): number {
    let max = 0;
    for (const id of this.messages.keys()) if (id > max) max = id;
    return max;
  }

  deleteUnreferencedMessages(): number {
    this.touch();
    const referenced = new Set<number>();
    for (const rows of this.clients.values())
      for (const e of rows.entries.values()) referenced.add(e.messageId);
    let deleted = 0;
    for (const id of this.messages.keys()) {
      if (!referenced.has(id)) {
        this.messages.delete(id);
        deleted++;
      }
    }
    return deleted;
  }

  counts(): {
    sessions: number;
    subscriptions: number;
    entries: number;
    messages: number;
    awaitingRel: number;
  } {
    let sessions = 0;
    let subscriptions = 0;
    let entries = 0;
    let awaitingRel = 0;
    for (const rows of this.clients.values()) {
      if (rows.session !== undefined) sessions++;
      subscriptions += rows.subscriptions.size;
      entries += rows.entries.size;
      awaitingRel += rows.awaitingRel.size;
    }
    return { sessions, subscriptions, entries, messages: this.messages.size, awaitingRel };
  }
}
