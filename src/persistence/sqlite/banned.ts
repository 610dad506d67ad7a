/**
 * The banned list in SQLite (src/persistence/banned.ts), on the `banned` table of schema version
 * 2, in the broker's database and batches (storage.ts). The rowid `id` is the order entries were
 * put in: `put` is INSERT OR REPLACE, which deletes a replaced entry and inserts it anew at the
 * end, as the interface says.
 */

import type Database from 'better-sqlite3';
import type { Ban, BanKind, BannedStore } from '../banned.js';
import type { SqliteStorage } from './storage.js';

interface BanRow {
  kind: BanKind;
  who: string;
  by: string;
  reason: string;
  at: number;
  until: number | null;
}

function fromRow(r: BanRow): Ban {
  return { as: r.kind, who: r.who, by: r.by, reason: r.reason, at: r.at, until: r.until };
}

const COLUMNS = 'kind, who, by, reason, at, until';

export class SqliteBannedStore implements BannedStore {
  private readonly putStmt: Database.Statement;
  private readonly getStmt: Database.Statement;
  private readonly deleteStmt: Database.Statement;
  private readonly listStmt: Database.Statement;
  private readonly allStmt: Database.Statement;
  private readonly clearStmt: Database.Statement;
  private readonly sizeStmt: Database.Statement;

  constructor(private readonly storage: SqliteStorage) {
    const db = storage.db;
    this.putStmt = db.prepare(`INSERT OR REPLACE INTO banned (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`);
    this.getStmt = db.prepare(`SELECT ${COLUMNS} FROM banned WHERE kind = ? AND who = ?`);
    this.deleteStmt = db.prepare('DELETE FROM banned WHERE kind = ? AND who = ?');
    this.listStmt = db.prepare(`SELECT ${COLUMNS} FROM banned ORDER BY id LIMIT ? OFFSET ?`);
    this.allStmt = db.prepare(`SELECT ${COLUMNS} FROM banned ORDER BY id`);
    this.clearStmt = db.prepare('DELETE FROM banned');
    this.sizeStmt = db.prepare('SELECT COUNT(*) FROM banned').pluck();
  }

  get size(): number {
    return this.sizeStmt.get() as number;
  }

  put(ban: Ban): void {
    this.storage.run(this.putStmt, ban.as, ban.who, ban.by, ban.reason, ban.at, ban.until);
  }

  get(as: BanKind, who: string): Ban | undefined {
    const row = this.getStmt.get(as, who) as BanRow | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  delete(as: BanKind, who: string): boolean {
    if (!this.storage.beginWrite()) return this.get(as, who) !== undefined;
    try {
      return this.deleteStmt.run(as, who).changes > 0;
    } catch (error) {
      this.storage.writeFailed(error);
      return false;
    }
  }

  list(offset: number, limit: number): Ban[] {
    return (this.listStmt.all(limit, offset) as BanRow[]).map(fromRow);
  }

  all(): Iterable<Ban> {
    return (this.allStmt.all() as BanRow[]).map(fromRow);
  }

  clear(): void {
    this.storage.run(this.clearStmt);
  }
}
