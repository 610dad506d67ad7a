/**
 * Records and writes shared by the Storage conformance suite (storage-conformance.ts) and its
 * crash child (storage-conformance-child.ts), which must agree on what a committed and an
 * uncommitted batch contain.
 */

import {
  EntryState,
  type EntryRecord,
  type LoadedSession,
  type SubscriptionRecord,
} from '../../../src/persistence/sessions.js';
import type { Storage, StoredMessage, TableName, TableRow } from '../../../src/persistence/storage.js';

export const TABLES: readonly TableName[] = ['retained', 'delayed', 'wills'];

/** Every byte value 0..255. */
export const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
/** A property block as encodePropertyBlock makes it: Message Expiry Interval 60, Content Type 'a/b'. */
export const PROPERTY_BLOCK = Buffer.from([0x02, 0x00, 0x00, 0x00, 0x3c, 0x03, 0x00, 0x03, 0x61, 0x2f, 0x62]);

export function message(n: number, overrides: Partial<StoredMessage> = {}): StoredMessage {
  return {
    topic: `t/${n}`,
    payload: Buffer.from(`payload ${n}`),
    qos: 1,
    retain: false,
    properties: null,
    from: `pub-${n}`,
    timestamp: 1_700_000_000_000 + n,
    ...overrides,
  };
}

export function entry(seq: number, messageId: number, overrides: Partial<EntryRecord> = {}): EntryRecord {
  return {
    seq,
    messageId,
    qos: 1,
    retain: false,
    subIds: null,
    packetId: 0,
    state: EntryState.Pending,
    group: null,
    ...overrides,
  };
}

export function subscription(
  filter: string,
  overrides: Partial<SubscriptionRecord> = {},
): SubscriptionRecord {
  return {
    filter,
    qos: 1,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    subscriptionId: 0,
    ...overrides,
  };
}

export function row(key: string, n: number, overrides: Partial<TableRow> = {}): TableRow {
  return { key, due: 0, message: message(n), meta: null, ...overrides };
}

/** Orders strings by UTF-16 code units (not by locale), the same everywhere. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** loadSessions with the unordered parts in a fixed order, for comparisons. */
export function sortedSessions(storage: Storage): LoadedSession[] {
  return storage.sessions
    .loadSessions()
    .map((s) => ({
      session: s.session,
      subscriptions: [...s.subscriptions].sort((a, b) => compareStrings(a.filter, b.filter)),
      entries: s.entries,
      awaitingRel: [...s.awaitingRel].sort((a, b) => a.packetId - b.packetId),
    }))
    .sort((a, b) => compareStrings(a.session.clientId, b.session.clientId));
}

/** A table's rows ordered by key. */
export function sortedRows(storage: Storage, name: TableName): TableRow[] {
  return [...storage.table(name).rows()].sort((a, b) => compareStrings(a.key, b.key));
}

/** A snapshot of everything a store holds (messages 1..maxId). */
export function snapshot(storage: Storage, maxId = storage.sessions.maxMessageId()) {
  const messages: [number, StoredMessage][] = [];
  for (let id = 1; id <= maxId; id++) {
    const m = storage.sessions.loadMessage(id);
    if (m !== undefined) messages.push([id, m]);
  }
  return {
    sessions: sortedSessions(storage),
    messages,
    maxMessageId: storage.sessions.maxMessageId(),
    counts: storage.sessions.counts(),
    tables: Object.fromEntries(TABLES.map((t) => [t, sortedRows(storage, t)])),
  };
}

/** The committed batch of the crash test: a session with every kind of row, and table rows. */
export function writeCommittedBatch(s: Storage): void {
  s.sessions.putSession({
    clientId: 'crash-a',
    expiryInterval: 3600,
    disconnectedAt: 1_700_000_000_000,
    flags: 1,
  });
  s.sessions.putSubscription('crash-a', subscription('x/#', { qos: 2, subscriptionId: 7 }));
  s.sessions.putMessage(1, message(1, { payload: ALL_BYTES, properties: PROPERTY_BLOCK }));
  s.sessions.putMessage(2, message(2, { qos: 2 }));
  s.sessions.putEntry('crash-a', entry(1, 1, { subIds: [7] }));
  s.sessions.putEntry('crash-a', entry(2, 2, { qos: 2, packetId: 4 }));
  s.sessions.putAwaitingRel('crash-a', { packetId: 10, at: 1_700_000_000_500 });
  s.table('retained').put(row('x/1', 11, { message: message(11, { retain: true }) }));
  s.table('delayed').put(row('d1', 12, { due: 1_700_000_060_000 }));
  s.table('wills').put(row('crash-a', 13, { meta: '{"delay":30}' }));
}

/** Message ids the uncommitted batch writes (and that must not exist after the crash). */
export const UNCOMMITTED_FIRST_ID = 3;

/**
 * The batch left uncommitted: it changes or deletes every row of the committed batch and adds
 * new ones. `bigPayloads` messages of 8 KiB make it large enough that SQLite spills pages of the
 * open transaction to the WAL before any commit (recovery must ignore them).
 */
export function writeUncommittedBatch(s: Storage, bigPayloads: number): void {
  s.sessions.putSession({ clientId: 'crash-b', expiryInterval: 60, disconnectedAt: null, flags: 0 });
  s.sessions.putSession({ clientId: 'crash-a', expiryInterval: 1, disconnectedAt: null, flags: 0 });
  s.sessions.putSubscription('crash-a', subscription('y'));
  s.sessions.deleteSubscription('crash-a', 'x/#');
  s.sessions.updateEntry('crash-a', 2, 9, EntryState.Released);
  s.sessions.deleteEntry('crash-a', 1);
  s.sessions.deleteMessage(1);
  s.sessions.deleteAwaitingRel('crash-a', 10);
  s.sessions.putAwaitingRel('crash-a', { packetId: 11, at: 1 });
  const big = Buffer.alloc(8192, 0xab);
  for (let i = 0; i < 1 + bigPayloads; i++) {
    const id = UNCOMMITTED_FIRST_ID + i;
    s.sessions.putMessage(id, message(id, { payload: big }));
    s.sessions.putEntry('crash-b', entry(id, id));
  }
  s.table('retained').put(row('x/2', 21));
  s.table('retained').delete('x/1');
  s.table('delayed').delete('d1');
  s.table('wills').put(row('crash-a', 23));
}
