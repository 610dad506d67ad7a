/**
 * The retained index (src/persistence/memory/retained-index.ts) and the memory retained store
 * built on it. The reference is the linear scan the index replaced: every stored topic tested
 * with `filterMatches` (src/routing/match.ts). Property tests run random set/delete sequences
 * over topics with `$` first levels, empty levels (`a//b`, `/a`, `a/`) and non-ASCII text, and
 * compare every match with the scan; they also check that pruning leaves exactly the nodes
 * that the remaining topics need.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MemoryRetainedStore } from '../../../src/persistence/memory/retained.js';
import { RetainedIndex } from '../../../src/persistence/memory/retained-index.js';
import { filterMatches } from '../../../src/routing/match.js';

/** A stored message: its topic and which set() of that topic it came from. */
interface Msg {
  topic: string;
  n: number;
}

/** The reference: the old linear scan. */
function scan(model: ReadonlyMap<string, Msg>, filter: string): Msg[] {
  const out: Msg[] = [];
  for (const [topic, message] of model) if (filterMatches(filter, topic)) out.push(message);
  return out;
}

function keyed(messages: Iterable<Msg>): string[] {
  return [...messages].map((m) => `${m.topic}#${m.n}`).sort();
}

/** Distinct level prefixes of the topics: the nodes a fully pruned trie holds. */
function prefixCount(topics: Iterable<string>): number {
  const prefixes = new Set<string>();
  for (const topic of topics) {
    const levels = topic.split('/');
    for (let k = 1; k <= levels.length; k++) prefixes.add(levels.slice(0, k).join('\u0000'));
  }
  return prefixes.size;
}

// ---- arbitraries ---------------------------------------------------------------------------

/** Random level text: any Unicode but the separator, the wildcards and U+0000 [MQTT-4.7.1-1]. */
const randomLevel = fc.string({ unit: 'grapheme', maxLength: 4 }).map((s) => s.replace(/[/+#\u0000]/g, ''));
/** Few distinct levels, so topics share prefixes and filters hit them. */
const commonLevel = fc.constantFrom('a', 'b', '', '$SYS', '$x', 'x$', 'é', '🐦', 'site');
const level = fc.oneof({ weight: 4, arbitrary: commonLevel }, { weight: 1, arbitrary: randomLevel });
/** Topic names: >= 1 level, >= 1 character [MQTT-4.7.3-1]; no wildcards [MQTT-4.7.1-1]. */
const topicArb = fc
  .array(level, { minLength: 1, maxLength: 5 })
  .map((levels) => levels.join('/'))
  .filter((t) => t.length > 0);
/** Valid filters: `+` as whole levels anywhere, `#` only as the last level [MQTT-4.7.1-2]. */
const filterArb = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 0, maxLength: 5 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
  .filter((f) => f.length > 0);
/** A filter made from a topic by putting wildcards at some levels, so it matches something. */
function filterFrom(topic: string, plusMask: number, cut: number, hash: boolean): string {
  const levels = topic.split('/').map((l, i) => ((plusMask >> i) & 1 ? '+' : l));
  const kept = hash ? levels.slice(0, cut % (levels.length + 1)) : levels;
  return (hash ? [...kept, '#'] : kept).join('/');
}

type Op =
  | { kind: 'set'; topic: string }
  | { kind: 'deleteStored'; pick: number }
  | { kind: 'delete'; topic: string }
  | { kind: 'match'; filter: string }
  | { kind: 'matchStored'; pick: number; plusMask: number; cut: number; hash: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), topic: topicArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('deleteStored' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), topic: topicArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('match' as const), filter: filterArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('matchStored' as const),
      pick: fc.nat(),
      plusMask: fc.nat(31),
      cut: fc.nat(),
      hash: fc.boolean(),
    }),
  },
);

const FIXED_FILTERS = [
  '#',
  '+',
  '+/#',
  '+/+',
  '$SYS/#',
  '$SYS/+',
  '$x/#',
  'a/#',
  'a/+',
  '/#',
  '+//#',
  'a//b',
];

// ---- tests ---------------------------------------------------------------------------------

describe('retained index: differential against the linear filterMatches scan', () => {
  test('random set/delete sequences: every match gives the scan’s set [MQTT-4.7.1-2] [MQTT-4.7.2-1]', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
        const index = new RetainedIndex<Msg>();
        const model = new Map<string, Msg>();
        let n = 0;
        const check = (filter: string): void => {
          assert.deepEqual(
            keyed(index.match(filter)),
            keyed(scan(model, filter)),
            `match(${JSON.stringify(filter)})`,
          );
        };
        for (const op of ops) {
          switch (op.kind) {
            case 'set': {
              const message = { topic: op.topic, n: n++ };
              index.set(op.topic, message);
              model.set(op.topic, message);
              break;
            }
            case 'deleteStored': {
              if (model.size === 0) break;
              const topic = [...model.keys()][op.pick % model.size]!;
              assert.equal(index.delete(topic), true);
              model.delete(topic);
              break;
            }
            case 'delete':
              assert.equal(index.delete(op.topic), model.delete(op.topic));
              break;
            case 'match':
              check(op.filter);
              break;
            case 'matchStored': {
              if (model.size === 0) break;
              const topic = [...model.keys()][op.pick % model.size]!;
              check(filterFrom(topic, op.plusMask, op.cut, op.hash));
              break;
            }
          }
          assert.equal(index.size, model.size);
        }
        for (const filter of FIXED_FILTERS) check(filter);
        for (const [topic, message] of model) {
          assert.equal(index.get(topic), message);
          check(topic);
        }
        // Pruned exactly: one node per distinct level prefix of the remaining topics.
        assert.equal(index.nodeCount, prefixCount(model.keys()));
      }),
      { numRuns: 400 },
    );
  });

  test('the memory store answers like the scan on the same sequences', () => {
    fc.assert(
      fc.property(
        fc.array(topicArb, { maxLength: 40 }),
        fc.array(filterArb, { maxLength: 10 }),
        (topics, filters) => {
          const store = new MemoryRetainedStore<Msg>();
          const model = new Map<string, Msg>();
          topics.forEach((topic, n) => {
            store.set(topic, { topic, n });
            model.set(topic, { topic, n });
          });
          assert.equal(store.size, model.size);
          for (const filter of [...filters, ...FIXED_FILTERS]) {
            assert.deepEqual(keyed(store.match(filter)), keyed(scan(model, filter)));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('retained index: matching rules', () => {
  const topics = ['a', 'a/b', 'a/b/c', 'a//b', '/a', 'a/', '$SYS/x', '$SYS', 'x$/y', 'é/🐦'];
  const make = (): RetainedIndex<string> => {
    const index = new RetainedIndex<string>();
    for (const t of topics) index.set(t, t);
    return index;
  };
  const cases: Array<[filter: string, expected: string[]]> = [
    ['#', ['a', 'a/b', 'a/b/c', 'a//b', '/a', 'a/', 'x$/y', 'é/🐦']],
    ['+', ['a']],
    ['+/+', ['a/b', '/a', 'a/', 'x$/y', 'é/🐦']],
    ['a/#', ['a', 'a/b', 'a/b/c', 'a//b', 'a/']],
    ['a/+', ['a/b', 'a/']],
    ['a//b', ['a//b']],
    ['a/+/b', ['a//b']],
    ['/#', ['/a']],
    ['+/a', ['/a']],
    ['$SYS/#', ['$SYS/x', '$SYS']],
    ['$SYS/+', ['$SYS/x']],
    ['é/🐦', ['é/🐦']],
    ['a/b/c/d', []],
    ['nothing/#', []],
  ];
  for (const [filter, expected] of cases) {
    test(`${filter} matches ${expected.length === 0 ? 'nothing' : expected.join(', ')}`, () => {
      assert.deepEqual([...make().match(filter)].sort(), [...expected].sort());
    });
  }

  test('a first-level + or # does not match $ topics [MQTT-4.7.2-1]', () => {
    const index = make();
    for (const filter of ['#', '+', '+/#', '+/+', '+/x']) {
      for (const m of index.match(filter)) assert.notEqual(m.charCodeAt(0), 0x24, `${filter} matched ${m}`);
    }
    assert.deepEqual([...index.match('$SYS/#')].sort(), ['$SYS', '$SYS/x']);
  });

  test('a/# matches the parent level a itself [MQTT-4.7.1-2]', () => {
    const index = new RetainedIndex<string>();
    index.set('a', 'a');
    assert.deepEqual([...index.match('a/#')], ['a']);
  });

  test('results come in pre-order, children in the order their levels were first stored', () => {
    const index = new RetainedIndex<string>();
    for (const t of ['b/1', 'a', 'b', 'a/2', 'a/1', 'b/0']) index.set(t, t);
    assert.deepEqual([...index.match('#')], ['b', 'b/1', 'b/0', 'a', 'a/2', 'a/1']);
    assert.deepEqual([...index.match('+/+')], ['b/1', 'b/0', 'a/2', 'a/1']);
  });

  test('set replaces the message of a stored topic without a new node', () => {
    const index = new RetainedIndex<string>();
    index.set('a/b', 'one');
    index.set('a/b', 'two');
    assert.equal(index.size, 1);
    assert.equal(index.nodeCount, 2);
    assert.equal(index.get('a/b'), 'two');
    assert.deepEqual([...index.match('a/#')], ['two']);
  });

  test('a topic thousands of levels deep is stored, matched and deleted without recursion', () => {
    const index = new RetainedIndex<string>();
    const MAX = 65_535; // bytes in a UTF-8 string: MQTT 3.1.1 section 1.5.3, 5.0 section 1.5.4
    const deep = '/'.repeat(MAX); // 65,536 empty levels: the deepest topic there is
    index.set(deep, 'deep');
    index.set('x', 'x');
    assert.deepEqual([...index.match('#')].sort(), ['deep', 'x']);
    assert.deepEqual([...index.match(`${'/'.repeat(MAX - 1)}#`)], ['deep']);
    assert.deepEqual([...index.match(`${'+/'.repeat((MAX - 1) / 2)}#`)], ['deep']);
    assert.deepEqual([...index.match(`${'+/'.repeat((MAX - 1) / 2)}+`)], []);
    assert.equal(index.delete(deep), true);
    assert.equal(index.nodeCount, 1);
  });

  test('changing the store while iterating a match is safe', () => {
    const store = new MemoryRetainedStore<string>();
    for (let i = 0; i < 10; i++) store.set(`t/${i}`, `t/${i}`);
    const seen: string[] = [];
    for (const m of store.match('t/#')) {
      seen.push(m);
      store.delete(m); // prunes the node just yielded, and `t` with the last one
      store.set(`u/${m}`, m);
    }
    assert.deepEqual(seen.sort(), Array.from({ length: 10 }, (_, i) => `t/${i}`).sort());
    assert.equal(store.size, 10);
    assert.deepEqual([...store.match('t/#')], []);
  });

  test('a message deleted during a walk before the walk reaches it is not yielded', () => {
    const index = new RetainedIndex<string>();
    for (const t of ['a/1', 'a/2', 'a/3', 'b/1']) index.set(t, t);
    const seen: string[] = [];
    for (const m of index.match('+/+')) {
      seen.push(m);
      if (m === 'a/1') {
        index.delete('a/3');
        index.delete('b/1');
      }
    }
    assert.deepEqual(seen, ['a/1', 'a/2']);
  });
});

describe('retained index: delete prunes', () => {
  test('deleting every topic leaves no nodes', () => {
    const index = new RetainedIndex<number>();
    const topics = ['a/b/c', 'a/b', 'a/x/y/z', '/', '//', 'a//', '$SYS/broker/uptime'];
    topics.forEach((t, i) => {
      index.set(t, i);
    });
    assert.ok(index.nodeCount > 0);
    for (const t of topics) assert.equal(index.delete(t), true);
    assert.equal(index.size, 0);
    assert.equal(index.nodeCount, 0);
    assert.deepEqual([...index.match('#')], []);
  });

  test('a node with children stays when its own message goes; its ancestors too', () => {
    const index = new RetainedIndex<string>();
    index.set('a/b', 'ab');
    index.set('a/b/c/d', 'abcd');
    assert.equal(index.delete('a/b'), true);
    assert.equal(index.get('a/b'), undefined);
    assert.equal(index.nodeCount, 4);
    assert.deepEqual([...index.match('a/#')], ['abcd']);
    assert.equal(index.delete('a/b/c/d'), true);
    assert.equal(index.nodeCount, 0);
  });

  test('pruning stops at an ancestor that holds a message', () => {
    const index = new RetainedIndex<string>();
    index.set('a', 'a');
    index.set('a/b/c', 'abc');
    index.delete('a/b/c');
    assert.equal(index.nodeCount, 1);
    assert.deepEqual([...index.match('#')], ['a']);
  });

  test('deleting an unknown topic, or a prefix that holds no message, changes nothing', () => {
    const index = new RetainedIndex<string>();
    index.set('a/b', 'ab');
    assert.equal(index.delete('a'), false);
    assert.equal(index.delete('a/b/c'), false);
    assert.equal(index.delete('zzz'), false);
    assert.equal(index.nodeCount, 2);
    assert.deepEqual([...index.match('a/+')], ['ab']);
  });

  test('churn of unique topics does not grow the trie', () => {
    const index = new RetainedIndex<number>();
    index.set('job/keep', -1);
    for (let i = 0; i < 5_000; i++) {
      index.set(`job/${i}/status/${i % 7}`, i);
      if (i >= 10) index.delete(`job/${i - 10}/status/${(i - 10) % 7}`);
    }
    assert.equal(index.size, 11);
    assert.equal(index.nodeCount, 1 + 1 + 10 * 3);
  });
});
