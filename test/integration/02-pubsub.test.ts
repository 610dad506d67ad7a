/**
 * 02 pubsub: publish/subscribe through a real broker with MQTT.js clients of every version and
 * raw sockets where exact bytes matter: QoS 0/1/2, cross-version delivery, wildcards, retained
 * messages, 5.0 subscription options and properties, fan-out, persistent sessions, unsubscribe.
 *
 * "Not delivered" is checked without timers: the publisher sends the message that must not
 * arrive, then a sentinel on another topic the subscriber has; messages from one publisher
 * arrive in order [MQTT-4.6.0-5], so when the sentinel arrives anything before it would have.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import {
  connectClient,
  connected,
  frame,
  Inbox,
  nextDisconnect,
  openClient,
  publish,
  rawConnected,
  str,
  subscribe,
  type Version,
  VERSION_NAME,
  VERSIONS,
  WAIT_MS,
  within,
} from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import { type Packet, PacketType } from '../../src/protocol/index.js';

/** A payload with every byte value, so any re-encoding or text conversion shows. */
const BINARY = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe('02 pubsub', () => {
  // Every test closes its clients, so no subscription of one test receives another's messages.
  const b = brokerForSuite();

  /** A connected subscriber with an inbox, subscribed to `filters`. */
  async function subscriber(
    version: Version,
    filters: string | string[],
    options: Parameters<typeof subscribe>[2] = { qos: 0 },
    clientOptions: Parameters<typeof connectClient>[2] = {},
  ): Promise<{ client: MqttClient; inbox: Inbox }> {
    const client = await connectClient(b.port, version, clientOptions);
    const inbox = new Inbox(client);
    await subscribe(client, filters, options);
    return { client, inbox };
  }

  describe('round trip for each version', () => {
    for (const version of VERSIONS) {
      const name = VERSION_NAME[version];
      for (const [pubQos, subQos] of [
        [0, 0],
        [0, 1],
        [1, 1],
        [1, 0],
      ] as const) {
        const want = Math.min(pubQos, subQos);
        test(`${name}: publish QoS ${pubQos} to a QoS ${subQos} subscription arrives at QoS ${want} [MQTT-3.8.4-8]`, async () => {
          const topic = `rt/v${version}/p${pubQos}s${subQos}`;
          const { inbox } = await subscriber(version, topic, { qos: subQos });
          const pub = await connectClient(b.port, version);
          await publish(pub, topic, BINARY, { qos: pubQos });
          const [m] = await inbox.count(1);
          assert.equal(m!.topic, topic);
          assert.deepEqual(m!.payload, BINARY);
          assert.equal(m!.packet.qos, want);
          assert.equal(m!.packet.retain, false);
        });
      }

      test(`${name}: QoS 2 round trip delivers exactly once [MQTT-4.3.3-1]`, async () => {
        const topic = `rt/v${version}/qos2`;
        const { inbox } = await subscriber(version, [topic, `${topic}/end`], { qos: 2 });
        const pub = await connectClient(b.port, version);
        await publish(pub, topic, 'once', { qos: 2 });
        await publish(pub, `${topic}/end`, 'end', { qos: 2 });
        const got = await inbox.until(`${topic}/end`);
        assert.deepEqual(
          got.map((m) => [m.topic, m.payload.toString(), m.packet.qos]),
          [
            [topic, 'once', 2],
            [`${topic}/end`, 'end', 2],
          ],
        );
      });
    }
  });

  describe('across versions', () => {
    for (const [from, to] of [
      [3, 5],
      [5, 3],
      [4, 5],
      [5, 4],
      [3, 4],
    ] as const) {
      test(`${VERSION_NAME[from]} publisher -> ${VERSION_NAME[to]} subscriber, QoS 1`, async () => {
        const topic = `x/${from}to${to}`;
        const { inbox } = await subscriber(to, topic, { qos: 1 });
        const pub = await connectClient(b.port, from);
        await publish(pub, topic, BINARY, { qos: 1 });
        const [m] = await inbox.count(1);
        assert.equal(m!.topic, topic);
        assert.deepEqual(m!.payload, BINARY);
        assert.equal(m!.packet.qos, 1);
      });
    }
  });

  describe('wildcards', () => {
    test("'+' matches exactly one level [MQTT-4.7.1-3]", async () => {
      const { inbox } = await subscriber(4, ['wc/+/c', 'wc/end']);
      const pub = await connectClient(b.port, 4);
      for (const t of ['wc/b/c', 'wc/b/d', 'wc/b/b/c', 'wc/c', 'wc//c', 'wc/x/c']) await publish(pub, t, t);
      await publish(pub, 'wc/end', '');
      const got = await inbox.until('wc/end');
      assert.deepEqual(
        got.map((m) => m.topic),
        ['wc/b/c', 'wc//c', 'wc/x/c', 'wc/end'],
      );
    });

    test("'#' matches the parent level and every level below it [MQTT-4.7.1-2]", async () => {
      const { inbox } = await subscriber(5, ['hash/a/#', 'hash/end']);
      const pub = await connectClient(b.port, 5);
      for (const t of ['hash/a', 'hash/a/b', 'hash/a/b/c', 'hash/b', 'hash/ab', 'hash/a/'])
        await publish(pub, t, t);
      await publish(pub, 'hash/end', '');
      const got = await inbox.until('hash/end');
      assert.deepEqual(
        got.map((m) => m.topic),
        ['hash/a', 'hash/a/b', 'hash/a/b/c', 'hash/a/', 'hash/end'],
      );
    });

    test("'#' and '+/x' do not match topics beginning with '$' [MQTT-4.7.2-1]", async () => {
      const { inbox: all } = await subscriber(4, ['#']);
      const { inbox: plus } = await subscriber(4, ['+/x', 'sentinel/x']);
      const { inbox: dollar } = await subscriber(4, ['$test/#']);
      const pub = await connectClient(b.port, 4);
      await publish(pub, '$SYS/x', 'sys');
      await publish(pub, '$test/x', 'dollar');
      await publish(pub, 'sentinel/x', 'end');
      const allGot = await all.until('sentinel/x');
      assert.deepEqual(
        allGot.map((m) => m.topic),
        ['sentinel/x'],
      );
      const plusGot = await plus.until('sentinel/x');
      assert.deepEqual(
        plusGot.map((m) => m.topic),
        ['sentinel/x'],
      );
      // The '$' topic was routed: a filter that names it explicitly receives it.
      const [m] = await dollar.count(1);
      assert.equal(m!.topic, '$test/x');
    });
  });

  describe('QoS 2 with a raw client', () => {
    test('a resent PUBLISH (DUP) with the same packet id is acknowledged again but routed once [MQTT-4.3.3-10]', async () => {
      const { inbox } = await subscriber(4, ['q2raw/t', 'q2raw/end'], { qos: 2 });
      const raw = await rawConnected(b.port, { version: 4, clientId: 'q2raw-pub' });
      // PUBLISH QoS 2, packet id 7: 34 | len | topic | 00 07 | payload
      raw.send(frame(0x34, str('q2raw/t'), '00 07', Buffer.from('once')));
      assert.equal(await raw.readHex(4), '50020007'); // PUBREC 7
      raw.send(frame(0x3c, str('q2raw/t'), '00 07', Buffer.from('once'))); // DUP resend
      assert.equal(await raw.readHex(4), '50020007'); // PUBREC 7 again
      raw.send('62 02 00 07'); // PUBREL 7
      assert.equal(await raw.readHex(4), '70020007'); // PUBCOMP 7
      raw.send(frame(0x30, str('q2raw/end'), Buffer.from('end')));
      const got = await inbox.until('q2raw/end');
      assert.deepEqual(
        got.map((m) => [m.topic, m.payload.toString()]),
        [
          ['q2raw/t', 'once'],
          ['q2raw/end', 'end'],
        ],
      );
    });
  });

  describe('PUBACK reason codes', () => {
    test('5.0: QoS 1 publish with no subscribers gets PUBACK 0x10 (no matching subscribers)', async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'puback-nosub' });
      // PUBLISH QoS 1, topic "nobody/here", packet id 1, properties length 0, payload "x"
      raw.send(frame(0x32, str('nobody/here'), '00 01 00', Buffer.from('x')));
      assert.equal(await raw.readHex(5), '4003000110');
    });

    test('5.0: QoS 1 publish with a subscriber gets PUBACK 0x00', async () => {
      await subscriber(5, 'somebody/here');
      const raw = await rawConnected(b.port, { version: 5, clientId: 'puback-sub' });
      raw.send(frame(0x32, str('somebody/here'), '00 01 00', Buffer.from('x')));
      // Reason code 0x00 with no properties may be sent as the short form [MQTT-3.4.2-1].
      const puback = await raw.readPacket();
      assert.deepEqual(puback, { type: PacketType.Puback, packetId: 1, reasonCode: 0, properties: null });
    });

    test('3.1.1: QoS 1 publish with no subscribers gets a plain PUBACK', async () => {
      const raw = await rawConnected(b.port, { version: 4, clientId: 'puback-v4' });
      raw.send(frame(0x32, str('nobody/here'), '00 01', Buffer.from('x')));
      assert.equal(await raw.readHex(4), '40020001');
    });
  });

  describe('5.0 subscription options', () => {
    test('No Local: a client does not receive its own messages [MQTT-3.8.3-3]', async () => {
      const self = await connectClient(b.port, 5);
      const inbox = new Inbox(self);
      await subscribe(self, 'nl/t', { qos: 1, nl: true });
      await subscribe(self, 'nl/end', { qos: 1 });
      const { inbox: other } = await subscriber(5, ['nl/t', 'nl/end'], { qos: 1 });
      await publish(self, 'nl/t', 'mine', { qos: 1 });
      await publish(self, 'nl/end', 'end', { qos: 1 });
      assert.deepEqual(
        (await inbox.until('nl/end')).map((m) => m.topic),
        ['nl/end'],
      );
      // Another client's subscription to the same topic receives it.
      assert.deepEqual(
        (await other.until('nl/end')).map((m) => m.topic),
        ['nl/t', 'nl/end'],
      );
      // And a message from someone else reaches the No Local subscriber.
      const pub = await connectClient(b.port, 5);
      await publish(pub, 'nl/t', 'theirs', { qos: 1 });
      const [m] = await inbox.count(1);
      assert.equal(m!.payload.toString(), 'theirs');
    });

    test('without No Local a client receives its own messages', async () => {
      const self = await connectClient(b.port, 5);
      const inbox = new Inbox(self);
      await subscribe(self, 'nl-off/t', { qos: 1, nl: false });
      await publish(self, 'nl-off/t', 'mine', { qos: 1 });
      const [m] = await inbox.count(1);
      assert.equal(m!.payload.toString(), 'mine');
    });

    test('Retain As Published keeps the retain flag of a live message; without it the flag is 0 [MQTT-3.3.1-12/13]', async () => {
      const { inbox: rap } = await subscriber(5, 'rap/t', { qos: 1, rap: true });
      const { inbox: plain } = await subscriber(5, 'rap/t', { qos: 1, rap: false });
      const pub = await connectClient(b.port, 5);
      await publish(pub, 'rap/t', 'r', { qos: 1, retain: true });
      const [withRap] = await rap.count(1);
      const [withoutRap] = await plain.count(1);
      assert.equal(withRap!.packet.retain, true);
      assert.equal(withoutRap!.packet.retain, false);
      await publish(pub, 'rap/t', '', { qos: 1, retain: true }); // clean up the retained message
    });
  });

  describe('retained messages', () => {
    for (const version of VERSIONS) {
      test(`${VERSION_NAME[version]}: stored, sent on subscribe with the retain flag, replaced, deleted by an empty payload [MQTT-3.3.1-5..11]`, async () => {
        const topic = `retain/v${version}`;
        const pub = await connectClient(b.port, version);
        await publish(pub, topic, 'v1', { qos: 1, retain: true });

        const s1 = await subscriber(version, topic, { qos: 1 });
        const [first] = await s1.inbox.count(1);
        assert.equal(first!.payload.toString(), 'v1');
        assert.equal(first!.packet.retain, true, 'a retained message sent on subscribe has retain set');
        assert.equal(first!.packet.qos, 1);

        // A live message to an existing subscription has retain 0 [MQTT-3.3.1-9].
        await publish(pub, topic, 'v2', { qos: 1, retain: true });
        const [, live] = await s1.inbox.count(2);
        assert.equal(live!.payload.toString(), 'v2');
        assert.equal(live!.packet.retain, false);

        // The second retained message replaced the first: a new subscriber gets only v2.
        const s2 = await subscriber(version, [topic, `${topic}/end`], { qos: 1 });
        await publish(pub, `${topic}/end`, 'end', { qos: 1 });
        assert.deepEqual(
          (await s2.inbox.until(`${topic}/end`)).map((m) => [m.payload.toString(), m.packet.retain]),
          [
            ['v2', true],
            ['end', false],
          ],
        );

        // An empty retained payload deletes it [MQTT-3.3.1-10]: a new subscriber gets nothing.
        await publish(pub, topic, '', { qos: 1, retain: true });
        const s3 = await subscriber(version, [topic, `${topic}/end`], { qos: 1 });
        await publish(pub, `${topic}/end`, 'end', { qos: 1 });
        assert.deepEqual(
          (await s3.inbox.until(`${topic}/end`)).map((m) => m.topic),
          [`${topic}/end`],
        );
      });
    }

    test('a wildcard subscription gets every matching retained message', async () => {
      const pub = await connectClient(b.port, 4);
      for (const t of ['rw/a', 'rw/b', 'rw/c/d']) await publish(pub, t, t, { qos: 1, retain: true });
      const { inbox } = await subscriber(4, 'rw/+', { qos: 1 });
      const got = await inbox.count(2);
      assert.deepEqual(got.map((m) => m.topic).sort(), ['rw/a', 'rw/b']);
      assert.ok(got.every((m) => m.packet.retain));
      for (const t of ['rw/a', 'rw/b', 'rw/c/d']) await publish(pub, t, '', { qos: 1, retain: true });
    });
  });

  describe('5.0 properties are forwarded unchanged [MQTT-3.3.2-17/18]', () => {
    test('raw: user properties keep their order and repeated names; content type, response topic, correlation data, payload format arrive as sent', async () => {
      const sub = await rawConnected(b.port, { version: 5, clientId: 'props-sub' });
      // SUBSCRIBE id 1, properties length 0, "props/t" with options QoS 0
      sub.send(frame(0x82, '00 01 00', str('props/t'), '00'));
      assert.equal(await sub.readHex(6), '900400010000'); // SUBACK id 1, no properties, granted QoS 0

      const pub = await rawConnected(b.port, { version: 5, clientId: 'props-pub' });
      const userProp = (k: string, v: string): Buffer => Buffer.concat([Buffer.from([0x26]), str(k), str(v)]);
      const props = Buffer.concat([
        userProp('k', '1'),
        Buffer.from([0x03]), // Content Type
        str('text/plain'),
        userProp('z', '2'),
        Buffer.from([0x08]), // Response Topic
        str('reply/here'),
        Buffer.from([0x09]), // Correlation Data
        str(Buffer.from([0, 1, 2, 0xff])),
        userProp('k', '3'),
        Buffer.from([0x01, 0x01]), // Payload Format Indicator: UTF-8
        userProp('a', ''),
      ]);
      pub.send(frame(0x30, str('props/t'), Buffer.from([props.length]), props, Buffer.from('héllo')));

      const publish = (await sub.readPacket()) as Packet & { type: typeof PacketType.Publish };
      assert.equal(publish.type, PacketType.Publish);
      assert.equal(publish.topic, 'props/t');
      assert.deepEqual(publish.payload, Buffer.from('héllo'));
      assert.deepEqual(publish.properties, {
        userProperties: [
          ['k', '1'],
          ['z', '2'],
          ['k', '3'],
          ['a', ''],
        ],
        contentType: 'text/plain',
        responseTopic: 'reply/here',
        correlationData: Buffer.from([0, 1, 2, 0xff]),
        payloadFormatIndicator: 1,
      });
    });

    test('MQTT.js: properties and a message expiry interval reach a QoS 1 subscriber, with its Subscription Identifier [MQTT-3.3.4-3]', async () => {
      const { inbox } = await subscriber(5, 'props/js', {
        qos: 1,
        properties: { subscriptionIdentifier: 42 },
      });
      const pub = await connectClient(b.port, 5);
      await publish(pub, 'props/js', '{"a":1}', {
        qos: 1,
        properties: {
          contentType: 'application/json',
          responseTopic: 'props/reply',
          correlationData: Buffer.from('corr-1'),
          payloadFormatIndicator: true,
          messageExpiryInterval: 3600,
          userProperties: { first: '1', second: ['2', '3'] },
        },
      });
      const [m] = await inbox.count(1);
      const p = m!.packet.properties!;
      assert.equal(p.contentType, 'application/json');
      assert.equal(p.responseTopic, 'props/reply');
      assert.deepEqual(p.correlationData, Buffer.from('corr-1'));
      assert.equal(p.payloadFormatIndicator, true);
      assert.deepEqual({ ...p.userProperties }, { first: '1', second: ['2', '3'] });
      assert.equal(p.subscriptionIdentifier, 42);
      // The interval left when it is sent: at most what was published [MQTT-3.3.2-6].
      assert.ok(p.messageExpiryInterval! > 0 && p.messageExpiryInterval! <= 3600);
    });
  });

  describe('will messages', () => {
    for (const version of VERSIONS) {
      test(`${VERSION_NAME[version]}: the will is published when the connection drops without DISCONNECT [MQTT-3.1.2-8]`, async () => {
        const topic = `will/v${version}`;
        const { inbox } = await subscriber(5, topic, { qos: 1 });
        const dying = await connectClient(b.port, version, {
          will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false },
        });
        dying.stream.destroy(); // no DISCONNECT
        const [m] = await inbox.count(1);
        assert.equal(m!.topic, topic);
        assert.equal(m!.payload.toString(), 'gone');
        assert.equal(m!.packet.qos, 1);
      });
    }

    test('3.1.1: the will is discarded after a normal DISCONNECT [MQTT-3.1.2-10]', async () => {
      const { inbox } = await subscriber(4, ['willx/t', 'willx/end'], { qos: 1 });
      const id = 'will-discarded';
      const leaving = await connectClient(b.port, 4, {
        clientId: id,
        will: { topic: 'willx/t', payload: Buffer.from('gone'), qos: 1, retain: false },
      });
      const gone = nextDisconnect(b.aviary, id);
      await leaving.endAsync(); // sends DISCONNECT
      await gone; // a will would have been published by now
      const pub = await connectClient(b.port, 4);
      await publish(pub, 'willx/end', 'end', { qos: 1 });
      assert.deepEqual(
        (await inbox.until('willx/end')).map((m) => m.topic),
        ['willx/end'],
      );
    });
  });

  test('a message to 100 subscribers of mixed versions arrives at each exactly once', {
    timeout: 60_000,
  }, async () => {
    const subs = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        subscriber(VERSIONS[i % 3]!, 'fan/t', { qos: i % 2 === 0 ? 0 : 1 }),
      ),
    );
    const pub = await connectClient(b.port, 5);
    await publish(pub, 'fan/t', 'hello', { qos: 1 });
    await publish(pub, 'fan/t', 'end', { qos: 1 });
    for (const [i, s] of subs.entries()) {
      const got = await s.inbox.count(2);
      assert.deepEqual(
        got.map((m) => m.payload.toString()),
        ['hello', 'end'],
        `subscriber ${i} (${VERSION_NAME[VERSIONS[i % 3]!]})`,
      );
    }
    // The 'end' message is last from this publisher, so nothing is still on its way.
    for (const s of subs) assert.equal(s.inbox.messages.length, 2);
    await Promise.all(subs.map((s) => s.client.endAsync()));
  });

  describe('persistent sessions', () => {
    for (const version of VERSIONS) {
      const name = VERSION_NAME[version];
      const how = version === 5 ? 'Session Expiry Interval 300' : 'Clean Session 0';
      test(`${name} (${how}): QoS 1 messages published while offline arrive after reconnect with session present [MQTT-3.2.2-2]`, async () => {
        const id = `persist-v${version}`;
        const options =
          version === 5
            ? { clientId: id, clean: true, properties: { sessionExpiryInterval: 300 } }
            : { clientId: id, clean: true };
        // A fresh session first (clean), then a persistent one.
        const fresh = await connectClient(b.port, version, options);
        const freshGone = nextDisconnect(b.aviary, id);
        await fresh.endAsync();
        await freshGone;
        const persistent =
          version === 5
            ? { clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } }
            : { clientId: id, clean: false };
        const first = openClient(b.port, version, persistent);
        const firstAck = await connected(first);
        assert.equal(
          firstAck.sessionPresent,
          version === 5,
          'a 5.0 session with an expiry outlives its connection',
        );
        await subscribe(first, `persist/v${version}`, { qos: 1 });
        const gone = nextDisconnect(b.aviary, id);
        await first.endAsync();
        await gone;

        const pub = await connectClient(b.port, version);
        for (const n of [1, 2, 3]) await publish(pub, `persist/v${version}`, `m${n}`, { qos: 1 });

        const again = openClient(b.port, version, persistent);
        const inbox = new Inbox(again);
        const ack = await connected(again);
        assert.equal(ack.sessionPresent, true);
        const got = await inbox.count(3);
        assert.deepEqual(
          got.map((m) => [m.topic, m.payload.toString(), m.packet.qos]),
          [
            [`persist/v${version}`, 'm1', 1],
            [`persist/v${version}`, 'm2', 1],
            [`persist/v${version}`, 'm3', 1],
          ],
        );
        // The subscription survived too: a new message arrives live.
        await publish(pub, `persist/v${version}`, 'm4', { qos: 1 });
        const [, , , live] = await inbox.count(4);
        assert.equal(live!.payload.toString(), 'm4');
      });
    }

    test('3.1.1 Clean Session 1 discards the session: nothing is delivered after reconnect', async () => {
      const id = 'clean-v4';
      const first = await connectClient(b.port, 4, { clientId: id, clean: false });
      await subscribe(first, 'clean/t', { qos: 1 });
      const gone = nextDisconnect(b.aviary, id);
      await first.endAsync();
      await gone;
      const pub = await connectClient(b.port, 4);
      await publish(pub, 'clean/t', 'lost', { qos: 1 });
      const again = openClient(b.port, 4, { clientId: id, clean: true });
      const inbox = new Inbox(again);
      const ack = await connected(again);
      assert.equal(ack.sessionPresent, false);
      await subscribe(again, 'clean/end', { qos: 1 });
      await publish(pub, 'clean/end', 'end', { qos: 1 });
      assert.deepEqual(
        (await inbox.until('clean/end')).map((m) => m.topic),
        ['clean/end'],
      );
    });
  });

  describe('unsubscribe', () => {
    test('5.0: UNSUBACK has 0x00 for a subscription that existed and 0x11 for one that did not, and delivery stops', async () => {
      const raw = await rawConnected(b.port, { version: 5, clientId: 'unsub-v5' });
      raw.send(frame(0x82, '00 01 00', str('unsub/t'), '01', str('unsub/end'), '01'));
      assert.equal(await raw.readHex(7), '9005000100' + '0101');
      // UNSUBSCRIBE id 2, properties length 0, "unsub/t", "never/subscribed"
      raw.send(frame(0xa2, '00 02 00', str('unsub/t'), str('never/subscribed')));
      assert.equal(await raw.readHex(7), 'b005000200' + '0011');

      const pub = await connectClient(b.port, 5);
      await publish(pub, 'unsub/t', 'gone', { qos: 1 });
      await publish(pub, 'unsub/end', 'end', { qos: 1 });
      const next = await raw.readPacket();
      assert.equal(next.type, PacketType.Publish);
      assert.equal((next as Packet & { type: typeof PacketType.Publish }).topic, 'unsub/end');
    });

    test('3.1.1: UNSUBACK and delivery stops', async () => {
      const raw = await rawConnected(b.port, { version: 4, clientId: 'unsub-v4' });
      raw.send(frame(0x82, '00 01', str('unsub4/t'), '00', str('unsub4/end'), '00'));
      assert.equal(await raw.readHex(6), '900400010000');
      raw.send(frame(0xa2, '00 02', str('unsub4/t')));
      assert.equal(await raw.readHex(4), 'b0020002');
      const pub = await connectClient(b.port, 4);
      await publish(pub, 'unsub4/t', 'gone');
      await publish(pub, 'unsub4/end', 'end');
      // PUBLISH QoS 0 "unsub4/end" "end": the only packet that arrives.
      assert.equal(await raw.readHex(17), frame(0x30, str('unsub4/end'), Buffer.from('end')).toString('hex'));
    });

    test('MQTT.js: after unsubscribe no more messages arrive', async () => {
      const { client, inbox } = await subscriber(5, ['unsubjs/t', 'unsubjs/end'], { qos: 1 });
      await within(client.unsubscribeAsync('unsubjs/t'), WAIT_MS, 'UNSUBACK');
      const pub = await connectClient(b.port, 5);
      await publish(pub, 'unsubjs/t', 'gone', { qos: 1 });
      await publish(pub, 'unsubjs/end', 'end', { qos: 1 });
      assert.deepEqual(
        (await inbox.until('unsubjs/end')).map((m) => m.topic),
        ['unsubjs/end'],
      );
    });
  });
});
