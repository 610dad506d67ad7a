/**
 * 58 authentication: client id and IP address rules (`mechanism = client_rules`,
 * docs/authentication.md), over real sockets. Clients connect from chosen loopback addresses
 * (127.0.0.2, 127.0.0.3: all of 127.0.0.0/8 is loopback on Linux) and from ::1, so the broker
 * sees different peer hosts.
 *
 * The chain: client_rules first (deny 127.0.0.3; allow sensor-* / gw-1 from 127.0.0.2; allow
 * ops-<n> as superusers; allow v6-* from ::1), then the built-in database (alice). A matching
 * rule answers; no match passes the client on to the built-in database (EMQX's chain rule).
 */

import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ClientInfo } from '../../src/broker/types.js';
import type { AviaryConfigInput } from '../../src/config/index.js';
import { parseConfig } from '../../src/config/index.js';
import { ReasonCode, ConnectReturnCode } from '../../src/protocol/index.js';
import { RawClient, type StartedBroker, startBroker, waitFor } from '../helpers/broker.js';
import { type ConnectSpec, connectFrame } from '../helpers/mqtt5.js';

const SENSORS_HOST = '127.0.0.2';
const BLOCKED_HOST = '127.0.0.3';

const RULES = [
  { ipaddr: `${BLOCKED_HOST}/32`, action: 'deny' },
  { clientid: ['sensor-*', 'gw-1'], ipaddr: ['10.0.0.0/8', SENSORS_HOST], action: 'allow' },
  { clientid_re: 'ops-[0-9]+', action: 'allow', is_superuser: true },
  { clientid: 'v6-*', ipaddr: '::1/128', action: 'allow' },
];

/** The CONNACK return/reason code a raw client gets connecting to host:port from `from`. */
async function connackFrom(
  port: number,
  c: ConnectSpec,
  from = '127.0.0.1',
  host = '127.0.0.1',
): Promise<number> {
  const socket = netConnect({ host, port, localAddress: from });
  const raw = new RawClient(socket, c.version ?? 5);
  try {
    await waitFor(socket, 'connect');
    raw.send(connectFrame(c));
    const connack = await raw.readPacket();
    assert.equal(connack.type, 2, 'a CONNACK');
    return (connack as { reasonCode: number }).reasonCode;
  } finally {
    await raw.destroy();
  }
}

/** Is ::1 usable here (a container may have IPv6 off)? */
async function hasIpv6Loopback(): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
}

describe('58 client_rules authentication', () => {
  let b: StartedBroker;
  let v6Port = 0;
  let ipv6 = false;
  const connectedClients = new Map<string, ClientInfo>();

  before(async () => {
    ipv6 = await hasIpv6Loopback();
    b = await startBroker({
      listeners: { tcp: ipv6 ? { v6: { bind: '[::1]:0' } } : {} },
      authentication: [
        { mechanism: 'client_rules', rules: RULES },
        {
          mechanism: 'password_based',
          backend: 'built_in_database',
          password_hash_algorithm: { name: 'sha256' },
        },
      ],
    } as AviaryConfigInput);
    await b.aviary.authn.builtInUsers!.put('alice', 'in-wonderland', false);
    b.aviary.hooks.add('client.connected', (client) => {
      connectedClients.set(client.clientId, { ...client });
    });
    if (ipv6) v6Port = b.aviary.addresses().find((a) => a.id === 'tcp:v6')!.port;
  });
  after(() => b.close());

  test('an allow rule admits a matching client id from its network without a password', async () => {
    assert.equal(await connackFrom(b.port, { clientId: 'sensor-17' }, SENSORS_HOST), ReasonCode.Success);
    assert.equal(connectedClients.get('sensor-17')?.isSuperuser, false);
    // The list's exact entry: gw-1 matches, gw-10 does not (no wildcard in it).
    assert.equal(await connackFrom(b.port, { clientId: 'gw-1' }, SENSORS_HOST), ReasonCode.Success);
    assert.equal(await connackFrom(b.port, { clientId: 'gw-10' }, SENSORS_HOST), ReasonCode.NotAuthorized);
  });

  test('the same client id from another address matches no rule: the next provider (no user) -> 0x87 / 3.1.1 0x05', async () => {
    assert.equal(await connackFrom(b.port, { clientId: 'sensor-17' }), ReasonCode.NotAuthorized);
    assert.equal(
      await connackFrom(b.port, { clientId: 'sensor-18', version: 4 }),
      ConnectReturnCode.NotAuthorized,
    );
  });

  test('no rule matches: the built-in database decides (right password in, wrong password 0x86)', async () => {
    assert.equal(
      await connackFrom(b.port, { clientId: 'laptop', username: 'alice', password: 'in-wonderland' }),
      ReasonCode.Success,
    );
    assert.equal(
      await connackFrom(b.port, { clientId: 'laptop', username: 'alice', password: 'wrong' }),
      ReasonCode.BadUserNameOrPassword,
    );
  });

  test('a deny rule refuses before any password is checked: 0x87 (3.1.1: 0x05)', async () => {
    const alice = { username: 'alice', password: 'in-wonderland' };
    assert.equal(
      await connackFrom(b.port, { clientId: 'laptop', ...alice }, BLOCKED_HOST),
      ReasonCode.NotAuthorized,
    );
    assert.equal(
      await connackFrom(b.port, { clientId: 'sensor-1', version: 4, ...alice }, BLOCKED_HOST),
      ConnectReturnCode.NotAuthorized,
    );
  });

  test('clientid_re must match the whole client id; is_superuser reaches the client', async () => {
    assert.equal(await connackFrom(b.port, { clientId: 'ops-42' }), ReasonCode.Success);
    assert.equal(connectedClients.get('ops-42')?.isSuperuser, true);
    assert.equal(await connackFrom(b.port, { clientId: 'x-ops-42' }), ReasonCode.NotAuthorized);
    assert.equal(await connackFrom(b.port, { clientId: 'ops-42x' }), ReasonCode.NotAuthorized);
  });

  test('IPv6: a rule on ::1 admits a client connecting over ::1, not over IPv4', async (t) => {
    if (!ipv6) {
      t.skip('no IPv6 loopback here');
      return;
    }
    assert.equal(await connackFrom(v6Port, { clientId: 'v6-a' }, '::1', '::1'), ReasonCode.Success);
    assert.equal(await connackFrom(b.port, { clientId: 'v6-a' }), ReasonCode.NotAuthorized);
  });

  test('the provider counts its answers (success, failed, nomatch)', () => {
    const m = b.aviary.authn.global.metrics[0]!;
    assert.ok(m.success >= 4, JSON.stringify(m));
    assert.ok(m.failed >= 2, JSON.stringify(m));
    assert.ok(m.nomatch >= 4, JSON.stringify(m));
    assert.equal(m.total, m.success + m.failed + m.nomatch);
  });
});

describe('58 client_rules configuration errors name the key', () => {
  const chain = (rule: Record<string, unknown>) => ({
    authentication: [{ mechanism: 'client_rules', rules: [rule] }],
  });
  test('a bad CIDR, a bad regular expression, a missing action, an unknown key', () => {
    assert.throws(
      () => parseConfig(chain({ ipaddr: '10.0.0.0/33', action: 'allow' })),
      /authentication\.1\.rules\.1\.ipaddr: expected an IP address or CIDR range or a list of them/,
    );
    assert.throws(
      () => parseConfig(chain({ clientid_re: 'a(', action: 'allow' })),
      /authentication\.1\.rules\.1\.clientid_re: expected a regular expression/,
    );
    assert.throws(() => parseConfig(chain({ clientid: 'x' })), /authentication\.1\.rules\.1\.action/);
    assert.throws(() => parseConfig(chain({ client_id: 'x', action: 'deny' })), /client_id/);
  });
});
