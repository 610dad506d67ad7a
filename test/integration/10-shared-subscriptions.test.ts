/**
 * 10 shared subscriptions: `$share/<group>/<filter>` and `$queue/<filter>` through a real broker
 * (MQTT 5.0 section 4.8.2; EMQX's `$queue/`), with MQTT.js 3.1.1 and 5.0 clients and raw
 * sockets where exact bytes or a client that never acknowledges are needed.
 *
 * "Exactly one member" and "not delivered" are checked without timers: every member also has a
 * plain subscription to a sentinel topic, and the publisher sends the sentinel last; messages
 * from one publisher arrive in order [MQTT-4.6.0-5], so once every member has the sentinel,
 * every copy that was going to arrive has.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import {
  closeClients,
  connectClient,
  frame,
  hex,
  Inbox,
  nextDisconnect,
  publish,
  type RawClient,
  rawClient,
  rawConnected,
  type Received,
  startBroker,
  str,
  subscribe,
  type Version,
  VERSION_NAME,
} from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import {
  type ConnackPacket,
  Decoder,
  type Packet,
  PacketType,
  type PublishPacket,
} from '../../src/protocol/index.js';

/** A connected MQTT.js client with an inbox, subscribed to `filters` at QoS `qos`. */
async function member(
  port: number,
  version: Version,
  filters: string[],
  qos: 0 | 1 | 2 = 1,
): Promise<{ client: MqttClient; inbox: Inbox }> {
  const client = await connectClient(port, version);
  const inbox = new Inbox(client);
  for (const f of filters) await subscribe(client, f, { qos });
  return { client, inbox };
}

const texts = (messages: Received[], topic: string): string[] =>
  messages.filter((m) => m.topic === topic).map((m) => m.payload.toString());

/** 3.1.1 SUBSCRIBE (packet id 1) for one filter, built by hand. */
function subscribeV4(filter: string, qos: number): Buffer {
  return frame(0x82, '0001', str(filter), Buffer.from([qos]));
}

/** 5.0 SUBSCRIBE (packet id 1, no properties) for one filter, built by hand. */
function subscribeV5(filter: string, options: number): Buffer {
  return frame(0x82, '0001', '00', str(filter), Buffer.from([options]));
}

/** Reads packets until one of `type` arrives; returns it. */
async function next(raw: RawClient, type: number): Promise<Packet> {
  for (;;) {
    const p = await raw.readPacket();
    if (p.type === type) return p;
  }
}

describe('10 shared subscriptions', () => {
  const b = brokerForSuite(); // mqtt.shared_subscription = true, strategy round_robin (defaults)

  test('5.0 CONNACK leaves out Shared Subscription Available (absent means available, 3.2.2.3.17)', async () => {
    const raw = await rawClient(b.port, 5);
    raw.sendConnect({ version: 5, clientId: 'sh-connack' });
    const connack = (await raw.readPacket()) as ConnackPacket;
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties?.sharedSubscriptionAvailable, undefined);
    raw.send(subscribeV5('$share/g/sh/connack', 0x01));
    assert.equal(await raw.readHex(6), '900400010001', 'SUBACK: granted QoS 1');
  });

  for (const version of [4, 5] as const) {
    test(`${VERSION_NAME[version]}: each message goes to exactly one member of the group, round robin`, async () => {
      const topic = `sh/one/v${version}`;
      const end = `${topic}/end`;
      const a = await member(b.port, version, [`$share/g/${topic}`, end]);
      const c = await member(b.port, version === 4 ? 5 : 4, [`$share/g/${topic}`, end]);
      const pub = await connectClient(b.port, version);
      for (let i = 0; i < 10; i++) await publish(pub, topic, `m${i}`, { qos: 1 });
      await publish(pub, end, 'end', { qos: 1 });
      const gotA = texts(await a.inbox.until(end), topic);
      const gotC = texts(await c.inbox.until(end), topic);
      assert.deepEqual(
        [...gotA, ...gotC].sort(),
        Array.from({ length: 10 }, (_, i) => `m${i}`).sort(),
        'every message once, none twice',
      );
      assert.deepEqual([gotA.length, gotC.length], [5, 5], 'round robin alternates');
    });
  }

  test('$queue/<filter> is a shared subscription too (group $queue)', async () => {
    const topic = 'sh/queue';
    const end = `${topic}/end`;
    const a = await member(b.port, 4, [`$queue/${topic}`, end]);
    const c = await member(b.port, 5, [`$queue/${topic}`, end]);
    const pub = await connectClient(b.port, 4);
    for (let i = 0; i < 4; i++) await publish(pub, topic, `q${i}`, { qos: 1 });
    await publish(pub, end, 'end', { qos: 1 });
    const gotA = texts(await a.inbox.until(end), topic);
    const gotC = texts(await c.inbox.until(end), topic);
    assert.deepEqual([...gotA, ...gotC].sort(), ['q0', 'q1', 'q2', 'q3']);
    assert.equal(gotA.length, 2);
  });

  test('two groups on one filter each get a copy; a group is keyed by name and filter', async () => {
    const topic = 'sh/groups/x';
    const end = 'sh/groups/end';
    const g1a = await member(b.port, 5, ['$share/g1/sh/groups/x', end]);
    const g1b = await member(b.port, 5, ['$share/g1/sh/groups/x', end]);
    const g2 = await member(b.port, 4, ['$share/g2/sh/groups/x', end]);
    // Same group name, other filter: another group, so it gets its own copy as well.
    const g1other = await member(b.port, 4, ['$share/g1/sh/groups/+', end]);
    const pub = await connectClient(b.port, 5);
    for (let i = 0; i < 4; i++) await publish(pub, topic, `m${i}`, { qos: 1 });
    await publish(pub, end, 'end', { qos: 1 });
    const g1 = [...texts(await g1a.inbox.until(end), topic), ...texts(await g1b.inbox.until(end), topic)];
    assert.deepEqual(g1.sort(), ['m0', 'm1', 'm2', 'm3']);
    assert.deepEqual(texts(await g2.inbox.until(end), topic), ['m0', 'm1', 'm2', 'm3']);
    assert.deepEqual(texts(await g1other.inbox.until(end), topic), ['m0', 'm1', 'm2', 'm3']);
  });

  test('a client with a non-shared and a shared subscription gets both copies [MQTT 5.0 4.8.2]', async () => {
    const topic = 'sh/both';
    const end = `${topic}/end`;
    const both = await member(b.port, 5, [topic, `$share/g/${topic}`, end]);
    const plain = await member(b.port, 4, [topic, end]);
    const pub = await connectClient(b.port, 4);
    await publish(pub, topic, 'x', { qos: 1 });
    await publish(pub, end, 'end', { qos: 1 });
    assert.deepEqual(texts(await both.inbox.until(end), topic), ['x', 'x']);
    assert.deepEqual(texts(await plain.inbox.until(end), topic), ['x']);
  });

  for (const version of [4, 5] as const) {
    test(`${VERSION_NAME[version]}: a shared subscription gets no retained messages (5.0 3.3.1.3, 4.8.2)`, async () => {
      const topic = `sh/retained/v${version}`;
      const sentinel = `${topic}/sentinel`;
      const pub = await connectClient(b.port, 5);
      await publish(pub, topic, 'retained', { qos: 1, retain: true });
      await publish(pub, sentinel, 'retained sentinel', { qos: 1, retain: true });
      const client = await connectClient(b.port, version);
      const inbox = new Inbox(client);
      await subscribe(client, `$share/g/${topic}`, { qos: 1, rh: 0 });
      // Retained messages of a later SUBSCRIBE come after those the first would have had.
      await subscribe(client, sentinel, { qos: 1 });
      const got = await inbox.until(sentinel);
      assert.deepEqual(
        got.map((m) => m.topic),
        [sentinel],
      );
      // Live messages do arrive through the share.
      await publish(pub, topic, 'live', { qos: 1, retain: true });
      const [live] = await inbox.count(1);
      assert.equal(live!.payload.toString(), 'live');
      assert.equal(live!.packet.retain, false, 'Retain As Published is 0 [MQTT-3.3.1-12]');
      await publish(pub, topic, '', { qos: 1, retain: true }); // clear the retained messages
      await publish(pub, sentinel, '', { qos: 1, retain: true });
    });
  }

  test('3.1.1: a member that disconnects before PUBACK: the message is redispatched to the other member', async () => {
    const topic = 'sh/redispatch/v4';
    const raw = await rawConnected(b.port, { version: 4, clientId: 'sh-noack-4' });
    raw.send(subscribeV4(`$share/g/${topic}`, 1));
    assert.equal(await raw.readHex(5), '9003000101');
    const pub = await connectClient(b.port, 4);
    await publish(pub, topic, 'unacked', { qos: 1 });
    const p = (await next(raw, PacketType.Publish)) as PublishPacket;
    assert.equal(p.payload.toString(), 'unacked');
    assert.equal(p.qos, 1);
    const other = await member(b.port, 4, [`$share/g/${topic}`]);
    const gone = nextDisconnect(b.aviary, 'sh-noack-4');
    await raw.destroy(); // never sent the PUBACK
    await gone;
    const [m] = await other.inbox.count(1);
    assert.equal(m!.payload.toString(), 'unacked');
    assert.equal(m!.packet.qos, 1);
  });

  test('5.0: a persistent member that disconnects gives its unacknowledged and queued messages to an online member', async () => {
    const topic = 'sh/redispatch/v5';
    // Session Expiry 60 s (0x11) and Receive Maximum 1 (0x21): one message in flight, the rest queued.
    const raw = await rawConnected(b.port, {
      version: 5,
      clientId: 'sh-noack-5',
      clean: true,
      properties: hex('11 0000003c 21 0001'),
    });
    raw.send(subscribeV5(`$share/g/${topic}`, 0x02));
    assert.equal(await raw.readHex(6), '900400010002');
    const pub = await connectClient(b.port, 5);
    await publish(pub, topic, 'q1', { qos: 1 });
    await publish(pub, topic, 'q2', { qos: 2 });
    const first = (await next(raw, PacketType.Publish)) as PublishPacket;
    assert.equal(first.payload.toString(), 'q1');
    const other = await member(b.port, 5, [`$share/g/${topic}`], 2);
    const gone = nextDisconnect(b.aviary, 'sh-noack-5');
    await raw.destroy();
    await gone;
    const got = await other.inbox.count(2);
    assert.deepEqual(
      got.map((m) => [m.payload.toString(), m.packet.qos]),
      [
        ['q1', 1],
        ['q2', 2],
      ],
    );
  });

  test('[MQTT-4.8.2-4] a QoS 2 message sent to a member stays with it and is completed when it reconnects', async () => {
    const topic = 'sh/qos2';
    const end = `${topic}/end`;
    const clientId = 'sh-qos2-keep';
    const raw = await rawConnected(b.port, { version: 5, clientId, properties: hex('11 0000003c') });
    raw.send(subscribeV5(`$share/g/${topic}`, 0x02));
    assert.equal(await raw.readHex(6), '900400010002');
    const pub = await connectClient(b.port, 5);
    await publish(pub, topic, 'exactly once', { qos: 2 });
    const sent = (await next(raw, PacketType.Publish)) as PublishPacket;
    assert.equal(sent.qos, 2);
    const other = await member(b.port, 5, [`$share/g/${topic}`, end], 2);
    const gone = nextDisconnect(b.aviary, clientId);
    await raw.destroy(); // no PUBREC
    await gone;
    await publish(pub, end, 'end', { qos: 1 });
    assert.deepEqual(texts(await other.inbox.until(end), topic), [], 'not given to another member');
    const back = await rawConnected(b.port, {
      version: 5,
      clientId,
      clean: false,
      properties: hex('11 0000003c'),
    });
    const again = (await next(back, PacketType.Publish)) as PublishPacket;
    assert.equal(again.payload.toString(), 'exactly once');
    assert.equal(again.dup, true);
    assert.equal(again.packetId, sent.packetId, 'same packet identifier [MQTT-4.4.0-1]');
  });
});

describe('10 shared subscriptions: configuration', () => {
  afterEach(closeClients);

  test('mqtt.shared_subscription = false: SUBACK 0x9E (5.0) / 0x80 (3.1.1), CONNACK Shared Subscription Available 0', async () => {
    const b = await startBroker({ mqtt: { shared_subscription: false } });
    try {
      const raw5 = await rawConnected(b.port, { version: 5, clientId: 'sh-off-5' });
      raw5.send(subscribeV5('$share/g/t', 0x01));
      assert.equal(await raw5.readHex(6), '90040001009e');
      raw5.send(frame(0x82, '0002', '00', str('$queue/t'), '01', str('plain/t'), '01'));
      assert.equal(await raw5.readHex(7), '90050002009e01');
      const raw4 = await rawConnected(b.port, { version: 4, clientId: 'sh-off-4' });
      raw4.send(subscribeV4('$share/g/t', 1));
      assert.equal(await raw4.readHex(5), '9003000180');

      // CONNACK: Shared Subscription Available (0x2A) = 0.
      const raw = await rawClient(b.port, 5);
      raw.sendConnect({ version: 5, clientId: 'sh-off-connack' });
      const connack = await raw.readFrame();
      assert.ok(connack.includes(hex('2a00')), `CONNACK ${connack.toString('hex')} has property 2a 00`);
      const decoded = new Decoder({ version: 5 }).decodeAll(connack)[0] as ConnackPacket;
      assert.equal(decoded.properties?.sharedSubscriptionAvailable, 0);
    } finally {
      await closeClients();
      await b.close();
    }
  });

  test('mqtt.shared_subscription_strategy = hash_topic: one topic, one member', async () => {
    const b = await startBroker({ mqtt: { shared_subscription_strategy: 'hash_topic' } });
    try {
      const topic = 'sh/hash';
      const end = `${topic}/end`;
      const a = await member(b.port, 5, [`$share/g/${topic}`, end]);
      const c = await member(b.port, 4, [`$share/g/${topic}`, end]);
      const pubs = [await connectClient(b.port, 5), await connectClient(b.port, 4)];
      // Each publish is routed before its PUBACK, so the sentinel of the second publisher
      // reaches every member after all six messages.
      for (let i = 0; i < 6; i++) await publish(pubs[i < 3 ? 0 : 1]!, topic, `h${i}`, { qos: 1 });
      await publish(pubs[1]!, end, 'end', { qos: 1 });
      const counts = [
        texts(await a.inbox.until(end), topic).length,
        texts(await c.inbox.until(end), topic).length,
      ];
      assert.deepEqual(counts.sort(), [0, 6], 'every message of the topic to the same member');
    } finally {
      await closeClients();
      await b.close();
    }
  });
});
