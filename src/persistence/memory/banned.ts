/**
 * The banned list in memory: a Map keyed by `<as>\0<who>`, in insertion order (a replaced entry
 * moves to the end). Nothing here survives a restart; the SQLite backend does.
 */

import type { Ban, BanKind, BannedStore } from '../banned.js';

const key = (as: BanKind, who: string): string => `${as}\u0000${who}`;

export class MemoryBannedStore implements BannedStore {
  private readonly entries = new Map<string, Ban>();

  get size(): number {
    return this.entries.size;
  }

  put(ban: Ban): void {
    const k = key(ban.as, ban.who);
    this.entries.delete(k);
    this.entries.set(k, { ...ban });
  }

  get(as: BanKind, who: string): Ban | undefined {
    const ban = this.entries.get(key(as, who));
    return ban === undefined ? undefined : { ...ban };
  }

  delete(as: BanKind, who: string): boolean {
    return this.entries.delete(key(as, who));
  }

  list(offset: number, limit: number): Ban[] {
    const out: Ban[] = [];
    let i = 0;
    for (const ban of this.entries.values()) {
      if (out.length >= limit) break;
      if (i++ >= offset) out.push({ ...ban });
    }
    return out;
  }

  *all(): Iterable<Ban> {
    for (const ban of this.entries.values()) yield { ...ban };
  }

  clear(): void {
    this.entries.clear();
  }
}
