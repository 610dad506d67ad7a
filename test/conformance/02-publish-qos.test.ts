/**
 * Conformance 02: PUBLISH and the QoS 0/1/2 flows in both directions (MQTT 5.0 sections 3.3 to
 * 3.7, 4.3, 4.4, 4.6; MQTT 3.1.1 the same), over raw sockets with packets built byte by byte.
 *
 * The broker is the receiver when a raw client publishes, and the sender when it delivers to a
 * raw subscriber; each statement is tested on the side the broker plays. A subscriber that must
 * resume its session after a reconnect has a Session Expiry Interval (5.0) or Clean Session 0
 * (3.1.1, kept for mqtt.session_expiry_interval).
 *
 * Test names cite the MQTT 5.0 statement first and the MQTT 3.1.1 one in brackets where its
 * number differs. One broker for the file, default settings.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuthzRequest } from '../../src/broker/hooks.js';
import type { ClientInfo } from '../../src/broker/types.js';
import { Decoder, PacketType, type PublishPacket, ReasonCode } from '../../src/protocol/index.js';
import { str } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import {
  ackWithCode,
  connect,
  elapse,
  expectAck,
  expectPacket,
  expectPublish,
  quiet,
  v4,
  v5,
} from '../helpers/conformance.js';
import { ackFrame, type ConnectSpec, prop, publishFrame } from '../helpers/mqtt5.js';

const { Puback, Pubrec, Pubrel, Pubcomp } = PacketType;
const NOBODY = ReasonCode.NoMatchingSubscribers;
const SESSION_60S = prop.sessionExpiryInterval(60);

/** A CONNECT for a subscriber that keeps its session after the connection closes. */
function keeps(version: 4 | 5, clientId: string): ConnectSpec {
  return version === 5
    ? { version, clientId, clean: false, props: [SESSION_60S] }
    : { version, clientId, clean: false };
}

const NAME = { 4: '3.1.1', 5: '5.0' } as const;

describe('conformance 02: PUBLISH and the QoS flows', () => {
  const b = brokerForSuite();

  /** Publishes QoS 1 from a fresh 5.0 client and waits for the PUBACK (so it is routed). */
  async function publish1(topic: string, payload: string, extra: Buffer[] = []): Promise<void> {
    const pub = await v5(b.port, `pub-${Math.random().toString(36).slice(2, 10)}`);
    pub.send(publishFrame({ topic, qos: 1, packetId: 1, props: extra, payload }));
    const ack = await expectPacket(pub.raw, Puback);
    assert.ok(ack.reasonCode < 0x80);
    pub.raw.destroy();
  }

  describe('the broker as receiver', () => {
    test('[MQTT-3.3.4-1] [MQTT-4.3.2-4] [MQTT-4.3.3-8] [MQTT-4.3.3-11] [MQTT-2.2.1-5] [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.7.2-1] (3.1.1 [MQTT-3.3.4-1] [MQTT-4.3.2-2] [MQTT-4.3.3-2] [MQTT-2.3.1-6]) QoS 0: no answer; QoS 1: PUBACK; QoS 2: PUBREC, then PUBCOMP for the PUBREL; each with the packet id received', async () => {
      const r4 = await v4(b.port, 'rx-acks-4');
      r4.send(publishFrame({ topic: 'rx/acks', payload: 'q0' }));
      await quiet(r4.raw);
      r4.send(publishFrame({ topic: 'rx/acks', qos: 1, packetId: 0x1234, payload: 'q1' }));
      assert.equal(await r4.raw.readHex(4), '40021234');
      r4.send(publishFrame({ topic: 'rx/acks', qos: 2, packetId: 0xabcd, payload: 'q2' }));
      assert.equal(await r4.raw.readHex(4), '5002abcd');
      r4.send(ackFrame(0x62, 0xabcd));
      assert.equal(await r4.raw.readHex(4), '7002abcd');

      const r5 = await v5(b.port, 'rx-acks-5');
      r5.send(publishFrame({ topic: 'rx/acks', props: [], payload: 'q0' }));
      await quiet(r5.raw);
      r5.send(publishFrame({ topic: 'rx/acks', qos: 1, packetId: 0x1234, props: [], payload: 'q1' }));
      assert.equal(await r5.raw.readHex(5), '4003123410'); // 0x10: no matching subscribers
      r5.send(publishFrame({ topic: 'rx/acks', qos: 2, packetId: 0xabcd, props: [], payload: 'q2' }));
      assert.equal(await r5.raw.readHex(5), '5003abcd10');
      r5.send(ackFrame(0x62, 0xabcd));
      await expectAck(r5.raw, Pubcomp, 0xabcd);
    });

    for (const version of [4, 5] as const) {
      test(`[MQTT-4.3.2-5] (3.1.1 [MQTT-4.3.2-2]) ${NAME[version]}: after its PUBACK, a PUBLISH with the same packet id is a new message, DUP set or not`, async () => {
        const sub = await v5(b.port, `rx-reuse1-sub-${version}`);
        await sub.subscribe(`rx/reuse1/${version}`, 0);
        const pub = await connect(b.port, { version, clientId: `rx-reuse1-${version}` });
        const props = version === 5 ? { props: [] } : {};
        pub.send(
          publishFrame({ topic: `rx/reuse1/${version}`, qos: 1, packetId: 5, payload: 'one', ...props }),
        );
        await expectAck(pub.raw, Puback, 5);
        pub.send(
          publishFrame({
            topic: `rx/reuse1/${version}`,
            qos: 1,
            packetId: 5,
            dup: true,
            payload: 'two',
            ...props,
          }),
        );
        await expectAck(pub.raw, Puback, 5);
        assert.equal((await expectPublish(sub.raw)).payload.toString(), 'one');
        assert.equal((await expectPublish(sub.raw)).payload.toString(), 'two');
      });

      test(`[MQTT-4.3.3-10] [MQTT-4.3.3-11] [MQTT-4.3.3-12] (3.1.1 [MQTT-4.3.3-2]) ${NAME[version]}: QoS 2 received: a resend before PUBREL gets PUBREC again and is delivered once; PUBREL gets PUBCOMP; then the id starts a new message`, async () => {
        const topic = `rx/q2/${version}`;
        const sub = await v5(b.port, `rx-q2-sub-${version}`);
        await sub.subscribe(topic, 0);
        const pub = await connect(b.port, { version, clientId: `rx-q2-${version}` });
        const props = version === 5 ? { props: [] } : {};
        pub.send(publishFrame({ topic, qos: 2, packetId: 7, payload: 'a', ...props }));
        await expectAck(pub.raw, Pubrec, 7);
        pub.send(publishFrame({ topic, qos: 2, packetId: 7, dup: true, payload: 'a', ...props }));
        await expectAck(pub.raw, Pubrec, 7);
        assert.equal((await expectPublish(sub.raw)).payload.toString(), 'a');
        await quiet(sub.raw); // the resend was not routed
        pub.send(ackFrame(0x62, 7));
        await expectAck(pub.raw, Pubcomp, 7);
        pub.send(publishFrame({ topic, qos: 2, packetId: 7, payload: 'b', ...props }));
        await expectAck(pub.raw, Pubrec, 7);
        assert.equal((await expectPublish(sub.raw)).payload.toString(), 'b');
        pub.send(ackFrame(0x62, 7));
        await expectAck(pub.raw, Pubcomp, 7);
      });
    }

    test('[MQTT-4.3.3-9] after a PUBREC with a reason code of 0x80 or more, a PUBLISH with that packet id is a new message', async () => {
      let denied = 0;
      const once = (acc: 'allow' | 'deny', _client: ClientInfo, request: AuthzRequest) => {
        if (request.action !== 'publish' || request.topic !== 'rx/deny-once' || denied > 0)
          return { ok: acc };
        denied++;
        return { stop: 'deny' as const };
      };
      b.aviary.hooks.add('client.authorize', once);
      try {
        const sub = await v5(b.port, 'rx-deny-sub');
        await sub.subscribe('rx/deny-once', 0);
        const pub = await v5(b.port, 'rx-deny');
        pub.send(publishFrame({ topic: 'rx/deny-once', qos: 2, packetId: 3, props: [], payload: 'x' }));
        await expectAck(pub.raw, Pubrec, 3, ReasonCode.NotAuthorized);
        await quiet(sub.raw);
        pub.send(publishFrame({ topic: 'rx/deny-once', qos: 2, packetId: 3, props: [], payload: 'x' }));
        await expectAck(pub.raw, Pubrec, 3);
        assert.equal((await expectPublish(sub.raw)).payload.toString(), 'x');
        pub.send(ackFrame(0x62, 3));
        await expectAck(pub.raw, Pubcomp, 3);
      } finally {
        b.aviary.hooks.remove('client.authorize', once);
      }
    });

    test('[MQTT-4.3.3-13] the QoS 2 exchange goes on after the message has expired: PUBREL still gets PUBCOMP 0x00', async () => {
      const pub = await v5(b.port, 'rx-expired');
      pub.send(
        publishFrame({ topic: 'rx/expired', qos: 2, packetId: 9, props: [prop.messageExpiryInterval(1)] }),
      );
      await expectAck(pub.raw, Pubrec, 9, NOBODY);
      await elapse(1100); // the message's lifetime is over
      pub.send(ackFrame(0x62, 9));
      await expectAck(pub.raw, Pubcomp, 9);
    });
  });

  describe('the broker as sender', () => {
    test('[MQTT-4.3.1-1] [MQTT-2.2.1-2] [MQTT-3.3.1-2] [MQTT-3.3.2-3] (3.1.1 [MQTT-4.3.1-1] [MQTT-2.3.1-5] [MQTT-3.3.1-2] [MQTT-3.3.2-3]) a QoS 0 delivery: DUP 0, no packet id, the topic published', async () => {
      const sub = await v4(b.port, 'tx-q0');
      await sub.subscribe('tx/+/q0', 0);
      const pub = await v4(b.port, 'tx-q0-pub');
      // Published at QoS 1 with DUP set: the delivery at QoS 0 has neither.
      pub.send(publishFrame({ topic: 'tx/a/q0', qos: 1, packetId: 1, dup: true, payload: 'x' }));
      await expectAck(pub.raw, Puback, 1);
      const expected = Buffer.concat([Buffer.from([0x30, 2 + 7 + 1]), str('tx/a/q0'), Buffer.from('x')]);
      assert.equal((await sub.raw.readFrame()).toString('hex'), expected.toString('hex'));
    });

    for (const version of [4, 5] as const) {
      test(`[MQTT-4.3.2-1] [MQTT-4.3.2-2] [MQTT-2.2.1-4] [MQTT-3.3.1-3] (3.1.1 [MQTT-4.3.2-1] [MQTT-2.3.1-4] [MQTT-3.3.1-3]) ${NAME[version]}: QoS 1 deliveries go with DUP 0 (whatever the PUBLISH received had), QoS 1 and distinct non-zero packet ids`, async () => {
        const topic = `tx/q1ids/${version}`;
        const sub = await connect(b.port, { version, clientId: `tx-q1ids-${version}` });
        await sub.subscribe(topic, 1);
        const pub = await v4(b.port, `tx-q1ids-pub-${version}`);
        for (const packetId of [1, 2, 3]) {
          pub.send(publishFrame({ topic, qos: 1, packetId, dup: true, payload: `m${packetId}` }));
          await expectAck(pub.raw, Puback, packetId);
        }
        const ids = new Set<number>();
        for (let i = 1; i <= 3; i++) {
          const frame = await sub.raw.readFrame();
          assert.equal(frame[0], 0x32, 'PUBLISH, DUP 0, QoS 1, RETAIN 0');
          const p = decodeOne(frame, version);
          assert.equal(p.payload.toString(), `m${i}`);
          assert.ok(p.packetId > 0);
          ids.add(p.packetId);
        }
        assert.equal(ids.size, 3, 'three unacknowledged deliveries, three packet ids');
      });

      test(`[MQTT-4.3.2-3] [MQTT-4.4.0-1] [MQTT-3.3.1-1] [MQTT-4.6.0-5] (3.1.1 [MQTT-4.3.2-1] [MQTT-4.4.0-1] [MQTT-3.3.1-1] [MQTT-4.6.0-6]) ${NAME[version]}: unacknowledged QoS 1 deliveries are resent on reconnect, in order, with DUP 1 and their packet ids; an acknowledged one is not`, async () => {
        const topic = `tx/resend1/${version}`;
        const id = `tx-resend1-${version}`;
        const sub = await connect(b.port, keeps(version, id));
        await sub.subscribe(topic, 1);
        for (const m of ['m1', 'm2', 'm3']) await publish1(topic, m);
        const first = [
          await expectPublish(sub.raw),
          await expectPublish(sub.raw),
          await expectPublish(sub.raw),
        ];
        sub.send(ackFrame(0x40, first[1]!.packetId)); // m2 acknowledged
        await quiet(sub.raw);
        await sub.raw.destroy();

        const again = await connect(b.port, keeps(version, id));
        assert.equal(again.connack.sessionPresent, true);
        for (const i of [0, 2]) {
          const p = await expectPublish(again.raw);
          assert.deepEqual(
            [p.payload.toString(), p.packetId, p.dup, p.qos],
            [first[i]!.payload.toString(), first[i]!.packetId, true, 1],
          );
          again.send(ackFrame(0x40, p.packetId));
        }
        await quiet(again.raw);
      });

      test(`[MQTT-4.3.3-1] [MQTT-4.3.3-2] [MQTT-4.3.3-3] [MQTT-4.3.3-4] [MQTT-4.3.3-5] [MQTT-3.6.2-1] (3.1.1 [MQTT-4.3.3-1]) ${NAME[version]}: a QoS 2 delivery goes with DUP 0; PUBREC gets PUBREL with the same packet id; PUBCOMP ends it`, async () => {
        const topic = `tx/q2/${version}`;
        const sub = await connect(b.port, { version, clientId: `tx-q2-${version}` });
        await sub.subscribe(topic, 2);
        const pub = await v4(b.port, `tx-q2-pub-${version}`);
        pub.send(publishFrame({ topic, qos: 2, packetId: 1, payload: 'x' }));
        await expectAck(pub.raw, Pubrec, 1);
        const frame = await sub.raw.readFrame();
        assert.equal(frame[0], 0x34, 'PUBLISH, DUP 0, QoS 2, RETAIN 0');
        const p = decodeOne(frame, version);
        sub.send(ackFrame(0x50, p.packetId));
        const pubrel = await sub.raw.readFrame();
        assert.equal(pubrel[0], 0x62, 'PUBREL with flags 0010');
        assert.equal(pubrel.readUInt16BE(2), p.packetId);
        sub.send(ackFrame(0x70, p.packetId));
        await quiet(sub.raw);
        pub.send(ackFrame(0x62, 1));
        await expectAck(pub.raw, Pubcomp, 1);
      });

      test(`[MQTT-4.3.3-6] [MQTT-4.4.0-1] (3.1.1 [MQTT-4.3.3-1] [MQTT-4.4.0-1]) ${NAME[version]}: once PUBREL is sent the PUBLISH is never resent: a reconnect resends the PUBREL`, async () => {
        const topic = `tx/rel/${version}`;
        const id = `tx-rel-${version}`;
        const sub = await connect(b.port, keeps(version, id));
        await sub.subscribe(topic, 2);
        const pub = await v5(b.port, `tx-rel-pub-${version}`);
        pub.send(publishFrame({ topic, qos: 2, packetId: 1, props: [], payload: 'y' }));
        await expectAck(pub.raw, Pubrec, 1);
        const q2 = await expectPublish(sub.raw);
        sub.send(ackFrame(0x50, q2.packetId));
        await expectAck(sub.raw, Pubrel, q2.packetId);
        await sub.raw.destroy(); // no PUBCOMP

        const again = await connect(b.port, keeps(version, id));
        assert.equal(again.connack.sessionPresent, true);
        await expectAck(again.raw, Pubrel, q2.packetId); // the PUBREL, not the PUBLISH
        again.send(ackFrame(0x70, q2.packetId));
        await quiet(again.raw);
        await again.raw.destroy();
        const third = await connect(b.port, keeps(version, id));
        await quiet(third.raw); // completed: nothing left to resend
      });
    }

    test('[MQTT-4.4.0-2] [MQTT-4.3.3-4] PUBACK or PUBREC with a reason code of 0x80 or more ends the delivery: no PUBREL, no resend on reconnect', async () => {
      const id = 'tx-failed-ack';
      const sub = await connect(b.port, keeps(5, id));
      await sub.subscribe('tx/failed/#', 2);
      await publish1('tx/failed/1', 'q1');
      const q1 = await expectPublish(sub.raw);
      sub.send(ackWithCode(0x40, q1.packetId, ReasonCode.UnspecifiedError));
      const pub = await v5(b.port, 'tx-failed-pub');
      pub.send(publishFrame({ topic: 'tx/failed/2', qos: 2, packetId: 1, props: [], payload: 'q2' }));
      await expectAck(pub.raw, Pubrec, 1);
      const q2 = await expectPublish(sub.raw);
      sub.send(ackWithCode(0x50, q2.packetId, ReasonCode.UnspecifiedError));
      await quiet(sub.raw); // no PUBREL after a failed PUBREC
      await sub.raw.destroy();
      const again = await connect(b.port, keeps(5, id));
      assert.equal(again.connack.sessionPresent, true);
      await quiet(again.raw); // neither is resent
    });

    test('[MQTT-4.3.3-7] a QoS 2 message whose PUBLISH was sent is not expired: a reconnect after its Message Expiry Interval still resends it', async () => {
      const id = 'tx-noexpire';
      const sub = await connect(b.port, keeps(5, id));
      await sub.subscribe('tx/noexpire', 2);
      await publish1('tx/noexpire', 'short-lived', [prop.messageExpiryInterval(1)]);
      // Published at QoS 1 to a QoS 2 subscription: delivered at QoS 1; send a QoS 2 one too.
      const q1 = await expectPublish(sub.raw);
      sub.send(ackFrame(0x40, q1.packetId));
      const pub = await v5(b.port, 'tx-noexpire-pub');
      pub.send(
        publishFrame({
          topic: 'tx/noexpire',
          qos: 2,
          packetId: 1,
          props: [prop.messageExpiryInterval(1)],
          payload: 'q2',
        }),
      );
      await expectAck(pub.raw, Pubrec, 1);
      const sent = await expectPublish(sub.raw);
      assert.equal(sent.qos, 2);
      await sub.raw.destroy(); // no PUBREC
      await elapse(2100); // the interval (1 s) has passed, counted in whole seconds
      const again = await connect(b.port, keeps(5, id));
      const resent = await expectPublish(again.raw);
      assert.deepEqual([resent.packetId, resent.dup, resent.payload.toString()], [sent.packetId, true, 'q2']);
      again.send(ackFrame(0x50, resent.packetId));
      await expectAck(again.raw, Pubrel, resent.packetId);
      again.send(ackFrame(0x70, resent.packetId));
      await quiet(again.raw);
    });
  });

  describe('order', () => {
    for (const version of [4, 5] as const) {
      test(`[MQTT-4.6.0-5] [MQTT-4.6.0-6] (3.1.1 [MQTT-4.6.0-5] [MQTT-4.6.0-6]) ${NAME[version]}: messages one client publishes to a topic reach each subscriber in the order sent, per QoS`, async () => {
        const topic = `ord/${version}`;
        const subs = [
          await connect(b.port, { version, clientId: `ord-a-${version}` }),
          await connect(b.port, { version, clientId: `ord-b-${version}` }),
        ];
        await subs[0]!.subscribe(topic, 1);
        await subs[1]!.subscribe(topic, 2);
        const pub = await connect(b.port, { version, clientId: `ord-pub-${version}` });
        const props = version === 5 ? { props: [] } : {};
        const N = 30;
        const frames: Buffer[] = [];
        for (let i = 0; i < N; i++) {
          const qos = (i % 3) as 0 | 1 | 2;
          frames.push(publishFrame({ topic, qos, packetId: i + 1, payload: `${qos}:${i}`, ...props }));
        }
        pub.send(Buffer.concat(frames)); // one write: the broker reads them in one go
        for (const sub of subs) {
          const byQos: Record<string, number[]> = { 0: [], 1: [], 2: [] };
          let received = 0;
          while (received < N) {
            const p = await sub.raw.readPacket();
            if (p.type === Pubrel) {
              sub.send(ackFrame(0x70, p.packetId));
              continue;
            }
            assert.equal(p.type, PacketType.Publish);
            const [qos, n] = p.payload.toString().split(':');
            byQos[qos!]!.push(Number(n));
            received++;
            if (p.qos === 1) sub.send(ackFrame(0x40, p.packetId));
            if (p.qos === 2) sub.send(ackFrame(0x50, p.packetId));
          }
          for (const list of Object.values(byQos)) {
            assert.deepEqual(
              list,
              [...list].sort((x, y) => x - y),
            );
          }
        }
      });
    }
  });
});

/** Decodes one frame with a fresh decoder for `version`. */
function decodeOne(frame: Buffer, version: 4 | 5): PublishPacket {
  const p = new Decoder({ version }).decodeAll(frame)[0]!;
  assert.equal(p.type, PacketType.Publish);
  return p as PublishPacket;
}
