/**
 * The ACL rules store in memory (lost with the process): three maps, one per kind of subject.
 */

import type { AclEntry, AclRuleRecord, AclStore, AclSubject } from '../acl.js';

export class MemoryAclStore implements AclStore {
  private readonly usernames = new Map<string, readonly AclRuleRecord[]>();
  private readonly clientids = new Map<string, readonly AclRuleRecord[]>();
  private all: readonly AclRuleRecord[] | undefined;

  private mapOf(kind: 'username' | 'clientid'): Map<string, readonly AclRuleRecord[]> {
    return kind === 'username' ? this.usernames : this.clientids;
  }

  get(subject: AclSubject): readonly AclRuleRecord[] | undefined {
    return subject.kind === 'all' ? this.all : this.mapOf(subject.kind).get(subject.name);
  }

  put(subject: AclSubject, rules: readonly AclRuleRecord[]): void {
    // A copy: a caller that changes its array afterwards does not change the store.
    const copy = rules.map((r) => ({ ...r }));
    if (subject.kind === 'all') this.all = copy;
    else this.mapOf(subject.kind).set(subject.name, copy);
  }

  delete(subject: AclSubject): boolean {
    if (subject.kind !== 'all') return this.mapOf(subject.kind).delete(subject.name);
    const had = this.all !== undefined;
    this.all = undefined;
    return had;
  }

  list(kind: 'username' | 'clientid', offset: number, limit: number): AclEntry[] {
    const names = [...this.mapOf(kind).keys()].sort();
    return names.slice(offset, offset + limit).map((name) => ({
      subject: { kind, name },
      rules: this.mapOf(kind).get(name)!,
    }));
  }

  count(kind: AclSubject['kind']): number {
    return kind === 'all' ? (this.all === undefined ? 0 : 1) : this.mapOf(kind).size;
  }

  clear(): void {
    this.usernames.clear();
    this.clientids.clear();
    this.all = undefined;
  }
}
