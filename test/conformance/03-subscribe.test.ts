/**
 * Conformance 03: SUBSCRIBE / SUBACK and UNSUBSCRIBE / UNSUBACK (MQTT 5.0 sections 3.8 to 3.11;
 * MQTT 3.1.1 sections 3.8 to 3.11), over raw sockets with packets built byte by byte, the
 * acknowledgements compared byte for byte.
 *
 * Test names cite the MQTT 5.0 statement first and the MQTT 3.1.1 one in brackets where its
 * number differs. One broker for the file, default settings.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PacketType, ReasonCode } from '../../src/protocol/index.js';
import { frame } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import {
  connect,
  expectAck,
  expectPacket,
  expectPublish,
  expectRefusedAndClosed,
  quiet,
  subscribeMany,
  u16,
  unsubscribeFrame,
  v5,
} from '../helpers/conformance.js';
import { ackFrame, props, publishFrame } from '../helpers/mqtt5.js';

const NAME = { 4: '3.1.1', 5: '5.0' } as const;
const VERSIONS = [4, 5] as const;

describe('conformance 03: SUBSCRIBE and UNSUBSCRIBE', () => {
  const b = brokerForSuite();

  /** Publishes from a fresh 5.0 client at `qos` and waits until it is routed. */
  async function publish(topic: string, qos: 0 | 1 | 2, payload = 'x', retain = false): Promise<void> {
    const pub = await v5(b.port, `pub-${Math.random().toString(36).slice(2, 10)}`);
    pub.send(publishFrame({ topic, qos, packetId: 1, retain, props: [], payload }));
    if (qos === 0) await quiet(pub.raw);
    else {
      await expectPacket(pub.raw, qos === 1 ? PacketType.Puback : PacketType.Pubrec);
      if (qos === 2) {
        pub.send(ackFrame(0x62, 1));
        await expectPacket(pub.raw, PacketType.Pubcomp);
      }
    }
    pub.raw.destroy();
  }

  describe('SUBACK', () => {
    test('[MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-2.2.1-6] [MQTT-2.2.2-1] [MQTT-3.9.2-1] [MQTT-3.9.2-2] (3.1.1 [MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-2.3.1-7]) a SUBSCRIBE gets a SUBACK with its packet id (5.0: an empty property block)', async () => {
      const c4 = await connect(b.port, { version: 4, clientId: 'sa-id-4' });
      c4.send(subscribeMany(0x1234, [['sa/id', 1]], false));
      assert.equal(await c4.raw.readHex(5), '9003123401');
      const c5 = await connect(b.port, { version: 5, clientId: 'sa-id-5' });
      c5.send(subscribeMany(0x1234, [['sa/id', 1]], true));
      assert.equal(await c5.raw.readHex(6), '900412340001');
    });

    for (const version of VERSIONS) {
      test(`[MQTT-3.8.4-5] [MQTT-3.8.4-6] [MQTT-3.8.4-7] [MQTT-3.8.4-8] [MQTT-3.9.3-1] [MQTT-3.9.3-2] (3.1.1 [MQTT-3.8.4-4] [MQTT-3.8.4-5] [MQTT-3.8.4-6] [MQTT-3.9.3-1] [MQTT-3.9.3-2]) ${NAME[version]}: several filters get one SUBACK with a code per filter, in order: the granted QoS or a failure; each subscription is made`, async () => {
        const c = await connect(b.port, { version, clientId: `sa-many-${version}` });
        const base = `sa/many/${version}`;
        c.send(
          subscribeMany(
            7,
            [
              [`${base}/0`, 0],
              [`${base}/1`, 1],
              [`${base}/#/x`, 1], // '#' not last: an invalid filter
              [`${base}/2`, 2],
            ],
            version === 5,
          ),
        );
        // 3.1.1: 0x80 is the only failure code; 5.0: 0x8F Topic Filter invalid.
        assert.equal(
          await c.raw.readHex(version === 5 ? 9 : 8),
          version === 5 ? '900700070000018f02' : '9006000700018002',
        );
        for (const [n, qos] of [
          [0, 0],
          [1, 1],
          [2, 2],
        ] as const) {
          await publish(`${base}/${n}`, 2, `to ${n}`);
          const p = await expectPublish(c.raw);
          assert.deepEqual([p.topic, p.qos], [`${base}/${n}`, qos], 'delivered at the granted QoS');
          if (qos === 1) c.send(ackFrame(0x40, p.packetId));
          if (qos === 2) {
            c.send(ackFrame(0x50, p.packetId));
            await expectAck(c.raw, PacketType.Pubrel, p.packetId);
            c.send(ackFrame(0x70, p.packetId));
          }
        }
        await quiet(c.raw);
      });

      test(`[MQTT-3.8.4-3] (3.1.1 [MQTT-3.8.4-3]) ${NAME[version]}: a SUBSCRIBE of a filter the session has replaces that subscription: its new QoS applies, and one copy arrives`, async () => {
        const topic = `sa/replace/${version}`;
        const c = await connect(b.port, { version, clientId: `sa-replace-${version}` });
        assert.deepEqual(await c.subscribe(topic, 0, 1), [0]);
        assert.deepEqual(await c.subscribe(topic, 1, 2), [1]);
        await publish(topic, 2);
        const p = await expectPublish(c.raw);
        assert.equal(p.qos, 1);
        c.send(ackFrame(0x40, p.packetId));
        await quiet(c.raw); // not a second copy for the replaced subscription
      });

      test(`[MQTT-3.8.4-4] (3.1.1 [MQTT-3.8.4-3]) ${NAME[version]}: subscribing again to a filter sends its retained messages again, and the flow of live messages goes on`, async () => {
        const topic = `sa/again/${version}`;
        await publish(topic, 1, 'kept', true);
        const c = await connect(b.port, { version, clientId: `sa-again-${version}` });
        for (const packetId of [1, 2]) {
          assert.deepEqual(await c.subscribe(topic, 0, packetId), [0]);
          const r = await expectPublish(c.raw);
          assert.deepEqual([r.payload.toString(), r.retain], ['kept', true]);
        }
        await publish(topic, 0, 'live');
        const live = await expectPublish(c.raw);
        assert.deepEqual([live.payload.toString(), live.retain], ['live', false]);
        await publish(topic, 0, '', true); // clean up the retained message
      });
    }

    test('[MQTT-3.8.3-4] 5.0: No Local on a shared subscription is a protocol error: DISCONNECT 0x82', async () => {
      const c = await v5(b.port, 'sa-nl-shared');
      c.send(subscribeMany(1, [['$share/g/sa/nl', 0x04]], true));
      assert.equal(await expectRefusedAndClosed(c.raw), ReasonCode.ProtocolError);
    });
  });

  describe('a malformed SUBSCRIBE closes the connection', () => {
    const cases: Array<{ name: string; bytes: (v5: boolean) => Buffer; code: number }> = [
      {
        name: '[MQTT-3.8.3-2] (3.1.1 [MQTT-3.8.3-3]) no topic filter',
        bytes: (v5) => frame(0x82, u16(1), v5 ? props() : Buffer.alloc(0)),
        code: ReasonCode.ProtocolError,
      },
      {
        name: '[MQTT-3.8.3-1] a topic filter that is not UTF-8',
        bytes: (v5) => subscribeMany(1, [[Buffer.from([0x61, 0xff]), 0]], v5),
        code: ReasonCode.MalformedPacket,
      },
      {
        name: '[MQTT-3.8.3-5] (3.1.1 [MQTT-3.8.3-4]) reserved bits of the subscription options set',
        bytes: (v5) => subscribeMany(1, [['sm/t', 0xc0]], v5),
        code: ReasonCode.MalformedPacket,
      },
      {
        // 5.0 makes it a protocol error without a statement id (section 3.8.3.1).
        name: '(3.1.1 [MQTT-3.8.3-4]) QoS 3 requested',
        bytes: (v5) => subscribeMany(1, [['sm/t', 0x03]], v5),
        code: ReasonCode.ProtocolError,
      },
      {
        name: '[MQTT-3.10.3-2] an UNSUBSCRIBE without a topic filter',
        bytes: (v5) => frame(0xa2, u16(1), v5 ? props() : Buffer.alloc(0)),
        code: ReasonCode.ProtocolError,
      },
      {
        name: '[MQTT-3.10.3-1] an UNSUBSCRIBE topic filter that is not UTF-8',
        bytes: (v5) => unsubscribeFrame(1, [Buffer.from([0x61, 0xff])], v5),
        code: ReasonCode.MalformedPacket,
      },
    ];
    for (const version of VERSIONS) {
      for (const c of cases) {
        const what = version === 5 ? `DISCONNECT 0x${c.code.toString(16)}` : 'closed';
        test(`${c.name} (${NAME[version]}): ${what}`, async () => {
          const conn = await connect(b.port, { version, clientId: `sm-${version}` });
          conn.send(c.bytes(version === 5));
          assert.equal(await expectRefusedAndClosed(conn.raw), version === 5 ? c.code : null);
        });
      }
    }
  });

  describe('UNSUBACK', () => {
    test('[MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-2.2.1-6] [MQTT-3.11.2-1] [MQTT-3.11.2-2] [MQTT-3.11.3-2] (3.1.1 [MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-2.3.1-7]) an UNSUBSCRIBE gets an UNSUBACK with its packet id, even when it deletes nothing', async () => {
      const c4 = await connect(b.port, { version: 4, clientId: 'ua-id-4' });
      c4.send(unsubscribeFrame(0x4321, ['ua/none'], false));
      assert.equal(await c4.raw.readHex(4), 'b0024321');
      const c5 = await connect(b.port, { version: 5, clientId: 'ua-id-5' });
      c5.send(unsubscribeFrame(0x4321, ['ua/none'], true));
      assert.equal(await c5.raw.readHex(6), 'b00443210011'); // 0x11: no subscription existed
    });

    for (const version of VERSIONS) {
      test(`[MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-6] [MQTT-3.11.3-1] (3.1.1 [MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-6]) ${NAME[version]}: filters are compared character by character; several get one UNSUBACK (5.0: a code each, in order); delivery stops for the deleted one only`, async () => {
        const base = `ua/cmp${version}`;
        const c = await connect(b.port, { version, clientId: `ua-cmp-${version}` });
        c.send(
          subscribeMany(
            1,
            [
              [`${base}/b`, 0],
              [`${base}/+`, 0],
            ],
            version === 5,
          ),
        );
        await expectPacket(c.raw, PacketType.Suback);
        // Only `${base}/+` matches one of these exactly; the others differ in case, a trailing
        // level, or a wildcard standing where the subscription has a name.
        c.send(
          unsubscribeFrame(
            2,
            [`${base.toUpperCase()}/b`, `${base}/+`, `${base}/b/`, `+/cmp${version}/b`],
            version === 5,
          ),
        );
        const unsuback = await expectPacket(c.raw, PacketType.Unsuback);
        assert.equal(unsuback.packetId, 2);
        if (version === 5) assert.deepEqual(unsuback.reasonCodes, [0x11, 0x00, 0x11, 0x11]);
        await publish(`${base}/c`, 0); // matched only by the deleted subscription
        await publish(`${base}/b`, 0, 'still'); // matched by the kept one
        const p = await expectPublish(c.raw);
        assert.deepEqual([p.topic, p.payload.toString()], [`${base}/b`, 'still']);
        await quiet(c.raw);
      });

      test(`[MQTT-3.10.4-3] (3.1.1 [MQTT-3.10.4-3]) ${NAME[version]}: a QoS 2 delivery started before UNSUBSCRIBE is completed after it`, async () => {
        const topic = `ua/inflight/${version}`;
        const c = await connect(b.port, { version, clientId: `ua-inflight-${version}` });
        await c.subscribe(topic, 2);
        await publish(topic, 2, 'started');
        const p = await expectPublish(c.raw);
        c.send(unsubscribeFrame(3, [topic], version === 5));
        await expectPacket(c.raw, PacketType.Unsuback);
        c.send(ackFrame(0x50, p.packetId));
        await expectAck(c.raw, PacketType.Pubrel, p.packetId);
        c.send(ackFrame(0x70, p.packetId));
        await quiet(c.raw);
      });
    }
  });
});
