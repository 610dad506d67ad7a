/**
 * The banned list over real sockets (src/security/banned.ts, docs/security.md): a banned client id,
 * user name, peer address, CIDR range or client id pattern gets CONNACK 0x8A Banned (3.1.1: 0x05
 * Not authorized) and is closed; adding a ban kicks a connected client (5.0: DISCONNECT 0x98); a
 * ban ends at its `until`; metrics count refusals and kicks.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ErrorWithReasonCode } from 'mqtt';
import { PacketType, ProtocolVersion, ReasonCode } from '../../src/protocol/index.js';
import {
  connectClient,
  connected,
  nextDisconnect,
  openClient,
  rawClient,
  rawConnected,
  waitUntil,
} from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';

describe('banned list', () => {
  const b = brokerForSuite();
  const banned = () => b.aviary.security.banned;

  test('a banned client id gets CONNACK 0x8A (5.0) and the connection is closed [MQTT-3.2.2-7]', async () => {
    banned().add({ as: 'clientid', who: 'banned-5', reason: 'test' });
    try {
      const raw = await rawClient(b.port, ProtocolVersion.V5);
      raw.sendConnect({ version: 5, clientId: 'banned-5' });
      // CONNACK: flags 0, reason code 0x8A, no properties.
      assert.equal(await raw.readHex(5), '2003008a00');
      await raw.expectClose();
    } finally {
      banned().delete('clientid', 'banned-5');
    }
  });

  test('a banned client id gets CONNACK 0x05 Not authorized on MQTT 3.1.1', async () => {
    banned().add({ as: 'clientid', who: 'banned-4' });
    try {
      const raw = await rawClient(b.port, ProtocolVersion.V4);
      raw.sendConnect({ version: 4, clientId: 'banned-4' });
      assert.equal(await raw.readHex(4), '20020005');
      await raw.expectClose();
    } finally {
      banned().delete('clientid', 'banned-4');
    }
  });

  test('a banned user name is refused with 0x8A; others with the same client id pattern are not', async () => {
    banned().add({ as: 'username', who: 'mallory' });
    try {
      const c = openClient(b.port, 5, { username: 'mallory', password: 'x' });
      const error = (await connected(c).catch((e: unknown) => e)) as ErrorWithReasonCode;
      assert.equal(error.code, ReasonCode.Banned);
      await connectClient(b.port, 5, { username: 'alice', password: 'x' });
    } finally {
      banned().delete('username', 'mallory');
    }
  });

  test('a banned peer address and a banned CIDR range refuse every client from there', async () => {
    const before = b.aviary.broker.metrics.bannedRefused;
    for (const [as, who] of [
      ['peerhost', '127.0.0.1'],
      ['peerhost_net', '127.0.0.0/8'],
      ['peerhost_net', '::ffff:127.0.0.0/104'],
    ] as const) {
      banned().add({ as, who });
      try {
        const raw = await rawClient(b.port, ProtocolVersion.V5);
        raw.sendConnect({ version: 5, clientId: `from-${as}` });
        assert.equal(await raw.readHex(5), '2003008a00', `${as} ${who}`);
        await raw.expectClose();
      } finally {
        assert.ok(banned().delete(as, who));
      }
    }
    assert.equal(b.aviary.broker.metrics.bannedRefused - before, 3);
    // A range that does not contain the peer refuses nothing.
    banned().add({ as: 'peerhost_net', who: '10.0.0.0/8' });
    try {
      await rawConnected(b.port, { version: 5, clientId: 'from-elsewhere' });
    } finally {
      banned().delete('peerhost_net', '10.0.0.0/8');
    }
  });

  test('a client id pattern (clientid_re) bans every client id it matches', async () => {
    banned().add({ as: 'clientid_re', who: '^bot-[0-9]+$' });
    try {
      const raw = await rawClient(b.port, ProtocolVersion.V5);
      raw.sendConnect({ version: 5, clientId: 'bot-42' });
      assert.equal(await raw.readHex(5), '2003008a00');
      await rawConnected(b.port, { version: 5, clientId: 'bot-x' });
    } finally {
      banned().delete('clientid_re', '^bot-[0-9]+$');
    }
  });

  test('adding a ban kicks a connected 5.0 client with DISCONNECT 0x98, a 3.1.1 client by closing', async () => {
    const v5 = await rawConnected(b.port, { version: 5, clientId: 'kick-me-5' });
    const v4 = await rawConnected(b.port, { version: 4, clientId: 'kick-me-4' });
    const gone5 = nextDisconnect(b.aviary, 'kick-me-5');
    const gone4 = nextDisconnect(b.aviary, 'kick-me-4');
    const kickedBefore = b.aviary.broker.metrics.bannedKicked;
    banned().add({ as: 'clientid_re', who: '^kick-me-' });
    try {
      const packet = await v5.readPacket();
      assert.equal(packet.type, PacketType.Disconnect);
      assert.equal(
        packet.type === PacketType.Disconnect && packet.reasonCode,
        ReasonCode.AdministrativeAction,
      );
      await v5.expectClose();
      await v4.expectClose();
      assert.equal(await gone5, 'kicked');
      assert.equal(await gone4, 'kicked');
      assert.equal(b.aviary.broker.metrics.bannedKicked - kickedBefore, 2);
      // And it cannot come back while the ban lasts.
      const again = await rawClient(b.port, ProtocolVersion.V5);
      again.sendConnect({ version: 5, clientId: 'kick-me-5' });
      assert.equal(await again.readHex(5), '2003008a00');
    } finally {
      banned().delete('clientid_re', '^kick-me-');
    }
  });

  test('a ban ends at its until: refused before, accepted after', async () => {
    const until = Date.now() + 300;
    banned().add({ as: 'clientid', who: 'short-ban', until });
    const raw = await rawClient(b.port, ProtocolVersion.V5);
    raw.sendConnect({ version: 5, clientId: 'short-ban' });
    assert.equal(await raw.readHex(5), '2003008a00');
    await waitUntil(() => Date.now() > until, 'the ban to expire');
    await rawConnected(b.port, { version: 5, clientId: 'short-ban' });
    // Listing sweeps the expired entry away.
    assert.equal(
      banned()
        .list(1, 100)
        .data.some((ban) => ban.who === 'short-ban'),
      false,
    );
  });

  test('metrics: refusals count in banned.refused and packets.connack.error', async () => {
    const m0 = b.aviary.broker.metrics.toJSON();
    banned().add({ as: 'clientid', who: 'counted' });
    try {
      const raw = await rawClient(b.port, ProtocolVersion.V5);
      raw.sendConnect({ version: 5, clientId: 'counted' });
      assert.equal(await raw.readHex(5), '2003008a00');
      const m1 = b.aviary.broker.metrics.toJSON();
      assert.equal(m1['banned.refused']! - m0['banned.refused']!, 1);
      assert.equal(m1['packets.connack.error']! - m0['packets.connack.error']!, 1);
    } finally {
      banned().delete('clientid', 'counted');
    }
  });
});
