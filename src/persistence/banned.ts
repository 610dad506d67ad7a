/**
 * The banned-list store interface (EMQX's `emqx_banned` table). The security layer
 * (src/security/banned.ts) keeps its own index for the check at CONNECT and writes every change
 * through this store, so the list survives a restart with a durable backend; main.ts chooses the
 * backend (memory now, SQLite with the storage work).
 *
 * The interface is synchronous (better-sqlite3 is) and small: an entry is identified by its
 * kind and subject, (`as`, `who`); `put` inserts or replaces it. Expiry is the caller's business
 * (it deletes expired entries); the store keeps what it is given.
 */

/**
 * What a ban matches, with EMQX 5's names: an exact client id, user name or peer address
 * (`peerhost`, an IPv4 or IPv6 address), a regular expression over the client id or user name
 * (`clientid_re`, `username_re`, EMQX 5.4), or a CIDR range of peer addresses (`peerhost_net`,
 * EMQX 5.2).
 */
export const BAN_KINDS = [
  'clientid',
  'username',
  'peerhost',
  'clientid_re',
  'username_re',
  'peerhost_net',
] as const;
export type BanKind = (typeof BAN_KINDS)[number];

/** One banned-list entry, as EMQX's `/api/v5/banned` shows it (times in ms since the epoch). */
export interface Ban {
  as: BanKind;
  /** The client id, user name, address, pattern or CIDR range. */
  who: string;
  /** Who banned: an operator's name, `flapping_detect`, ... */
  by: string;
  reason: string;
  /** When the ban was made. */
  at: number;
  /** When it ends; null: never (EMQX's "infinity"). */
  until: number | null;
}

export interface BannedStore {
  /** Number of entries stored. */
  readonly size: number;
  /** Inserts, or replaces the entry with the same `as` and `who`. */
  put(ban: Ban): void;
  get(as: BanKind, who: string): Ban | undefined;
  /** Removes an entry; false when there was none. */
  delete(as: BanKind, who: string): boolean;
  /**
   * Up to `limit` entries from `offset` on, in the order they were put (a replaced entry moves
   * to the end, as SQLite's INSERT OR REPLACE gives it a new rowid).
   */
  list(offset: number, limit: number): Ban[];
  /** Every entry (loading the index at start; sweeping). */
  all(): Iterable<Ban>;
  /** Removes every entry. */
  clear(): void;
}
