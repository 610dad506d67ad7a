/** biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} are ACL placeholders, written as in acl.conf and the configuration. */
/**
 * Property test of the ACL matcher: random acl.conf files (written as text, so the reader is
 * exercised too), random clients and random requests, decided by the real path (compileAcl ->
 * rulesFor -> firstMatch) and by a reference written the plain way: rules walked in order, each
 * condition checked from the generated description, topics matched by a regular expression
 * built from the rule filter, IPv4 blocks compared as numbers. Both must agree on every case.
 *
 * The topic reference is EMQX's rule (topic-match.ts's header): `+` takes one level (any word,
 * even `+` or `#` of a subscribed filter), a final `#` takes the rest including nothing, a first
 * level wildcard never takes a `$` level, literal levels compare as strings. For topic NAMES it is
 * also MQTT's own matching, so publishes are cross-checked against the router's filterMatches.
 *
 * Reproduce a failure with FUZZ_SEED=<seed> (FUZZ_RUNS=<n> for a longer run).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compileAcl } from '../../src/authz/acl-file.js';
import { firstMatch, rulesFor } from '../../src/authz/rule.js';
import { matchWords, words } from '../../src/authz/topic-match.js';
import type { AuthzRequest } from '../../src/broker/hooks.js';
import type { ClientInfo } from '../../src/broker/types.js';
import { filterMatches } from '../../src/routing/match.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const params = { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) };

// ---- the reference --------------------------------------------------------------------------

/** Does rule filter `filter` take `name` (a topic or a subscribed filter)? By regular expression. */
function refTopic(name: string, filter: string): boolean {
  if ((filter.startsWith('+') || filter.startsWith('#')) && name.startsWith('$')) return false;
  const levels = filter.split('/');
  let re = '';
  levels.forEach((level, i) => {
    const last = i === levels.length - 1;
    if (level === '#' && last) {
      re += i === 0 ? '.*' : '(?:/.*)?';
      return;
    }
    if (i > 0) re += '/';
    re += level === '+' ? '[^/]*' : level.replace(/[.*+?^${}()|[\]\\#]/g, '\\$&');
  });
  return new RegExp(`^${re}$`, 's').test(name);
}

function ipv4(text: string): number {
  return text.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

type WhoSpec =
  | { kind: 'all' }
  | { kind: 'username' | 'clientid'; value: string }
  | { kind: 'userre'; value: string }
  | { kind: 'ipaddr'; net: string; prefix: number }
  | { kind: 'and' | 'or'; items: WhoSpec[] };

interface RuleSpec {
  permission: 'allow' | 'deny';
  who: WhoSpec;
  action: 'publish' | 'subscribe' | 'all';
  qos: number[] | null;
  retain: boolean | 'all' | null;
  topics: Array<{ eq: boolean; text: string }>;
}

function refWho(w: WhoSpec, c: ClientInfo): boolean {
  switch (w.kind) {
    case 'all':
      return true;
    case 'username':
      return c.username === w.value;
    case 'clientid':
      return c.clientId === w.value;
    case 'userre':
      return c.username?.startsWith(w.value) === true;
    case 'ipaddr': {
      const mask = w.prefix === 0 ? 0 : (0xffffffff << (32 - w.prefix)) >>> 0;
      return (ipv4(c.peerHost) & mask) >>> 0 === (ipv4(w.net) & mask) >>> 0;
    }
    case 'and':
      return w.items.every((i) => refWho(i, c));
    case 'or':
      return w.items.some((i) => refWho(i, c));
  }
}

function refRender(text: string, c: ClientInfo): string | null {
  if (text.includes('${username}') && (c.username === null || /[+#]/.test(c.username))) return null;
  return text.replaceAll('${username}', c.username ?? '').replaceAll('${clientid}', c.clientId);
}

function refDecide(rules: RuleSpec[], c: ClientInfo, r: AuthzRequest): 'allow' | 'deny' | null {
  for (const rule of rules) {
    if (rule.action !== 'all' && rule.action !== r.action) continue;
    if (rule.qos !== null && !rule.qos.includes(r.qos)) continue;
    if (r.action === 'publish' && rule.retain !== null && rule.retain !== 'all' && rule.retain !== r.retain)
      continue;
    if (!refWho(rule.who, c)) continue;
    const hit = rule.topics.some((t) => {
      if (t.eq) return t.text === r.topic;
      const filter = refRender(t.text, c);
      return filter !== null && refTopic(r.topic, filter);
    });
    if (hit) return rule.permission;
  }
  return null;
}

// ---- writing the specs as acl.conf ----------------------------------------------------------

function whoText(w: WhoSpec): string {
  switch (w.kind) {
    case 'all':
      return 'all';
    case 'username':
    case 'clientid':
      return `{${w.kind}, ${JSON.stringify(w.value)}}`;
    case 'userre':
      return `{username, {re, "^${w.value}"}}`;
    case 'ipaddr':
      return `{ipaddr, "${w.net}/${w.prefix}"}`;
    case 'and':
    case 'or':
      return `{'${w.kind}', [${w.items.map(whoText).join(', ')}]}`;
  }
}

function ruleText(r: RuleSpec): string {
  const options: string[] = [];
  if (r.qos !== null) options.push(`{qos, [${r.qos.join(', ')}]}`);
  if (r.retain !== null && r.action !== 'subscribe') options.push(`{retain, ${r.retain}}`);
  const action = options.length === 0 && r.qos === null ? r.action : `{${r.action}, [${options.join(', ')}]}`;
  const topics = r.topics.map((t) => (t.eq ? `{eq, ${JSON.stringify(t.text)}}` : JSON.stringify(t.text)));
  return `{${r.permission}, ${whoText(r.who)}, ${action}, [${topics.join(', ')}]}.`;
}

// ---- generators -----------------------------------------------------------------------------

const LEVELS = ['a', 'b', '$SYS', '', 'c1', 'u1'];
const level = fc.constantFrom(...LEVELS);
const topicName = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join('/'));
/** A valid filter: literals and +, optionally ending in #. */
const filter = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 0, maxLength: 3 }), fc.boolean())
  .filter(([levels, hash]) => levels.length > 0 || hash)
  .map(([levels, hash]) => [...levels, ...(hash ? ['#'] : [])].join('/'));
const ruleTopic = fc.oneof(
  fc.record({ eq: fc.constant(false), text: filter }),
  fc.record({ eq: fc.constant(true), text: filter }),
  fc.record({
    eq: fc.constant(false),
    text: fc.tuple(fc.constantFrom('${username}', '${clientid}'), filter).map(([p, f]) => `${p}/${f}`),
  }),
);
const IPS = ['10.0.0.1', '10.1.2.3', '192.168.1.5', '127.0.0.1'];
const leafWho: fc.Arbitrary<WhoSpec> = fc.oneof(
  fc.constant<WhoSpec>({ kind: 'all' }),
  fc.record({ kind: fc.constant('username' as const), value: fc.constantFrom('u1', 'u2', '+') }),
  fc.record({ kind: fc.constant('clientid' as const), value: fc.constantFrom('c1', 'c2') }),
  fc.record({ kind: fc.constant('userre' as const), value: fc.constantFrom('u', 'u1', 'x') }),
  fc.record({
    kind: fc.constant('ipaddr' as const),
    net: fc.constantFrom(...IPS),
    prefix: fc.constantFrom(0, 8, 16, 24, 32),
  }),
);
const who: fc.Arbitrary<WhoSpec> = fc.oneof(
  { weight: 4, arbitrary: leafWho },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constantFrom('and' as const, 'or' as const),
      items: fc.array(leafWho, { maxLength: 3 }),
    }),
  },
);
const qosList = fc.uniqueArray(fc.constantFrom(0, 1, 2), { minLength: 1, maxLength: 3 });
const rule: fc.Arbitrary<RuleSpec> = fc.record({
  permission: fc.constantFrom('allow' as const, 'deny' as const),
  who,
  action: fc.constantFrom('publish' as const, 'subscribe' as const, 'all' as const),
  qos: fc.option(qosList, { nil: null }),
  retain: fc.option(fc.constantFrom(true, false, 'all' as const), { nil: null }),
  topics: fc.array(ruleTopic, { minLength: 1, maxLength: 3 }),
});
const client: fc.Arbitrary<ClientInfo> = fc
  .record({
    username: fc.constantFrom(null, 'u1', 'u2', '+', 'x'),
    clientId: fc.constantFrom('c1', 'c2', 'a'),
    peerHost: fc.constantFrom(...IPS),
  })
  .map((c) => ({
    ...c,
    peerPort: 1,
    listener: 'tcp:default',
    zone: 'default',
    protocolVersion: 5 as const,
    isSuperuser: false,
    connectedAt: 0,
  }));
const request: fc.Arbitrary<AuthzRequest> = fc.oneof(
  fc.record({
    action: fc.constant('publish' as const),
    topic: topicName,
    qos: fc.constantFrom(0, 1, 2),
    retain: fc.boolean(),
  }),
  fc.record({
    action: fc.constant('subscribe' as const),
    topic: filter,
    qos: fc.constantFrom(0, 1, 2),
    retain: fc.constant(false),
  }),
);

// ---- properties -----------------------------------------------------------------------------

describe('ACL matcher against a reference (fuzz)', () => {
  test('topic matching equals the regular-expression reference', () => {
    fc.assert(
      fc.property(fc.oneof(topicName, filter), filter, (name, f) => {
        assert.equal(matchWords(words(name), words(f)), refTopic(name, f), `${name} against ${f}`);
      }),
      params,
    );
  });

  test('for topic names it is MQTT matching (the router filterMatches)', () => {
    fc.assert(
      fc.property(topicName, filter, (name, f) => {
        assert.equal(matchWords(words(name), words(f)), filterMatches(f, name), `${name} against ${f}`);
      }),
      params,
    );
  });

  test('random rule files decide every request as the reference does', () => {
    fc.assert(
      fc.property(
        fc.array(rule, { maxLength: 8 }),
        client,
        fc.array(request, { minLength: 1, maxLength: 5 }),
        (specs, c, reqs) => {
          const text = specs.map(ruleText).join('\n');
          const { rules } = compileAcl(text);
          const mine = rulesFor(rules, c);
          for (const r of reqs) {
            const expected = refDecide(specs, c, r);
            assert.equal(
              firstMatch(mine, r, words(r.topic)),
              expected,
              `${text}\n${JSON.stringify(c)}\n${JSON.stringify(r)}`,
            );
          }
        },
      ),
      params,
    );
  });
});
