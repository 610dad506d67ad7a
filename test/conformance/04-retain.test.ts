/**
 * Conformance 04: retained messages and the RETAIN flag (MQTT 5.0 section 3.3.1.3 with the
 * Retain Handling and Retain As Published subscription options; MQTT 3.1.1 section 3.3.1.3),
 * over raw sockets; the RETAIN bit of each delivery is read from the wire.
 *
 * Test names cite the MQTT 5.0 statement first and the MQTT 3.1.1 one in brackets where its
 * number differs. One broker for the file, default settings; each test has its own topics.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PacketType, type PublishPacket } from '../../src/protocol/index.js';
import type { RawClient } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import {
  connect,
  expectPacket,
  expectPublish,
  PINGREQ,
  quiet,
  unsubscribeFrame,
  v4,
  v5,
} from '../helpers/conformance.js';
import { ackFrame, publishFrame } from '../helpers/mqtt5.js';

const NAME = { 4: '3.1.1', 5: '5.0' } as const;
const VERSIONS = [4, 5] as const;
/** 5.0 subscription options. */
const RAP = 0x08;
const rh = (n: 0 | 1 | 2): number => n << 4;

/**
 * Sends PINGREQ and returns the PUBLISHes that arrive before the PINGRESP (acknowledging them):
 * the retained messages of a SUBSCRIBE just answered are written right after its SUBACK.
 */
async function beforePong(raw: RawClient): Promise<PublishPacket[]> {
  raw.send(PINGREQ);
  const got: PublishPacket[] = [];
  for (;;) {
    const p = await raw.readPacket();
    if (p.type === PacketType.Pingresp) return got;
    assert.equal(p.type, PacketType.Publish);
    got.push(p);
    if (p.qos > 0) raw.send(ackFrame(p.qos === 1 ? 0x40 : 0x50, p.packetId));
  }
}

describe('conformance 04: retained messages', () => {
  const b = brokerForSuite();
  let seq = 0;

  /** Publishes from a fresh 3.1.1 client and waits until it is routed. */
  async function publish(topic: string, payload: string, qos: 0 | 1, retain: boolean): Promise<void> {
    const pub = await v4(b.port, `rt-pub-${++seq}`);
    pub.send(publishFrame({ topic, qos, packetId: 1, retain, payload }));
    if (qos === 1) await expectPacket(pub.raw, PacketType.Puback);
    else await quiet(pub.raw);
    pub.raw.destroy();
  }

  /** The retained messages a new subscription gets (sorted by topic), then nothing else. */
  async function retainedFor(version: 4 | 5, filter: string, options = 2): Promise<PublishPacket[]> {
    const c = await connect(b.port, { version, clientId: `rt-sub-${++seq}` });
    await c.subscribe(filter, options);
    const got = await beforePong(c.raw);
    c.raw.destroy();
    return got.sort((x, y) => x.topic.localeCompare(y.topic));
  }

  test('[MQTT-3.3.1-5] [MQTT-3.3.1-9] (3.1.1 [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8]) a retained message is stored with its QoS and sent to every new matching subscription with RETAIN 1', async () => {
    await publish('rt/store/a', 'A', 1, true);
    await publish('rt/store/b', 'B', 0, true);
    for (const version of VERSIONS) {
      const got = await retainedFor(version, 'rt/store/+');
      assert.deepEqual(
        got.map((p) => [p.topic, p.payload.toString(), p.qos, p.retain]),
        [
          ['rt/store/a', 'A', 1, true],
          ['rt/store/b', 'B', 0, true],
        ],
        NAME[version],
      );
    }
  });

  test('[MQTT-3.3.1-5] (3.1.1 [MQTT-3.3.1-7]) a retained message replaces the one before it, also at QoS 0', async () => {
    await publish('rt/replace', 'v1', 1, true);
    await publish('rt/replace', 'v2', 0, true);
    const got = await retainedFor(4, 'rt/replace');
    assert.deepEqual(
      got.map((p) => [p.payload.toString(), p.qos]),
      [['v2', 0]],
    );
  });

  for (const version of VERSIONS) {
    test(`[MQTT-3.3.1-12] [MQTT-3.3.1-13] (3.1.1 [MQTT-3.3.1-9]) ${NAME[version]}: a message for an existing subscription goes with RETAIN 0 however it was published${version === 5 ? '; with Retain As Published, as published' : ''}`, async () => {
      const topic = `rt/live/${version}`;
      const c = await connect(b.port, { version, clientId: `rt-live-${version}` });
      await c.subscribe(topic, 0);
      if (version === 5) await c.subscribe(`${topic}/rap`, RAP, 2);
      await publish(topic, 'live', 0, true);
      assert.equal((await c.raw.readFrame())[0], 0x30, 'PUBLISH QoS 0, RETAIN 0');
      if (version === 5) {
        await publish(`${topic}/rap`, 'live', 0, true);
        assert.equal((await c.raw.readFrame())[0], 0x31, 'PUBLISH QoS 0, RETAIN 1');
      }
    });
  }

  test('[MQTT-3.3.1-6] [MQTT-3.3.1-7] (3.1.1 [MQTT-3.3.1-10] [MQTT-3.3.1-11]) a retained PUBLISH with an empty payload is delivered as usual, removes the retained message, and is not stored itself', async () => {
    await publish('rt/empty', 'old', 1, true);
    const live = await v5(b.port, 'rt-empty-live');
    await live.subscribe('rt/empty', 0);
    const retained = await expectPublish(live.raw);
    assert.equal(retained.payload.toString(), 'old');
    await publish('rt/empty', '', 0, true);
    const p = await expectPublish(live.raw);
    assert.deepEqual([p.payload.length, p.retain], [0, false]);
    for (const version of VERSIONS) assert.deepEqual(await retainedFor(version, 'rt/empty'), []);
  });

  test('[MQTT-3.3.1-8] (3.1.1 [MQTT-3.3.1-12]) a PUBLISH with RETAIN 0 neither stores, replaces nor removes the retained message', async () => {
    await publish('rt/keep', 'kept', 0, true);
    await publish('rt/keep', 'not retained', 1, false);
    await publish('rt/keep', '', 0, false);
    await publish('rt/keep-none', 'not retained', 0, false);
    const kept = await retainedFor(5, 'rt/keep');
    assert.deepEqual(
      kept.map((p) => p.payload.toString()),
      ['kept'],
    );
    assert.deepEqual(await retainedFor(5, 'rt/keep-none'), []);
  });

  test('[MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] Retain Handling 0 sends retained messages at every SUBSCRIBE, 1 only when the subscription is new, 2 never', async () => {
    await publish('rt/rh', 'r', 0, true);
    const c = await v5(b.port, 'rt-rh');
    const count = async (options: number, packetId: number): Promise<number> => {
      await c.subscribe('rt/rh', options, packetId);
      const got = await beforePong(c.raw);
      assert.ok(got.every((p) => p.retain));
      return got.length;
    };
    assert.equal(await count(rh(0), 1), 1, 'RH 0, new subscription');
    assert.equal(await count(rh(0), 2), 1, 'RH 0, existing subscription');
    c.send(unsubscribeFrame(3, ['rt/rh'], true));
    await expectPacket(c.raw, PacketType.Unsuback);
    assert.equal(await count(rh(1), 4), 1, 'RH 1, new subscription');
    assert.equal(await count(rh(1), 5), 0, 'RH 1, existing subscription');
    assert.equal(await count(rh(2), 6), 0, 'RH 2');
  });

  test('(3.1.1 [MQTT-3.1.2-7]) retained messages are not session state: they outlive the session of the client that published them', async () => {
    const pub = await v4(b.port, 'rt-session');
    pub.send(publishFrame({ topic: 'rt/session', qos: 1, packetId: 1, retain: true, payload: 'stays' }));
    await expectPacket(pub.raw, PacketType.Puback);
    pub.send('e0 00'); // DISCONNECT: the clean session ends
    await pub.raw.expectClose();
    const got = await retainedFor(4, 'rt/session');
    assert.deepEqual(
      got.map((p) => p.payload.toString()),
      ['stays'],
    );
  });
});
