/**
 * The management API's own accounts: dashboard users (login with a password, for people) and
 * API keys (HTTP Basic with a key and a secret, for scripts), after EMQX's `emqx_admin` and
 * `emqx_app` tables. The API (src/api/auth.ts) keeps them here; backends (memory now, SQLite
 * with the storage issue) implement this interface and main.ts chooses one.
 *
 * Synchronous, as the embedded SQLite backend (better-sqlite3) is. Secrets are never stored:
 * `passwordHash` and `secretHash` are produced by the API (scrypt / salted SHA-256, see
 * src/api/auth.ts) and compared there; the store only keeps the strings.
 *
 * Each list is small (EMQX caps API keys at 100; users are a handful), so `list*` return arrays.
 */

/** A dashboard user. */
export interface AdminUser {
  readonly username: string;
  /** `scrypt$<salt>$<hash>` (src/api/auth.ts). */
  readonly passwordHash: string;
  /** EMQX's roles: `administrator` or `viewer`. */
  readonly role: string;
  readonly description: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
}

/** An API key. `name` is the record's identity; `apiKey` is unique too (lookups at each request). */
export interface ApiKeyRecord {
  readonly name: string;
  readonly apiKey: string;
  /** `sha256$<salt>$<hash>` of the secret (src/api/auth.ts). */
  readonly secretHash: string;
  readonly enable: boolean;
  /** Milliseconds since the epoch after which the key no longer works; null: never. */
  readonly expiredAt: number | null;
  readonly description: string;
  readonly role: string;
  readonly createdAt: number;
}

export interface AdminStore {
  getUser(username: string): AdminUser | undefined;
  /** Creates or replaces a user. */
  putUser(user: AdminUser): void;
  deleteUser(username: string): boolean;
  /** Every user, in the order they were created. */
  listUsers(): AdminUser[];

  getApiKey(name: string): ApiKeyRecord | undefined;
  /** The record whose `apiKey` is this one (the lookup of each Basic-authenticated request). */
  findApiKey(apiKey: string): ApiKeyRecord | undefined;
  /** Creates or replaces the record named `record.name`. */
  putApiKey(record: ApiKeyRecord): void;
  deleteApiKey(name: string): boolean;
  /** Every API key, in the order they were created. */
  listApiKeys(): ApiKeyRecord[];
}
