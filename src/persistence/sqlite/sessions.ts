/**
 * Persistent sessions in SQLite (sessions.ts, SessionStore), on the tables of schema.ts version 1.
 * Every statement is prepared once, here; every write goes through the storage's batch
 * (storage.ts: beginWrite, and writeFailed instead of a throw).
 *
 * Encodings: booleans are 0/1; subscription ids are a comma list ('' for an empty list, NULL for
 * none); a message's payload and property block are BLOBs (property block NULL when absent).
 */

import type Database from 'better-sqlite3';
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
import type { SqliteStorage } from './storage.js';

interface SessionRow {
  client_id: string;
  expiry: number;
  disconnected_at: number | null;
  flags: number;
}
interface SubscriptionRow {
  client_id: string;
  filter: string;
  qos: 0 | 1 | 2;
  nl: number;
  rap: number;
  rh: 0 | 1 | 2;
  sub_id: number;
}
interface EntryRow {
  client_id: string;
  seq: number;
  msg_id: number;
  qos: 0 | 1 | 2;
  retain: number;
  sub_ids: string | null;
  packet_id: number;
  state: EntryState;
  grp: string | null;
}
interface AwaitingRelRow {
  client_id: string;
  packet_id: number;
  at: number;
}
export interface MessageRow {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: number;
  props: Buffer | null;
  sender: string;
  ts: number;
}

/** A stored message from its row (messages, or a message table's columns). */
export function messageFromRow(row: MessageRow): StoredMessage {
  return {
    topic: row.topic,
    payload: row.payload,
    qos: row.qos,
    retain: row.retain !== 0,
    properties: row.props,
    from: row.sender,
    timestamp: row.ts,
  };
}

function subIdsToText(subIds: readonly number[] | null): string | null {
  return subIds === null ? null : subIds.join(',');
}

function subIdsFromText(text: string | null): number[] | null {
  if (text === null) return null;
  return text === '' ? [] : text.split(',').map(Number);
}

/** Rows grouped by client id, in the order they came. */
function groupByClient<R extends { client_id: string }>(rows: R[]): Map<string, R[]> {
  const groups = new Map<string, R[]>();
  for (const row of rows) {
    const group = groups.get(row.client_id);
    if (group === undefined) groups.set(row.client_id, [row]);
    else group.push(row);
  }
  return groups;
}

export class SqliteSessionStore implements SessionStore {
  private readonly putSessionStmt: Database.Statement;
  private readonly deleteSessionStmts: Database.Statement[];
  private readonly putSubscriptionStmt: Database.Statement;
  private readonly deleteSubscriptionStmt: Database.Statement;
  private readonly putMessageStmt: Database.Statement;
  private readonly deleteMessageStmt: Database.Statement;
  private readonly putEntryStmt: Database.Statement;
  private readonly updateEntryStmt: Database.Statement;
  private readonly deleteEntryStmt: Database.Statement;
  private readonly putAwaitingRelStmt: Database.Statement;
  private readonly deleteAwaitingRelStmt: Database.Statement;
  private readonly loadMessageStmt: Database.Statement;
  private readonly maxMessageIdStmt: Database.Statement;
  private readonly deleteUnreferencedStmt: Database.Statement;
  private readonly countsStmt: Database.Statement;
  private readonly loadStmts: Record<
    'sessions' | 'subscriptions' | 'entries' | 'awaitingRel',
    Database.Statement
  >;

  constructor(private readonly storage: SqliteStorage) {
    const db = storage.db;
    this.putSessionStmt = db.prepare(
      'INSERT OR REPLACE INTO sessions (client_id, expiry, disconnected_at, flags) VALUES (?, ?, ?, ?)',
    );
    this.deleteSessionStmts = ['sessions', 'subscriptions', 'entries', 'awaiting_rel'].map((table) =>
      db.prepare(`DELETE FROM ${table} WHERE client_id = ?`),
    );
    this.putSubscriptionStmt = db.prepare(
      'INSERT OR REPLACE INTO subscriptions (client_id, filter, qos, nl, rap, rh, sub_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.deleteSubscriptionStmt = db.prepare('DELETE FROM subscriptions WHERE client_id = ? AND filter = ?');
    this.putMessageStmt = db.prepare(
      'INSERT OR REPLACE INTO messages (id, topic, payload, qos, retain, props, sender, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.deleteMessageStmt = db.prepare('DELETE FROM messages WHERE id = ?');
    this.putEntryStmt = db.prepare(
      'INSERT OR REPLACE INTO entries (client_id, seq, msg_id, qos, retain, sub_ids, packet_id, state, grp) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.updateEntryStmt = db.prepare(
      'UPDATE entries SET packet_id = ?, state = ? WHERE client_id = ? AND seq = ?',
    );
    this.deleteEntryStmt = db.prepare('DELETE FROM entries WHERE client_id = ? AND seq = ?');
    this.putAwaitingRelStmt = db.prepare(
      'INSERT OR REPLACE INTO awaiting_rel (client_id, packet_id, at) VALUES (?, ?, ?)',
    );
    this.deleteAwaitingRelStmt = db.prepare('DELETE FROM awaiting_rel WHERE client_id = ? AND packet_id = ?');
    this.loadMessageStmt = db.prepare(
      'SELECT topic, payload, qos, retain, props, sender, ts FROM messages WHERE id = ?',
    );
    this.maxMessageIdStmt = db.prepare('SELECT COALESCE(MAX(id), 0) FROM messages').pluck();
    this.deleteUnreferencedStmt = db.prepare(
      'DELETE FROM messages WHERE id NOT IN (SELECT msg_id FROM entries)',
    );
    this.countsStmt = db.prepare(
      'SELECT (SELECT COUNT(*) FROM sessions) AS sessions, (SELECT COUNT(*) FROM subscriptions) AS subscriptions, ' +
        '(SELECT COUNT(*) FROM entries) AS entries, (SELECT COUNT(*) FROM messages) AS messages, ' +
        '(SELECT COUNT(*) FROM awaiting_rel) AS awaitingRel',
    );
    this.loadStmts = {
      sessions: db.prepare('SELECT * FROM sessions'),
      subscriptions: db.prepare('SELECT * FROM subscriptions'),
      entries: db.prepare('SELECT * FROM entries ORDER BY client_id, seq'),
      awaitingRel: db.prepare('SELECT * FROM awaiting_rel'),
    };
  }

  putSession(r: SessionRecord): void {
    this.storage.run(this.putSessionStmt, r.clientId, r.expiryInterval, r.disconnectedAt, r.flags);
  }

  deleteSession(clientId: string): void {
    if (!this.storage.beginWrite()) return;
    try {
      for (const stmt of this.deleteSessionStmts) stmt.run(clientId);
    } catch (error) {
      this.storage.writeFailed(error);
    }
  }

  putSubscription(clientId: string, r: SubscriptionRecord): void {
    this.storage.run(
      this.putSubscriptionStmt,
      clientId,
      r.filter,
      r.qos,
      r.noLocal ? 1 : 0,
      r.retainAsPublished ? 1 : 0,
      r.retainHandling,
      r.subscriptionId,
    );
  }

  deleteSubscription(clientId: string, filter: string): void {
    this.storage.run(this.deleteSubscriptionStmt, clientId, filter);
  }

  putMessage(id: number, m: StoredMessage): void {
    this.storage.run(
      this.putMessageStmt,
      id,
      m.topic,
      m.payload,
      m.qos,
      m.retain ? 1 : 0,
      m.properties,
      m.from,
      m.timestamp,
    );
  }

  deleteMessage(id: number): void {
    this.storage.run(this.deleteMessageStmt, id);
  }

  putEntry(clientId: string, e: EntryRecord): void {
    this.storage.run(
      this.putEntryStmt,
      clientId,
      e.seq,
      e.messageId,
      e.qos,
      e.retain ? 1 : 0,
      subIdsToText(e.subIds),
      e.packetId,
      e.state,
      e.group,
    );
  }

  updateEntry(clientId: string, seq: number, packetId: number, state: EntryState): void {
    this.storage.run(this.updateEntryStmt, packetId, state, clientId, seq);
  }

  deleteEntry(clientId: string, seq: number): void {
    this.storage.run(this.deleteEntryStmt, clientId, seq);
  }

  putAwaitingRel(clientId: string, r: AwaitingRelRecord): void {
    this.storage.run(this.putAwaitingRelStmt, clientId, r.packetId, r.at);
  }

  deleteAwaitingRel(clientId: string, packetId: number): void {
    this.storage.run(this.deleteAwaitingRelStmt, clientId, packetId);
  }

  loadSessions(): LoadedSession[] {
    const load = this.loadStmts;
    const sessions = load.sessions.all() as SessionRow[];
    const subscriptions = groupByClient(load.subscriptions.all() as SubscriptionRow[]);
    const entries = groupByClient(load.entries.all() as EntryRow[]);
    const awaiting = groupByClient(load.awaitingRel.all() as AwaitingRelRow[]);
    return sessions.map((s) => ({
      session: {
        clientId: s.client_id,
        expiryInterval: s.expiry,
        disconnectedAt: s.disconnected_at,
        flags: s.flags,
      },
      subscriptions: (subscriptions.get(s.client_id) ?? []).map((r) => ({
        filter: r.filter,
        qos: r.qos,
        noLocal: r.nl !== 0,
        retainAsPublished: r.rap !== 0,
        retainHandling: r.rh,
        subscriptionId: r.sub_id,
      })),
      entries: (entries.get(s.client_id) ?? []).map((r) => ({
        seq: r.seq,
        messageId: r.msg_id,
        qos: r.qos,
        retain: r.retain !== 0,
        subIds: subIdsFromText(r.sub_ids),
        packetId: r.packet_id,
        state: r.state,
        group: r.grp,
      })),
      awaitingRel: (awaiting.get(s.client_id) ?? []).map((r) => ({ packetId: r.packet_id, at: r.at })),
    }));
  }

  loadMessage(id: number): StoredMessage | undefined {
    const row = this.loadMessageStmt.get(id) as MessageRow | undefined;
    return row === undefined ? undefined : messageFromRow(row);
  }

  maxMessageId(): number {
    return this.maxMessageIdStmt.get() as number;
  }

  deleteUnreferencedMessages(): number {
    if (!this.storage.beginWrite()) return 0;
    try {
      return this.deleteUnreferencedStmt.run().changes;
    } catch (error) {
      this.storage.writeFailed(error);
      return 0;
    }
  }

  counts(): {
    sessions: number;
    subscriptions: number;
    entries: number;
    messages: number;
    awaitingRel: number;
  } {
    return this.countsStmt.get() as {
      sessions: number;
      subscriptions: number;
      entries: number;
      messages: number;
      awaitingRel: number;
    };
  }
}
