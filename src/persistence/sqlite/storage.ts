/**
 * The SQLite backend of Storage (storage.ts), on better-sqlite3: one database file in WAL mode,
 * opened by openSqliteStorage (open.ts). This file holds the batch mechanism every store of the
 * backend shares (sessions.ts, tables.ts, and the later stores on the same database).
 *
 * Batches. Every write method first calls `beginWrite()`: if no batch is open it runs BEGIN,
 * sets `batchOpen` and calls `onBatch` (the core's group commit, which calls commit() later in
 * the same event-loop turn). So thousands of writes of one turn share one transaction and one
 * WAL append, instead of one fsync'd transaction each.
 *
 * Write errors. A write never throws. If SQLite fails inside a batch (SQLITE_FULL when the disk
 * is full, SQLITE_IOERR...) the store remembers the first error and skips the batch's later
 * writes (SQLite may already have rolled the transaction back, and a later write would then
 * commit on its own); commit() then rolls the batch back and throws a StoreError naming the file,
 * so the core refuses what waited for the batch instead of acknowledging it. The next write opens
 * a new batch: once space is back, the store works again.
 */

import type Database from 'better-sqlite3';
import { StoreError } from '../../errors.js';
import type { Storage, TableName } from '../storage.js';
import { SqliteSessionStore } from './sessions.js';
import { SqliteMessageTable } from './tables.js';

/** A SQLite error's message with its code, e.g. "database or disk is full (SQLITE_FULL)". */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${error.message} (${code})` : error.message;
}

export class SqliteStorage implements Storage {
  readonly backend = 'sqlite';
  readonly durable = true;
  readonly sessions: SqliteSessionStore;
  onBatch: (() => void) | null = null;
  private open = false;
  /** The first error of the open batch; undefined while it is sound. */
  private failure: unknown = undefined;
  private readonly beginStmt: Database.Statement;
  private readonly commitStmt: Database.Statement;
  private readonly rollbackStmt: Database.Statement;
  private readonly tables: Record<TableName, SqliteMessageTable>;

  constructor(
    /** The open connection (journal_mode WAL, migrated): for the stores of this backend. */
    readonly db: Database.Database,
    /** The database file's path. */
    readonly location: string,
  ) {
    this.beginStmt = db.prepare('BEGIN');
    this.commitStmt = db.prepare('COMMIT');
    this.rollbackStmt = db.prepare('ROLLBACK');
    this.sessions = new SqliteSessionStore(this);
    this.tables = {
      retained: new SqliteMessageTable(this, 'retained'),
      delayed: new SqliteMessageTable(this, 'delayed'),
      wills: new SqliteMessageTable(this, 'wills'),
    };
  }

  get batchOpen(): boolean {
    return this.open;
  }

  table(name: TableName): SqliteMessageTable {
    return this.tables[name];
  }

  /**
   * For the stores of this backend, before each write: opens a batch if none is open. Returns
   * false when the open batch has already failed: the write must then be skipped.
   */
  beginWrite(): boolean {
    if (!this.open) {
      this.open = true;
      try {
        this.beginStmt.run();
      } catch (error) {
        this.failure = error;
      }
      this.onBatch?.();
    }
    return this.failure === undefined;
  }

  /**
   * For the stores of this backend: runs one write statement in the open batch (opening it).
   * Null when the batch has already failed or this statement failed (the batch then fails at
   * commit()); the statement's result otherwise.
   */
  run(statement: Database.Statement, ...params: unknown[]): Database.RunResult | null {
    if (!this.beginWrite()) return null;
    try {
      return statement.run(...params);
    } catch (error) {
      this.writeFailed(error);
      return null;
    }
  }

  /** For the stores of this backend: a write of the open batch failed. */
  writeFailed(error: unknown): void {
    if (this.failure === undefined) this.failure = error;
  }

  commit(): void {
    if (!this.open) return;
    this.open = false;
    let failure = this.failure;
    this.failure = undefined;
    if (failure === undefined) {
      try {
        this.commitStmt.run();
        return;
      } catch (error) {
        failure = error;
      }
    }
    // SQLite may have rolled the transaction back itself (SQLITE_FULL, SQLITE_IOERR can).
    if (this.db.inTransaction) {
      try {
        this.rollbackStmt.run();
      } catch {
        // The rollback's own failure adds nothing: the batch is lost either way.
      }
    }
    throw new StoreError(
      `could not write to ${this.location}: ${describeError(failure)}; the batch was rolled back ` +
        '(if the disk is full, free space: the store works again with the next batch)',
      this.location,
      { cause: failure },
    );
  }

  close(): void {
    if (!this.db.open) return;
    let failure: unknown;
    try {
      this.commit();
    } catch (error) {
      failure = error;
    }
    try {
      // Moves the WAL into the database file and empties it, so the file alone is a full copy.
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // Not fatal: the next open replays the WAL.
    }
    this.db.close();
    if (failure !== undefined) throw failure;
  }
}
