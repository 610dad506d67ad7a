/**
 * The SQLite schema and its migrations. `schema_version` holds one row per migration applied;
 * a database is at version MAX(version) (0 when new). At open, migrations newer than the file's
 * version run in one transaction, in order. A migration is never edited once released: a change
 * is a new migration at the end of MIGRATIONS.
 *
 * Version 1, the broker's state (the interfaces in src/persistence/storage.ts and sessions.ts):
 *
 *   sessions       client_id -> expiry (s), disconnected_at (ms, NULL while connected), flags
 *   subscriptions  (client_id, filter) -> qos, nl, rap, rh, sub_id              WITHOUT ROWID
 *   messages       id (INTEGER PRIMARY KEY = the rowid) -> the message, stored once
 *   entries        (client_id, seq) -> msg_id, qos, retain, sub_ids ('1,2' or NULL), packet_id,
 *                  state, grp                                                  WITHOUT ROWID
 *   awaiting_rel   (client_id, packet_id) -> at                                WITHOUT ROWID
 *   retained, delayed, wills   one message table layout each (TABLE_COLUMNS)
 *
 * Version 2, the stores of later features (users.ts, acl.ts, banned.ts, admin.ts beside this file):
 *
 *   users          (grp, user_id) -> the built-in authentication's user            WITHOUT ROWID
 *   acl_rules      (kind, name) -> the rules of a subject, as JSON                  WITHOUT ROWID
 *   banned         id (insertion order) -> kind, who (unique together), by, reason, at, until
 *   admin_users    username -> the API's dashboard users (rowid: creation order)
 *   api_keys       name -> the API keys (rowid: creation order), indexed by api_key
 *
 * No UNIQUE constraint beyond the keys the stores replace by: a constraint failure would fail the
 * whole batch it is in, with the broker's writes of that turn.
 *
 * The composite-key tables are WITHOUT ROWID: their rows are small and always found by the key,
 * so the table is the key's B-tree and there is no second index to keep. `messages` and the
 * message tables keep a rowid: their rows hold payloads, which a WITHOUT ROWID B-tree handles
 * badly when rows are large. There are no foreign keys: the core keeps references consistent and
 * deleteUnreferencedMessages() repairs what a crash between batches cannot leave anyway.
 */

import type Database from 'better-sqlite3';

/** The layout of a keyed message table (retained, delayed, wills). */
const TABLE_COLUMNS = `(
  key TEXT PRIMARY KEY NOT NULL,
  due INTEGER NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  props BLOB,
  sender TEXT NOT NULL,
  ts INTEGER NOT NULL,
  meta TEXT
)`;

/** Migration n (1-based) is MIGRATIONS[n - 1]. */
export const MIGRATIONS: readonly string[] = [
  // 1: the broker's state.
  `
  CREATE TABLE sessions (
    client_id TEXT PRIMARY KEY NOT NULL,
    expiry INTEGER NOT NULL,
    disconnected_at INTEGER,
    flags INTEGER NOT NULL
  );
  CREATE TABLE subscriptions (
    client_id TEXT NOT NULL,
    filter TEXT NOT NULL,
    qos INTEGER NOT NULL,
    nl INTEGER NOT NULL,
    rap INTEGER NOT NULL,
    rh INTEGER NOT NULL,
    sub_id INTEGER NOT NULL,
    PRIMARY KEY (client_id, filter)
  ) WITHOUT ROWID;
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    props BLOB,
    sender TEXT NOT NULL,
    ts INTEGER NOT NULL
  );
  CREATE TABLE entries (
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    msg_id INTEGER NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    sub_ids TEXT,
    packet_id INTEGER NOT NULL,
    state INTEGER NOT NULL,
    grp TEXT,
    PRIMARY KEY (client_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE awaiting_rel (
    client_id TEXT NOT NULL,
    packet_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (client_id, packet_id)
  ) WITHOUT ROWID;
  CREATE TABLE retained ${TABLE_COLUMNS};
  CREATE TABLE delayed ${TABLE_COLUMNS};
  CREATE TABLE wills ${TABLE_COLUMNS};
  `,
  // 2: the stores of users, ACL rules, the banned list and the API's accounts.
  `
  CREATE TABLE users (
    grp TEXT NOT NULL,
    user_id TEXT NOT NULL,
    is_superuser INTEGER NOT NULL,
    password_hash TEXT NOT NULL,
    salt TEXT NOT NULL,
    stored_key TEXT,
    server_key TEXT,
    iterations INTEGER,
    PRIMARY KEY (grp, user_id)
  ) WITHOUT ROWID;
  CREATE TABLE acl_rules (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    rules TEXT NOT NULL,
    PRIMARY KEY (kind, name)
  ) WITHOUT ROWID;
  CREATE TABLE banned (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    who TEXT NOT NULL,
    by TEXT NOT NULL,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL,
    until INTEGER,
    UNIQUE (kind, who)
  );
  CREATE TABLE admin_users (
    username TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE api_keys (
    name TEXT PRIMARY KEY NOT NULL,
    api_key TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    enable INTEGER NOT NULL,
    expired_at INTEGER,
    description TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX api_keys_by_key ON api_keys (api_key);
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** What the file holds before migrating. */
export type SchemaState =
  | { kind: 'aviary'; version: number }
  /** No tables at all: a new file. */
  | { kind: 'empty' }
  /** Tables, but not ours. */
  | { kind: 'foreign'; tables: string[] };

/** Reads what the file holds, without writing anything. */
export function readSchemaState(db: Database.Database): SchemaState {
  const tables = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as {
      name: string;
    }[]
  ).map((row) => row.name);
  if (tables.length === 0) return { kind: 'empty' };
  if (!tables.includes('schema_version')) return { kind: 'foreign', tables };
  const row = db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_version').get() as { v: number };
  return { kind: 'aviary', version: row.v };
}

/** Applies the migrations after `from`, in one transaction. */
export function migrate(db: Database.Database, from: number): void {
  if (from >= SCHEMA_VERSION) return;
  db.transaction(() => {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    const record = db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)');
    for (let version = from + 1; version <= SCHEMA_VERSION; version++) {
      db.exec(MIGRATIONS[version - 1]!);
      record.run(version, Date.now());
    }
  })();
}
