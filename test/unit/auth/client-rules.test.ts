/**
 * The client_rules provider's matching (src/auth/client-rules.ts) without sockets: patterns are
 * literal except `*`, regular expressions match the whole id, addresses compare across the IPv4
 * and IPv4-mapped IPv6 spellings, first match wins, no match ignores.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientRulesProvider } from '../../../src/auth/client-rules.js';
import type { ClientInfo } from '../../../src/broker/types.js';
import { parseConfig } from '../../../src/config/index.js';
import type { ClientRulesAuthnConfig } from '../../../src/config/authn-schema.js';
import { ReasonCode } from '../../../src/protocol/index.js';

function provider(rules: Record<string, unknown>[]): ClientRulesProvider {
  const config = parseConfig({ authentication: [{ mechanism: 'client_rules', rules }] });
  return new ClientRulesProvider(config.authentication[0] as ClientRulesAuthnConfig);
}

function client(clientId: string, peerHost = '192.0.2.1'): ClientInfo {
  return {
    clientId,
    username: null,
    peerHost,
    peerPort: 50000,
    listener: 'tcp:default',
    zone: 'default',
    protocolVersion: 5,
    isSuperuser: false,
    connectedAt: 0,
  };
}

const answer = (p: ClientRulesProvider, id: string, host?: string) =>
  p.authenticate({ client: client(id, host), password: null });

describe('client_rules', () => {
  test('patterns: `*` is any run of characters, every other character literal', () => {
    const p = provider([{ clientid: ['a.b*', '*-end', 'x*y*z'], action: 'allow' }]);
    assert.equal(answer(p, 'a.b').result, 'allow');
    assert.equal(answer(p, 'a.b-anything').result, 'allow');
    assert.equal(answer(p, 'axb').result, 'ignore', '"." is not a wildcard');
    assert.equal(answer(p, 'the-end').result, 'allow');
    assert.equal(answer(p, 'the-end!').result, 'ignore');
    assert.equal(answer(p, 'x1y2z').result, 'allow');
    assert.equal(answer(p, 'x\ny\nz').result, 'allow', '`*` spans any character');
  });

  test('clientid_re matches the whole id (alternation included)', () => {
    const p = provider([{ clientid_re: 'ab|cd', action: 'allow' }]);
    assert.equal(answer(p, 'ab').result, 'allow');
    assert.equal(answer(p, 'cd').result, 'allow');
    assert.equal(answer(p, 'abcd').result, 'ignore');
    assert.equal(answer(p, 'xcd').result, 'ignore');
  });

  test('addresses: IPv4 matches its IPv4-mapped IPv6 spelling; CIDR ranges; IPv6', () => {
    const p = provider([
      { ipaddr: '10.1.0.0/16', action: 'allow' },
      { ipaddr: ['2001:db8::/32', '127.0.0.1'], action: 'deny' },
    ]);
    assert.equal(answer(p, 'c', '10.1.200.3').result, 'allow');
    assert.equal(answer(p, 'c', '::ffff:10.1.200.3').result, 'allow');
    assert.equal(answer(p, 'c', '10.2.0.1').result, 'ignore');
    assert.deepEqual(answer(p, 'c', '2001:db8:ffff::1'), {
      result: 'deny',
      reasonCode: ReasonCode.NotAuthorized,
    });
    assert.equal(answer(p, 'c', '::ffff:127.0.0.1').result, 'deny');
    assert.equal(answer(p, 'c', '2001:db9::1').result, 'ignore');
  });

  test('every condition of a rule must hold; the first matching rule answers; a bare rule matches all', () => {
    const p = provider([
      { clientid: 'dev-*', ipaddr: '10.0.0.0/8', action: 'allow', is_superuser: true },
      { clientid: 'dev-*', action: 'deny' },
      { action: 'allow' },
    ]);
    assert.deepEqual(answer(p, 'dev-1', '10.0.0.1'), { result: 'allow', isSuperuser: true });
    assert.equal(answer(p, 'dev-1', '192.0.2.1').result, 'deny');
    assert.deepEqual(answer(p, 'other', '192.0.2.1'), { result: 'allow', isSuperuser: false });
  });

  test('no rules: every client is ignored', () => {
    assert.equal(answer(provider([]), 'anyone').result, 'ignore');
  });
});
