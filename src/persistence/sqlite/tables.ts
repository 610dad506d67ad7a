/**
 * A keyed message table in SQLite (storage.ts, MessageTable): retained, delayed or wills, each
 * its own table with the layout of schema.ts (key, due, the message's columns, meta). Writes go
 * through the storage's batch like every other write of the backend.
 */

import type Database from 'better-sqlite3';
import type { MessageTable, TableName, TableRow } from '../storage.js';
import { type MessageRow, messageFromRow } from './sessions.js';
import type { SqliteStorage } from './storage.js';

interface TableRowRow extends MessageRow {
  key: string;
  due: number;
  meta: string | null;
}

export class SqliteMessageTable implements MessageTable {
  private readonly putStmt: Database.Statement;
  private readonly deleteStmt: Database.Statement;
  private readonly rowsStmt: Database.Statement;
  private readonly sizeStmt: Database.Statement;

  constructor(
    private readonly storage: SqliteStorage,
    name: TableName,
  ) {
    const db = storage.db;
    this.putStmt = db.prepare(
      `INSERT OR REPLACE INTO ${name} (key, due, topic, payload, qos, retain, props, sender, ts, meta) ` +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.deleteStmt = db.prepare(`DELETE FROM ${name} WHERE key = ?`);
    this.rowsStmt = db.prepare(`SELECT * FROM ${name}`);
    this.sizeStmt = db.prepare(`SELECT COUNT(*) FROM ${name}`).pluck();
  }

  get size(): number {
    return this.sizeStmt.get() as number;
  }

  put(row: TableRow): void {
    if (!this.storage.beginWrite()) return;
    const m = row.message;
    try {
      this.putStmt.run(
        row.key,
        row.due,
        m.topic,
        m.payload,
        m.qos,
        m.retain ? 1 : 0,
        m.properties,
        m.from,
        m.timestamp,
        row.meta,
      );
    } catch (error) {
      this.storage.writeFailed(error);
    }
  }

  delete(key: string): void {
    this.storage.run(this.deleteStmt, key);
  }

  /** Every row, read at once (an open iterator would keep the connection busy for writes). */
  rows(): Iterable<TableRow> {
    return (this.rowsStmt.all() as TableRowRow[]).map((r) => ({
      key: r.key,
      due: r.due,
      message: messageFromRow(r),
      meta: r.meta,
    }));
  }
}
