/**
 * Conformance 01: CONNECT and CONNACK (MQTT 5.0 sections 3.1, 3.2; MQTT 3.1.1 the same), over raw
 * sockets with packets built byte by byte.
 *
 * Test names cite the MQTT 5.0 statement first and the MQTT 3.1.1 one in brackets where its
 * number differs: `[MQTT-3.1.4-6] (3.1.1 [MQTT-3.1.4-5])`. docs/conformance.md lists every
 * statement of both specifications with the test that covers it.
 *
 * One broker for the file: `mqtt.max_clientid_len = 23` (so an identifier can be refused) and a
 * `client.authenticate` callback that denies the user name `bad` (so a CONNECT can be refused
 * for a client whose session exists) and makes the user name `slow` wait for a timer (so a
 * packet can arrive while the CONNECT is still being decided).
 */

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { PacketType, ReasonCode } from '../../src/protocol/index.js';
import { closeClients, frame, rawClient, type StartedBroker, startBroker, str } from '../helpers/broker.js';
import {
  connect,
  expectAck,
  expectPacket,
  expectRefusedAndClosed,
  quiet,
  subscribeMany,
  u16,
  v4,
  v5,
} from '../helpers/conformance.js';
import { connectFrame, disconnectFrame, props, publishFrame } from '../helpers/mqtt5.js';

/** A CONNECT with these flags and payload fields, built without any check (5.0 adds properties). */
function connectWith(version: 4 | 5, flags: number, payload: Buffer[], name = 'MQTT'): Buffer {
  const parts: Buffer[] = [str(name), Buffer.from([version, flags]), u16(60)];
  if (version === 5) parts.push(props());
  return frame(0x10, ...parts, ...payload);
}

const BAD_UTF8 = Buffer.from([0x61, 0xff, 0x62]);
const CLEAN = 0x02;
const WILL = 0x04;
const WILL_QOS1 = 0x08;
const WILL_QOS3 = 0x18;
const WILL_RETAIN = 0x20;
const PASSWORD = 0x40;
const USER_NAME = 0x80;

/** Will properties (5.0 only) before the will topic. */
const willProps = (version: 4 | 5): Buffer[] => (version === 5 ? [props()] : []);

interface BadConnect {
  name: string;
  bytes: (version: 4 | 5) => Buffer;
  /** Only for this version. */
  only?: 4 | 5;
}

const BAD_CONNECTS: BadConnect[] = [
  {
    name: '[MQTT-3.1.2-9] the will flag without a will topic and payload',
    bytes: (v) => connectWith(v, CLEAN | WILL, [str('bad-1')]),
  },
  {
    name: '[MQTT-3.1.2-11] (3.1.1 [MQTT-3.1.2-11] [MQTT-3.1.2-13]) a will QoS without the will flag',
    bytes: (v) => connectWith(v, CLEAN | WILL_QOS1, [str('bad-2')]),
  },
  {
    name: '[MQTT-3.1.2-13] (3.1.1 [MQTT-3.1.2-15]) will retain without the will flag',
    bytes: (v) => connectWith(v, CLEAN | WILL_RETAIN, [str('bad-3')]),
  },
  {
    name: '[MQTT-3.1.2-12] (3.1.1 [MQTT-3.1.2-14]) will QoS 3',
    bytes: (v) =>
      connectWith(v, CLEAN | WILL | WILL_QOS3, [str('bad-4'), ...willProps(v), str('w'), str('p')]),
  },
  {
    name: '[MQTT-3.1.2-17] (3.1.1 [MQTT-3.1.2-19]) the user name flag without a user name',
    bytes: (v) => connectWith(v, CLEAN | USER_NAME, [str('bad-5')]),
  },
  {
    name: '[MQTT-3.1.2-19] (3.1.1 [MQTT-3.1.2-21]) the password flag without a password',
    bytes: (v) => connectWith(v, CLEAN | USER_NAME | PASSWORD, [str('bad-6'), str('u')]),
  },
  {
    name: '[MQTT-3.1.2-16] (3.1.1 [MQTT-3.1.2-18]) a user name without the user name flag',
    bytes: (v) => connectWith(v, CLEAN, [str('bad-7'), str('u')]),
  },
  {
    name: '[MQTT-3.1.2-22] (3.1.1 only) a password without a user name',
    bytes: (v) => connectWith(v, CLEAN | PASSWORD, [str('bad-8'), str('pw')]),
    only: 4,
  },
  {
    name: '[MQTT-3.1.3-4] [MQTT-1.5.4-1] (3.1.1 [MQTT-1.5.3-1]) a client identifier that is not UTF-8',
    bytes: (v) => connectWith(v, CLEAN, [str(BAD_UTF8)]),
  },
  {
    name: '[MQTT-3.1.3-11] (3.1.1 [MQTT-3.1.3-10]) a will topic that is not UTF-8',
    bytes: (v) => connectWith(v, CLEAN | WILL, [str('bad-9'), ...willProps(v), str(BAD_UTF8), str('p')]),
  },
  {
    name: '[MQTT-3.1.3-12] (3.1.1 [MQTT-3.1.3-11]) a user name that is not UTF-8',
    bytes: (v) => connectWith(v, CLEAN | USER_NAME, [str('bad-10'), str(BAD_UTF8)]),
  },
  {
    name: '[MQTT-3.1.2-3] the reserved flag set',
    bytes: (v) => connectWith(v, CLEAN | 0x01, [str('bad-11')]),
  },
];

describe('conformance 01: CONNECT and CONNACK', () => {
  let b: StartedBroker;

  before(async () => {
    b = await startBroker({ mqtt: { max_clientid_len: 23 } });
    b.aviary.hooks.add('client.authenticate', (acc, client) => {
      if (client.username === 'bad') return { stop: { result: 'deny' } };
      if (client.username === 'slow') {
        return new Promise((resolve) => setTimeout(() => resolve({ ok: acc }), 50));
      }
      return { ok: acc };
    });
  });

  afterEach(closeClients);

  after(async () => {
    await closeClients();
    await b.close();
  });

  describe('the CONNACK of an accepted CONNECT', () => {
    test('[MQTT-3.1.4-5] (3.1.1 [MQTT-3.1.4-4]) [MQTT-3.2.2-1] [MQTT-2.2.2-1] CONNACK 0x00, reserved flag bits 0, a property block', async () => {
      const r4 = await rawClient(b.port, 4);
      r4.send(connectFrame({ version: 4, clientId: 'ca-4' }));
      assert.equal(await r4.readHex(4), '20020000');

      const r5 = await rawClient(b.port, 5);
      r5.send(connectFrame({ version: 5, clientId: 'ca-5' }));
      const bytes = await r5.readFrame();
      assert.equal(bytes[0], 0x20, 'CONNACK');
      assert.equal(bytes[2], 0x00, 'Connect Acknowledge Flags: bits 7-1 reserved, Session Present 0');
      assert.equal(bytes[3], ReasonCode.Success);
      assert.ok(bytes.length >= 5, 'the property length is there even when it is 0');
    });

    test('[MQTT-4.12.0-6] without an Authentication Method the CONNACK carries none and no AUTH follows', async () => {
      const c = await v5(b.port, 'ca-noauth');
      assert.equal(c.connack.properties?.authenticationMethod, undefined);
      assert.equal(c.connack.properties?.authenticationData, undefined);
      await quiet(c.raw);
    });

    for (const version of [4, 5] as const) {
      test(`[MQTT-3.2.0-1] (3.1.1 [MQTT-3.2.0-1]) ${version === 5 ? '5.0' : '3.1.1'}: the CONNACK comes before the messages a resumed session holds and before anything asked for in the same write`, async () => {
        const id = `ca-first-${version}`;
        const expiry = version === 5 ? { props: [Buffer.from([0x11, 0, 0, 0, 60])] } : {};
        const sub = await connect(b.port, { version, clientId: id, clean: false, ...expiry });
        assert.deepEqual(await sub.subscribe(`ca/first/${version}`, 1), [1]);
        sub.send(version === 5 ? disconnectFrame(0) : 'e0 00');
        await sub.raw.expectClose();

        const pub = await v5(b.port, `ca-first-pub-${version}`);
        for (const packetId of [1, 2]) {
          pub.send(
            publishFrame({
              topic: `ca/first/${version}`,
              qos: 1,
              packetId,
              props: [],
              payload: `m${packetId}`,
            }),
          );
          await expectAck(pub.raw, PacketType.Puback, packetId);
        }
        // Retained message for a SUBSCRIBE sent in the same write as the CONNECT.
        pub.send(publishFrame({ topic: `ca/first-r/${version}`, retain: true, props: [], payload: 'r' }));
        await quiet(pub.raw);

        const again = await rawClient(b.port, version);
        again.send(
          Buffer.concat([
            connectFrame({ version, clientId: id, clean: false, ...expiry }),
            subscribeMany(9, [[`ca/first-r/${version}`, 0]], version === 5),
          ]),
        );
        const connack = await expectPacket(again, PacketType.Connack);
        assert.equal(connack.sessionPresent, true);
        const seen: string[] = [];
        for (let i = 0; i < 4; i++) {
          const p = await again.readPacket();
          seen.push(p.type === PacketType.Publish ? `PUBLISH ${p.payload.toString()}` : `type ${p.type}`);
        }
        // The queued messages are sent when the session attaches, at the CONNACK; then the
        // SUBACK and its retained message.
        assert.deepEqual(seen, ['PUBLISH m1', 'PUBLISH m2', `type ${PacketType.Suback}`, 'PUBLISH r']);
      });
    }
  });

  describe('refusing a CONNECT', () => {
    test('[MQTT-3.2.2-6] [MQTT-3.2.2-7] [MQTT-3.2.2-8] [MQTT-3.1.4-2] (3.1.1 [MQTT-3.2.2-4] [MQTT-3.2.2-5]) a refusing CONNACK has Session Present 0, even for a stored session, then the connection is closed', async () => {
      // 5.0: a session that outlives its connection...
      const s5 = await v5(b.port, 'cr-sp-5', { clean: false, props: [Buffer.from([0x11, 0, 0, 0, 60])] });
      s5.send(disconnectFrame(0));
      await s5.raw.expectClose();
      // ...then a CONNECT for it that authentication refuses: 0x86, Session Present 0.
      const r5 = await rawClient(b.port, 5);
      r5.send(
        connectFrame({ version: 5, clientId: 'cr-sp-5', clean: false, username: 'bad', password: 'x' }),
      );
      assert.equal(await r5.readHex(5), '2003008600');
      await r5.expectClose();

      const s4 = await v4(b.port, 'cr-sp-4', { clean: false });
      s4.send('e0 00');
      await s4.raw.expectClose();
      const r4 = await rawClient(b.port, 4);
      r4.send(
        connectFrame({ version: 4, clientId: 'cr-sp-4', clean: false, username: 'bad', password: 'x' }),
      );
      assert.equal(await r4.readHex(4), '20020004'); // 0x04: bad user name or password
      await r4.expectClose();
    });

    for (const version of [4, 5] as const) {
      test(`[MQTT-3.1.4-6] (3.1.1 [MQTT-3.1.4-5]) ${version === 5 ? '5.0' : '3.1.1'}: nothing sent after a refused CONNECT is processed`, async () => {
        const topic = `cr/after/${version}`;
        const raw = await rawClient(b.port, version);
        raw.send(
          Buffer.concat([
            connectFrame({ version, clientId: `cr-after-${version}`, username: 'bad', password: 'x' }),
            publishFrame({
              topic,
              qos: 1,
              packetId: 1,
              retain: true,
              payload: 'must not be stored',
              ...(version === 5 ? { props: [] } : {}),
            }),
          ]),
        );
        const connack = await expectPacket(raw, PacketType.Connack);
        assert.notEqual(connack.reasonCode, 0);
        await raw.expectClose(); // and no PUBACK before it
        const check = await v5(b.port, `cr-after-check-${version}`);
        await check.subscribe(topic, 1);
        await quiet(check.raw); // no retained message was stored
      });
    }

    test('[MQTT-3.1.3-8] [MQTT-3.2.2-8] (3.1.1 [MQTT-3.1.3-9]) a client identifier the server rejects gets CONNACK 0x85 (3.1.1: 0x02), then the connection is closed', async () => {
      const tooLong = 'x'.repeat(24); // mqtt.max_clientid_len = 23
      const r5 = await rawClient(b.port, 5);
      r5.send(connectFrame({ version: 5, clientId: tooLong }));
      assert.equal(await r5.readHex(5), '2003008500');
      await r5.expectClose();
      const r4 = await rawClient(b.port, 4);
      r4.send(connectFrame({ version: 4, clientId: tooLong }));
      assert.equal(await r4.readHex(4), '20020002');
      await r4.expectClose();
    });

    test('[MQTT-3.14.0-1] [MQTT-3.2.0-2] an error while the CONNECT is being decided gets one refusing CONNACK (0x81), never a DISCONNECT', async () => {
      const raw = await rawClient(b.port, 5);
      // The user name `slow` keeps the CONNECT pending; a PUBLISH with QoS 3 follows at once.
      raw.send(
        Buffer.concat([
          connectFrame({ version: 5, clientId: 'cr-early', username: 'slow', password: 'x' }),
          frame(0x36, str('t'), u16(1), props()),
        ]),
      );
      assert.equal(await raw.readHex(5), '2003008100');
      await raw.expectClose(); // nothing after it: no second CONNACK once authentication answers
    });
  });

  describe('client identifiers', () => {
    test('[MQTT-3.1.3-5] identifiers of 1 to 23 characters of 0-9, a-z, A-Z are accepted', async () => {
      const ids = ['0123456789abcdefghijklm', 'nopqrstuvwxyzABCDEFGHIJ', 'KLMNOPQRSTUVWXYZ', 'Z'];
      for (const id of ids) {
        for (const version of [4, 5] as const) {
          const c = await connect(b.port, { version, clientId: id });
          c.raw.destroy();
        }
      }
    });

    test('[MQTT-3.1.3-6] [MQTT-3.1.3-7] [MQTT-3.2.2-16] an empty identifier gets an Assigned Client Identifier that no other session has', async () => {
      const a = await v5(b.port, '');
      const c = await v5(b.port, '');
      const idA = a.connack.properties?.assignedClientIdentifier;
      const idC = c.connack.properties?.assignedClientIdentifier;
      assert.ok(idA !== undefined && idA.length > 0);
      assert.ok(idC !== undefined && idC.length > 0);
      assert.notEqual(idA, idC);
      // Both connections stay: each is its own client (no takeover between them).
      await quiet(a.raw);
      await quiet(c.raw);
    });
  });

  describe('a CONNECT that breaks its format is refused without CONNACK 0x00', () => {
    for (const version of [4, 5] as const) {
      for (const c of BAD_CONNECTS) {
        if (c.only !== undefined && c.only !== version) continue;
        test(`[MQTT-3.1.4-1] ${c.name} (${version === 5 ? '5.0' : '3.1.1'}): closed without a CONNACK`, async () => {
          const raw = await rawClient(b.port, version);
          raw.send(c.bytes(version));
          assert.equal(await expectRefusedAndClosed(raw), null);
        });
      }
      test(`[MQTT-3.1.2-1] a protocol name other than MQTT (${version === 5 ? '5.0' : '3.1.1'}): refused and closed`, async () => {
        const raw = await rawClient(b.port, version);
        raw.send(connectWith(version, CLEAN, [str('bad-name')], 'MQTX'));
        await expectRefusedAndClosed(raw);
      });
    }
  });
});
