/**
 * 04 malformed: what the broker does with bytes that break the protocol. A 5.0 client that
 * has connected gets a DISCONNECT with the reason code, then the connection is closed
 * [MQTT-4.13.1-1]; a 3.1 / 3.1.1 client is just closed [MQTT-4.8.0-1 (3.1.1)]. Each case is
 * logged as a warning with the client id, and the broker goes on serving everyone else.
 */

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { pino } from 'pino';
import {
  closeClients,
  connectClient,
  frame,
  Inbox,
  publish,
  rawClient,
  rawConnected,
  type StartedBroker,
  startBroker,
  str,
  subscribe,
  VERSIONS,
} from '../helpers/broker.js';
import { PacketType, ProtocolVersion, ReasonCode } from '../../src/protocol/index.js';

/** One JSON log line as pino writes it. */
interface LogLine {
  level: number;
  msg: string;
  clientid?: string;
  reason_code?: number;
  spec?: string;
  [key: string]: unknown;
}

const PINO_WARN = 40;

/** `mqtt.max_packet_size` for these tests. */
const MAX_PACKET = 1024;

describe('04 malformed', () => {
  let b: StartedBroker;
  const logs: LogLine[] = [];

  before(async () => {
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => logs.push(JSON.parse(line) as LogLine) },
    );
    b = await startBroker({ mqtt: { max_packet_size: '1KB' } }, { logger });
  });

  afterEach(closeClients);

  after(async () => {
    await closeClients();
    await b.close();
  });

  /** The broker still serves a well-behaved MQTT.js client: a QoS 1 round trip. */
  async function brokerStillServes(): Promise<void> {
    const sub = await connectClient(b.port, 5);
    const inbox = new Inbox(sub);
    await subscribe(sub, 'still/serving', { qos: 1 });
    const pub = await connectClient(b.port, 4);
    await publish(pub, 'still/serving', 'yes', { qos: 1 });
    const [m] = await inbox.count(1);
    assert.equal(m!.payload.toString(), 'yes');
  }

  /** Warnings logged for `clientid`. */
  const warningsFor = (clientid: string): LogLine[] =>
    logs.filter((l) => l.level === PINO_WARN && l.clientid === clientid);

  describe('garbage before CONNECT', () => {
    test('ff ff ff ff ff closes the connection and the broker keeps serving others', async () => {
      const raw = await rawClient(b.port);
      raw.send('ff ff ff ff ff');
      await raw.expectClose();
      await brokerStillServes();
    });

    test('reserved packet type 0 closes the connection (section 2.1.2)', async () => {
      const raw = await rawClient(b.port);
      raw.send('00 00');
      await raw.expectClose();
    });

    test('a remaining length longer than four bytes closes the connection (section 1.5.5)', async () => {
      const raw = await rawClient(b.port);
      raw.send('10 ff ff ff ff 7f');
      await raw.expectClose();
    });

    test('a CONNECT with the reserved flag set closes the connection [MQTT-3.1.2-3]', async () => {
      const raw = await rawClient(b.port);
      raw.send(frame(0x10, str('MQTT'), '04 03 00 3c', str('reserved')));
      await raw.expectClose();
    });
  });

  describe('PUBLISH with QoS 3 [MQTT-3.3.1-4]', () => {
    test('5.0: DISCONNECT 0x81 (malformed packet), then the connection is closed', async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'qos3-v5' });
      raw.send(frame(0x36, str('a/b'), '00 01 00', Buffer.from('x'))); // QoS bits 11
      assert.equal(await raw.readHex(3), 'e00181');
      await raw.expectClose();
      await brokerStillServes();
    });

    test('3.1.1: the connection is closed without a DISCONNECT', async () => {
      const raw = await rawConnected(b.port, { version: 4, clientId: 'qos3-v4' });
      raw.send(frame(0x36, str('a/b'), '00 01', Buffer.from('x')));
      await raw.expectClose();
    });

    test('3.1: the connection is closed without a DISCONNECT', async () => {
      const raw = await rawConnected(b.port, { version: 3, clientId: 'qos3-v3' });
      raw.send(frame(0x36, str('a/b'), '00 01', Buffer.from('x')));
      await raw.expectClose();
    });

    test('the broker logs a warning with the client id and the reason', async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'qos3-logged' });
      raw.send(frame(0x36, str('a/b'), '00 01 00', Buffer.from('x')));
      await raw.expectClose(undefined, true);
      const warnings = warningsFor('qos3-logged');
      assert.equal(warnings.length, 1, `one warning for qos3-logged in ${JSON.stringify(logs)}`);
      const w = warnings[0]!;
      assert.match(w.msg, /QoS 3/);
      assert.equal(w.reason_code, ReasonCode.MalformedPacket);
      assert.equal(w.spec, 'MQTT-3.3.1-4');
      assert.match(String(w['peer']), /^127\.0\.0\.1:\d+$/);
    });
  });

  describe('5.0 properties', () => {
    test('a property that PUBLISH may not carry (Session Expiry Interval) gets DISCONNECT 0x81 (section 2.2.2.2)', async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'badprop' });
      // properties: length 5, 0x11 Session Expiry Interval = 60
      raw.send(frame(0x30, str('a/b'), '05 11 00 00 00 3c', Buffer.from('x')));
      assert.equal(await raw.readHex(3), 'e00181');
      await raw.expectClose();
      const [w] = warningsFor('badprop');
      assert.ok(w, 'a warning was logged for badprop');
      assert.equal(w.reason_code, ReasonCode.MalformedPacket);
      assert.match(w.msg, /sessionExpiryInterval|Session Expiry/i);
    });

    test('an unknown property identifier gets DISCONNECT 0x81', async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'unknownprop' });
      raw.send(frame(0x30, str('a/b'), '02 7f 00', Buffer.from('x')));
      assert.equal(await raw.readHex(3), 'e00181');
      await raw.expectClose();
    });

    test('property length running past the end of the packet gets DISCONNECT 0x81', async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'longprop' });
      raw.send(frame(0x30, str('a/b'), '20 01'));
      assert.equal(await raw.readHex(3), 'e00181');
      await raw.expectClose();
    });
  });

  describe('topic names', () => {
    for (const [what, bytes, spec] of [
      ['invalid UTF-8 (a lone 0xff byte)', Buffer.from([0x61, 0xff, 0x62]), 'MQTT-1.5.4-1'],
      [
        'invalid UTF-8 (an encoded UTF-16 surrogate, ed a0 80)',
        Buffer.from([0x61, 0xed, 0xa0, 0x80]),
        'MQTT-1.5.4-1',
      ],
      ['the null character U+0000', Buffer.from([0x61, 0x00, 0x62]), 'MQTT-1.5.4-2'],
    ] as const) {
      test(`5.0: a topic with ${what} gets DISCONNECT 0x81 [${spec}]`, async () => {
        const id = `utf8-${spec}-${bytes.length}`;
        const raw = await rawConnected(b.port, { version: 5, clientId: id });
        raw.send(frame(0x30, str(bytes), '00', Buffer.from('x')));
        assert.equal(await raw.readHex(3), 'e00181');
        await raw.expectClose();
        const [w] = warningsFor(id);
        assert.ok(w, `a warning was logged for ${id}`);
        assert.equal(w.reason_code, ReasonCode.MalformedPacket);
      });

      test(`3.1.1: a topic with ${what} closes the connection [${spec}]`, async () => {
        const raw = await rawConnected(b.port, { version: 4, clientId: `utf8-v4-${bytes.length}` });
        raw.send(frame(0x30, str(bytes), Buffer.from('x')));
        await raw.expectClose();
      });
    }

    test('5.0: a wildcard in a PUBLISH topic gets DISCONNECT 0x90 (topic name invalid) [MQTT-3.3.2-2]', async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'wildpub' });
      raw.send(frame(0x30, str('a/+'), '00', Buffer.from('x')));
      assert.equal(await raw.readHex(3), 'e00190');
      await raw.expectClose();
    });
  });

  describe('protocol errors after CONNECT', () => {
    test('5.0: DISCONNECT setting a Session Expiry Interval where CONNECT had 0 gets DISCONNECT 0x82 [MQTT-3.14.2-2]', async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'expiry-after-zero' });
      // DISCONNECT 0x00 with properties: Session Expiry Interval = 60
      raw.send(frame(0xe0, '00 05 11 00 00 00 3c'));
      assert.equal(await raw.readHex(3), 'e00182');
      await raw.expectClose();
    });

    test('5.0: a second CONNECT gets DISCONNECT 0x82 and is logged with the client id [MQTT-3.1.0-2]', async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'connect-twice' });
      raw.sendConnect({ version: 5, clientId: 'connect-twice' });
      assert.equal(await raw.readHex(3), 'e00182');
      await raw.expectClose();
      const [w] = warningsFor('connect-twice');
      assert.ok(w, 'a warning was logged for connect-twice');
      assert.equal(w.reason_code, ReasonCode.ProtocolError);
      assert.equal(w.spec, 'MQTT-3.1.0-2');
    });
  });

  describe(`mqtt.max_packet_size = 1KB`, () => {
    test('5.0: the CONNACK advertises Maximum Packet Size 1024', async () => {
      const raw = await rawClient(b.port, ProtocolVersion.V5);
      raw.sendConnect({ version: 5, clientId: 'maxsize-connack' });
      const connack = await raw.readPacket();
      assert.equal(connack.type, PacketType.Connack);
      assert.equal(connack.properties?.maximumPacketSize, MAX_PACKET);
    });

    /** A QoS 1 PUBLISH of exactly `total` bytes (fixed header included). */
    const publishOfSize = (total: number, version: 4 | 5): Buffer => {
      const head = Buffer.concat([
        str('big/t'),
        Buffer.from(version === 5 ? [0x00, 0x01, 0x00] : [0x00, 0x01]),
      ]);
      // 1 type byte + 2 remaining length bytes (remaining length 128..16383) + body.
      const payload = Buffer.alloc(total - 3 - head.length, 0x61);
      const f = frame(0x32, head, payload);
      assert.equal(f.length, total);
      return f;
    };

    for (const version of [4, 5] as const) {
      test(`${version === 5 ? '5.0' : '3.1.1'}: a packet of exactly max_packet_size bytes is accepted`, async () => {
        const raw = await rawConnected(b.port, { version, clientId: `maxsize-ok-v${version}` });
        raw.send(publishOfSize(MAX_PACKET, version));
        const puback = await raw.readPacket();
        assert.equal(puback.type, PacketType.Puback);
      });
    }

    test('5.0: a packet one byte larger gets DISCONNECT 0x95 (packet too large) [MQTT-3.2.2-15]', async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'maxsize-v5' });
      raw.send(publishOfSize(MAX_PACKET + 1, 5));
      assert.equal(await raw.readHex(3), 'e00195');
      await raw.expectClose();
      const [w] = warningsFor('maxsize-v5');
      assert.ok(w, 'a warning was logged for maxsize-v5');
      assert.equal(w.reason_code, ReasonCode.PacketTooLarge);
    });

    test('5.0: a 2000-byte PUBLISH gets DISCONNECT 0x95 and the broker keeps serving', async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'maxsize-2000' });
      raw.send(publishOfSize(2000, 5));
      assert.equal(await raw.readHex(3), 'e00195');
      await raw.expectClose();
      await brokerStillServes();
    });

    test('3.1.1: a packet larger than max_packet_size closes the connection', async () => {
      const raw = await rawConnected(b.port, { version: 4, clientId: 'maxsize-v4' });
      raw.send(publishOfSize(MAX_PACKET + 1, 4));
      await raw.expectClose();
    });

    test('a CONNECT larger than max_packet_size closes the connection', async () => {
      const raw = await rawClient(b.port);
      raw.send(frame(0x10, str('MQTT'), '04 02 00 3c', str('x'.repeat(MAX_PACKET))));
      await raw.expectClose();
    });
  });

  test('after all of the above every version still connects and the broker is serving', async () => {
    for (const version of VERSIONS) {
      const c = await connectClient(b.port, version);
      assert.equal(c.connected, true);
    }
    await brokerStillServes();
  });
});
