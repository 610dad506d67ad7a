/**
 * The Storage conformance suite (storage-conformance.ts) on the SQLite backend: each store in its
 * own temporary directory (removed after), reopened on the same file, and opened by a child
 * process for the crash tests. Then the suites of the small stores (storage-conformance-stores.ts)
 * on their SQLite backends, which live in the same database and batches.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import {
  openSqliteStorage,
  SqliteAclStore,
  SqliteAdminStore,
  SqliteBannedStore,
  type SqliteStorage,
  SqliteUserStore,
} from '../../../src/persistence/sqlite/index.js';
import type { AclStore } from '../../../src/persistence/acl.js';
import type { AdminStore } from '../../../src/persistence/admin.js';
import type { BannedStore } from '../../../src/persistence/banned.js';
import type { Storage } from '../../../src/persistence/storage.js';
import type { UserStore } from '../../../src/persistence/users.js';
import { storageConformance } from './storage-conformance.js';
import {
  aclStoreConformance,
  adminStoreConformance,
  bannedStoreConformance,
  type StoreHandle,
  userStoreConformance,
} from './storage-conformance-stores.js';

const root = mkdtempSync(join(tmpdir(), 'aviary-storage-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const SQLITE_MODULE = fileURLToPath(new URL('../../../src/persistence/sqlite/index.ts', import.meta.url));

function reopenAt(previous: Storage): SqliteStorage {
  previous.close();
  return openSqliteStorage({ dir: dirname(previous.location), file: basename(previous.location) });
}

storageConformance(
  'sqlite',
  () => openSqliteStorage({ dir: join(root, String(++n)) }),
  reopenAt,
  (previous: Storage) => ({
    module: SQLITE_MODULE,
    export: 'openSqliteStorage',
    options: { dir: dirname(previous.location), file: basename(previous.location) },
  }),
);

/** open and reopen for a store made on a SqliteStorage. */
function sqlite<S>(make: (storage: SqliteStorage) => S) {
  const handle = (storage: SqliteStorage): StoreHandle<S> => ({
    store: make(storage),
    storage,
    close: () => storage.close(),
  });
  return [
    () => handle(openSqliteStorage({ dir: join(root, String(++n)) })),
    (previous: StoreHandle<S>) => handle(reopenAt(previous.storage!)),
  ] as const;
}
userStoreConformance('sqlite', ...sqlite<UserStore>((s) => new SqliteUserStore(s)));
aclStoreConformance('sqlite', ...sqlite<AclStore>((s) => new SqliteAclStore(s)));
bannedStoreConformance('sqlite', ...sqlite<BannedStore>((s) => new SqliteBannedStore(s)));
adminStoreConformance('sqlite', ...sqlite<AdminStore>((s) => new SqliteAdminStore(s)));
