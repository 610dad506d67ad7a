/**
 * 59 zones: session limits per zone (`zones.<z>.mqtt.max_inflight`, `max_mqueue_len`,
 * `mqueue_store_qos0`; docs/security.md "Zones"). One broker, two listeners: `default` in the
 * default zone (the global limits: max_inflight 32, max_mqueue_len 1000, QoS 0 queued) and
 * `external` in a zone with max_inflight 1, max_mqueue_len 2 and QoS 0 not queued. The same
 * client actions on the two listeners give different sessions.
 *
 * Every wait is for a packet: a publisher's PUBACK means the broker has routed its message (and
 * queued or written it for each subscriber); a subscriber's PINGRESP comes after everything the
 * broker wrote to it before.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Packet, PacketType } from '../../src/protocol/index.js';
import { nextDisconnect, type RawClient, rawConnected } from '../helpers/broker.js';
import { ackFrame, publishFrame, rawSubscribe } from '../helpers/mqtt5.js';
import { brokerForSuite } from '../helpers/suite.js';

const EXTERNAL_MAX_MQUEUE_LEN = 2;
const EXTERNAL_MAX_INFLIGHT = 1;
const PUBACK = 0x40;
const PINGREQ = 'c000';

/** Publishes QoS 1 messages `payloads` on `topic` from a 3.1.1 client, waiting for each PUBACK. */
async function publishQos1(publisher: RawClient, topic: string, payloads: string[]): Promise<void> {
  let packetId = 0;
  for (const payload of payloads) {
    publisher.send(publishFrame({ topic, qos: 1, packetId: ++packetId, payload }));
    const ack = await publisher.readPacket();
    assert.equal(ack.type, PacketType.Puback);
  }
}

/** The PUBLISH payloads a client reads until its PINGRESP (everything the broker sent before it). */
async function publishesUntilPingresp(client: RawClient): Promise<Extract<Packet, { type: 3 }>[]> {
  client.send(PINGREQ);
  const out: Extract<Packet, { type: 3 }>[] = [];
  for (;;) {
    const p = await client.readPacket();
    if (p.type === PacketType.Pingresp) return out;
    assert.equal(p.type, PacketType.Publish, `a PUBLISH, not ${JSON.stringify(p)}`);
    out.push(p as Extract<Packet, { type: 3 }>);
  }
}

const text = (p: { payload: Buffer }): string => p.payload.toString();

describe('59 session limits per zone', () => {
  const b = brokerForSuite({
    listeners: { tcp: { external: { bind: '127.0.0.1:0', zone: 'external' } } },
    zones: {
      external: {
        mqtt: {
          max_mqueue_len: EXTERNAL_MAX_MQUEUE_LEN,
          max_inflight: EXTERNAL_MAX_INFLIGHT,
          mqueue_store_qos0: false,
        },
      },
    },
  });
  const external = (): number => b.aviary.addresses().find((a) => a.id === 'tcp:external')!.port;

  test('offline queue: the external zone keeps the newest max_mqueue_len messages and no QoS 0; the default zone keeps all', async () => {
    // Persistent 3.1.1 sessions (Clean Session 0), subscribed at QoS 1, then disconnected.
    const ports = { inside: b.port, outside: external() };
    for (const [name, port] of Object.entries(ports)) {
      const sub = await rawConnected(port, { version: 4, clientId: `q-${name}`, clean: false });
      await rawSubscribe(sub, 'zs/queue', 1);
      const gone = nextDisconnect(b.aviary, `q-${name}`);
      await sub.destroy();
      await gone;
    }
    const publisher = await rawConnected(b.port, { version: 4, clientId: 'q-publisher' });
    publisher.send(publishFrame({ topic: 'zs/queue', qos: 0, payload: 'q0' }));
    await publishQos1(publisher, 'zs/queue', ['m1', 'm2', 'm3', 'm4', 'm5']);

    const inside = await rawConnected(ports.inside, { version: 4, clientId: 'q-inside', clean: false });
    const got = await publishesUntilPingresp(inside);
    assert.deepEqual(got.map(text), ['q0', 'm1', 'm2', 'm3', 'm4', 'm5']);

    const outside = await rawConnected(ports.outside, { version: 4, clientId: 'q-outside', clean: false });
    // max_inflight 1: one delivery at a time; each PUBACK releases the next.
    const delivered: string[] = [];
    for (let batch = await publishesUntilPingresp(outside); batch.length > 0; ) {
      assert.equal(batch.length, EXTERNAL_MAX_INFLIGHT);
      for (const p of batch) {
        delivered.push(text(p));
        outside.send(ackFrame(PUBACK, p.packetId!));
      }
      batch = await publishesUntilPingresp(outside);
    }
    assert.deepEqual(delivered, ['m4', 'm5'], 'the oldest dropped (EMQX policy), QoS 0 not queued');
  });

  test('in-flight window: max_inflight QoS 1 deliveries unacknowledged per session, by zone', async () => {
    const inside = await rawConnected(b.port, { version: 4, clientId: 'w-inside' });
    await rawSubscribe(inside, 'zs/window', 1);
    const outside = await rawConnected(external(), { version: 4, clientId: 'w-outside' });
    await rawSubscribe(outside, 'zs/window', 1);
    const publisher = await rawConnected(b.port, { version: 4, clientId: 'w-publisher' });
    await publishQos1(publisher, 'zs/window', ['w1', 'w2', 'w3']);

    assert.deepEqual((await publishesUntilPingresp(inside)).map(text), ['w1', 'w2', 'w3']);
    const first = await publishesUntilPingresp(outside);
    assert.deepEqual(first.map(text), ['w1'], 'external: one in flight, the rest queued');
    outside.send(ackFrame(PUBACK, first[0]!.packetId!));
    const second = await publishesUntilPingresp(outside);
    assert.deepEqual(second.map(text), ['w2'], 'the PUBACK released the next one');
  });
});
