/**
 * The ACL rules store in SQLite (src/persistence/acl.ts): `acl_rules` of schema version 2, one row
 * per subject (kind 'username' | 'clientid' with its name, or 'all' with name ''), its rules as
 * the JSON array EMQX's API takes, in the broker's database and batches (storage.ts).
 *
 * Listing order: names compare by their UTF-8 bytes (code point order); the memory backend sorts
 * JavaScript strings, which differ only between characters above U+FFFF and U+E000..U+FFFF.
 */

import type Database from 'better-sqlite3';
import type { AclEntry, AclRuleRecord, AclStore, AclSubject } from '../acl.js';
import type { SqliteStorage } from './storage.js';

const nameOf = (subject: AclSubject): string => (subject.kind === 'all' ? '' : subject.name);

export class SqliteAclStore implements AclStore {
  private readonly getStmt: Database.Statement;
  private readonly putStmt: Database.Statement;
  private readonly deleteStmt: Database.Statement;
  private readonly listStmt: Database.Statement;
  private readonly countStmt: Database.Statement;
  private readonly clearStmt: Database.Statement;

  constructor(private readonly storage: SqliteStorage) {
    const db = storage.db;
    this.getStmt = db.prepare('SELECT rules FROM acl_rules WHERE kind = ? AND name = ?').pluck();
    this.putStmt = db.prepare('INSERT OR REPLACE INTO acl_rules (kind, name, rules) VALUES (?, ?, ?)');
    this.deleteStmt = db.prepare('DELETE FROM acl_rules WHERE kind = ? AND name = ?');
    this.listStmt = db.prepare(
      'SELECT name, rules FROM acl_rules WHERE kind = ? ORDER BY name LIMIT ? OFFSET ?',
    );
    this.countStmt = db.prepare('SELECT COUNT(*) FROM acl_rules WHERE kind = ?').pluck();
    this.clearStmt = db.prepare('DELETE FROM acl_rules');
  }

  get(subject: AclSubject): readonly AclRuleRecord[] | undefined {
    const rules = this.getStmt.get(subject.kind, nameOf(subject)) as string | undefined;
    return rules === undefined ? undefined : (JSON.parse(rules) as AclRuleRecord[]);
  }

  put(subject: AclSubject, rules: readonly AclRuleRecord[]): void {
    this.storage.run(this.putStmt, subject.kind, nameOf(subject), JSON.stringify(rules));
  }

  delete(subject: AclSubject): boolean {
    if (!this.storage.beginWrite()) return this.get(subject) !== undefined;
    try {
      return this.deleteStmt.run(subject.kind, nameOf(subject)).changes > 0;
    } catch (error) {
      this.storage.writeFailed(error);
      return false;
    }
  }

  list(kind: 'username' | 'clientid', offset: number, limit: number): AclEntry[] {
    return (this.listStmt.all(kind, limit, offset) as { name: string; rules: string }[]).map((r) => ({
      subject: { kind, name: r.name },
      rules: JSON.parse(r.rules) as AclRuleRecord[],
    }));
  }

  count(kind: AclSubject['kind']): number {
    return this.countStmt.get(kind) as number;
  }

  clear(): void {
    this.storage.run(this.clearStmt);
  }
}
