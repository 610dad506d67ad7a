/**
 * 01 connect: CONNECT / CONNACK for MQTT 3.1, 3.1.1 and 5.0 over a real socket, client
 * identifiers, protocol violations around CONNECT, session takeover, PINGREQ, keep alive and
 * the CONNECT idle timeout. Raw tests send hand-built bytes and expect exact bytes back.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  connectClient,
  connected,
  frame,
  hex,
  openClient,
  rawClient,
  rawConnected,
  str,
  VERSION_NAME,
  VERSIONS,
  within,
} from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import { PacketType, ProtocolVersion, ReasonCode } from '../../src/protocol/index.js';

/** CONNACK accepted, no session present, 3.1 / 3.1.1. */
const CONNACK_V4_OK = '20020000';
/**
 * CONNACK accepted, 5.0, with the properties a default broker sends: Maximum Packet Size
 * 1048576 (0x27 00100000) and Shared Subscription Available 0 (0x2a 00).
 */
/** CONNACK 0x00, properties: Receive Maximum 32, Topic Alias Maximum 65535, Maximum Packet Size 1MB. */
const CONNACK_V5_OK = '200e0000' + '0b' + '210020' + '22ffff' + '2700100000';

describe('01 connect', () => {
  const b = brokerForSuite({}, { closeClientsAfterEach: false });

  for (const version of VERSIONS) {
    test(`MQTT.js with protocolVersion ${version} (${VERSION_NAME[version]}) gets a successful CONNACK`, async () => {
      const client = openClient(b.port, version);
      const connack = await connected(client);
      assert.equal(connack.cmd, 'connack');
      assert.equal(connack.sessionPresent, false);
      if (version === 5) assert.equal(connack.reasonCode, ReasonCode.Success);
      else assert.equal(connack.returnCode, 0);
      assert.equal(client.connected, true);
    });
  }

  describe('raw CONNECT bytes get exact CONNACK bytes', () => {
    test('3.1: MQIsdp level 3 -> 20 02 00 00', async () => {
      const raw = await rawClient(b.port);
      // 10 | len | 00 06 "MQIsdp" | 03 | flags 02 | keep alive 60 | client id "raw31"
      raw.send(frame(0x10, str('MQIsdp'), '03 02 00 3c', str('raw31')));
      assert.equal(await raw.readHex(4), CONNACK_V4_OK);
    });

    test('3.1.1: MQTT level 4 -> 20 02 00 00', async () => {
      const raw = await rawClient(b.port);
      raw.send(frame(0x10, str('MQTT'), '04 02 00 3c', str('raw311')));
      assert.equal(await raw.readHex(4), CONNACK_V4_OK);
    });

    test('5.0: MQTT level 5 -> CONNACK 0x00 with the server properties', async () => {
      const raw = await rawClient(b.port, ProtocolVersion.V5);
      // ... | 05 | flags 02 | keep alive 60 | properties length 0 | client id "raw5"
      raw.send(frame(0x10, str('MQTT'), '05 02 00 3c 00', str('raw5')));
      assert.equal(await raw.readHex(CONNACK_V5_OK.length / 2), CONNACK_V5_OK);
    });
  });

  describe('empty client identifier', () => {
    test('3.1.1 with Clean Session 1 is accepted and given an identifier [MQTT-3.1.3-6]', async () => {
      const raw = await rawClient(b.port);
      raw.sendConnect({ version: 4, clientId: '', clean: true });
      assert.equal(await raw.readHex(4), CONNACK_V4_OK);
      // The connection is usable.
      raw.send('c0 00');
      assert.equal(await raw.readHex(2), 'd000');
    });

    test('3.1.1 with Clean Session 0 is refused with return code 0x02 and closed [MQTT-3.1.3-8]', async () => {
      const raw = await rawClient(b.port);
      raw.sendConnect({ version: 4, clientId: '', clean: false });
      assert.equal(await raw.readHex(4), '20020002');
      await raw.expectClose();
    });

    test('3.1 is refused with return code 0x02 and closed (3.1 requires 1 to 23 characters)', async () => {
      const raw = await rawClient(b.port);
      raw.sendConnect({ version: 3, clientId: '', clean: true });
      assert.equal(await raw.readHex(4), '20020002');
      await raw.expectClose();
    });

    test('5.0 gets an Assigned Client Identifier in the CONNACK [MQTT-3.2.2-16]', async () => {
      const raw = await rawClient(b.port, ProtocolVersion.V5);
      raw.sendConnect({ version: 5, clientId: '' });
      const connack = await raw.readPacket();
      assert.equal(connack.type, PacketType.Connack);
      assert.equal(connack.reasonCode, ReasonCode.Success);
      const assigned = connack.properties?.assignedClientIdentifier;
      assert.equal(typeof assigned, 'string');
      assert.ok(assigned!.length > 0, 'the assigned identifier is not empty');
      // Another empty-id client gets a different identifier.
      const other = await rawClient(b.port, ProtocolVersion.V5);
      other.sendConnect({ version: 5, clientId: '' });
      const connack2 = await other.readPacket();
      assert.equal(connack2.type, PacketType.Connack);
      assert.notEqual(connack2.properties?.assignedClientIdentifier, assigned);
    });
  });

  describe('CONNECT comes first, and once', () => {
    test('a first packet that is not CONNECT closes the connection [MQTT-3.1.0-1]', async () => {
      const raw = await rawClient(b.port);
      raw.send('c0 00'); // PINGREQ
      await raw.expectClose();
    });

    test('a PUBLISH before CONNECT closes the connection [MQTT-3.1.0-1]', async () => {
      const raw = await rawClient(b.port);
      raw.send(frame(0x30, str('a/b'), ' 68 69'));
      await raw.expectClose();
    });

    test('3.1.1: a second CONNECT closes the connection [MQTT-3.1.0-2]', async () => {
      const raw = await rawConnected(b.port, { version: 4, clientId: 'second-v4' });
      raw.sendConnect({ version: 4, clientId: 'second-v4' });
      await raw.expectClose();
    });

    test('5.0: a second CONNECT gets DISCONNECT 0x82 and the connection is closed [MQTT-3.1.0-2]', async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'second-v5' });
      raw.sendConnect({ version: 5, clientId: 'second-v5' });
      assert.equal(await raw.readHex(3), 'e00182');
      await raw.expectClose();
    });
  });

  describe('unsupported protocol level [MQTT-3.1.2-2]', () => {
    for (const [name, level] of [
      ['MQTT', 6],
      ['MQTT', 3],
      ['MQTT', 2],
      ['MQIsdp', 4],
    ] as const) {
      test(`"${name}" level ${level} gets CONNACK 0x01 (unacceptable protocol version) and is closed`, async () => {
        const raw = await rawClient(b.port);
        raw.send(frame(0x10, str(name), Buffer.from([level, 0x02, 0x00, 0x3c]), str(`lvl${level}`)));
        assert.equal(await raw.readHex(4), '20020001');
        await raw.expectClose();
      });
    }
  });

  describe('session takeover [MQTT-3.1.4-3]', () => {
    test('3.1.1: a second connection with the same client id closes the first', async () => {
      const first = await rawConnected(b.port, { version: 4, clientId: 'takeover-v4' });
      const second = await rawClient(b.port);
      second.sendConnect({ version: 4, clientId: 'takeover-v4' });
      assert.equal(await second.readHex(4), CONNACK_V4_OK);
      await first.expectClose();
      // The new connection is the live one.
      second.send('c0 00');
      assert.equal(await second.readHex(2), 'd000');
    });

    test('5.0: the first connection gets DISCONNECT 0x8E (session taken over) and is closed', async () => {
      const first = await rawConnected(b.port, { version: 5, clientId: 'takeover-v5' });
      const second = await rawClient(b.port, ProtocolVersion.V5);
      second.sendConnect({ version: 5, clientId: 'takeover-v5' });
      const connack = await second.readPacket();
      assert.equal(connack.type, PacketType.Connack);
      assert.equal(connack.reasonCode, ReasonCode.Success);
      assert.equal(await first.readHex(3), 'e0018e');
      await first.expectClose();
    });

    test('MQTT.js 5.0: the replaced client receives DISCONNECT with reason code 0x8E', async () => {
      const first = await connectClient(b.port, 5, { clientId: 'takeover-js' });
      const disconnect = new Promise<number | undefined>((resolve) =>
        first.once('disconnect', (packet) => resolve(packet.reasonCode)),
      );
      await connectClient(b.port, 5, { clientId: 'takeover-js' });
      assert.equal(await disconnect, ReasonCode.SessionTakenOver);
    });
  });

  describe('PINGREQ', () => {
    for (const version of VERSIONS) {
      test(`${VERSION_NAME[version]}: PINGREQ -> PINGRESP [MQTT-3.12.4-1]`, async () => {
        const raw = await rawConnected(b.port, { version, clientId: `ping-v${version}` });
        raw.send('c0 00');
        assert.equal(await raw.readHex(2), 'd000');
        raw.send('c0 00 c0 00'); // two in one segment
        assert.equal(await raw.readHex(4), 'd000d000');
      });
    }
  });

  // Independent clients that each wait on the broker's timers: run them side by side.
  describe('keep alive [MQTT-3.1.2-24]', { concurrency: true }, () => {
    test('3.1.1: a client with keep alive 1 s that goes silent is closed', { timeout: 15_000 }, async () => {
      const raw = await rawConnected(b.port, { version: 4, clientId: 'ka-v4', keepalive: 1 });
      const silentSince = performance.now();
      await raw.expectClose(10_000);
      // The broker must allow one and a half keep alive periods; it never closes before one.
      assert.ok(performance.now() - silentSince >= 1000, 'closed before the keep alive period');
    });

    test('5.0: a silent client gets DISCONNECT 0x8D (keep alive timeout) and is closed', {
      timeout: 15_000,
    }, async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'ka-v5', keepalive: 1 });
      const silentSince = performance.now();
      const disconnect = await raw.readHex(3, 10_000);
      assert.equal(disconnect, 'e0018d');
      await raw.expectClose();
      assert.ok(performance.now() - silentSince >= 1000, 'closed before the keep alive period');
    });

    test('keep alive 0 turns the mechanism off: a silent client stays connected', {
      timeout: 15_000,
    }, async () => {
      const silent = await rawConnected(b.port, { version: 4, clientId: 'ka-off', keepalive: 0 });
      // A keep alive 1 client connected after it is closed first; the silent one is still open.
      const timed = await rawConnected(b.port, { version: 4, clientId: 'ka-on', keepalive: 1 });
      await timed.expectClose(10_000);
      assert.equal(silent.isClosed, false);
      silent.send('c0 00');
      assert.equal(await silent.readHex(2), 'd000');
    });
  });
});

describe('01 connect: idle timeout', { concurrency: true }, () => {
  const b = brokerForSuite({ mqtt: { idle_timeout: '1s' } }, { closeClientsAfterEach: false });

  test('a socket that sends nothing is closed after mqtt.idle_timeout', { timeout: 15_000 }, async () => {
    const raw = await rawClient(b.port);
    const openedAt = performance.now();
    await raw.expectClose(10_000);
    // Not closed at once: the broker waits for the timeout. (Its clock starts at accept, before
    // this side's connect event, which a loaded machine can delay by tens of ms: hence a margin.)
    assert.ok(performance.now() - openedAt >= 500, 'closed long before the idle timeout');
  });

  test('a socket that sends half a CONNECT and stops is closed after mqtt.idle_timeout', {
    timeout: 15_000,
  }, async () => {
    const raw = await rawClient(b.port);
    raw.send(hex('10 10 00 04 4d 51')); // the start of a CONNECT
    await raw.expectClose(10_000);
  });

  test('a client that connects in time is not closed by the idle timeout', { timeout: 15_000 }, async () => {
    const connectedClient = await rawConnected(b.port, { version: 4, clientId: 'idle-ok', keepalive: 0 });
    // An idle socket opened after it is closed first.
    const idle = await rawClient(b.port);
    await idle.expectClose(10_000);
    assert.equal(connectedClient.isClosed, false);
    connectedClient.send('c0 00');
    assert.equal(await connectedClient.readHex(2), 'd000');
  });
});

describe('01 connect: the broker closes with clients connected', () => {
  const b = brokerForSuite({}, { closeClientsAfterEach: false });

  test('close(): 5.0 clients get DISCONNECT 0x8B (server shutting down), 3.1.1 clients are closed, close() resolves', async () => {
    const v5 = await rawConnected(b.port, { version: 5, clientId: 'shutdown-v5' });
    const v4 = await rawConnected(b.port, { version: 4, clientId: 'shutdown-v4' });
    // The clients stay connected: the broker must not wait for them to leave on their own.
    await within(b.close(), 10_000, 'aviary.close() with clients connected');
    assert.equal(await v5.readHex(3), 'e0018b');
    await v5.expectClose();
    await v4.expectClose();
    // The listener no longer accepts connections.
    await assert.rejects(rawClient(b.port));
  });
});
