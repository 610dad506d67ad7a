/**
 * The delayed-message store interface (delayed publish, `$delayed/<seconds>/<topic>`). The core's
 * DelayedPublish (src/broker/delayed.ts) keeps messages here until they are due and releases them
 * in due order; backends (memory now; SQLite with the storage issue, so delayed messages survive
 * a restart) implement it and main.ts chooses one. The message type is a parameter so this layer
 * does not depend on the core's Message class.
 *
 * Order. Entries come out by due time, and entries due at the same millisecond in the order they
 * were added: the store gives every entry a key from an increasing sequence and orders by
 * (dueAt, key). A durable backend continues the sequence after a restart (its largest key + 1).
 */

/** One stored delayed message. */
export interface DelayedEntry<M> {
  /** The store's id for the entry: increasing in the order entries were added. */
  readonly key: number;
  /** When the message is due, in milliseconds since the epoch. */
  readonly dueAt: number;
  readonly message: M;
}

export interface DelayedStore<M> {
  /** Entries stored. */
  readonly size: number;
  /** Stores a message due at `dueAt` (ms since the epoch); returns its entry. */
  add(dueAt: number, message: M): DelayedEntry<M>;
  get(key: number): DelayedEntry<M> | undefined;
  /** Removes an entry (the API's "delete a delayed message"); false if it is not there. */
  remove(key: number): boolean;
  /** The earliest entry (smallest dueAt, then smallest key) without removing it. */
  first(): DelayedEntry<M> | undefined;
  /**
   * Removes and returns the earliest entry if it is due (`dueAt <= now`), else undefined. The
   * core releases due messages with `for (let e; (e = store.takeDue(now)); ) publish(e)`.
   */
  takeDue(now: number): DelayedEntry<M> | undefined;
  /** Every entry, in no particular order (for listings and statistics). */
  entries(): Iterable<DelayedEntry<M>>;
  /** Removes every entry. */
  clear(): void;
}
