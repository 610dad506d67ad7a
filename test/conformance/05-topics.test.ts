/**
 * Conformance 05: topic names, topic filters and their matching (MQTT 5.0 section 4.7 and the
 * UTF-8 rules of 1.5.4 / 1.5.7 as they apply to topics and string properties; MQTT 3.1.1 sections
 * 4.7 and 1.5.3), over raw sockets.
 *
 * Test names cite the MQTT 5.0 statement first and the MQTT 3.1.1 one in brackets where its
 * number differs. One broker for the file, default settings, and no retained messages (a `#`
 * subscription here sees only what its test publishes).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PacketType, ReasonCode } from '../../src/protocol/index.js';
import { frame, type RawClient, str } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import {
  connect,
  expectPacket,
  expectPublish,
  expectRefusedAndClosed,
  quiet,
  subscribeMany,
  v5,
} from '../helpers/conformance.js';
import { prop, props, publishFrame } from '../helpers/mqtt5.js';

const NAME = { 4: '3.1.1', 5: '5.0' } as const;
const VERSIONS = [4, 5] as const;
const BAD_UTF8 = Buffer.from([0x61, 0xff]);

describe('conformance 05: topics', () => {
  const b = brokerForSuite();
  let seq = 0;

  /** Publishes QoS 0 to each topic from a fresh 5.0 client and waits until they are routed. */
  async function publish(...topics: string[]): Promise<void> {
    const pub = await v5(b.port, `tp-pub-${++seq}`);
    for (const topic of topics) pub.send(publishFrame({ topic, props: [], payload: 'x' }));
    await quiet(pub.raw);
    pub.raw.destroy();
  }

  /** A 5.0 client subscribed to `filters` at QoS 0; asserts every one was granted. */
  async function subscriber(...filters: string[]) {
    const c = await v5(b.port, `tp-sub-${++seq}`);
    c.send(
      subscribeMany(
        1,
        filters.map((f) => [f, 0] as const),
        true,
      ),
    );
    const suback = await expectPacket(c.raw, PacketType.Suback);
    assert.deepEqual(
      suback.reasonCodes,
      filters.map(() => 0),
      `SUBACK for ${filters.join(' ')}`,
    );
    return c;
  }

  /** The topics `c` receives before PINGRESP, as UTF-8 text. */
  async function received(c: { raw: RawClient }): Promise<string[]> {
    c.raw.send('c0 00');
    const topics: string[] = [];
    for (;;) {
      const p = await c.raw.readPacket();
      if (p.type === PacketType.Pingresp) return topics;
      assert.equal(p.type, PacketType.Publish);
      topics.push(p.topic);
    }
  }

  describe('wildcards', () => {
    for (const version of VERSIONS) {
      test(`[MQTT-4.7.0-1] [MQTT-3.3.2-2] (3.1.1 [MQTT-4.7.1-1] [MQTT-3.3.2-2]) ${NAME[version]}: a wildcard in a PUBLISH topic ${version === 5 ? 'gets DISCONNECT 0x90' : 'closes the connection'}`, async () => {
        for (const topic of ['tp/+', 'tp/#', '#']) {
          const c = await connect(b.port, { version, clientId: `tp-wild-${version}` });
          c.send(publishFrame({ topic, payload: 'x', ...(version === 5 ? { props: [] } : {}) }));
          assert.equal(
            await expectRefusedAndClosed(c.raw),
            version === 5 ? ReasonCode.TopicNameInvalid : null,
            topic,
          );
        }
      });

      test(`[MQTT-4.7.1-1] [MQTT-4.7.1-2] (3.1.1 [MQTT-4.7.1-2] [MQTT-4.7.1-3]) ${NAME[version]}: '#' only last and on a level of its own, '+' only on a level of its own; other filters are refused in the SUBACK`, async () => {
        const valid = ['#', 'tp/#', '+', '+/+', 'tp/+/x', '/+', 'tp/+/#'];
        const invalid = ['tp/#/x', 'tp#', 'tp/x#', '#/', 'tp+', '+tp', 'tp/x+/y', 'tp/++'];
        const c = await connect(b.port, { version, clientId: `tp-filters-${version}` });
        const filters = [...valid, ...invalid];
        c.send(
          subscribeMany(
            3,
            filters.map((f) => [f, 0] as const),
            version === 5,
          ),
        );
        const suback = await expectPacket(c.raw, PacketType.Suback);
        const failure = version === 5 ? ReasonCode.TopicFilterInvalid : 0x80;
        assert.deepEqual(suback.reasonCodes, [...valid.map(() => 0), ...invalid.map(() => failure)]);
      });
    }

    test("[MQTT-4.7.1-1] (3.1.1 [MQTT-4.7.1-2]) '#' matches the parent level and any number of levels below", async () => {
      const c = await subscriber('tp/m/#');
      await publish('tp/m', 'tp/m/', 'tp/m/a', 'tp/m/a/b/c', 'tp/mm', 'tp');
      assert.deepEqual(await received(c), ['tp/m', 'tp/m/', 'tp/m/a', 'tp/m/a/b/c']);
    });

    test("[MQTT-4.7.1-2] (3.1.1 [MQTT-4.7.1-3]) '+' matches exactly one level, an empty one too", async () => {
      const c = await subscriber('tp/p/+', '+/pp');
      await publish('tp/p/a', 'tp/p/', 'tp/p', 'tp/p/a/b', '/pp', 'x/pp', 'x/y/pp');
      assert.deepEqual(await received(c), ['tp/p/a', 'tp/p/', '/pp', 'x/pp']);
    });

    test("[MQTT-4.7.2-1] filters starting with '#' or '+' do not match topics starting with '$'", async () => {
      const wild = await subscriber('#', '+/dollar', '+');
      const named = await subscriber('$tp/#');
      await publish('$tp/dollar', '$tp');
      assert.deepEqual(await received(wild), []);
      assert.deepEqual(await received(named), ['$tp/dollar', '$tp']);
    });
  });

  describe('what a topic is', () => {
    for (const version of VERSIONS) {
      test(`[MQTT-4.7.3-1] ${NAME[version]}: topic names and filters are at least one character: an empty filter is refused in the SUBACK; an empty topic name ${version === 5 ? '(without Topic Alias) gets DISCONNECT 0x82' : 'closes the connection'}`, async () => {
        const c = await connect(b.port, { version, clientId: `tp-empty-${version}` });
        c.send(subscribeMany(1, [['', 0]], version === 5));
        const suback = await expectPacket(c.raw, PacketType.Suback);
        assert.deepEqual(suback.reasonCodes, [version === 5 ? ReasonCode.TopicFilterInvalid : 0x80]);
        c.send(publishFrame({ topic: '', payload: 'x', ...(version === 5 ? { props: [] } : {}) }));
        assert.equal(await expectRefusedAndClosed(c.raw), version === 5 ? ReasonCode.ProtocolError : null);
      });

      test(`[MQTT-4.7.3-2] [MQTT-1.5.4-2] (3.1.1 [MQTT-4.7.3-2] [MQTT-1.5.3-2]) ${NAME[version]}: U+0000 in a topic name or filter closes the connection${version === 5 ? ' (DISCONNECT 0x81)' : ''}`, async () => {
        const nul = Buffer.from('tp/\u0000/x');
        const code = version === 5 ? ReasonCode.MalformedPacket : null;
        const pub = await connect(b.port, { version, clientId: `tp-nul-${version}` });
        pub.send(frame(0x30, str(nul), version === 5 ? props() : Buffer.alloc(0), Buffer.from('x')));
        assert.equal(await expectRefusedAndClosed(pub.raw), code);
        const sub = await connect(b.port, { version, clientId: `tp-nul-${version}` });
        sub.send(subscribeMany(1, [[nul, 0]], version === 5));
        assert.equal(await expectRefusedAndClosed(sub.raw), code);
      });
    }

    test('[MQTT-4.7.3-4] matching does not normalize: case, a leading, trailing or doubled "/", spaces and another Unicode form are other topics', async () => {
      const composed = 'tp/n/caf\u00e9';
      const c = await subscriber('tp/n/a', composed);
      await publish(
        'tp/n/A',
        'tp/n/a/',
        '/tp/n/a',
        'tp//n/a',
        'tp/n//a',
        'tp/n/a ',
        ' tp/n/a',
        'tp/n/cafe\u0301',
      );
      assert.deepEqual(await received(c), []);
      await publish('tp/n/a', composed);
      assert.deepEqual(await received(c), ['tp/n/a', composed]);
    });

    test('[MQTT-1.5.4-3] (3.1.1 [MQTT-1.5.3-3]) a BOM (EF BB BF) in a topic is kept, not stripped', async () => {
      const withBom = await subscriber('tp/\ufeffbom');
      const without = await subscriber('tp/bom');
      await publish('tp/\ufeffbom');
      const p = await expectPublish(withBom.raw);
      assert.equal(Buffer.from(p.topic).toString('hex'), Buffer.from('tp/\ufeffbom').toString('hex'));
      assert.deepEqual(await received(without), []);
    });
  });

  describe('5.0 string properties', () => {
    const cases: Array<[string, Buffer, number]> = [
      [
        '[MQTT-1.5.7-1] [MQTT-1.5.4-1] a User Property name that is not UTF-8',
        Buffer.concat([Buffer.from([0x26, 0x00, 0x02]), BAD_UTF8, Buffer.from([0x00, 0x01, 0x76])]),
        ReasonCode.MalformedPacket,
      ],
      [
        '[MQTT-1.5.7-1] [MQTT-1.5.4-1] a User Property value that is not UTF-8',
        Buffer.concat([Buffer.from([0x26, 0x00, 0x01, 0x6b, 0x00, 0x02]), BAD_UTF8]),
        ReasonCode.MalformedPacket,
      ],
      [
        '[MQTT-3.3.2-13] [MQTT-1.5.4-1] a Response Topic that is not UTF-8',
        Buffer.concat([Buffer.from([0x08, 0x00, 0x02]), BAD_UTF8]),
        ReasonCode.MalformedPacket,
      ],
      [
        '[MQTT-3.3.2-19] [MQTT-1.5.4-1] a Content Type that is not UTF-8',
        Buffer.concat([Buffer.from([0x03, 0x00, 0x02]), BAD_UTF8]),
        ReasonCode.MalformedPacket,
      ],
      [
        '[MQTT-3.3.2-14] a Response Topic with a wildcard',
        prop.responseTopic('tp/reply/+'),
        ReasonCode.ProtocolError,
      ],
    ];
    for (const [name, property, code] of cases) {
      test(`${name}: DISCONNECT 0x${code.toString(16)}, and the message is not forwarded`, async () => {
        const sub = await subscriber('tp/props');
        const c = await v5(b.port, `tp-props-${++seq}`);
        c.send(publishFrame({ topic: 'tp/props', qos: 1, packetId: 1, props: [property], payload: 'x' }));
        assert.equal(await expectRefusedAndClosed(c.raw), code);
        await quiet(sub.raw);
      });
    }
  });
});
