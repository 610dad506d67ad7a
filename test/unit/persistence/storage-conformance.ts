/**
 * The conformance suite of the Storage interface (src/persistence/storage.ts, sessions.ts), run by
 * every backend (STYLE habit 13):
 *
 *   storageConformance('memory', () => new MemoryStorage());
 *   storageConformance('sqlite', open, reopen, crashChild);
 *
 * `open` gives a new, empty store each call. For a durable backend, `reopen(previous)` closes
 * `previous` if it is open and opens the same location again, and `crashChild(previous)` says how
 * a child process opens the same location (a module, its export and the argument to call it
 * with: storage-conformance-child.ts): with them the suite also checks that everything committed
 * is there after close and reopen, and that a batch not committed is not there after the process
 * dies (process.exit, and SIGKILL with a batch big enough to spill to the WAL).
 *
 * Every method of both interfaces is checked; records come back equal to what was put, with
 * binary payloads of every byte value, property blocks and empty payloads.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { EntryState } from '../../../src/persistence/sessions.js';
import type { Storage } from '../../../src/persistence/storage.js';
import {
  ALL_BYTES,
  compareStrings,
  entry,
  message,
  PROPERTY_BLOCK,
  row,
  snapshot,
  sortedRows,
  sortedSessions,
  subscription,
  TABLES,
  UNCOMMITTED_FIRST_ID,
  writeCommittedBatch,
  writeUncommittedBatch,
} from './storage-conformance-data.js';

/** How a child process opens the store that `previous` was. */
export interface CrashChildOpen {
  /** Absolute path of the module to import. */
  readonly module: string;
  /** The export to call with `options`; it returns the Storage. */
  readonly export: string;
  /** JSON-able. */
  readonly options: unknown;
}

const CHILD = fileURLToPath(new URL('./storage-conformance-child.ts', import.meta.url));
/** 8 KiB messages in the crash test's uncommitted batch: 24 MiB, more than a 16 MiB page cache. */
const SPILL_PAYLOADS = 3000;

type Open = () => Storage | Promise<Storage>;

/** Runs `body` on a new store and closes it after. */
async function withStore(open: Open, body: (s: Storage) => void | Promise<void>): Promise<void> {
  const s = await open();
  try {
    await body(s);
  } finally {
    s.close();
  }
}

/** Runs the child; resolves with how it ended. */
function runChild(spec: CrashChildOpen & { mode: 'exit' | 'kill'; bigPayloads: number }) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(spec)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) child.kill('SIGKILL');
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
    },
  );
}

export function storageConformance(
  name: string,
  open: Open,
  reopen?: (previous: Storage) => Storage | Promise<Storage>,
  crashChild?: (previous: Storage) => CrashChildOpen,
): void {
  describe(`Storage conformance: ${name}`, () => {
    test('says what it is: backend, durability, location', () =>
      withStore(open, (s) => {
        assert.equal(s.backend, name);
        assert.equal(s.durable, reopen !== undefined, 'durable exactly when it can be reopened');
        assert.equal(typeof s.location, 'string');
        assert.ok(s.location.length > 0);
        if (!s.durable) assert.equal(s.location, ':memory:');
      }));

    test('a new store is empty', () =>
      withStore(open, (s) => {
        assert.deepEqual(s.sessions.loadSessions(), []);
        assert.equal(s.sessions.maxMessageId(), 0);
        assert.equal(s.sessions.loadMessage(1), undefined);
        assert.deepEqual(s.sessions.counts(), {
          sessions: 0,
          subscriptions: 0,
          entries: 0,
          messages: 0,
          awaitingRel: 0,
        });
        for (const t of TABLES) {
          assert.equal(s.table(t).size, 0);
          assert.deepEqual([...s.table(t).rows()], []);
        }
        assert.equal(s.batchOpen, false);
      }));

    describe('sessions', () => {
      test('putSession stores a row and replaces it by client id', () =>
        withStore(open, (s) => {
          s.sessions.putSession({
            clientId: 'c1',
            expiryInterval: 0xffffffff,
            disconnectedAt: null,
            flags: 3,
          });
          s.sessions.putSession({ clientId: 'c2', expiryInterval: 0, disconnectedAt: 5, flags: 0 });
          s.sessions.putSession({
            clientId: 'c2',
            expiryInterval: 120,
            disconnectedAt: 1_700_000_000_123,
            flags: 2,
          });
          s.commit();
          assert.deepEqual(
            sortedSessions(s).map((l) => l.session),
            [
              { clientId: 'c1', expiryInterval: 0xffffffff, disconnectedAt: null, flags: 3 },
              { clientId: 'c2', expiryInterval: 120, disconnectedAt: 1_700_000_000_123, flags: 2 },
            ],
          );
          assert.equal(s.sessions.counts().sessions, 2);
        }));

      test('client ids keep every character (UTF-8, spaces, quotes)', () =>
        withStore(open, (s) => {
          const ids = ['d\'ç 😀 "x"', 'a,b', ''];
          for (const clientId of ids)
            s.sessions.putSession({ clientId, expiryInterval: 1, disconnectedAt: null, flags: 0 });
          s.commit();
          assert.deepEqual(
            sortedSessions(s).map((l) => l.session.clientId),
            [...ids].sort(compareStrings),
          );
        }));

      test('subscriptions keep every option, are replaced by filter and deleted', () =>
        withStore(open, (s) => {
          s.sessions.putSession({ clientId: 'c', expiryInterval: 60, disconnectedAt: null, flags: 0 });
          const all = [
            subscription('a/+', {
              qos: 0,
              noLocal: true,
              retainAsPublished: false,
              retainHandling: 2,
              subscriptionId: 1,
            }),
            subscription('b/#', { qos: 1, noLocal: false, retainAsPublished: true, retainHandling: 1 }),
            subscription('$share/g/c', { qos: 2, subscriptionId: 268_435_455 }),
          ];
          for (const sub of all) s.sessions.putSubscription('c', sub);
          s.sessions.putSubscription(
            'c',
            subscription('b/#', { qos: 2, retainAsPublished: true, subscriptionId: 9 }),
          );
          s.sessions.putSubscription('c', subscription('gone'));
          s.sessions.deleteSubscription('c', 'gone');
          s.sessions.deleteSubscription('c', 'never-there');
          s.commit();
          assert.deepEqual(sortedSessions(s)[0]?.subscriptions, [
            all[2],
            all[0],
            subscription('b/#', { qos: 2, retainAsPublished: true, subscriptionId: 9 }),
          ]);
          assert.equal(s.sessions.counts().subscriptions, 3);
        }));

      test('entries load in seq order whatever order they were put in, with every field', () =>
        withStore(open, (s) => {
          s.sessions.putSession({ clientId: 'c', expiryInterval: 60, disconnectedAt: null, flags: 0 });
          const e3 = entry(2 ** 40, 3, { qos: 2, retain: true, subIds: [1, 268_435_455], packetId: 65535 });
          const e1 = entry(1, 1, { qos: 0, subIds: [] });
          const e2 = entry(7, 2, { state: EntryState.Released, packetId: 12, group: 'g/a/+' });
          s.sessions.putEntry('c', e3);
          s.sessions.putEntry('c', e1);
          s.sessions.putEntry('c', e2);
          s.commit();
          assert.deepEqual(sortedSessions(s)[0]?.entries, [e1, e2, e3]);
        }));

      test('putEntry replaces by seq; updateEntry sets packet id and state; deleteEntry removes', () =>
        withStore(open, (s) => {
          s.sessions.putSession({ clientId: 'c', expiryInterval: 60, disconnectedAt: null, flags: 0 });
          s.sessions.putEntry('c', entry(1, 1));
          s.sessions.putEntry('c', entry(2, 2, { qos: 2, subIds: [4] }));
          s.sessions.putEntry('c', entry(3, 3));
          s.sessions.putEntry('c', entry(1, 10, { qos: 2 }));
          s.sessions.updateEntry('c', 2, 33, EntryState.Pending);
          s.sessions.updateEntry('c', 2, 33, EntryState.Released);
          s.sessions.updateEntry('c', 99, 1, EntryState.Released); // no such entry: nothing happens
          s.sessions.updateEntry('other', 1, 1, EntryState.Released);
          s.sessions.deleteEntry('c', 3);
          s.sessions.deleteEntry('c', 42);
          s.commit();
          assert.deepEqual(sortedSessions(s)[0]?.entries, [
            entry(1, 10, { qos: 2 }),
            entry(2, 2, { qos: 2, subIds: [4], packetId: 33, state: EntryState.Released }),
          ]);
          assert.equal(s.sessions.counts().entries, 2, 'updateEntry of a missing entry creates none');
        }));

      test('awaiting-release ids are stored, replaced by packet id and deleted', () =>
        withStore(open, (s) => {
          s.sessions.putSession({ clientId: 'c', expiryInterval: 60, disconnectedAt: null, flags: 0 });
          s.sessions.putAwaitingRel('c', { packetId: 1, at: 100 });
          s.sessions.putAwaitingRel('c', { packetId: 65535, at: 200 });
          s.sessions.putAwaitingRel('c', { packetId: 1, at: 300 });
          s.sessions.putAwaitingRel('c', { packetId: 2, at: 400 });
          s.sessions.deleteAwaitingRel('c', 2);
          s.sessions.deleteAwaitingRel('c', 3);
          s.commit();
          assert.deepEqual(sortedSessions(s)[0]?.awaitingRel, [
            { packetId: 1, at: 300 },
            { packetId: 65535, at: 200 },
          ]);
          assert.equal(s.sessions.counts().awaitingRel, 2);
        }));

      test('rows of a client with no session row are counted but not loaded', () =>
        withStore(open, (s) => {
          s.sessions.putSubscription('orphan', subscription('a'));
          s.sessions.putEntry('orphan', entry(1, 1));
          s.commit();
          assert.deepEqual(s.sessions.loadSessions(), []);
          assert.equal(s.sessions.counts().subscriptions, 1);
          assert.equal(s.sessions.counts().entries, 1);
        }));

      test('deleteSession deletes its subscriptions, entries and awaiting ids, not messages nor other sessions', () =>
        withStore(open, (s) => {
          for (const clientId of ['a', 'b']) {
            s.sessions.putSession({ clientId, expiryInterval: 60, disconnectedAt: null, flags: 0 });
            s.sessions.putSubscription(clientId, subscription('x'));
            s.sessions.putEntry(clientId, entry(1, 1));
            s.sessions.putAwaitingRel(clientId, { packetId: 5, at: 1 });
          }
          s.sessions.putMessage(1, message(1));
          s.commit();
          s.sessions.deleteSession('a');
          s.sessions.deleteSession('never-there');
          s.commit();
          const left = sortedSessions(s);
          assert.deepEqual(
            left.map((l) => l.session.clientId),
            ['b'],
          );
          assert.equal(left[0]?.entries.length, 1);
          assert.deepEqual(s.sessions.counts(), {
            sessions: 1,
            subscriptions: 1,
            entries: 1,
            messages: 1,
            awaitingRel: 1,
          });
          assert.deepEqual(s.sessions.loadMessage(1), message(1));
          // A new session with the same id starts empty.
          s.sessions.putSession({ clientId: 'a', expiryInterval: 60, disconnectedAt: null, flags: 0 });
          s.commit();
          const a = sortedSessions(s)[0];
          assert.deepEqual([a?.subscriptions, a?.entries, a?.awaitingRel], [[], [], []]);
        }));
    });

    describe('messages', () => {
      test('payloads of every byte value, empty payloads and property blocks come back equal', () =>
        withStore(open, (s) => {
          const messages = [
            message(1, { payload: ALL_BYTES, properties: PROPERTY_BLOCK, qos: 2, retain: true }),
            message(2, { payload: Buffer.alloc(0), qos: 0, from: '' }),
            message(3, {
              payload: Buffer.alloc(256 * 1024, 0x00),
              properties: Buffer.alloc(0),
              topic: 'ü/😀/$x',
            }),
            message(4, { payload: Buffer.concat([ALL_BYTES, ALL_BYTES.subarray(0, 3)]).subarray(1) }),
          ];
          for (const [i, m] of messages.entries()) s.sessions.putMessage(i + 1, m);
          s.commit();
          messages.forEach((m, i) => {
            const got = s.sessions.loadMessage(i + 1);
            assert.deepEqual(got, m);
            assert.ok(Buffer.isBuffer(got?.payload), 'the payload is a Buffer');
          });
          assert.equal(s.sessions.loadMessage(2)?.payload.length, 0);
          assert.equal(s.sessions.loadMessage(5), undefined);
        }));

      test('putMessage replaces by id; deleteMessage removes; maxMessageId follows the largest id stored', () =>
        withStore(open, (s) => {
          assert.equal(s.sessions.maxMessageId(), 0);
          s.sessions.putMessage(5, message(5));
          s.sessions.putMessage(2 ** 40, message(6));
          s.sessions.putMessage(5, message(7));
          s.commit();
          assert.equal(s.sessions.maxMessageId(), 2 ** 40);
          assert.deepEqual(s.sessions.loadMessage(5), message(7));
          s.sessions.deleteMessage(2 ** 40);
          s.sessions.deleteMessage(12345);
          s.commit();
          assert.equal(s.sessions.maxMessageId(), 5);
          assert.equal(s.sessions.counts().messages, 1);
          s.sessions.deleteMessage(5);
          s.commit();
          assert.equal(s.sessions.maxMessageId(), 0);
        }));

      test('deleteUnreferencedMessages deletes exactly the messages no entry refers to', () =>
        withStore(open, (s) => {
          for (let id = 1; id <= 4; id++) s.sessions.putMessage(id, message(id));
          s.sessions.putSession({ clientId: 'a', expiryInterval: 60, disconnectedAt: null, flags: 0 });
          s.sessions.putEntry('a', entry(1, 1));
          s.sessions.putEntry('b', entry(1, 3)); // a reference counts even without a session row
          s.sessions.putEntry('a', entry(2, 3));
          s.commit();
          assert.equal(s.sessions.deleteUnreferencedMessages(), 2);
          s.commit();
          assert.deepEqual(s.sessions.loadMessage(1), message(1));
          assert.equal(s.sessions.loadMessage(2), undefined);
          assert.deepEqual(s.sessions.loadMessage(3), message(3));
          assert.equal(s.sessions.loadMessage(4), undefined);
          assert.equal(s.sessions.deleteUnreferencedMessages(), 0);
          s.commit();
        }));

      test('counts counts every kind of row', () =>
        withStore(open, (s) => {
          s.sessions.putSession({ clientId: 'a', expiryInterval: 60, disconnectedAt: null, flags: 0 });
          s.sessions.putSession({ clientId: 'b', expiryInterval: 60, disconnectedAt: null, flags: 0 });
          s.sessions.putSubscription('a', subscription('1'));
          s.sessions.putSubscription('a', subscription('2'));
          s.sessions.putSubscription('b', subscription('1'));
          for (let seq = 1; seq <= 4; seq++) s.sessions.putEntry('b', entry(seq, 1));
          s.sessions.putMessage(1, message(1));
          s.sessions.putMessage(2, message(2));
          s.sessions.putAwaitingRel('a', { packetId: 1, at: 0 });
          s.commit();
          assert.deepEqual(s.sessions.counts(), {
            sessions: 2,
            subscriptions: 3,
            entries: 4,
            messages: 2,
            awaitingRel: 1,
          });
        }));
    });

    describe('tables', () => {
      for (const name of TABLES) {
        test(`${name}: put, replace by key, delete, rows and size`, () =>
          withStore(open, (s) => {
            const t = s.table(name);
            const a = row('a/b', 1, {
              due: 1_700_000_000_000,
              message: message(1, { payload: ALL_BYTES, properties: PROPERTY_BLOCK, retain: true, qos: 2 }),
              meta: '{"clientid":"c","username":null}',
            });
            const b = row('😀', 2, { message: message(2, { payload: Buffer.alloc(0), from: '' }) });
            t.put(a);
            t.put(b);
            t.put(row('gone', 3));
            assert.equal(t.size, 3);
            t.delete('gone');
            t.delete('never-there');
            s.commit();
            assert.equal(t.size, 2);
            assert.deepEqual(
              sortedRows(s, name),
              [a, b].sort((x, y) => compareStrings(x.key, y.key)),
            );
            const a2 = row('a/b', 4, { due: 5 });
            t.put(a2);
            s.commit();
            assert.equal(t.size, 2, 'a put with the same key replaces');
            assert.deepEqual(
              sortedRows(s, name),
              [a2, b].sort((x, y) => compareStrings(x.key, y.key)),
            );
          }));
      }

      test('the tables are separate', () =>
        withStore(open, (s) => {
          s.table('retained').put(row('k', 1));
          s.table('delayed').put(row('k', 2));
          s.table('wills').delete('k');
          s.commit();
          assert.deepEqual(sortedRows(s, 'retained'), [row('k', 1)]);
          assert.deepEqual(sortedRows(s, 'delayed'), [row('k', 2)]);
          assert.equal(s.table('wills').size, 0);
        }));
    });

    describe('batches', () => {
      /** Every write method, each as one call. */
      const writes: [string, (s: Storage) => void][] = [
        [
          'putSession',
          (s) => s.sessions.putSession({ clientId: 'w', expiryInterval: 1, disconnectedAt: null, flags: 0 }),
        ],
        ['deleteSession', (s) => s.sessions.deleteSession('w')],
        ['putSubscription', (s) => s.sessions.putSubscription('w', subscription('f'))],
        ['deleteSubscription', (s) => s.sessions.deleteSubscription('w', 'f')],
        ['putMessage', (s) => s.sessions.putMessage(1, message(1))],
        ['deleteMessage', (s) => s.sessions.deleteMessage(1)],
        ['putEntry', (s) => s.sessions.putEntry('w', entry(1, 1))],
        ['updateEntry', (s) => s.sessions.updateEntry('w', 1, 2, EntryState.Released)],
        ['deleteEntry', (s) => s.sessions.deleteEntry('w', 1)],
        ['putAwaitingRel', (s) => s.sessions.putAwaitingRel('w', { packetId: 1, at: 1 })],
        ['deleteAwaitingRel', (s) => s.sessions.deleteAwaitingRel('w', 1)],
        ['deleteUnreferencedMessages', (s) => void s.sessions.deleteUnreferencedMessages()],
        ...TABLES.flatMap((t): [string, (s: Storage) => void][] => [
          [`${t}.put`, (s) => s.table(t).put(row('k', 1))],
          [`${t}.delete`, (s) => s.table(t).delete('k')],
        ]),
      ];

      test('every write method opens a batch and calls onBatch once; commit closes it', () =>
        withStore(open, (s) => {
          let calls = 0;
          s.onBatch = () => calls++;
          for (const [method, write] of writes) {
            const before = calls;
            assert.equal(s.batchOpen, false, `before ${method}`);
            write(s);
            assert.equal(s.batchOpen, true, `${method} opens a batch`);
            assert.equal(calls, before + 1, `${method} calls onBatch once`);
            s.commit();
            assert.equal(s.batchOpen, false, `commit after ${method} closes the batch`);
          }
        }));

      test('onBatch is called once per batch however many writes it holds', () =>
        withStore(open, (s) => {
          let calls = 0;
          s.onBatch = () => {
            calls++;
            assert.equal(s.batchOpen, true, 'the batch is open when onBatch is called');
          };
          for (const [, write] of writes) write(s);
          for (let i = 0; i < 100; i++) s.sessions.putMessage(i + 10, message(i));
          assert.equal(calls, 1);
          s.commit();
          s.commit(); // nothing open: a no-op
          assert.equal(calls, 1);
          assert.equal(s.batchOpen, false);
          s.table('retained').put(row('again', 1));
          assert.equal(calls, 2, 'the next write opens the next batch');
          s.commit();
        }));

      test('reads neither open a batch nor need one, and see the open batch', () =>
        withStore(open, (s) => {
          let calls = 0;
          s.onBatch = () => calls++;
          s.sessions.loadSessions();
          s.sessions.loadMessage(1);
          s.sessions.maxMessageId();
          s.sessions.counts();
          for (const t of TABLES) {
            [...s.table(t).rows()];
            void s.table(t).size;
          }
          assert.equal(calls, 0);
          assert.equal(s.batchOpen, false);
          s.sessions.putMessage(1, message(1));
          s.table('wills').put(row('w', 2));
          assert.deepEqual(s.sessions.loadMessage(1), message(1), 'written, not yet committed');
          assert.equal(s.table('wills').size, 1);
          s.commit();
        }));

      test('writes work with no onBatch listener', () =>
        withStore(open, (s) => {
          s.onBatch = null;
          s.sessions.putMessage(1, message(1));
          assert.equal(s.batchOpen, true);
          s.commit();
          assert.deepEqual(s.sessions.loadMessage(1), message(1));
        }));
    });

    if (reopen === undefined) return;

    describe('durability', () => {
      test('everything committed is there after close and reopen', async () => {
        const s = await open();
        writeCommittedBatch(s);
        s.sessions.putSession({
          clientId: 'second',
          expiryInterval: 0xffffffff,
          disconnectedAt: null,
          flags: 2,
        });
        s.sessions.putEntry(
          'second',
          entry(5, 1, { qos: 2, packetId: 77, state: EntryState.Released, subIds: [] }),
        );
        s.commit();
        const before = snapshot(s);
        assert.equal(before.sessions.length, 2);
        const r = await reopen(s);
        try {
          assert.deepEqual(snapshot(r), before);
          assert.equal(r.batchOpen, false);
        } finally {
          r.close();
        }
      });

      test('close commits the open batch', async () => {
        const s = await open();
        s.sessions.putMessage(1, message(1, { payload: ALL_BYTES }));
        s.table('retained').put(row('r', 2));
        assert.equal(s.batchOpen, true);
        s.close();
        const r = await reopen(s);
        try {
          assert.deepEqual(r.sessions.loadMessage(1), message(1, { payload: ALL_BYTES }));
          assert.deepEqual(sortedRows(r, 'retained'), [row('r', 2)]);
        } finally {
          r.close();
        }
      });

      test('a store reopened twice keeps working and keeps its data', async () => {
        let s = await open();
        for (let round = 1; round <= 3; round++) {
          s.sessions.putMessage(round, message(round));
          s.commit();
          s = await reopen(s);
          assert.equal(s.sessions.maxMessageId(), round);
        }
        assert.equal(s.sessions.counts().messages, 3);
        s.close();
      });

      if (crashChild === undefined) return;
      for (const mode of ['exit', 'kill'] as const) {
        const how = mode === 'exit' ? 'process.exit' : 'SIGKILL, with a batch spilled to the WAL';
        test(`a batch not committed is not there after the process dies (${how})`, async () => {
          const s = await open();
          const spec = crashChild(s);
          s.close();
          const bigPayloads = mode === 'kill' ? SPILL_PAYLOADS : 0;
          const ended = await runChild({ ...spec, mode, bigPayloads });
          if (mode === 'exit') assert.equal(ended.code, 0, ended.stderr);
          else assert.equal(ended.signal, 'SIGKILL', ended.stderr);

          // What the committed batch alone gives, on a fresh store.
          const expected = await open();
          writeCommittedBatch(expected);
          expected.commit();
          const want = snapshot(expected);
          expected.close();

          const r = await reopen(s);
          try {
            assert.deepEqual(snapshot(r, UNCOMMITTED_FIRST_ID + bigPayloads + 1), want);
            assert.equal(r.sessions.loadMessage(UNCOMMITTED_FIRST_ID), undefined);
            assert.equal(r.batchOpen, false);
            // And the store works on: a new batch commits.
            writeUncommittedBatch(r, 0);
            r.commit();
            assert.equal(r.sessions.counts().sessions, 2);
          } finally {
            r.close();
          }
        });
      }
    });
  });
}
