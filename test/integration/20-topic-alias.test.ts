/**
 * 20 topic aliases (MQTT 5.0, section 3.3.2.3.4), both directions, over raw sockets: what the
 * broker advertises (Topic Alias Maximum = mqtt.max_topic_alias), how it reads the aliases a
 * client sets, the errors (0x94 for 0 or above the maximum, 0x82 for an alias never set), that
 * aliases live and die with their network connection, and the aliases the broker uses towards
 * a client that accepts them, with the cached shared frames of other clients left intact.
 */

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  closeClients,
  connectClient,
  Inbox,
  type RawClient,
  type StartedBroker,
  startBroker,
  subscribe,
} from '../helpers/broker.js';
import { ackFrame, prop, publishFrame, rawOk, rawOpen, rawSubscribe } from '../helpers/mqtt5.js';
import { type Packet, PacketType, type PublishPacket, ReasonCode } from '../../src/protocol/index.js';

async function nextPublish(raw: RawClient): Promise<PublishPacket> {
  const p = await raw.readPacket();
  assert.equal(p.type, PacketType.Publish, `a PUBLISH, not ${JSON.stringify(p)}`);
  return p as PublishPacket;
}

async function disconnectOf(raw: RawClient): Promise<Packet & { type: typeof PacketType.Disconnect }> {
  const p = await raw.readPacket();
  assert.equal(p.type, PacketType.Disconnect, `a DISCONNECT, not ${JSON.stringify(p)}`);
  await raw.expectClose();
  return p as Packet & { type: typeof PacketType.Disconnect };
}

describe('20 topic aliases', () => {
  let b: StartedBroker;
  let small: StartedBroker;

  before(async () => {
    b = await startBroker();
    small = await startBroker({ mqtt: { max_topic_alias: 10 } });
  });

  afterEach(closeClients);

  after(async () => {
    await closeClients();
    await b.close();
    await small.close();
  });

  describe('what the broker advertises', () => {
    test('CONNACK carries Topic Alias Maximum 65535 by default [MQTT-3.2.2-17]', async () => {
      const { connack } = await rawOpen(b.port, { clientId: 'ta-adv' });
      assert.equal(connack.properties?.topicAliasMaximum, 65_535);
    });

    test('mqtt.max_topic_alias = 10 is advertised as 10', async () => {
      const { connack } = await rawOpen(small.port, { clientId: 'ta-adv10' });
      assert.equal(connack.properties?.topicAliasMaximum, 10);
    });

    test('mqtt.max_topic_alias = 0: no Topic Alias Maximum, and an alias gets DISCONNECT 0x94 [MQTT-3.2.2-18]', async () => {
      const none = await startBroker({ mqtt: { max_topic_alias: 0 } });
      try {
        const { raw, connack } = await rawOpen(none.port, { clientId: 'ta-none' });
        assert.equal(connack.properties?.topicAliasMaximum, undefined);
        raw.send(publishFrame({ topic: 't', props: [prop.topicAlias(1)], payload: 'x' }));
        assert.equal((await disconnectOf(raw)).reasonCode, ReasonCode.TopicAliasInvalid);
      } finally {
        await closeClients();
        await none.close();
      }
    });
  });

  describe('aliases from the client', () => {
    test('an alias with a topic sets it; the alias alone then stands for the topic [MQTT-3.3.2-12]', async () => {
      const sub = await rawOk(b.port, { clientId: 'ta-in-sub' });
      await rawSubscribe(sub, 'in/#');
      const pub = await rawOk(b.port, { clientId: 'ta-in-pub' });
      pub.send(publishFrame({ topic: 'in/first', props: [prop.topicAlias(1)], payload: 'a' }));
      pub.send(publishFrame({ topic: '', props: [prop.topicAlias(1)], payload: 'b' }));
      // QoS 1 with the alias alone: acknowledged like any PUBLISH.
      pub.send(publishFrame({ topic: '', qos: 1, packetId: 5, props: [prop.topicAlias(1)], payload: 'c' }));
      const got = [await nextPublish(sub), await nextPublish(sub), await nextPublish(sub)];
      assert.deepEqual(
        got.map((p) => [p.topic, p.payload.toString()]),
        [
          ['in/first', 'a'],
          ['in/first', 'b'],
          ['in/first', 'c'],
        ],
      );
      // The alias is the publisher's business: subscribers get the topic, no alias [MQTT-3.3.2-7].
      assert.ok(got.every((p) => p.properties === null));
      const puback = await pub.readPacket();
      assert.equal(puback.type, PacketType.Puback);
    });

    test('an alias with another topic changes its mapping (section 3.3.2.3.4)', async () => {
      const sub = await rawOk(b.port, { clientId: 'ta-re-sub' });
      await rawSubscribe(sub, 're/#');
      const pub = await rawOk(b.port, { clientId: 'ta-re-pub' });
      pub.send(publishFrame({ topic: 're/one', props: [prop.topicAlias(7)], payload: '1' }));
      pub.send(publishFrame({ topic: 're/two', props: [prop.topicAlias(7)], payload: '2' }));
      pub.send(publishFrame({ topic: '', props: [prop.topicAlias(7)], payload: '3' }));
      const got = [await nextPublish(sub), await nextPublish(sub), await nextPublish(sub)];
      assert.deepEqual(
        got.map((p) => p.topic),
        ['re/one', 're/two', 're/two'],
      );
    });

    test('the highest alias the broker advertised is accepted [MQTT-3.3.2-12]', async () => {
      const sub = await rawOk(small.port, { clientId: 'ta-max-sub' });
      await rawSubscribe(sub, 'max/t');
      const pub = await rawOk(small.port, { clientId: 'ta-max-pub' });
      pub.send(publishFrame({ topic: 'max/t', props: [prop.topicAlias(10)], payload: '1' }));
      pub.send(publishFrame({ topic: '', props: [prop.topicAlias(10)], payload: '2' }));
      assert.equal((await nextPublish(sub)).payload.toString(), '1');
      assert.equal((await nextPublish(sub)).payload.toString(), '2');
    });

    test('an alias above Topic Alias Maximum gets DISCONNECT 0x94 with a Reason String [MQTT-3.3.2-9]', async () => {
      const pub = await rawOk(small.port, { clientId: 'ta-over' });
      pub.send(publishFrame({ topic: 'max/t', props: [prop.topicAlias(11)], payload: 'x' }));
      const disconnect = await disconnectOf(pub);
      assert.equal(disconnect.reasonCode, ReasonCode.TopicAliasInvalid);
      assert.match(
        disconnect.properties?.reasonString ?? '',
        /Topic Alias 11 is above the Topic Alias Maximum 10/,
      );
    });

    test('Topic Alias 0 gets DISCONNECT 0x94 [MQTT-3.3.2-8]', async () => {
      const pub = await rawOk(b.port, { clientId: 'ta-zero' });
      pub.send(publishFrame({ topic: 'zero/t', props: [prop.topicAlias(0)], payload: 'x' }));
      assert.equal((await disconnectOf(pub)).reasonCode, ReasonCode.TopicAliasInvalid);
    });

    test('an alias alone that was never set gets DISCONNECT 0x82 (section 3.3.4)', async () => {
      const pub = await rawOk(b.port, { clientId: 'ta-unset' });
      pub.send(publishFrame({ topic: '', props: [prop.topicAlias(3)], payload: 'x' }));
      const disconnect = await disconnectOf(pub);
      assert.equal(disconnect.reasonCode, ReasonCode.ProtocolError);
      assert.match(disconnect.properties?.reasonString ?? '', /Topic Alias 3 was not set on this connection/);
    });

    test('aliases are per connection: another connection, or the same client reconnected, has none [MQTT-3.3.2-7]', async () => {
      const first = await rawOk(b.port, {
        clientId: 'ta-conn',
        clean: false,
        props: [prop.sessionExpiryInterval(60)],
      });
      first.send(publishFrame({ topic: 'conn/t', props: [prop.topicAlias(1)], payload: 'x' }));
      const other = await rawOk(b.port, { clientId: 'ta-conn-other' });
      other.send(publishFrame({ topic: '', props: [prop.topicAlias(1)], payload: 'x' }));
      assert.equal((await disconnectOf(other)).reasonCode, ReasonCode.ProtocolError);
      // The same client id and session, a new network connection (taking the session over).
      const again = await rawOk(b.port, { clientId: 'ta-conn', clean: false });
      again.send(publishFrame({ topic: '', props: [prop.topicAlias(1)], payload: 'x' }));
      assert.equal((await disconnectOf(again)).reasonCode, ReasonCode.ProtocolError);
    });
  });

  describe('aliases towards the client', () => {
    test('a client with Topic Alias Maximum 2: first use sets an alias, then the alias alone; past the maximum, full topics [MQTT-3.3.2-11] [MQTT-3.1.2-26]', async () => {
      const sub = await rawOk(b.port, { clientId: 'ta-out', props: [prop.topicAliasMaximum(2)] });
      await rawSubscribe(sub, 'out/#');
      const pub = await rawOk(b.port, { clientId: 'ta-out-pub' });
      for (const t of ['out/a', 'out/a', 'out/b', 'out/b', 'out/c', 'out/c', 'out/a']) {
        pub.send(publishFrame({ topic: t, props: [], payload: t }));
      }
      const got: Array<[string, number | undefined, string]> = [];
      for (let i = 0; i < 7; i++) {
        const p = await nextPublish(sub);
        got.push([p.topic, p.properties?.topicAlias, p.payload.toString()]);
      }
      assert.deepEqual(got, [
        ['out/a', 1, 'out/a'],
        ['', 1, 'out/a'],
        ['out/b', 2, 'out/b'],
        ['', 2, 'out/b'],
        ['out/c', undefined, 'out/c'],
        ['out/c', undefined, 'out/c'],
        ['', 1, 'out/a'],
      ]);
    });

    test('the alias-only PUBLISH on the wire: empty topic, property 0x23 [MQTT-3.3.2-11]', async () => {
      const sub = await rawOk(b.port, { clientId: 'ta-bytes', props: [prop.topicAliasMaximum(1)] });
      await rawSubscribe(sub, 'bytes/t');
      const pub = await rawOk(b.port, { clientId: 'ta-bytes-pub' });
      pub.send(publishFrame({ topic: 'bytes/t', props: [], payload: 'p' }));
      pub.send(publishFrame({ topic: 'bytes/t', props: [], payload: 'q' }));
      // 30 | len 0c | topic "bytes/t" | props 03: 23 00 01 | "p"
      assert.equal(
        (await sub.readFrame()).toString('hex'),
        `300e0007${Buffer.from('bytes/t').toString('hex')}0323000170`,
      );
      // 30 | len 07 | topic "" | props 03: 23 00 01 | "q"
      assert.equal((await sub.readFrame()).toString('hex'), '30070000032300017' + '1');
    });

    test('a client without Topic Alias Maximum never gets an alias, beside one that has aliases [MQTT-3.1.2-27]', async () => {
      const plain = await rawOk(b.port, { clientId: 'ta-plain' });
      await rawSubscribe(plain, 'mix/t', 1);
      const aliased = await rawOk(b.port, { clientId: 'ta-aliased', props: [prop.topicAliasMaximum(5)] });
      await rawSubscribe(aliased, 'mix/t', 1);
      const v4 = await rawOk(b.port, { version: 4, clientId: 'ta-v4' });
      await rawSubscribe(v4, 'mix/t', 1);
      const pub = await rawOk(b.port, { clientId: 'ta-mix-pub' });
      for (const payload of ['1', '2', '3']) {
        pub.send(publishFrame({ topic: 'mix/t', qos: 1, packetId: Number(payload), props: [], payload }));
      }
      for (let i = 1; i <= 3; i++) {
        const p = await nextPublish(plain);
        assert.deepEqual([p.topic, p.properties, p.payload.toString()], ['mix/t', null, String(i)]);
        const q = await nextPublish(v4);
        assert.deepEqual([q.topic, q.payload.toString()], ['mix/t', String(i)]);
        const a = await nextPublish(aliased);
        assert.deepEqual(
          [a.topic, a.properties?.topicAlias, a.payload.toString()],
          [i === 1 ? 'mix/t' : '', 1, String(i)],
        );
        for (const [raw, id] of [
          [plain, p.packetId],
          [v4, q.packetId],
          [aliased, a.packetId],
        ] as const) {
          raw.send(ackFrame(0x40, id));
        }
      }
    });

    test('aliases towards the client start afresh on a new connection: the resent message carries its topic [MQTT-3.3.2-7]', async () => {
      const id = 'ta-resend';
      const first = await rawOk(b.port, {
        clientId: id,
        clean: false,
        props: [prop.topicAliasMaximum(4), prop.sessionExpiryInterval(60)],
      });
      await rawSubscribe(first, 'resend/t', 1);
      const pub = await rawOk(b.port, { clientId: 'ta-resend-pub' });
      pub.send(publishFrame({ topic: 'resend/t', props: [], payload: 'one' }));
      pub.send(publishFrame({ topic: 'resend/t', qos: 1, packetId: 2, props: [], payload: 'two' }));
      assert.equal((await nextPublish(first)).topic, 'resend/t');
      const two = await nextPublish(first);
      assert.deepEqual([two.topic, two.properties?.topicAlias, two.qos], ['', 1, 1]);
      // Not acknowledged; the client comes back on a new connection.
      const again = await rawOk(b.port, { clientId: id, clean: false, props: [prop.topicAliasMaximum(4)] });
      const resent = await nextPublish(again);
      assert.deepEqual(
        [resent.topic, resent.properties?.topicAlias, resent.dup, resent.packetId, resent.payload.toString()],
        ['resend/t', 1, true, two.packetId, 'two'],
      );
    });

    test('MQTT.js with topicAliasMaximum resolves the aliases the broker sends', async () => {
      const client = await connectClient(b.port, 5, { properties: { topicAliasMaximum: 3 } });
      const inbox = new Inbox(client);
      await subscribe(client, 'js/#', { qos: 1 });
      const pub = await rawOk(b.port, { clientId: 'ta-js-pub' });
      const topics = ['js/a', 'js/b', 'js/a', 'js/c', 'js/d', 'js/d', 'js/b'];
      for (const t of topics) pub.send(publishFrame({ topic: t, props: [], payload: t }));
      const got = await inbox.count(topics.length);
      assert.deepEqual(
        got.map((m) => [m.topic, m.payload.toString()]),
        topics.map((t) => [t, t]),
      );
    });
  });
});
