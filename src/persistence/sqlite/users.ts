/**
 * The built-in user store in SQLite (src/persistence/users.ts), on the `users` table of schema
 * version 2, in the broker's database and batches (storage.ts: a write opens the batch the group
 * commit commits). Listing walks the primary key (grp, user_id) from the cursor, so a page costs
 * O(limit) however many users there are.
 *
 * Order: user ids compare by their UTF-8 bytes (SQLite's BINARY collation), which is code point
 * order; the memory backend sorts JavaScript strings (UTF-16 code units). The two differ only
 * between characters above U+FFFF and those in U+E000..U+FFFF.
 */

import type Database from 'better-sqlite3';
import type { StoredUser, UserPage, UserStore } from '../users.js';
import type { SqliteStorage } from './storage.js';

interface UserRow {
  user_id: string;
  is_superuser: number;
  password_hash: string;
  salt: string;
  stored_key: string | null;
  server_key: string | null;
  iterations: number | null;
}

function fromRow(r: UserRow): StoredUser {
  const user: { -readonly [K in keyof StoredUser]: StoredUser[K] } = {
    userId: r.user_id,
    isSuperuser: r.is_superuser !== 0,
    passwordHash: r.password_hash,
    salt: r.salt,
  };
  if (r.stored_key !== null) user.storedKey = r.stored_key;
  if (r.server_key !== null) user.serverKey = r.server_key;
  if (r.iterations !== null) user.iterations = r.iterations;
  return user;
}

const COLUMNS = 'user_id, is_superuser, password_hash, salt, stored_key, server_key, iterations';

export class SqliteUserStore implements UserStore {
  private readonly getStmt: Database.Statement;
  private readonly putStmt: Database.Statement;
  private readonly deleteStmt: Database.Statement;
  private readonly listFirstStmt: Database.Statement;
  private readonly listAfterStmt: Database.Statement;
  private readonly countStmt: Database.Statement;

  constructor(private readonly storage: SqliteStorage) {
    const db = storage.db;
    this.getStmt = db.prepare(`SELECT ${COLUMNS} FROM users WHERE grp = ? AND user_id = ?`);
    this.putStmt = db.prepare(
      `INSERT OR REPLACE INTO users (grp, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.deleteStmt = db.prepare('DELETE FROM users WHERE grp = ? AND user_id = ?');
    this.listFirstStmt = db.prepare(`SELECT ${COLUMNS} FROM users WHERE grp = ? ORDER BY user_id LIMIT ?`);
    this.listAfterStmt = db.prepare(
      `SELECT ${COLUMNS} FROM users WHERE grp = ? AND user_id > ? ORDER BY user_id LIMIT ?`,
    );
    this.countStmt = db.prepare('SELECT COUNT(*) FROM users WHERE grp = ?').pluck();
  }

  get(group: string, userId: string): StoredUser | undefined {
    const row = this.getStmt.get(group, userId) as UserRow | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  put(group: string, u: StoredUser): void {
    this.storage.run(
      this.putStmt,
      group,
      u.userId,
      u.isSuperuser ? 1 : 0,
      u.passwordHash,
      u.salt,
      u.storedKey ?? null,
      u.serverKey ?? null,
      u.iterations ?? null,
    );
  }

  delete(group: string, userId: string): boolean {
    if (!this.storage.beginWrite()) return this.get(group, userId) !== undefined;
    try {
      return this.deleteStmt.run(group, userId).changes > 0;
    } catch (error) {
      this.storage.writeFailed(error);
      return false;
    }
  }

  list(group: string, page: UserPage): StoredUser[] {
    const rows = (
      page.after === undefined
        ? this.listFirstStmt.all(group, page.limit)
        : this.listAfterStmt.all(group, page.after, page.limit)
    ) as UserRow[];
    return rows.map(fromRow);
  }

  count(group: string): number {
    return this.countStmt.get(group) as number;
  }
}
