/**
 * The memory backend of Storage (storage.ts): sessions and message tables in Maps, nothing on
 * disk. It is the reference the conformance suite (test/unit/persistence/storage-conformance.ts)
 * also runs against, and the backend for tests and for users who want no disk
 * (`durable_storage.backend = memory`, see docs/durability.md).
 *
 * Batches behave as in the SQLite backend, so the core's group commit is exercised the same way:
 * the first write after a commit sets `batchOpen` and calls `onBatch` once; `commit()` clears it.
 * A memory write cannot fail, so commit() never throws, and nothing survives the process.
 */

import type { Storage, TableName } from '../storage.js';
import { MemorySessionStore } from './sessions.js';
import { MemoryMessageTable } from './tables.js';

export class MemoryStorage implements Storage {
  readonly backend = 'memory';
  readonly durable = false;
  readonly location = ':memory:';
  readonly sessions: MemorySessionStore;
  onBatch: (() => void) | null = null;
  private open = false;
  private readonly tables: Record<TableName, MemoryMessageTable>;

  constructor() {
    const touch = (): void => this.touch();
    this.sessions = new MemorySessionStore(touch);
    this.tables = {
      retained: new MemoryMessageTable(touch),
      delayed: new MemoryMessageTable(touch),
      wills: new MemoryMessageTable(touch),
    };
  }

  get batchOpen(): boolean {
    return this.open;
  }

  table(name: TableName): MemoryMessageTable {
    return this.tables[name];
  }

  commit(): void {
    this.open = false;
  }

  close(): void {
    this.commit();
  }

  /** Before every write: the first write after a commit opens a batch and tells the listener. */
  private touch(): void {
    if (this.open) return;
    this.open = true;
    this.onBatch?.();
  }
}
