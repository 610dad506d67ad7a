/**
 * The conformance suite of the DelayedStore interface (src/persistence/delayed.ts), run by every
 * backend (STYLE habit 13): memory now, SQLite with the storage issue.
 *
 *   runDelayedStoreSuite('memory', () => new MemoryDelayedStore<string>());
 *
 * Entries must come out by due time, equal due times in the order they were added, whatever the
 * order of adding and removing.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { DelayedStore } from '../../src/persistence/delayed.js';

/** Takes everything due at `now`, in the order the store gives it. */
function drain<M>(store: DelayedStore<M>, now: number): M[] {
  const out: M[] = [];
  for (let e = store.takeDue(now); e !== undefined; e = store.takeDue(now)) out.push(e.message);
  return out;
}

export function runDelayedStoreSuite(
  name: string,
  make: () => DelayedStore<string> | Promise<DelayedStore<string>>,
): void {
  describe(`DelayedStore conformance: ${name}`, () => {
    test('an empty store has nothing first and nothing due', async () => {
      const store = await make();
      assert.equal(store.size, 0);
      assert.equal(store.first(), undefined);
      assert.equal(store.takeDue(Number.MAX_SAFE_INTEGER), undefined);
      assert.deepEqual([...store.entries()], []);
    });

    test('entries come out by due time, and only once due', async () => {
      const store = await make();
      store.add(300, 'c');
      store.add(100, 'a');
      store.add(200, 'b');
      assert.equal(store.size, 3);
      assert.equal(store.first()?.message, 'a');
      assert.equal(store.takeDue(99), undefined, 'nothing is due before its time');
      assert.deepEqual(drain(store, 200), ['a', 'b'], 'due at exactly dueAt');
      assert.equal(store.size, 1);
      assert.deepEqual(drain(store, 1000), ['c']);
      assert.equal(store.size, 0);
    });

    test('equal due times come out in the order they were added', async () => {
      const store = await make();
      const added = Array.from({ length: 50 }, (_, i) => `m${i}`);
      for (const m of added) store.add(500, m);
      store.add(400, 'early');
      assert.deepEqual(drain(store, 500), ['early', ...added]);
    });

    test('keys increase in the order of adding; get and remove by key', async () => {
      const store = await make();
      const a = store.add(100, 'a');
      const b = store.add(100, 'b');
      const c = store.add(50, 'c');
      assert.ok(a.key < b.key && b.key < c.key);
      assert.deepEqual(
        { key: b.key, dueAt: b.dueAt, message: b.message },
        { key: b.key, dueAt: 100, message: 'b' },
      );
      assert.equal(store.get(b.key)?.message, 'b');
      assert.equal(store.remove(b.key), true);
      assert.equal(store.remove(b.key), false, 'a removed entry is gone');
      assert.equal(store.get(b.key), undefined);
      assert.equal(store.size, 2);
      assert.deepEqual([...store.entries()].map((e) => e.message).sort(), ['a', 'c']);
      assert.deepEqual(drain(store, 100), ['c', 'a']);
    });

    test('removing the first entry makes the next one first', async () => {
      const store = await make();
      const a = store.add(10, 'a');
      store.add(20, 'b');
      assert.equal(store.remove(a.key), true);
      assert.equal(store.first()?.message, 'b');
    });

    test('clear removes everything', async () => {
      const store = await make();
      for (let i = 0; i < 10; i++) store.add(i, `m${i}`);
      store.clear();
      assert.equal(store.size, 0);
      assert.equal(store.first(), undefined);
      assert.equal(store.takeDue(100), undefined);
    });

    test('any sequence of adds, removes and takes keeps (dueAt, order added) order', async () => {
      const op = fc.oneof(
        fc.record({ kind: fc.constant('add' as const), dueAt: fc.integer({ min: 0, max: 20 }) }),
        fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
        fc.record({ kind: fc.constant('take' as const), now: fc.integer({ min: 0, max: 20 }) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 200 }), async (ops) => {
          const store = await make();
          // The model: a list of [dueAt, seq, key] kept sorted by (dueAt, seq).
          let model: Array<{ dueAt: number; seq: number; key: number }> = [];
          let seq = 0;
          for (const o of ops) {
            if (o.kind === 'add') {
              const e = store.add(o.dueAt, `m${seq}`);
              model.push({ dueAt: o.dueAt, seq: seq++, key: e.key });
              model.sort((x, y) => x.dueAt - y.dueAt || x.seq - y.seq);
            } else if (o.kind === 'remove') {
              if (model.length === 0) continue;
              const victim = model[o.pick % model.length]!;
              assert.equal(store.remove(victim.key), true);
              model = model.filter((m) => m !== victim);
            } else {
              const expected = model.filter((m) => m.dueAt <= o.now).map((m) => `m${m.seq}`);
              assert.deepEqual(drain(store, o.now), expected);
              model = model.filter((m) => m.dueAt > o.now);
            }
            assert.equal(store.size, model.length);
            const first = store.first();
            assert.equal(first?.message, model[0] === undefined ? undefined : `m${model[0].seq}`);
          }
        }),
        { numRuns: 200 },
      );
    });

    test('100,000 entries added in random order come out sorted', async () => {
      const store = await make();
      const n = 100_000;
      let x = 12345;
      for (let i = 0; i < n; i++) {
        x = (x * 1_103_515_245 + 12_345) % 2_147_483_648; // a fixed pseudo-random sequence
        store.add(x % 10_000, `${i}`);
      }
      assert.equal(store.size, n);
      let last = -1;
      let lastKey = -1;
      let count = 0;
      const end = Number.MAX_SAFE_INTEGER;
      for (let e = store.takeDue(end); e !== undefined; e = store.takeDue(end)) {
        if (e.dueAt < last || (e.dueAt === last && e.key < lastKey)) {
          assert.fail(`out of order: ${e.dueAt}/${e.key} after ${last}/${lastKey}`);
        }
        last = e.dueAt;
        lastKey = e.key;
        count++;
      }
      assert.equal(count, n);
    });
  });
}
