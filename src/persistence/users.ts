/**
 * The built-in user store: the users of the `built_in_database` authentication providers
 * (EMQX's mnesia authenticators). Synchronous, because the embedded backend (SQLite through
 * better-sqlite3) is; the memory backend is in memory/users.ts, and main.ts chooses one.
 *
 * Users live in groups, one per authenticator kind, as EMQX keeps one table per authenticator:
 *
 *   'password_based:built_in_database'   passwordHash + salt (the configured hash algorithm)
 *   'scram:built_in_database'             storedKey + serverKey + salt + iterations (RFC 5802)
 *
 * A record holds what verification needs and never the password itself (unless the configured
 * algorithm is `plain`, EMQX's choice for importing clear-text users). Listing is ordered by
 * user id with a cursor, so an API can page through millions of users.
 */

/** The group of the password-based built-in database provider. */
export const PASSWORD_USERS = 'password_based:built_in_database';
/** The group of the SCRAM built-in database provider. */
export const SCRAM_USERS = 'scram:built_in_database';

/** One user as stored. Text fields only, so every backend stores them as they are. */
export interface StoredUser {
  /** The username or client id, as the provider's `user_id_type` says. */
  readonly userId: string;
  readonly isSuperuser: boolean;
  /**
   * password_based: the hash as text (lowercase hex for md5/sha/sha256/sha512/pbkdf2, a `$2b$...`
   * string for bcrypt, the password for plain). Empty for SCRAM users.
   */
  readonly passwordHash: string;
  /** The salt as stored (its UTF-8 bytes are hashed, as EMQX does); SCRAM: base64 of the raw salt. */
  readonly salt: string;
  /** SCRAM only: StoredKey and ServerKey, base64. */
  readonly storedKey?: string;
  readonly serverKey?: string;
  /** SCRAM only: the PBKDF2 iteration count the keys were derived with. */
  readonly iterations?: number;
}

/** A page of a listing: users after `after` (exclusive), at most `limit` of them. */
export interface UserPage {
  readonly after?: string;
  readonly limit: number;
}

export interface UserStore {
  get(group: string, userId: string): StoredUser | undefined;
  /** Adds or replaces the user with this id. */
  put(group: string, user: StoredUser): void;
  /** Removes a user; false if there was none. */
  delete(group: string, userId: string): boolean;
  /** Users of the group in ascending user id order, starting after `page.after`. */
  list(group: string, page: UserPage): StoredUser[];
  /** Users in the group. */
  count(group: string): number;
}
