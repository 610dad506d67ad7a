/**
 * Conformance suites of the small synchronous stores of later features, run by every backend
 * (STYLE habit 13), like the Storage suite (storage-conformance.ts):
 *
 *   UserStore (users.ts), AclStore (acl.ts), BannedStore (banned.ts), AdminStore (admin.ts)
 *
 * Each takes `open`, which gives a new empty store in a handle, and for a durable backend
 * `reopen(previous)`, which closes the previous handle and opens the same location again. A
 * handle's `storage` is the Storage whose batches the store writes in (null for memory stores,
 * which have none): the suites commit after writing, as the broker's group commit does, and check
 * that every write opens a batch.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AclRuleRecord, AclStore, AclSubject } from '../../../src/persistence/acl.js';
import type { AdminStore, AdminUser, ApiKeyRecord } from '../../../src/persistence/admin.js';
import type { Ban, BannedStore } from '../../../src/persistence/banned.js';
import type { Storage } from '../../../src/persistence/storage.js';
import {
  PASSWORD_USERS,
  SCRAM_USERS,
  type StoredUser,
  type UserStore,
} from '../../../src/persistence/users.js';

export interface StoreHandle<S> {
  readonly store: S;
  /** The Storage the store writes its batches in; null when it has none (memory). */
  readonly storage: Storage | null;
  close(): void;
}

type Open<S> = () => StoreHandle<S>;
type Reopen<S> = (previous: StoreHandle<S>) => StoreHandle<S>;

function commit(h: StoreHandle<unknown>): void {
  h.storage?.commit();
}

/** Runs `body` on a new handle and closes it after. */
function withHandle<S>(open: Open<S>, body: (h: StoreHandle<S>, s: S) => void): void {
  const h = open();
  try {
    body(h, h.store);
  } finally {
    h.close();
  }
}

/** Each write opens a batch of the handle's storage, and commit closes it. */
function checkWritesBatch<S>(open: Open<S>, writes: [string, (s: S) => unknown][]): void {
  test('every write opens a batch of the storage it lives in', () => {
    const h = open();
    try {
      assert.ok(h.storage !== null, 'a durable store lives in a storage');
      let calls = 0;
      h.storage.onBatch = () => calls++;
      for (const [method, write] of writes) {
        write(h.store);
        assert.equal(h.storage.batchOpen, true, `${method} opens a batch`);
        assert.equal(calls, 1, `${method}: onBatch once`);
        h.storage.commit();
        calls = 0;
      }
    } finally {
      h.close();
    }
  });
}

function reopenTest<S>(
  open: Open<S>,
  reopen: Reopen<S> | undefined,
  write: (s: S) => void,
  check: (s: S) => void,
) {
  if (reopen === undefined) return;
  test('everything committed is there after close and reopen', () => {
    const h = open();
    write(h.store);
    commit(h);
    const r = reopen(h);
    try {
      check(r.store);
    } finally {
      r.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------

const password = (userId: string, overrides: Partial<StoredUser> = {}): StoredUser => ({
  userId,
  isSuperuser: false,
  passwordHash: `hash-of-${userId}`,
  salt: 'salt',
  ...overrides,
});
const scram = (userId: string): StoredUser => ({
  userId,
  isSuperuser: true,
  passwordHash: '',
  salt: 'c2FsdA==',
  storedKey: 'c3RvcmVk',
  serverKey: 'c2VydmVy',
  iterations: 4096,
});

export function userStoreConformance(name: string, open: Open<UserStore>, reopen?: Reopen<UserStore>): void {
  describe(`UserStore conformance: ${name}`, () => {
    test('put, get exactly what was put (optional SCRAM fields only when given), replace, delete', () =>
      withHandle(open, (h, s) => {
        assert.equal(s.get(PASSWORD_USERS, 'alice'), undefined);
        s.put(PASSWORD_USERS, password('alice'));
        s.put(SCRAM_USERS, scram('alice'));
        s.put(PASSWORD_USERS, password('bob', { isSuperuser: true, passwordHash: '$2b$10$abc', salt: '' }));
        commit(h);
        assert.deepEqual(s.get(PASSWORD_USERS, 'alice'), password('alice'));
        assert.deepEqual(s.get(SCRAM_USERS, 'alice'), scram('alice'), 'groups are separate');
        assert.deepEqual(
          s.get(PASSWORD_USERS, 'bob'),
          password('bob', { isSuperuser: true, passwordHash: '$2b$10$abc', salt: '' }),
        );
        s.put(PASSWORD_USERS, password('alice', { passwordHash: 'new' }));
        assert.equal(s.delete(SCRAM_USERS, 'alice'), true);
        assert.equal(s.delete(SCRAM_USERS, 'alice'), false);
        assert.equal(s.delete('no-such-group', 'x'), false);
        commit(h);
        assert.deepEqual(s.get(PASSWORD_USERS, 'alice'), password('alice', { passwordHash: 'new' }));
        assert.equal(s.get(SCRAM_USERS, 'alice'), undefined);
        assert.equal(s.count(PASSWORD_USERS), 2);
        assert.equal(s.count(SCRAM_USERS), 0);
      }));

    test('list pages through a group in ascending user id order from a cursor', () =>
      withHandle(open, (h, s) => {
        for (const id of ['d', 'b', 'e', 'a', 'c']) s.put(PASSWORD_USERS, password(id));
        s.put(SCRAM_USERS, scram('aa'));
        commit(h);
        const ids = (page: { after?: string; limit: number }) =>
          s.list(PASSWORD_USERS, page).map((u) => u.userId);
        assert.deepEqual(ids({ limit: 2 }), ['a', 'b']);
        assert.deepEqual(ids({ after: 'b', limit: 2 }), ['c', 'd']);
        assert.deepEqual(ids({ after: 'd', limit: 2 }), ['e']);
        assert.deepEqual(ids({ after: 'e', limit: 2 }), []);
        assert.deepEqual(ids({ after: 'bb', limit: 10 }), ['c', 'd', 'e'], 'a cursor that is not an id');
        assert.deepEqual(ids({ limit: 0 }), []);
        assert.deepEqual(s.list(PASSWORD_USERS, { limit: 1 }), [password('a')]);
        assert.deepEqual(s.list('empty', { limit: 5 }), []);
      }));

    // Batches belong to a durable store (the ones with `reopen`); a memory store has none.
    if (reopen !== undefined)
      checkWritesBatch(open, [
        ['put', (s) => s.put(PASSWORD_USERS, password('w'))],
        ['delete', (s) => s.delete(PASSWORD_USERS, 'w')],
      ]);

    reopenTest(
      open,
      reopen,
      (s) => {
        s.put(PASSWORD_USERS, password('alice'));
        s.put(SCRAM_USERS, scram('carol'));
      },
      (s) => {
        assert.deepEqual(s.get(PASSWORD_USERS, 'alice'), password('alice'));
        assert.deepEqual(s.list(SCRAM_USERS, { limit: 10 }), [scram('carol')]);
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------

const rulesA: AclRuleRecord[] = [
  { permission: 'allow', action: 'publish', topic: 't/1', qos: [0, 1], retain: 'all' },
  // biome-ignore lint/suspicious/noTemplateCurlyInString: an ACL placeholder, stored as written.
  { permission: 'deny', action: 'all', topic: '${clientid}/#' },
  { permission: 'allow', action: 'subscribe', topic: 'eq a/#', retain: false },
];
const rulesB: AclRuleRecord[] = [
  { permission: 'deny', action: 'subscribe', topic: '#', qos: [2], retain: true },
];

export function aclStoreConformance(name: string, open: Open<AclStore>, reopen?: Reopen<AclStore>): void {
  describe(`AclStore conformance: ${name}`, () => {
    test('put, get in order, replace and delete for each kind of subject', () =>
      withHandle(open, (h, s) => {
        const subjects: AclSubject[] = [
          { kind: 'username', name: 'u' },
          { kind: 'clientid', name: 'u' },
          { kind: 'all' },
        ];
        for (const subject of subjects) assert.equal(s.get(subject), undefined);
        s.put(subjects[0]!, rulesA);
        s.put(subjects[1]!, rulesB);
        s.put(subjects[2]!, []);
        commit(h);
        assert.deepEqual(s.get(subjects[0]!), rulesA);
        assert.deepEqual(s.get(subjects[1]!), rulesB, 'a client id is not a username');
        assert.deepEqual(s.get(subjects[2]!), [], 'an empty list is a stored list');
        s.put(subjects[0]!, rulesB);
        assert.equal(s.delete(subjects[2]!), true);
        assert.equal(s.delete(subjects[2]!), false);
        assert.equal(s.delete({ kind: 'clientid', name: 'nobody' }), false);
        commit(h);
        assert.deepEqual(s.get(subjects[0]!), rulesB);
        assert.equal(s.get(subjects[2]!), undefined);
      }));

    test('the store keeps what was put, not the caller array changed later', () =>
      withHandle(open, (h, s) => {
        const rules = [...rulesA];
        s.put({ kind: 'username', name: 'x' }, rules);
        commit(h);
        rules.pop();
        assert.deepEqual(s.get({ kind: 'username', name: 'x' }), rulesA);
      }));

    test('list by kind ordered by name with offset and limit; count; clear', () =>
      withHandle(open, (h, s) => {
        for (const n of ['c', 'a', 'd', 'b']) s.put({ kind: 'username', name: n }, rulesA);
        s.put({ kind: 'clientid', name: 'z' }, rulesB);
        s.put({ kind: 'all' }, rulesB);
        commit(h);
        const names = (kind: 'username' | 'clientid', offset: number, limit: number) =>
          s.list(kind, offset, limit).map((e) => (e.subject.kind === 'all' ? '' : e.subject.name));
        assert.deepEqual(names('username', 0, 3), ['a', 'b', 'c']);
        assert.deepEqual(names('username', 3, 3), ['d']);
        assert.deepEqual(names('username', 4, 3), []);
        assert.deepEqual(s.list('clientid', 0, 10), [
          { subject: { kind: 'clientid', name: 'z' }, rules: rulesB },
        ]);
        assert.deepEqual([s.count('username'), s.count('clientid'), s.count('all')], [4, 1, 1]);
        s.clear();
        commit(h);
        assert.deepEqual([s.count('username'), s.count('clientid'), s.count('all')], [0, 0, 0]);
        assert.equal(s.get({ kind: 'all' }), undefined);
      }));

    // Batches belong to a durable store (the ones with `reopen`); a memory store has none.
    if (reopen !== undefined)
      checkWritesBatch(open, [
        ['put', (s) => s.put({ kind: 'all' }, rulesA)],
        ['delete', (s) => s.delete({ kind: 'all' })],
        ['clear', (s) => s.clear()],
      ]);

    reopenTest(
      open,
      reopen,
      (s) => {
        s.put({ kind: 'username', name: 'u' }, rulesA);
        s.put({ kind: 'all' }, rulesB);
      },
      (s) => {
        assert.deepEqual(s.get({ kind: 'username', name: 'u' }), rulesA);
        assert.deepEqual(s.get({ kind: 'all' }), rulesB);
        assert.equal(s.count('username'), 1);
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------

const ban = (who: string, overrides: Partial<Ban> = {}): Ban => ({
  as: 'clientid',
  who,
  by: 'admin',
  reason: `because ${who}`,
  at: 1_700_000_000_000,
  until: null,
  ...overrides,
});

export function bannedStoreConformance(
  name: string,
  open: Open<BannedStore>,
  reopen?: Reopen<BannedStore>,
): void {
  describe(`BannedStore conformance: ${name}`, () => {
    test('put, get, delete by (as, who); every kind; until null or a time', () =>
      withHandle(open, (h, s) => {
        const bans = [
          ban('c1'),
          ban('c1', { as: 'username', until: 1_700_000_060_000 }),
          ban('10.0.0.1', { as: 'peerhost' }),
          ban('^bad', { as: 'clientid_re' }),
          ban('^evil', { as: 'username_re' }),
          ban('10.0.0.0/8', { as: 'peerhost_net', by: 'flapping_detect', reason: '' }),
        ];
        for (const b of bans) s.put(b);
        commit(h);
        assert.equal(s.size, bans.length);
        for (const b of bans) assert.deepEqual(s.get(b.as, b.who), b);
        assert.equal(s.get('clientid', 'nobody'), undefined);
        assert.equal(s.delete('username', 'c1'), true);
        assert.equal(s.delete('username', 'c1'), false);
        commit(h);
        assert.equal(s.get('username', 'c1'), undefined);
        assert.deepEqual(s.get('clientid', 'c1'), bans[0], 'the same who of another kind stays');
        assert.equal(s.size, bans.length - 1);
      }));

    test('list and all go in the order entries were put; a replaced entry moves to the end', () =>
      withHandle(open, (h, s) => {
        for (const who of ['a', 'b', 'c', 'd']) s.put(ban(who));
        s.put(ban('b', { reason: 'again' }));
        commit(h);
        const order = ['a', 'c', 'd', 'b'];
        assert.deepEqual(
          [...s.all()].map((b) => b.who),
          order,
        );
        assert.deepEqual(
          s.list(0, 2).map((b) => b.who),
          ['a', 'c'],
        );
        assert.deepEqual(
          s.list(2, 5).map((b) => b.who),
          ['d', 'b'],
        );
        assert.deepEqual(s.list(4, 5), []);
        assert.deepEqual(s.get('clientid', 'b'), ban('b', { reason: 'again' }));
        assert.equal(s.size, 4);
        s.clear();
        commit(h);
        assert.equal(s.size, 0);
        assert.deepEqual([...s.all()], []);
      }));

    // Batches belong to a durable store (the ones with `reopen`); a memory store has none.
    if (reopen !== undefined)
      checkWritesBatch(open, [
        ['put', (s) => s.put(ban('w'))],
        ['delete', (s) => s.delete('clientid', 'w')],
        ['clear', (s) => s.clear()],
      ]);

    reopenTest(
      open,
      reopen,
      (s) => {
        s.put(ban('x'));
        s.put(ban('y', { as: 'peerhost_net', until: 5 }));
      },
      (s) => assert.deepEqual([...s.all()], [ban('x'), ban('y', { as: 'peerhost_net', until: 5 })]),
    );
  });
}

// ---------------------------------------------------------------------------------------------

const admin = (username: string, overrides: Partial<AdminUser> = {}): AdminUser => ({
  username,
  passwordHash: `scrypt$salt$${username}`,
  role: 'administrator',
  description: '',
  createdAt: 1_700_000_000_000,
  ...overrides,
});
const apiKey = (n: string, overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
  name: n,
  apiKey: `key-${n}`,
  secretHash: `sha256$salt$${n}`,
  enable: true,
  expiredAt: null,
  description: `the ${n} key`,
  role: 'viewer',
  createdAt: 1_700_000_000_000,
  ...overrides,
});

export function adminStoreConformance(
  name: string,
  open: Open<AdminStore>,
  reopen?: Reopen<AdminStore>,
): void {
  describe(`AdminStore conformance: ${name}`, () => {
    test('users: put, get, replace in place (creation order kept), delete, list', () =>
      withHandle(open, (h, s) => {
        assert.equal(s.getUser('admin'), undefined);
        s.putUser(admin('admin'));
        s.putUser(admin('viewer', { role: 'viewer', description: 'reads only' }));
        s.putUser(admin('third'));
        s.putUser(admin('admin', { passwordHash: 'scrypt$new$hash' }));
        commit(h);
        assert.deepEqual(s.getUser('admin'), admin('admin', { passwordHash: 'scrypt$new$hash' }));
        assert.deepEqual(
          s.listUsers().map((u) => u.username),
          ['admin', 'viewer', 'third'],
        );
        assert.equal(s.deleteUser('viewer'), true);
        assert.equal(s.deleteUser('viewer'), false);
        commit(h);
        assert.deepEqual(s.listUsers(), [
          admin('admin', { passwordHash: 'scrypt$new$hash' }),
          admin('third'),
        ]);
      }));

    test('API keys: put, get by name, find by key, replace in place, delete, list', () =>
      withHandle(open, (h, s) => {
        s.putApiKey(apiKey('ci'));
        s.putApiKey(apiKey('ops', { enable: false, expiredAt: 1_800_000_000_000, role: 'administrator' }));
        commit(h);
        assert.deepEqual(
          s.getApiKey('ops'),
          apiKey('ops', { enable: false, expiredAt: 1_800_000_000_000, role: 'administrator' }),
        );
        assert.deepEqual(s.findApiKey('key-ci'), apiKey('ci'));
        assert.equal(s.findApiKey('key-nobody'), undefined);
        s.putApiKey(apiKey('ci', { apiKey: 'key-ci-2', enable: false }));
        commit(h);
        assert.equal(s.findApiKey('key-ci'), undefined, 'the replaced key no longer finds it');
        assert.deepEqual(s.findApiKey('key-ci-2'), apiKey('ci', { apiKey: 'key-ci-2', enable: false }));
        assert.deepEqual(
          s.listApiKeys().map((k) => k.name),
          ['ci', 'ops'],
          'creation order',
        );
        assert.equal(s.deleteApiKey('ci'), true);
        assert.equal(s.deleteApiKey('ci'), false);
        commit(h);
        assert.equal(s.findApiKey('key-ci-2'), undefined);
        assert.deepEqual(
          s.listApiKeys().map((k) => k.name),
          ['ops'],
        );
      }));

    // Batches belong to a durable store (the ones with `reopen`); a memory store has none.
    if (reopen !== undefined)
      checkWritesBatch(open, [
        ['putUser', (s) => s.putUser(admin('w'))],
        ['deleteUser', (s) => s.deleteUser('w')],
        ['putApiKey', (s) => s.putApiKey(apiKey('w'))],
        ['deleteApiKey', (s) => s.deleteApiKey('w')],
      ]);

    reopenTest(
      open,
      reopen,
      (s) => {
        s.putUser(admin('admin'));
        s.putApiKey(apiKey('ci'));
      },
      (s) => {
        assert.deepEqual(s.listUsers(), [admin('admin')]);
        assert.deepEqual(s.findApiKey('key-ci'), apiKey('ci'));
      },
    );
  });
}
