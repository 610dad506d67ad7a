/**
 * The ACL rules store: the rules of the `built_in_database` authorization source (EMQX's
 * emqx_authz_mnesia), kept per username, per client id, and once for all clients. The authz
 * layer (src/authz/sources/built-in.ts) reads it on every check that misses the authorization
 * cache, so every method is SYNCHRONOUS (the SQLite backend is better-sqlite3); backends (memory
 * now, SQLite with the storage work) implement it and main.ts chooses one.
 *
 * A record is the list of rules of one subject, stored and replaced as a whole, in order (the
 * order is the order of evaluation). Rules are EMQX's JSON form, as its HTTP API takes them
 * (`/authorization/sources/built_in_database/rules/users`):
 *
 *   { "permission": "allow", "action": "publish", "topic": "t/1", "qos": [0, 1], "retain": "all" }
 *
 * A store keeps rules as given; validation (and `max_rules`) is the authz layer's job.
 */

/** Whose rules: one username, one client id, or every client. */
export type AclSubject =
  | { readonly kind: 'username'; readonly name: string }
  | { readonly kind: 'clientid'; readonly name: string }
  | { readonly kind: 'all' };

/** One rule of the built-in database, in EMQX's JSON form. */
export interface AclRuleRecord {
  readonly permission: 'allow' | 'deny';
  readonly action: 'publish' | 'subscribe' | 'all';
  /** A topic filter, possibly with placeholders (`${clientid}/#`) or `eq ` before it. */
  readonly topic: string;
  /** QoS levels the rule applies to; absent: all. */
  readonly qos?: readonly (0 | 1 | 2)[];
  /** Retain flag a publish must have; absent or 'all': any. */
  readonly retain?: boolean | 'all';
}

/** A subject and its rules, as listings return them. */
export interface AclEntry {
  readonly subject: AclSubject;
  readonly rules: readonly AclRuleRecord[];
}

export interface AclStore {
  /** The rules of a subject, or undefined when it has none stored. */
  get(subject: AclSubject): readonly AclRuleRecord[] | undefined;
  /** Stores (or replaces) the whole list of a subject's rules. */
  put(subject: AclSubject, rules: readonly AclRuleRecord[]): void;
  /** Removes a subject's rules; false if it had none. */
  delete(subject: AclSubject): boolean;
  /**
   * Subjects of one kind with their rules, ordered by name, for paged listings: `offset`
   * entries skipped, at most `limit` returned.
   */
  list(kind: 'username' | 'clientid', offset: number, limit: number): AclEntry[];
  /** How many subjects of a kind have rules (the `all` record counts under 'all' as 0 or 1). */
  count(kind: AclSubject['kind']): number;
  /** Removes every record (EMQX's purge). */
  clear(): void;
}
