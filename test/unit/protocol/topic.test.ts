/**
 * Topic names and filters (section 4.7), shared-subscription prefixes (4.8.2), EMQX's exclusive
 * subscription prefix and the delayed publish prefix: fixed examples named after their normative statements, and properties checked
 * against a small reference implementation written from the specification's wording.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  MAX_DELAY_SECONDS,
  parseDelayedTopic,
  parseExclusiveFilter,
  parseSubscriptionFilter,
  topicFilterProblem,
  topicLevels,
  topicNameProblem,
} from '../../../src/protocol/index.js';
import { topicFilter, topicName } from '../../helpers/arbitraries.js';

const isProblem = (v: unknown): boolean => typeof v === 'string' && v.length > 0;

/**
 * The reference: a filter is valid when it is non-empty [MQTT-4.7.3-1] and, split at '/', every
 * level either holds no wildcard, or is exactly '+' [MQTT-4.7.1-3], or is exactly '#' and last
 * [MQTT-4.7.1-2].
 */
function referenceFilterValid(filter: string): boolean {
  if (filter.length === 0) return false;
  const levels = filter.split('/');
  return levels.every((level, i) => {
    if (level === '+') return true;
    if (level === '#') return i === levels.length - 1;
    return !level.includes('+') && !level.includes('#');
  });
}

/** Strings over a tiny alphabet, so that wildcards and separators meet in every arrangement. */
const wildcardSoup = fc.string({ unit: fc.constantFrom('a', 'b', '/', '+', '#', '$', 'é'), maxLength: 8 });

describe('topicNameProblem', () => {
  test('[MQTT-4.7.3-1] a topic name must be at least one character long', () => {
    assert.ok(isProblem(topicNameProblem('')));
    assert.equal(topicNameProblem('a'), null);
  });

  test('[MQTT-3.3.2-2] a topic name must not contain wildcards', () => {
    for (const t of ['+', '#', 'a/+', 'a/#', 'a+b', 'sport/tennis#', '+/x'])
      assert.ok(isProblem(topicNameProblem(t)), t);
  });

  test('names with empty levels, spaces, "$", a BOM and non-ASCII characters are valid', () => {
    for (const t of ['/', '//', 'a//b', '/a', 'a/', ' ', 'a b', '$SYS/x', '\uFEFF', 'température/🌡']) {
      assert.equal(topicNameProblem(t), null, t);
    }
  });

  test('generated topic names are valid; a name is valid exactly when non-empty and wildcard-free', () => {
    fc.assert(fc.property(topicName, (t) => topicNameProblem(t) === null));
    fc.assert(
      fc.property(wildcardSoup, (t) => {
        const valid = t.length > 0 && !t.includes('+') && !t.includes('#');
        assert.equal(topicNameProblem(t) === null, valid, JSON.stringify(t));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('topicFilterProblem', () => {
  test('[MQTT-4.7.3-1] a topic filter must be at least one character long', () => {
    assert.ok(isProblem(topicFilterProblem('')));
  });

  test("[MQTT-4.7.1-2] '#' must be alone in the last level", () => {
    for (const f of ['#', 'a/#', '/#', 'a/b/#', '+/#']) assert.equal(topicFilterProblem(f), null, f);
    for (const f of ['a#', '#/a', 'a/#/b', 'a/b#', '##', 'a/##', '#a', '#/'])
      assert.ok(isProblem(topicFilterProblem(f)), f);
  });

  test("[MQTT-4.7.1-3] '+' must occupy a whole level, at any level", () => {
    for (const f of ['+', '+/', '/+', '+/+', 'a/+/b', '+/a/#', '/+/'])
      assert.equal(topicFilterProblem(f), null, f);
    for (const f of ['a+', '+a', 'a/b+/c', 'a/+b', '++', 'a/++/b'])
      assert.ok(isProblem(topicFilterProblem(f)), f);
  });

  test('filters without wildcards are valid filters', () => {
    for (const f of ['a', '/', 'a//b', '$SYS/#', 'é/😀']) assert.equal(topicFilterProblem(f), null, f);
  });

  test('agrees with the reference on every arrangement of a, /, +, # (property)', () => {
    fc.assert(
      fc.property(wildcardSoup, (f) => {
        assert.equal(topicFilterProblem(f) === null, referenceFilterValid(f), JSON.stringify(f));
      }),
      { numRuns: 5000 },
    );
  });

  test('generated filters, plain and with $share/$queue prefixes, parse without a problem', () => {
    fc.assert(
      fc.property(topicFilter, (f) => {
        const parsed = parseSubscriptionFilter(f);
        assert.equal(typeof parsed, 'object', f);
      }),
    );
  });
});

describe('parseSubscriptionFilter', () => {
  test('a plain filter has no group', () => {
    assert.deepEqual(parseSubscriptionFilter('a/+/#'), { filter: 'a/+/#', group: null });
  });

  test('[MQTT-4.8.2-1] $share/<group>/<filter> splits into group and filter', () => {
    assert.deepEqual(parseSubscriptionFilter('$share/g/f'), { filter: 'f', group: 'g' });
    assert.deepEqual(parseSubscriptionFilter('$share/group-1/a/+/#'), { filter: 'a/+/#', group: 'group-1' });
    assert.deepEqual(parseSubscriptionFilter('$share/g/#'), { filter: '#', group: 'g' });
    assert.deepEqual(parseSubscriptionFilter('$share/g//a'), { filter: '/a', group: 'g' });
    assert.deepEqual(parseSubscriptionFilter('$share/é/$SYS/x'), { filter: '$SYS/x', group: 'é' });
  });

  test('$queue/<filter> is a share in the group "$queue"', () => {
    assert.deepEqual(parseSubscriptionFilter('$queue/f'), { filter: 'f', group: '$queue' });
    assert.deepEqual(parseSubscriptionFilter('$queue/a/#'), { filter: 'a/#', group: '$queue' });
  });

  test('[MQTT-4.8.2-1] a share group must be at least one character long', () => {
    assert.ok(isProblem(parseSubscriptionFilter('$share//f')));
  });

  test("[MQTT-4.8.2-2] a share group must not contain '+' or '#' and must be followed by '/' and a filter", () => {
    for (const f of [
      '$share/g+/f',
      '$share/+/f',
      '$share/#/f',
      '$share/a#/f',
      '$share/g',
      '$share/g/',
      '$share/',
    ]) {
      assert.ok(isProblem(parseSubscriptionFilter(f)), f);
    }
  });

  test('the filter of a share or queue is checked like any filter', () => {
    for (const f of ['$share/g/a#', '$share/g/#/a', '$share/g/a+', '$queue/', '$queue/a#', '$queue/#/b']) {
      assert.ok(isProblem(parseSubscriptionFilter(f)), f);
    }
  });

  test('prefixes that only look alike are plain filters', () => {
    assert.deepEqual(parseSubscriptionFilter('$share'), { filter: '$share', group: null });
    assert.deepEqual(parseSubscriptionFilter('$shared/g/f'), { filter: '$shared/g/f', group: null });
    assert.deepEqual(parseSubscriptionFilter('$queue'), { filter: '$queue', group: null });
    assert.deepEqual(parseSubscriptionFilter('a/$share/g/f'), { filter: 'a/$share/g/f', group: null });
  });

  test('a share round-trips: $share/<group>/<filter> gives back group and filter (property)', () => {
    const group = fc.string({ unit: fc.constantFrom('a', 'b', '-', 'é', '$'), minLength: 1, maxLength: 5 });
    const plain = topicFilter.filter((f) => !f.startsWith('$share/') && !f.startsWith('$queue/'));
    fc.assert(
      fc.property(group, plain, (g, f) => {
        assert.deepEqual(parseSubscriptionFilter(`$share/${g}/${f}`), { filter: f, group: g });
      }),
    );
  });
});

describe('parseExclusiveFilter (EMQX $exclusive/<filter>)', () => {
  test('a filter without the prefix is not exclusive', () => {
    for (const f of ['a/b', '$exclusive', '$exclusivex/a', 'a/$exclusive/b', '$share/g/$exclusive/a']) {
      assert.equal(parseExclusiveFilter(f), null, f);
    }
  });

  test('$exclusive/<filter> gives the filter, wildcards and $ topics included', () => {
    assert.deepEqual(parseExclusiveFilter('$exclusive/a/b'), { filter: 'a/b' });
    assert.deepEqual(parseExclusiveFilter('$exclusive/a/+/#'), { filter: 'a/+/#' });
    assert.deepEqual(parseExclusiveFilter('$exclusive/#'), { filter: '#' });
    assert.deepEqual(parseExclusiveFilter('$exclusive//'), { filter: '/' });
    assert.deepEqual(parseExclusiveFilter('$exclusive/$SYS/x'), { filter: '$SYS/x' });
  });

  test('an invalid rest is a problem: empty [MQTT-4.7.3-1], bad wildcards [MQTT-4.7.1-2] [MQTT-4.7.1-3]', () => {
    for (const f of ['$exclusive/', '$exclusive/a/#/b', '$exclusive/a+', '$exclusive/#a']) {
      assert.ok(isProblem(parseExclusiveFilter(f)), f);
    }
  });

  test('an exclusive subscription cannot be shared or nested', () => {
    for (const f of ['$exclusive/$share/g/a', '$exclusive/$queue/a', '$exclusive/$exclusive/a']) {
      assert.ok(isProblem(parseExclusiveFilter(f)), f);
    }
  });

  test('the prefix does not change what parseSubscriptionFilter says of the whole string', () => {
    assert.deepEqual(parseSubscriptionFilter('$exclusive/a'), { filter: '$exclusive/a', group: null });
  });

  test('$exclusive/<filter> gives back any valid plain filter (property)', () => {
    const plain = topicFilter.filter(
      (f) => !f.startsWith('$share/') && !f.startsWith('$queue/') && !f.startsWith('$exclusive/'),
    );
    fc.assert(
      fc.property(plain, (f) => assert.deepEqual(parseExclusiveFilter(`$exclusive/${f}`), { filter: f })),
    );
  });
});

describe('parseDelayedTopic', () => {
  test('topics without the prefix are not delayed', () => {
    for (const t of [
      'a/b',
      '$delayedx/1/a',
      '$delays/1/a',
      'a/$delayed/1/b',
      '$SYS/x',
      '$delayed',
      '$delay',
    ]) {
      assert.equal(parseDelayedTopic(t), null, t);
    }
  });

  test('$delayed/<seconds>/<topic> and $delay/<seconds>/<topic>', () => {
    assert.deepEqual(parseDelayedTopic('$delayed/10/a'), { delaySeconds: 10, topic: 'a' });
    assert.deepEqual(parseDelayedTopic('$delay/5/a/b/c'), { delaySeconds: 5, topic: 'a/b/c' });
    assert.deepEqual(parseDelayedTopic('$delayed/0/x'), { delaySeconds: 0, topic: 'x' });
    assert.deepEqual(parseDelayedTopic('$delayed/007/x'), { delaySeconds: 7, topic: 'x' });
    assert.deepEqual(parseDelayedTopic('$delayed/1//x'), { delaySeconds: 1, topic: '/x' });
  });

  test('the delay is at most MAX_DELAY_SECONDS (4,294,967)', () => {
    assert.equal(MAX_DELAY_SECONDS, 4_294_967);
    assert.deepEqual(parseDelayedTopic('$delayed/4294967/a'), { delaySeconds: 4_294_967, topic: 'a' });
    assert.ok(isProblem(parseDelayedTopic('$delayed/4294968/a')));
    assert.ok(isProblem(parseDelayedTopic(`$delayed/${'9'.repeat(40)}/a`)));
  });

  test('a delay that is not a whole number of seconds is refused', () => {
    for (const t of [
      '$delayed/-1/a',
      '$delayed/1.5/a',
      '$delayed/ 1/a',
      '$delayed/1e3/a',
      '$delayed/x/a',
      '$delayed/١/a',
    ]) {
      assert.ok(isProblem(parseDelayedTopic(t)), t);
    }
  });

  test('a delayed topic without delay or target is refused', () => {
    for (const t of ['$delayed/', '$delayed//a', '$delayed/10', '$delay/10'])
      assert.ok(isProblem(parseDelayedTopic(t)), t);
  });

  test('[MQTT-4.7.3-1] [MQTT-3.3.2-2] the target must be a valid topic name', () => {
    assert.ok(isProblem(parseDelayedTopic('$delayed/10/')));
    assert.ok(isProblem(parseDelayedTopic('$delayed/10/a/+')));
    assert.ok(isProblem(parseDelayedTopic('$delayed/10/#')));
  });

  test('any delay in range and any topic name round-trip (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_DELAY_SECONDS }), topicName, (d, t) => {
        assert.deepEqual(parseDelayedTopic(`$delayed/${d}/${t}`), { delaySeconds: d, topic: t });
        assert.deepEqual(parseDelayedTopic(`$delay/${d}/${t}`), { delaySeconds: d, topic: t });
      }),
    );
  });
});

describe('topicLevels', () => {
  test('counts levels: separators plus one', () => {
    assert.equal(topicLevels('a'), 1);
    assert.equal(topicLevels('a/b/c'), 3);
    assert.equal(topicLevels('/'), 2);
    assert.equal(topicLevels('/a/'), 3);
    assert.equal(topicLevels('a//b'), 3);
    assert.equal(topicLevels('😀/é'), 2);
  });

  test('equals the number of parts of split("/") (property)', () => {
    fc.assert(fc.property(wildcardSoup, (t) => topicLevels(t) === t.split('/').length));
  });
});
