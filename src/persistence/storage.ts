/**
 * The storage interface: everything the broker keeps across a restart, behind one object that
 * main.ts opens from `durable_storage.backend` (sqlite, the default, or memory).
 *
 *   sessions   persistent sessions: subscriptions, queued and in-flight deliveries (references to
 *              stored messages, each message stored once), QoS 2 ids awaiting PUBREL
 *   tables     keyed message tables for the retained messages, delayed publishes and wills
 *              waiting for their delay (`retained`, `delayed`, `wills`)
 *
 * Every method is synchronous: the SQLite backend (better-sqlite3) is, and the memory backend
 * trivially so. Writes are grouped: the first write after a commit opens a batch (one
 * transaction) and tells the `onBatch` listener, which commits it once per event-loop turn
 * (src/broker/group-commit.ts). Nothing a client is told about a write leaves the process before
 * that commit (DESIGN.md, "Durability promise").
 *
 * Records are plain data (StoredMessage: topic, payload bytes, MQTT property block bytes): the
 * persistence layer does not know the core's Message class.
 */

import type { SessionStore } from './sessions.js';

/** A message as the store keeps it. */
export interface StoredMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  /** The MQTT 5.0 property block (encodePropertyBlock), or null. */
  readonly properties: Buffer | null;
  /** Publisher's client id ('' for the broker's own). */
  readonly from: string;
  /** When the broker received it (ms since the epoch): message expiry counts from here. */
  readonly timestamp: number;
}

/** One row of a message table. */
export interface TableRow {
  readonly key: string;
  /** A time the owner orders or wakes by (a delayed message's due time); 0 if unused. */
  readonly due: number;
  readonly message: StoredMessage;
  /** Small JSON-able data the owner keeps beside the message (a will's client info). */
  readonly meta: string | null;
}

/** A keyed table of messages (retained by topic, delayed by key, wills by client id). */
export interface MessageTable {
  put(row: TableRow): void;
  delete(key: string): void;
  /** Every row, in no particular order. */
  rows(): Iterable<TableRow>;
  readonly size: number;
}

/** The tables every backend has. */
export type TableName = 'retained' | 'delayed' | 'wills';

export interface Storage {
  /** 'sqlite' or 'memory'. */
  readonly backend: string;
  /** True when what is written survives the process (sqlite); false for memory. */
  readonly durable: boolean;
  /** Where the data lives, for logs and errors (a file path, or ':memory:'). */
  readonly location: string;
  readonly sessions: SessionStore;
  table(name: TableName): MessageTable;
  /**
   * Called when a write opens a batch (once per batch). The listener must call commit() soon,
   * normally later in the same event-loop turn.
   */
  onBatch: (() => void) | null;
  /** True while a batch is open (written, not yet committed). */
  readonly batchOpen: boolean;
  /**
   * Commits the open batch (a no-op when none is open). Throws a StoreError if the batch could
   * not be kept: then it is rolled back, and whatever waited for it must be refused.
   */
  commit(): void;
  /** Commits what is open and closes the store. */
  close(): void;
}
