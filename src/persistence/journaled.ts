/**
 * Keyed stores kept in memory and written through to a durable MessageTable (storage.ts): the
 * retained messages and the delayed publishes. Reads and matching run on the in-memory store
 * (src/persistence/memory/), every change is also written to the table, and `load()` fills the
 * memory store from the table at start. main.ts composes them: a memory store + a table of the
 * chosen backend.
 *
 * The message type is a parameter; a codec converts to and from StoredMessage.
 */

import type { DelayedEntry, DelayedStore } from './delayed.js';
import type { RetainedStore } from './retained.js';
import type { MessageTable, StoredMessage } from './storage.js';

export interface MessageCodec<M> {
  toStored(message: M): StoredMessage;
  fromStored(stored: StoredMessage): M;
}

/** Retained messages: one row per topic. */
export class JournaledRetainedStore<M> implements RetainedStore<M> {
  constructor(
    private readonly inner: RetainedStore<M>,
    private readonly table: MessageTable,
    private readonly codec: MessageCodec<M>,
    /** Topics not written to the table (the broker's own `$SYS/` ones, made afresh at start). */
    private readonly volatile: (topic: string) => boolean = () => false,
  ) {}

  /** Fills the memory store from the table; returns how many. */
  load(): number {
    let n = 0;
    for (const row of this.table.rows()) {
      this.inner.set(row.key, this.codec.fromStored(row.message));
      n++;
    }
    return n;
  }

  get size(): number {
    return this.inner.size;
  }

  get(topic: string): M | undefined {
    return this.inner.get(topic);
  }

  set(topic: string, message: M): void {
    this.inner.set(topic, message);
    if (!this.volatile(topic)) {
      this.table.put({ key: topic, due: 0, message: this.codec.toStored(message), meta: null });
    }
  }

  delete(topic: string): boolean {
    const had = this.inner.delete(topic);
    if (had && !this.volatile(topic)) this.table.delete(topic);
    return had;
  }

  match(filter: string): Iterable<M> {
    return this.inner.match(filter);
  }
}

/** Delayed publishes: one row per entry, keyed by the entry's key. */
export class JournaledDelayedStore<M> implements DelayedStore<M> {
  constructor(
    private readonly inner: DelayedStore<M>,
    private readonly table: MessageTable,
    private readonly codec: MessageCodec<M>,
  ) {}

  /**
   * Fills the memory store from the table, in due order. The memory store numbers entries
   * afresh, so the rows are rewritten under their new keys. Returns how many.
   */
  load(): number {
    const rows = [...this.table.rows()].sort((a, b) => a.due - b.due || Number(a.key) - Number(b.key));
    for (const row of rows) this.table.delete(row.key);
    for (const row of rows) this.add(row.due, this.codec.fromStored(row.message));
    return rows.length;
  }

  get size(): number {
    return this.inner.size;
  }

  add(dueAt: number, message: M): DelayedEntry<M> {
    const entry = this.inner.add(dueAt, message);
    this.table.put({ key: String(entry.key), due: dueAt, message: this.codec.toStored(message), meta: null });
    return entry;
  }

  get(key: number): DelayedEntry<M> | undefined {
    return this.inner.get(key);
  }

  remove(key: number): boolean {
    const had = this.inner.remove(key);
    if (had) this.table.delete(String(key));
    return had;
  }

  first(): DelayedEntry<M> | undefined {
    return this.inner.first();
  }

  takeDue(now: number): DelayedEntry<M> | undefined {
    const entry = this.inner.takeDue(now);
    if (entry !== undefined) this.table.delete(String(entry.key));
    return entry;
  }

  entries(): Iterable<DelayedEntry<M>> {
    return this.inner.entries();
  }

  clear(): void {
    for (const entry of this.inner.entries()) this.table.delete(String(entry.key));
    this.inner.clear();
  }
}
