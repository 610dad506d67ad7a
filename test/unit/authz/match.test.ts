/** biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} are ACL placeholders, written as in acl.conf and the configuration. */
/**
 * How rule topics match (EMQX's emqx_authz_rule.erl `match_topic/2` -> emqx_topic.erl `match/2`
 * on words, with `match_words/2`'s `$` guard), Who conditions, actions, placeholders, and the
 * per-client cache.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientCache, slotOf } from '../../../src/authz/cache.js';
import { delayedTarget } from '../../../src/authz/authz.js';
import { compileAcl } from '../../../src/authz/acl-file.js';
import { firstMatch, rulesFor } from '../../../src/authz/rule.js';
import { matchWords, words } from '../../../src/authz/topic-match.js';
import { clientInfo } from '../../helpers/client-info.js';

const m = (name: string, filter: string): boolean => matchWords(words(name), words(filter));

describe('topic matching, as emqx_topic:match on words', () => {
  test('a PUBLISH topic against rule filters (MQTT matching; # covers its parent)', () => {
    assert.equal(m('a/b/c', 'a/b/+'), true);
    assert.equal(m('a/b/c', 'a/#'), true);
    assert.equal(m('a', 'a/#'), true);
    assert.equal(m('a/b/c', 'a/+'), false);
    assert.equal(m('a//c', 'a/+/c'), true);
    assert.equal(m('/finance', '+/+'), true);
    assert.equal(m('/finance', '+'), false);
  });

  test('a $ topic is not matched by a first-level wildcard [MQTT-4.7.2-1] (emqx_topic match_words)', () => {
    assert.equal(m('$SYS/brokers', '#'), false);
    assert.equal(m('$SYS/brokers', '+/brokers'), false);
    assert.equal(m('$SYS/brokers', '$SYS/#'), true);
    assert.equal(m('a/$b', 'a/#'), true, 'only the first level counts');
  });

  test('a SUBSCRIBE filter against rule filters: word by word, + in the rule takes any word', () => {
    assert.equal(m('a/#', 'a/#'), true);
    assert.equal(m('a/#', '#'), true);
    assert.equal(m('a/+', 'a/#'), true);
    assert.equal(m('#', 'a/#'), false, 'a wider subscription is not covered');
    assert.equal(m('+/b', 'a/b'), false);
    assert.equal(m('$SYS/#', '#'), false);
    assert.equal(m('+/#', '$SYS/#'), false);
    // EMQX's quirk, kept for compatibility (rule 3 of topic-match.ts): a + in the rule also
    // accepts a # in the subscription, so the rule a/+ matches the subscription a/#.
    assert.equal(m('a/#', 'a/+'), true);
    assert.equal(m('a/b/#', 'a/+'), false, 'but not with levels left over');
  });
});

describe('rules for a client', () => {
  const decide = (
    text: string,
    client = clientInfo('c1'),
    action: 'publish' | 'subscribe' = 'publish',
    topic = 't',
    qos = 0,
    retain = false,
  ) => firstMatch(rulesFor(compileAcl(text).rules, client), { action, topic, qos, retain }, words(topic));

  test('username conditions never match a client without a username', () => {
    assert.equal(decide('{allow, {username, {re, ".*"}}, all, ["t"]}.'), null);
    assert.equal(
      decide('{allow, {username, {re, ".*"}}, all, ["t"]}.', { ...clientInfo('c'), username: '' }),
      'allow',
    );
  });

  test("'and' of nothing is true, 'or' of nothing false", () => {
    assert.equal(decide('{allow, {\'and\', []}, all, ["t"]}.'), 'allow');
    assert.equal(decide('{allow, {\'or\', []}, all, ["t"]}.'), null);
  });

  test('IPv6 and IPv4-mapped peers', () => {
    const v6 = { ...clientInfo('c'), peerHost: '2001:db8::7' };
    assert.equal(decide('{allow, {ipaddr, "2001:db8::/32"}, all, ["t"]}.', v6), 'allow');
    const mapped = { ...clientInfo('c'), peerHost: '::ffff:10.1.2.3' };
    assert.equal(decide('{allow, {ipaddr, "10.0.0.0/8"}, all, ["t"]}.', mapped), 'allow');
    assert.equal(
      decide('{allow, {ipaddr, "10.1.2.99/8"}, all, ["t"]}.', mapped),
      'allow',
      'host bits ignored',
    );
  });

  test('${client_attrs.NAME} comes from authentication; missing, it matches nothing', () => {
    const text = '{allow, all, publish, ["g/${client_attrs.group}/#"]}.';
    const member = { ...clientInfo('c'), clientAttrs: { group: 'blue' } };
    assert.equal(decide(text, member, 'publish', 'g/blue/x'), 'allow');
    assert.equal(decide(text, clientInfo('c'), 'publish', 'g//x'), null);
  });

  test('a subscription has no retain flag: {retain, true} does not stop an {all, ...} rule', () => {
    assert.equal(
      decide('{allow, all, {all, [{retain, true}]}, ["t"]}.', clientInfo('c'), 'subscribe'),
      'allow',
    );
  });
});

describe('$delayed targets', () => {
  test('the topic after the delay, for $delayed/ and $delay/; invalid without one', () => {
    assert.equal(delayedTarget('$delayed/10/a/b'), 'a/b');
    assert.equal(delayedTarget('$delay/10/a'), 'a');
    assert.equal(delayedTarget('$delayed/10'), undefined);
    assert.equal(delayedTarget('$SYS/x'), null);
    assert.equal(delayedTarget('a/b'), null);
  });
});

describe('the per-client cache', () => {
  const pub = (qos: number, retain: boolean) => slotOf({ action: 'publish', topic: 't', qos, retain });

  test('one slot per action, QoS and retain flag', () => {
    const slots = new Set([pub(0, false), pub(0, true), pub(1, false), pub(2, true)]);
    for (let q = 0; q <= 2; q++)
      slots.add(slotOf({ action: 'subscribe', topic: 't', qos: q, retain: false }));
    assert.equal(slots.size, 7);
  });

  test('expiry and eviction of the oldest topic when max_size answers are held', () => {
    const c = new ClientCache(0);
    c.put('a', 0, 1, 100, 2);
    c.put('b', 0, 2, 100, 2);
    assert.equal(c.get('a', 0, 50), 1);
    c.put('c', 0, 1, 100, 2); // evicts a, the oldest topic
    assert.equal(c.get('a', 0, 50), undefined);
    assert.equal(c.get('b', 0, 50), 2);
    assert.equal(c.get('b', 0, 100), undefined, 'expired at its time');
    assert.equal(c.size, 1);
  });
});
