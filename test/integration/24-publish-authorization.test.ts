/**
 * 24 authorization of PUBLISH through the `client.authorize` fold hook (action 'publish').
 *
 * A denied publish is not routed. QoS 0 is dropped silently; QoS 1 gets PUBACK 0x87 and QoS 2
 * PUBREC 0x87 in 5.0 (with a Reason String unless the client asked for none), a plain PUBACK /
 * PUBREC in 3.1.1 (the message is dropped all the same, as Mosquitto and EMQX with deny_action =
 * ignore do). A callback may answer asynchronously: the packets behind keep their order.
 */

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { AuthzRequest, HookCallback } from '../../src/broker/hooks.js';
import type { ClientInfo } from '../../src/broker/types.js';
import { type Packet, PacketType, type PublishPacket, ReasonCode } from '../../src/protocol/index.js';
import { closeClients, type RawClient, type StartedBroker, startBroker } from '../helpers/broker.js';
import { ackFrame, prop, publishFrame, rawOk, rawSubscribe } from '../helpers/mqtt5.js';

async function nextPublish(raw: RawClient): Promise<PublishPacket> {
  const p = await raw.readPacket();
  assert.equal(p.type, PacketType.Publish, `a PUBLISH, not ${JSON.stringify(p)}`);
  return p as PublishPacket;
}

/** Reads `n` packets and returns their [type, packetId, reasonCode]. */
async function acks(raw: RawClient, n: number): Promise<Array<[number, number, number]>> {
  const out: Array<[number, number, number]> = [];
  for (let i = 0; i < n; i++) {
    const p = (await raw.readPacket()) as Packet & { packetId: number; reasonCode: number };
    out.push([p.type, p.packetId, p.reasonCode]);
  }
  return out;
}

describe('24 publish authorization', () => {
  let b: StartedBroker;
  let delay = false;
  const seen: Array<[string, AuthzRequest]> = [];

  /** Denies topics under `deny/`; answers after a macrotask when `delay` is set. */
  const authorize: HookCallback<'client.authorize'> = (_acc, client: ClientInfo, request) => {
    seen.push([client.clientId, request]);
    const answer = request.topic.startsWith('deny/') ? { stop: 'deny' as const } : undefined;
    if (!delay) return answer;
    return new Promise((resolve) => setTimeout(() => resolve(answer), 5));
  };

  before(async () => {
    b = await startBroker();
    b.aviary.hooks.add('client.authorize', authorize);
  });

  afterEach(async () => {
    delay = false;
    seen.length = 0;
    await closeClients();
  });

  after(async () => {
    await closeClients();
    await b.close();
  });

  async function subscriber(id: string): Promise<RawClient> {
    const raw = await rawOk(b.port, { version: 4, clientId: id });
    await rawSubscribe(raw, '+/#', 2);
    return raw;
  }

  test('the hook gets the client and { action, topic, qos, retain }, the topic resolved from a Topic Alias', async () => {
    const pub = await rawOk(b.port, { clientId: 'az-args' });
    pub.send(
      publishFrame({ topic: 'allow/x', qos: 1, packetId: 1, retain: true, props: [prop.topicAlias(2)] }),
    );
    pub.send(publishFrame({ topic: '', qos: 2, packetId: 2, props: [prop.topicAlias(2)] }));
    await acks(pub, 2);
    assert.deepEqual(seen, [
      ['az-args', { action: 'publish', topic: 'allow/x', qos: 1, retain: true }],
      ['az-args', { action: 'publish', topic: 'allow/x', qos: 2, retain: false }],
    ]);
    // Clean up the retained message.
    pub.send(publishFrame({ topic: 'allow/x', retain: true, props: [] }));
  });

  test('5.0: QoS 0 denied is dropped, QoS 1 gets PUBACK 0x87, QoS 2 PUBREC 0x87, each with a Reason String', async () => {
    const sub = await subscriber('az-sub5');
    const pub = await rawOk(b.port, { clientId: 'az-pub5' });
    pub.send(publishFrame({ topic: 'deny/a', props: [], payload: '0' }));
    pub.send(publishFrame({ topic: 'deny/a', qos: 1, packetId: 1, props: [], payload: '1' }));
    pub.send(publishFrame({ topic: 'deny/a', qos: 2, packetId: 2, props: [], payload: '2' }));
    pub.send(publishFrame({ topic: 'allow/a', qos: 1, packetId: 3, props: [], payload: 'ok' }));
    const puback = await pub.readPacket();
    assert.deepEqual(puback, {
      type: PacketType.Puback,
      packetId: 1,
      reasonCode: ReasonCode.NotAuthorized,
      properties: { reasonString: 'not authorized to publish to deny/a' },
    });
    const pubrec = await pub.readPacket();
    assert.deepEqual(pubrec, {
      type: PacketType.Pubrec,
      packetId: 2,
      reasonCode: ReasonCode.NotAuthorized,
      properties: { reasonString: 'not authorized to publish to deny/a' },
    });
    assert.deepEqual(await acks(pub, 1), [[PacketType.Puback, 3, 0]]);
    // Only the allowed message reached the subscriber.
    const m = await nextPublish(sub);
    assert.deepEqual([m.topic, m.payload.toString()], ['allow/a', 'ok']);
    // A PUBREC >= 0x80 ends the QoS 2 flow: no PUBREL is expected and the id is free again.
    pub.send(publishFrame({ topic: 'allow/a', qos: 2, packetId: 2, props: [], payload: 'again' }));
    assert.deepEqual(await acks(pub, 1), [[PacketType.Pubrec, 2, 0]]);
  });

  test('5.0 with Request Problem Information 0: PUBACK 0x87 without a Reason String [MQTT-3.1.2-29]', async () => {
    const pub = await rawOk(b.port, { clientId: 'az-rpi0', props: [prop.requestProblemInformation(0)] });
    pub.send(publishFrame({ topic: 'deny/a', qos: 1, packetId: 1, props: [] }));
    // 40 | 03 | 00 01 | 87: no property length, no Reason String
    assert.equal((await pub.readFrame()).toString('hex'), '4003000187');
  });

  test('3.1.1: a denied QoS 1 gets a plain PUBACK, QoS 2 a plain PUBREC, and neither is routed', async () => {
    const sub = await subscriber('az-sub4');
    const pub = await rawOk(b.port, { version: 4, clientId: 'az-pub4' });
    pub.send(publishFrame({ topic: 'deny/b', qos: 1, packetId: 1, payload: '1' }));
    pub.send(publishFrame({ topic: 'deny/b', qos: 2, packetId: 2, payload: '2' }));
    assert.equal((await pub.readFrame()).toString('hex'), '40020001');
    assert.equal((await pub.readFrame()).toString('hex'), '50020002');
    pub.send(ackFrame(0x62, 2)); // PUBREL: completed as usual
    assert.equal((await pub.readFrame()).toString('hex'), '70020002');
    pub.send(publishFrame({ topic: 'allow/b', payload: 'sentinel' }));
    const m = await nextPublish(sub);
    assert.deepEqual([m.topic, m.payload.toString()], ['allow/b', 'sentinel']);
  });

  test('an asynchronous callback keeps the order of the PUBLISHes and of their acknowledgements', async () => {
    delay = true;
    const sub = await subscriber('az-sub-async');
    const pub = await rawOk(b.port, { clientId: 'az-pub-async' });
    const plan: Array<[string, 0 | 1 | 2]> = [
      ['allow/o', 1],
      ['deny/o', 1],
      ['allow/o', 0],
      ['deny/o', 2],
      ['allow/o', 2],
      ['allow/o', 1],
    ];
    plan.forEach(([topic, qos], i) => {
      pub.send(publishFrame({ topic, qos, packetId: i + 1, props: [], payload: String(i + 1) }));
    });
    pub.send('c0 00'); // PINGREQ after them: answered after them
    const answers = await acks(pub, 5);
    assert.deepEqual(answers, [
      [PacketType.Puback, 1, 0],
      [PacketType.Puback, 2, ReasonCode.NotAuthorized],
      [PacketType.Pubrec, 4, ReasonCode.NotAuthorized],
      [PacketType.Pubrec, 5, 0],
      [PacketType.Puback, 6, 0],
    ]);
    assert.equal((await pub.readPacket()).type, PacketType.Pingresp);
    const got = [
      await nextPublish(sub),
      await nextPublish(sub),
      await nextPublish(sub),
      await nextPublish(sub),
    ];
    assert.deepEqual(
      got.map((m) => m.payload.toString()),
      ['1', '3', '5', '6'],
    );
  });

  test('a callback that throws or rejects denies (authorization fails closed); the connection stays', async () => {
    const failing = await startBroker();
    const reported: unknown[] = [];
    try {
      // Reported through the hook error handler (here, to the test).
      failing.aviary.broker.options.onHookError = (_hook, error) => reported.push(error);
      failing.aviary.hooks.add('client.authorize', (_acc, _c, req) => {
        if (req.topic === 'sync/t') throw new Error('acl down');
        return Promise.reject(new Error('acl down too'));
      });
      const pub = await rawOk(failing.port, { clientId: 'az-fail' });
      pub.send(publishFrame({ topic: 'sync/t', qos: 1, packetId: 1, props: [] }));
      pub.send(publishFrame({ topic: 'async/t', qos: 1, packetId: 2, props: [] }));
      assert.deepEqual(await acks(pub, 2), [
        [PacketType.Puback, 1, ReasonCode.NotAuthorized],
        [PacketType.Puback, 2, ReasonCode.NotAuthorized],
      ]);
      assert.equal(reported.length, 2);
      assert.equal(pub.isClosed, false);
    } finally {
      await closeClients();
      await failing.close();
    }
  });

  test('without a client.authorize callback nothing is asked and everything is routed', async () => {
    const open = await startBroker();
    try {
      const pub = await rawOk(open.port, { clientId: 'az-none' });
      pub.send(publishFrame({ topic: 'deny/c', qos: 1, packetId: 1, props: [] }));
      assert.deepEqual(await acks(pub, 1), [[PacketType.Puback, 1, ReasonCode.NoMatchingSubscribers]]);
      assert.deepEqual(seen, []);
    } finally {
      await closeClients();
      await open.close();
    }
  });
});
