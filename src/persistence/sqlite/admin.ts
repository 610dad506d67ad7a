/**
 * The management API's accounts in SQLite (src/persistence/admin.ts): `admin_users` and
 * `api_keys` of schema version 2, in the broker's database and batches (storage.ts). A put of an
 * existing name updates the row in place (an upsert keeps the rowid), so listings by rowid stay
 * in creation order as the interface says.
 */

import type Database from 'better-sqlite3';
import type { AdminStore, AdminUser, ApiKeyRecord } from '../admin.js';
import type { SqliteStorage } from './storage.js';

interface UserRow {
  username: string;
  password_hash: string;
  role: string;
  description: string;
  created_at: number;
}

interface KeyRow {
  name: string;
  api_key: string;
  secret_hash: string;
  enable: number;
  expired_at: number | null;
  description: string;
  role: string;
  created_at: number;
}

function userFromRow(r: UserRow): AdminUser {
  return {
    username: r.username,
    passwordHash: r.password_hash,
    role: r.role,
    description: r.description,
    createdAt: r.created_at,
  };
}

function keyFromRow(r: KeyRow): ApiKeyRecord {
  return {
    name: r.name,
    apiKey: r.api_key,
    secretHash: r.secret_hash,
    enable: r.enable !== 0,
    expiredAt: r.expired_at,
    description: r.description,
    role: r.role,
    createdAt: r.created_at,
  };
}

const USER_COLUMNS = 'username, password_hash, role, description, created_at';
const KEY_COLUMNS = 'name, api_key, secret_hash, enable, expired_at, description, role, created_at';

export class SqliteAdminStore implements AdminStore {
  private readonly getUserStmt: Database.Statement;
  private readonly putUserStmt: Database.Statement;
  private readonly deleteUserStmt: Database.Statement;
  private readonly listUsersStmt: Database.Statement;
  private readonly getKeyStmt: Database.Statement;
  private readonly findKeyStmt: Database.Statement;
  private readonly putKeyStmt: Database.Statement;
  private readonly deleteKeyStmt: Database.Statement;
  private readonly listKeysStmt: Database.Statement;

  constructor(private readonly storage: SqliteStorage) {
    const db = storage.db;
    this.getUserStmt = db.prepare(`SELECT ${USER_COLUMNS} FROM admin_users WHERE username = ?`);
    this.putUserStmt = db.prepare(
      `INSERT INTO admin_users (${USER_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (username) DO UPDATE SET ` +
        'password_hash = excluded.password_hash, role = excluded.role, description = excluded.description, ' +
        'created_at = excluded.created_at',
    );
    this.deleteUserStmt = db.prepare('DELETE FROM admin_users WHERE username = ?');
    this.listUsersStmt = db.prepare(`SELECT ${USER_COLUMNS} FROM admin_users ORDER BY rowid`);
    this.getKeyStmt = db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE name = ?`);
    this.findKeyStmt = db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE api_key = ? LIMIT 1`);
    this.putKeyStmt = db.prepare(
      `INSERT INTO api_keys (${KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET ` +
        'api_key = excluded.api_key, secret_hash = excluded.secret_hash, enable = excluded.enable, ' +
        'expired_at = excluded.expired_at, description = excluded.description, role = excluded.role, ' +
        'created_at = excluded.created_at',
    );
    this.deleteKeyStmt = db.prepare('DELETE FROM api_keys WHERE name = ?');
    this.listKeysStmt = db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY rowid`);
  }

  getUser(username: string): AdminUser | undefined {
    const row = this.getUserStmt.get(username) as UserRow | undefined;
    return row === undefined ? undefined : userFromRow(row);
  }

  putUser(u: AdminUser): void {
    this.storage.run(this.putUserStmt, u.username, u.passwordHash, u.role, u.description, u.createdAt);
  }

  deleteUser(username: string): boolean {
    if (!this.storage.beginWrite()) return this.getUser(username) !== undefined;
    try {
      return this.deleteUserStmt.run(username).changes > 0;
    } catch (error) {
      this.storage.writeFailed(error);
      return false;
    }
  }

  listUsers(): AdminUser[] {
    return (this.listUsersStmt.all() as UserRow[]).map(userFromRow);
  }

  getApiKey(name: string): ApiKeyRecord | undefined {
    const row = this.getKeyStmt.get(name) as KeyRow | undefined;
    return row === undefined ? undefined : keyFromRow(row);
  }

  findApiKey(apiKey: string): ApiKeyRecord | undefined {
    const row = this.findKeyStmt.get(apiKey) as KeyRow | undefined;
    return row === undefined ? undefined : keyFromRow(row);
  }

  putApiKey(r: ApiKeyRecord): void {
    this.storage.run(
      this.putKeyStmt,
      r.name,
      r.apiKey,
      r.secretHash,
      r.enable ? 1 : 0,
      r.expiredAt,
      r.description,
      r.role,
      r.createdAt,
    );
  }

  deleteApiKey(name: string): boolean {
    if (!this.storage.beginWrite()) return this.getApiKey(name) !== undefined;
    try {
      return this.deleteKeyStmt.run(name).changes > 0;
    } catch (error) {
      this.storage.writeFailed(error);
      return false;
    }
  }

  listApiKeys(): ApiKeyRecord[] {
    return (this.listKeysStmt.all() as KeyRow[]).map(keyFromRow);
  }
}
