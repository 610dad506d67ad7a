/**
 * The built-in user store in memory: a map per group. Users are lost on restart; the broker
 * loads them again from the providers' bootstrap files. Listing sorts the ids of the group on
 * each call (fine for the tests and small deployments this backend is for).
 */

import type { StoredUser, UserPage, UserStore } from '../users.js';

export class MemoryUserStore implements UserStore {
  private readonly groups = new Map<string, Map<string, StoredUser>>();

  private group(name: string): Map<string, StoredUser> {
    let g = this.groups.get(name);
    if (g === undefined) {
      g = new Map();
      this.groups.set(name, g);
    }
    return g;
  }

  get(group: string, userId: string): StoredUser | undefined {
    return this.groups.get(group)?.get(userId);
  }

  put(group: string, user: StoredUser): void {
    this.group(group).set(user.userId, { ...user });
  }

  delete(group: string, userId: string): boolean {
    return this.groups.get(group)?.delete(userId) ?? false;
  }

  list(group: string, page: UserPage): StoredUser[] {
    const g = this.groups.get(group);
    if (g === undefined) return [];
    const ids = [...g.keys()].sort();
    const start = page.after === undefined ? 0 : ids.findIndex((id) => id > page.after!);
    if (start < 0) return [];
    return ids.slice(start, start + page.limit).map((id) => g.get(id)!);
  }

  count(group: string): number {
    return this.groups.get(group)?.size ?? 0;
  }
}
