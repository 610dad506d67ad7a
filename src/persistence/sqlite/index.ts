/**
 * The SQLite backend, opened by src/main.ts: openSqliteStorage (open.ts) gives the SqliteStorage
 * (storage.ts); the stores of later features share its database and batches and are made from
 * it: `new SqliteUserStore(storage)`, `new SqliteAclStore(storage)`, `new SqliteBannedStore(storage)`,
 * `new SqliteAdminStore(storage)`.
 */
export { SqliteAclStore } from './acl.js';
export { SqliteAdminStore } from './admin.js';
export { SqliteBannedStore } from './banned.js';
export { openSqliteStorage, type SqliteStorageOptions } from './open.js';
export { SqliteStorage } from './storage.js';
export { SqliteUserStore } from './users.js';
