/**
 * The topic trie (src/routing/trie.ts), every test run twice: with the match cache on (the
 * default) and off (`cacheSize: 0`), after NATS's sublist_test.go (STYLE habit 15). A cache
 * must never change an answer, only how fast it comes.
 *
 * The cache counters (habit 18) are asserted through `counters()`: each test states what a
 * cached trie counts, and the uncached variant checks that nothing is counted at all.
 *
 * The last test is differential and model-based: random sequences of add / remove / match
 * against a list of (filter, value) pairs, where the expected answer of a match is computed
 * with filterMatches (src/routing/match.ts), the single-pair form of the same rules.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { filterMatches } from '../../../src/routing/match.js';
import { TopicTrie, type TrieOptions } from '../../../src/routing/trie.js';

interface Variant {
  name: string;
  cached: boolean;
  /** Options for a trie of this variant; `cacheSize` is used only when cached. */
  options(cacheSize?: number): TrieOptions;
}

const VARIANTS: readonly Variant[] = [
  { name: 'cache on', cached: true, options: (cacheSize) => (cacheSize === undefined ? {} : { cacheSize }) },
  { name: 'cache off', cached: false, options: () => ({ cacheSize: 0 }) },
];

/** The match result as a sorted array, so order does not matter. */
function sorted<T>(values: readonly T[]): T[] {
  return [...values].sort();
}

for (const variant of VARIANTS) {
  const make = <T = string>(cacheSize?: number) => new TopicTrie<T>(variant.options(cacheSize));
  /** Asserts the counters a cached trie must show; an uncached one must show none. */
  const counters = (trie: TopicTrie<unknown>, hits: number, misses: number, message?: string) => {
    const expected = variant.cached ? { hits, misses } : { hits: 0, misses: 0 };
    assert.deepEqual({ hits: trie.cacheHits, misses: trie.cacheMisses }, expected, message);
  };
  /** A trie with each filter stored under itself as the value. */
  const trieOf = (...filters: string[]) => {
    const trie = make();
    for (const f of filters) trie.add(f, f);
    return trie;
  };

  describe(`TopicTrie (${variant.name})`, () => {
    describe('matching', () => {
      test('a literal filter matches exactly its topic', () => {
        const trie = trieOf('a/b/c');
        assert.deepEqual(trie.match('a/b/c'), ['a/b/c']);
        assert.deepEqual(trie.match('a/b'), []);
        assert.deepEqual(trie.match('a/b/c/d'), []);
        assert.deepEqual(trie.match('a/b/x'), []);
        assert.deepEqual(trie.match('A/b/c'), [], 'topics are case sensitive [MQTT-4.7.3-4]');
      });

      test('+ matches exactly one level [MQTT-4.7.1-3]', () => {
        const trie = trieOf('a/+/c', '+', '+/+');
        assert.deepEqual(trie.match('a/b/c'), ['a/+/c']);
        assert.deepEqual(trie.match('a/x/c'), ['a/+/c']);
        assert.deepEqual(trie.match('a/c'), ['+/+'], '+ does not match zero levels');
        assert.deepEqual(trie.match('a/b/b/c'), [], '+ does not match two levels');
        assert.deepEqual(trie.match('a'), ['+']);
        assert.deepEqual(trie.match('a/b/c/d'), []);
      });

      test('+ matches an empty level', () => {
        const trie = trieOf('a/+/c', '+/b');
        assert.deepEqual(trie.match('a//c'), ['a/+/c']);
        assert.deepEqual(trie.match('/b'), ['+/b']);
      });

      test('# matches the level it stands at and everything below', () => {
        const trie = trieOf('a/#');
        assert.deepEqual(trie.match('a/b'), ['a/#']);
        assert.deepEqual(trie.match('a/b/c/d'), ['a/#']);
        assert.deepEqual(trie.match('a/'), ['a/#']);
        assert.deepEqual(trie.match('b/a'), []);
        assert.deepEqual(trie.match('ab'), []);
      });

      test('a/# matches the parent level a [MQTT-4.7.1-2]', () => {
        const trie = trieOf('a/#', 'a/b/#', 'a/+/#');
        assert.deepEqual(sorted(trie.match('a')), ['a/#']);
        assert.deepEqual(sorted(trie.match('a/b')), ['a/#', 'a/+/#', 'a/b/#']);
      });

      test('# alone matches every topic that does not start with $', () => {
        const trie = trieOf('#');
        for (const topic of ['a', 'a/b', '/', '/a', 'a/', 'x/y/z/w', '//']) {
          assert.deepEqual(trie.match(topic), ['#'], topic);
        }
      });

      test('+ and # together: +/# and +/+/#', () => {
        const trie = trieOf('+/#', '+/+/#');
        assert.deepEqual(sorted(trie.match('a')), ['+/#']);
        assert.deepEqual(sorted(trie.match('a/b')), ['+/#', '+/+/#']);
        assert.deepEqual(sorted(trie.match('a/b/c')), ['+/#', '+/+/#']);
      });

      test('overlapping filters each match once', () => {
        const trie = trieOf('a/b', 'a/+', 'a/#', '#', '+/b', '+/+', 'a/b/#', 'x/#');
        assert.deepEqual(
          sorted(trie.match('a/b')),
          sorted(['a/b', 'a/+', 'a/#', '#', '+/b', '+/+', 'a/b/#']),
        );
      });

      test('$SYS topics are not matched by # or + at the first level [MQTT-4.7.2-1]', () => {
        const trie = trieOf('#', '+/monitor/Clients', '+/#', '+', '+/+/+');
        assert.deepEqual(trie.match('$SYS/monitor/Clients'), []);
        assert.deepEqual(trie.match('$SYS'), []);
        assert.deepEqual(trie.match('$x'), []);
        assert.deepEqual(trie.match('$'), []);
      });

      test('$SYS/# and $SYS/monitor/+ match $SYS topics [MQTT-4.7.2-1]', () => {
        const trie = trieOf('$SYS/#', '$SYS/monitor/+', '#');
        assert.deepEqual(sorted(trie.match('$SYS/monitor/Clients')), ['$SYS/#', '$SYS/monitor/+']);
        assert.deepEqual(trie.match('$SYS'), ['$SYS/#'], '$SYS/# matches its parent level');
        assert.deepEqual(trie.match('SYS/x'), ['#']);
      });

      test('$ is special only at the start of the topic', () => {
        const trie = trieOf('#', 'a/+');
        assert.deepEqual(sorted(trie.match('a/$b')), ['#', 'a/+']);
      });

      test('empty levels are levels: a//b, leading / and trailing /', () => {
        const trie = trieOf('a//b', '/a', '/', 'a/', '+/+');
        assert.deepEqual(trie.match('a//b'), ['a//b']);
        assert.deepEqual(trie.match('a/b'), ['+/+'], 'a//b is three levels, not two');
        assert.deepEqual(sorted(trie.match('/a')), ['+/+', '/a']);
        assert.deepEqual(trie.match('a'), []);
        assert.deepEqual(sorted(trie.match('/')), ['+/+', '/']);
        assert.deepEqual(sorted(trie.match('a/')), ['+/+', 'a/']);
      });

      test('a topic that matches nothing gives an empty result', () => {
        const trie = make();
        assert.deepEqual(trie.match('a/b'), []);
        trie.add('x', 'x');
        assert.deepEqual(trie.match('a/b'), []);
      });
    });

    describe('add and remove', () => {
      test('size counts values; remove prunes every node (entries() empty)', () => {
        const filters = ['a/b/c', 'a/b', 'a/+/c', 'a/#', '#', '+', '/', 'a//b', '$SYS/#'];
        const trie = trieOf(...filters);
        assert.equal(trie.size, filters.length);
        assert.deepEqual(sorted([...trie.entries()].map(([f]) => f)), sorted(filters));
        for (const [i, f] of filters.entries()) {
          assert.equal(trie.remove(f, f), true, f);
          assert.equal(trie.size, filters.length - i - 1);
        }
        assert.equal(trie.size, 0);
        assert.deepEqual([...trie.entries()], []);
        for (const f of filters) assert.deepEqual(trie.match(f.replace(/[+#]/g, 'x')), []);
        // The root has no children left: a private peek, since the public surface cannot tell.
        const root = Reflect.get(trie, 'root') as { empty: boolean };
        assert.equal(root.empty, true, 'every node was pruned');
      });

      test('remove keeps nodes that other filters still use', () => {
        const trie = trieOf('a/b/c', 'a/b', 'a/+/c');
        assert.equal(trie.remove('a/b/c', 'a/b/c'), true);
        assert.deepEqual(trie.match('a/b/c'), ['a/+/c']);
        assert.deepEqual(trie.match('a/b'), ['a/b']);
        assert.deepEqual(sorted([...trie.entries()].map(([f]) => f)), ['a/+/c', 'a/b']);
      });

      test('remove of an absent value or filter returns false and changes nothing', () => {
        const trie = trieOf('a/b');
        assert.equal(trie.remove('a/b', 'other'), false, 'absent value under a present filter');
        assert.equal(trie.remove('a/c', 'a/b'), false, 'absent filter');
        assert.equal(trie.remove('a', 'a/b'), false, 'a prefix of a present filter');
        assert.equal(trie.remove('a/b/c', 'a/b'), false, 'an extension of a present filter');
        assert.equal(trie.remove('a/+', 'a/b'), false);
        assert.equal(trie.remove('a/#', 'a/b'), false);
        assert.equal(trie.size, 1);
        assert.deepEqual(trie.match('a/b'), ['a/b']);
        assert.equal(trie.remove('a/b', 'a/b'), true);
        assert.equal(trie.remove('a/b', 'a/b'), false, 'a second remove finds nothing');
        assert.equal(trie.size, 0);
      });

      test('the same value under several filters is matched once per filter', () => {
        const trie = make<number>();
        trie.add('a/b', 1);
        trie.add('a/+', 1);
        trie.add('a/#', 1);
        trie.add('a/b', 2);
        assert.equal(trie.size, 4);
        assert.deepEqual(sorted(trie.match('a/b')), [1, 1, 1, 2]);
        assert.equal(trie.remove('a/+', 1), true);
        assert.deepEqual(sorted(trie.match('a/b')), [1, 1, 2]);
        assert.equal(trie.remove('a/b', 1), true);
        assert.deepEqual(sorted(trie.match('a/b')), [1, 2]);
        assert.deepEqual(sorted([...trie.entries()].map(([f, v]) => `${f}=${v}`)), ['a/#=1', 'a/b=2']);
      });

      test('a value added twice under one filter is stored twice and removed one at a time', () => {
        const trie = make<number>();
        trie.add('a', 1);
        trie.add('a', 1);
        assert.deepEqual(trie.match('a'), [1, 1]);
        assert.equal(trie.remove('a', 1), true);
        assert.deepEqual(trie.match('a'), [1]);
        assert.equal(trie.remove('a', 1), true);
        assert.deepEqual(trie.match('a'), []);
        assert.equal(trie.size, 0);
      });

      test('a result returned earlier is not changed by a later remove', () => {
        const trie = trieOf('a/b', 'a/+');
        const before = trie.match('a/b');
        const copy = [...before];
        trie.remove('a/b', 'a/b');
        assert.deepEqual([...before], copy);
        assert.deepEqual(trie.match('a/b'), ['a/+']);
      });
    });

    describe('match cache', () => {
      test('a subscription added after a cached miss is seen (no stale result)', () => {
        const trie = make();
        assert.deepEqual(trie.match('a/b'), []);
        assert.deepEqual(trie.match('a/b'), []);
        counters(trie, 1, 1);
        trie.add('a/+', 'a/+');
        assert.deepEqual(trie.match('a/b'), ['a/+']);
        counters(trie, 1, 2, 'add cleared the cache: the third match is a miss');
        assert.deepEqual(trie.match('a/b'), ['a/+']);
        counters(trie, 2, 2);
      });

      test('a removed subscription is not returned from the cache', () => {
        const trie = trieOf('a/#', 'a/b');
        assert.deepEqual(sorted(trie.match('a/b')), ['a/#', 'a/b']);
        assert.deepEqual(sorted(trie.match('a/b')), ['a/#', 'a/b']);
        counters(trie, 1, 1);
        trie.remove('a/#', 'a/#');
        assert.deepEqual(trie.match('a/b'), ['a/b']);
        counters(trie, 1, 2);
      });

      test('a change anywhere in the trie invalidates every cached topic', () => {
        const trie = trieOf('x');
        trie.match('a');
        trie.match('b');
        counters(trie, 0, 2);
        trie.add('b', 'b');
        assert.deepEqual(trie.match('a'), []);
        assert.deepEqual(trie.match('b'), ['b']);
        counters(trie, 0, 4);
      });

      test('a failed remove leaves the cache alone', () => {
        const trie = trieOf('a');
        trie.match('a');
        trie.remove('a', 'nope');
        trie.remove('nope', 'a');
        assert.deepEqual(trie.match('a'), ['a']);
        counters(trie, 1, 1);
      });

      test('hits and misses are counted per match', () => {
        const trie = trieOf('a/+');
        trie.match('a/1');
        trie.match('a/2');
        trie.match('a/1');
        trie.match('a/1');
        trie.match('a/2');
        trie.match('a/3');
        counters(trie, 3, 3);
      });

      test('the cache is bounded: cacheSize 4 keeps at most 4 topics, oldest out first', () => {
        const trie = make(4);
        trie.add('t/+', 't/+');
        for (let i = 1; i <= 10; i++) assert.deepEqual(trie.match(`t/${i}`), ['t/+']);
        counters(trie, 0, 10);
        // Topics 7..10 are the last four cached: hits. A hit does not reorder the cache.
        for (let i = 7; i <= 10; i++) trie.match(`t/${i}`);
        counters(trie, 4, 10, 'the four newest topics are cached');
        // Topic 1 went out long ago: a miss, and it pushes out topic 7, the oldest.
        assert.deepEqual(trie.match('t/1'), ['t/+']);
        counters(trie, 4, 11, 'the first topic is no longer cached');
        trie.match('t/7');
        counters(trie, 4, 12, 'inserting t/1 evicted t/7');
        // Now t/9, t/10, t/1, t/7 are cached; t/8 was evicted by t/7.
        trie.match('t/9');
        trie.match('t/10');
        trie.match('t/1');
        counters(trie, 7, 12);
        trie.match('t/8');
        counters(trie, 7, 13);
      });

      test('the default cache holds many topics', () => {
        const trie = make();
        trie.add('#', '#');
        for (let i = 0; i < 1000; i++) trie.match(`t/${i}`);
        for (let i = 0; i < 1000; i++) trie.match(`t/${i}`);
        counters(trie, 1000, 1000);
      });
    });

    test('differential: match(topic) equals the filters f with filterMatches(f, topic)', () => {
      const level = fc.constantFrom('a', 'b', '', '$SYS', '$x');
      const topicArb = fc.array(level, { minLength: 1, maxLength: 4 }).map((levels) => levels.join('/'));
      const filterArb = fc
        .tuple(
          fc.array(fc.oneof(level, fc.constant('+')), { minLength: 0, maxLength: 4 }),
          fc.boolean(), // ends with #
        )
        .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
        .filter((f) => f.length > 0);
      const op = fc.oneof(
        fc.record({ kind: fc.constant('add' as const), filter: filterArb, value: fc.nat(5) }),
        fc.record({ kind: fc.constant('remove' as const), filter: filterArb, value: fc.nat(5) }),
        fc.record({ kind: fc.constant('removeAdded' as const), pick: fc.nat() }),
        fc.record({ kind: fc.constant('match' as const), topic: topicArb }),
      );
      fc.assert(
        fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 8 }), (ops, cacheSize) => {
          const trie = make<number>(cacheSize);
          /** The model: every (filter, value) pair stored, repeats included. */
          const model: Array<[string, number]> = [];
          const removeFromModel = (filter: string, value: number): boolean => {
            const at = model.findIndex(([f, v]) => f === filter && v === value);
            if (at >= 0) model.splice(at, 1);
            return at >= 0;
          };
          for (const o of ops) {
            switch (o.kind) {
              case 'add':
                trie.add(o.filter, o.value);
                model.push([o.filter, o.value]);
                break;
              case 'remove':
                assert.equal(trie.remove(o.filter, o.value), removeFromModel(o.filter, o.value));
                break;
              case 'removeAdded': {
                if (model.length === 0) break;
                const [filter, value] = model[o.pick % model.length]!;
                assert.equal(trie.remove(filter, value), true);
                removeFromModel(filter, value);
                break;
              }
              case 'match': {
                const expected = model.filter(([f]) => filterMatches(f, o.topic)).map(([, v]) => v);
                assert.deepEqual(sorted(trie.match(o.topic)), sorted(expected), `match(${o.topic})`);
                break;
              }
            }
            assert.equal(trie.size, model.length);
          }
          const entries = [...trie.entries()].map(([f, v]) => `${f}=${v}`);
          assert.deepEqual(sorted(entries), sorted(model.map(([f, v]) => `${f}=${v}`)));
        }),
        { numRuns: 500 },
      );
    });
  });
}

describe('filterMatches (the single-pair rules the trie is checked against)', () => {
  const cases: Array<[filter: string, topic: string, matches: boolean]> = [
    ['a/b', 'a/b', true],
    ['a/b', 'a', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a', false],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a', true], // [MQTT-4.7.1-2]
    ['a/#', 'a/b/c', true],
    ['#', '$SYS/x', false], // [MQTT-4.7.2-1]
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS', true],
    ['$SYS/+', '$SYS/x', true],
    ['+/+', '/', true],
    ['a//b', 'a//b', true],
    ['a//b', 'a/b', false],
  ];
  for (const [filter, topic, matches] of cases) {
    test(`${filter} ${matches ? 'matches' : 'does not match'} ${topic}`, () => {
      assert.equal(filterMatches(filter, topic), matches);
    });
  }
});
