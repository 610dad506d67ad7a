/**
 * The Storage conformance suite (storage-conformance.ts) on the memory backend, and the suites of
 * the small stores (storage-conformance-stores.ts) on their memory backends.
 */

import { MemoryAclStore } from '../../../src/persistence/memory/acl.js';
import { MemoryAdminStore } from '../../../src/persistence/memory/admin.js';
import { MemoryBannedStore } from '../../../src/persistence/memory/banned.js';
import { MemoryStorage } from '../../../src/persistence/memory/storage.js';
import { MemoryUserStore } from '../../../src/persistence/memory/users.js';
import { storageConformance } from './storage-conformance.js';
import {
  aclStoreConformance,
  adminStoreConformance,
  bannedStoreConformance,
  type StoreHandle,
  userStoreConformance,
} from './storage-conformance-stores.js';

storageConformance('memory', () => new MemoryStorage());

function memory<S>(make: () => S): () => StoreHandle<S> {
  return () => ({ store: make(), storage: null, close: () => {} });
}
userStoreConformance(
  'memory',
  memory(() => new MemoryUserStore()),
);
aclStoreConformance(
  'memory',
  memory(() => new MemoryAclStore()),
);
bannedStoreConformance(
  'memory',
  memory(() => new MemoryBannedStore()),
);
adminStoreConformance(
  'memory',
  memory(() => new MemoryAdminStore()),
);
