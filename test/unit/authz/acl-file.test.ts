/** biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} are ACL placeholders, written as in acl.conf and the configuration. */
/**
 * The acl.conf reader: Erlang terms (erlang-term.ts) and their compilation into rules
 * (acl-file.ts). EMQX's shipped default acl.conf is read verbatim; malformed files are refused
 * with the line and column.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { compileAcl, EMQX_DEFAULT_ACL, topicText } from '../../../src/authz/acl-file.js';
import { parseTerms, type Term } from '../../../src/authz/erlang-term.js';
import { AclParseError } from '../../../src/authz/errors.js';
import { firstMatch, rulesFor } from '../../../src/authz/rule.js';
import { words } from '../../../src/authz/topic-match.js';
import { clientInfo } from '../../helpers/client-info.js';

const DEFAULT_FILE = readFileSync(new URL('./fixtures/emqx-default-acl.conf', import.meta.url), 'utf8');

/** A term without positions, for comparisons. */
function plain(t: Term): unknown {
  switch (t.kind) {
    case 'tuple':
      return { tuple: t.items.map(plain) };
    case 'list':
      return t.items.map(plain);
    default:
      return t.value;
  }
}

function parseError(text: string): AclParseError {
  try {
    compileAcl(text, 'acl.conf');
  } catch (error) {
    assert.ok(error instanceof AclParseError, String(error));
    return error;
  }
  assert.fail(`expected an error for ${text}`);
}

describe('Erlang terms', () => {
  test('atoms, quoted atoms, strings with escapes, binaries, integers, lists and tuples', () => {
    const [t] = parseTerms(
      `{foo, 'and', "a\\"b\\n\\x41\\101" "c", <<"bin">>, 42, -7, 16#ff, $a, [1, [], {}], 'q'}.`,
    );
    assert.deepEqual(plain(t!), {
      tuple: ['foo', 'and', 'a"b\nAAc', 'bin', 42, -7, 255, 97, [1, [], { tuple: [] }], 'q'],
    });
  });

  test('comments, blank lines and several terms; a term ends with a dot before blank or end', () => {
    const terms = parseTerms('%% c\n{a, 1}. % after\n\n[x].%x\n{b}.');
    assert.deepEqual(terms.map(plain), [{ tuple: ['a', 1] }, ['x'], { tuple: ['b'] }]);
  });

  test('positions are 1-based lines and columns', () => {
    const t = parseTerms('\n  {a,\n    "s"}.')[0]!;
    assert.equal(t.line, 2);
    assert.equal(t.column, 3);
    assert.equal(t.kind === 'tuple' && t.items[1]!.line, 3);
    assert.equal(t.kind === 'tuple' && t.items[1]!.column, 5);
  });
});

describe("EMQX's default acl.conf", () => {
  test('the shipped file (with its comments and box-drawing characters) reads verbatim', () => {
    const { rules, warnings } = compileAcl(DEFAULT_FILE, 'acl.conf');
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      rules.map((r) => [
        r.permission,
        r.who.kind,
        r.action.publish,
        r.action.subscribe,
        r.topics.map(topicText),
      ]),
      [
        ['allow', 'username', false, true, ['$SYS/#']],
        ['allow', 'ipaddr', true, true, ['$SYS/#', '#']],
        ['deny', 'all', false, true, ['$SYS/#', '{eq, "#"}']],
        ['allow', 'all', true, true, ['#']],
      ],
    );
    assert.deepEqual(compileAcl(EMQX_DEFAULT_ACL).rules.length, 4);
  });

  test('its decisions: dashboard and 127.0.0.1 may read $SYS, others may not, nor subscribe #', () => {
    const { rules } = compileAcl(DEFAULT_FILE);
    const decide = (client: ReturnType<typeof clientInfo>, action: 'publish' | 'subscribe', topic: string) =>
      firstMatch(rulesFor(rules, client), { action, topic, qos: 0, retain: false }, words(topic));
    const remote = { ...clientInfo('r'), peerHost: '10.1.1.1' };
    const dashboard = { ...remote, username: 'dashboard' };
    const local = clientInfo('l');
    assert.equal(decide(dashboard, 'subscribe', '$SYS/brokers/#'), 'allow');
    assert.equal(decide(local, 'subscribe', '$SYS/#'), 'allow');
    assert.equal(decide(local, 'subscribe', '#'), 'allow');
    assert.equal(decide(remote, 'subscribe', '$SYS/#'), 'deny');
    assert.equal(decide(remote, 'subscribe', '#'), 'deny');
    assert.equal(decide(remote, 'subscribe', 'a/#'), 'allow');
    assert.equal(decide(remote, 'publish', 'a/b'), 'allow');
    // `#` does not cover $-topics (emqx_topic match_words): {allow, all} leaves $SYS publishes to no_match.
    assert.equal(decide(remote, 'publish', '$SYS/x'), null);
  });
});

describe('rule forms', () => {
  const one = (text: string) => compileAcl(text).rules[0]!;

  test('{perm, all} is every action on #', () => {
    const r = one('{deny, all}.');
    assert.equal(r.permission, 'deny');
    assert.deepEqual(r.topics.map(topicText), ['#']);
    assert.equal(r.action.publish && r.action.subscribe, true);
  });

  test('actions with qos / retain options, as proplists', () => {
    assert.deepEqual(one('{allow, all, {publish, [{qos, 1}, {qos, [0]}, {retain, false}]}, ["t"]}.').action, {
      publish: true,
      subscribe: false,
      qos: 0b011,
      retain: false,
    });
    assert.deepEqual(one('{allow, all, {all, [retain]}, ["t"]}.').action, {
      publish: true,
      subscribe: true,
      qos: 0b111,
      retain: true,
    });
    assert.deepEqual(one('{allow, all, {subscribe, []}, ["t"]}.').action.qos, 0b111);
  });

  test('topics: filters, {eq, ...}, "eq ..." and templates; one string is taken as a list', () => {
    const r = one('{allow, all, publish, ["a/+", {eq, "b/#"}, "eq c/#", "${clientid}/x", "%u/y"]}.');
    assert.deepEqual(r.topics.map(topicText), [
      'a/+',
      '{eq, "b/#"}',
      '{eq, "c/#"}',
      '${clientid}/x',
      '${username}/y',
    ]);
    assert.deepEqual(one('{allow, all, publish, "${clientid}/#"}.').topics.map(topicText), ['${clientid}/#']);
  });

  test('warnings for what EMQX accepts silently', () => {
    const { warnings } = compileAcl('{allow, all, {publish, [{qso, 1}]}, ["a/#/b"]}.', 'acl.conf');
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /^acl\.conf:1:25: the option qso is ignored/);
    assert.match(warnings[1]!, /a\/#\/b/);
  });
});

describe('malformed files are refused with line and column', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['a missing dot', '{allow, all}\n{deny, all}.', /^acl\.conf:2:1: expected '\.' at the end of the term/],
    ['an unclosed string', '{allow, all, publish, ["a/b]}.', /^acl\.conf:1:24: the string is not closed/],
    ['a variable', '{allow, All}.', /^acl\.conf:1:9: All is an Erlang variable/],
    [
      'a bad bracket',
      '{allow, all, publish, ["a"}.',
      /^acl\.conf:1:27: expected ',' or '\]' after the list element, found '\}'/,
    ],
    ['not a permission', '{permit, all}.', /^acl\.conf:1:2: a rule starts with allow or deny/],
    [
      'a three-element rule',
      '{allow, all, publish}.',
      /^acl\.conf:1:1: a rule is \{allow \| deny, Who, Action, Topics\}/,
    ],
    [
      'an unknown Who',
      '{allow, {group, "g"}, publish, ["t"]}.',
      /^acl\.conf:1:10: unknown Who condition \{group, \.\.\.\}/,
    ],
    [
      'a bad CIDR',
      '{allow, {ipaddr, "10.0.0.0/33"}, all, ["t"]}.',
      /^acl\.conf:1:18: .*invalid prefix length/,
    ],
    ['a bad address', '{allow, {ipaddrs, ["x.y"]}, all, ["t"]}.', /not an IP address/],
    [
      'a bad regex',
      '{allow, {username, {re, "("}}, all, ["t"]}.',
      /^acl\.conf:1:25: invalid regular expression/,
    ],
    ['a bad QoS', '{allow, all, {publish, [{qos, 3}]}, ["t"]}.', /^acl\.conf:1:31: a QoS is 0, 1 or 2/],
    ['a bad retain', '{allow, all, {publish, [{retain, yes}]}, ["t"]}.', /retain is true, false or all/],
    ['an unknown action', '{allow, all, read, ["t"]}.', /^acl\.conf:1:14: Action is publish, subscribe, all/],
    ['a regex topic', '{allow, all, all, [{re, "^a"}]}.', /\{re, \.\.\.\} is not a topic form in EMQX 5/],
    ['an unknown placeholder', '{allow, all, all, ["${peerhost}/x"]}.', /unknown placeholder \$\{peerhost\}/],
    ['a dot inside', '{allow, all}.x', /^acl\.conf:1:13: unexpected '\.x'/],
    ['an improper list', '{allow, all, all, ["a" | "b"]}.', /improper lists/],
  ];
  for (const [name, text, message] of cases) {
    test(name, () => {
      const error = parseError(text);
      assert.equal(error.code, 'AVY_ERR_ACL_PARSE');
      assert.match(error.message, message);
    });
  }

  test('an empty file (or only comments) is no rules', () => {
    assert.deepEqual(compileAcl('').rules, []);
    assert.deepEqual(compileAcl('%% nothing\n').rules, []);
  });
});

describe('the file source', () => {
  test('a missing file is an AclParseError naming the path', async () => {
    const { FileSource } = await import('../../../src/authz/sources/file.js');
    assert.throws(
      () => new FileSource({ path: '/nonexistent/acl.conf' }),
      (e: unknown) => {
        assert.ok(e instanceof AclParseError);
        assert.match(e.message, /^\/nonexistent\/acl\.conf: cannot read the ACL file/);
        return true;
      },
    );
  });
});
