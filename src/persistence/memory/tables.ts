/**
 * A message table in memory (retained, delayed, wills: storage.ts, MessageTable): a Map by key.
 * Every write tells the owning MemoryStorage, which opens a batch the way a durable backend does,
 * so the core's group commit runs the same way on both backends.
 */

import type { MessageTable, TableRow } from '../storage.js';

export class MemoryMessageTable implements MessageTable {
  private readonly byKey = new Map<string, TableRow>();

  constructor(
    /** Called before every write (MemoryStorage opens a batch). */
    private readonly touch: () => void,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  put(row: TableRow): void {
    this.touch();
    this.byKey.set(row.key, row);
  }

  delete(key: string): void {
    this.touch();
    this.byKey.delete(key);
  }

  rows(): Iterable<TableRow> {
    return [...this.byKey.values()];
  }
}
