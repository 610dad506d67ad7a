/**
 * Conformance 08: what a server that does not support everything must do, and the client's
 * Maximum Packet Size (MQTT 5.0 sections 3.1.2.11.4, 3.2.2.3; MQTT 3.1.1 section 3.8.3), over
 * raw sockets.
 *
 * One broker for the file with `mqtt.max_qos_allowed = 1`, `mqtt.retain_available = false` and
 * `mqtt.wildcard_subscription = false`, a `client.connect` callback that puts a large User
 * Property on the CONNACK of one client id, and a `client.authorize` callback that denies
 * publishing to `lim/deny` (so acknowledgements carry a Reason String, which must be left out
 * rather than exceed the client's Maximum Packet Size).
 *
 * Test names cite the MQTT 5.0 statement first and the MQTT 3.1.1 one in brackets where its
 * number differs.
 */

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { Decoder, PacketType, type PublishPacket, ReasonCode } from '../../src/protocol/index.js';
import { closeClients, rawClient, type StartedBroker, startBroker } from '../helpers/broker.js';
import {
  ackWithCode,
  connect,
  expectPacket,
  expectRefusedAndClosed,
  open,
  quiet,
  subscribeMany,
  v5,
} from '../helpers/conformance.js';
import { ackFrame, connectFrame, disconnectFrame, prop, publishFrame } from '../helpers/mqtt5.js';

const BIG_PROPERTY_FOR = 'mps-connack';

describe('conformance 08: server limits and Maximum Packet Size', () => {
  let b: StartedBroker;

  before(async () => {
    b = await startBroker({
      mqtt: { max_qos_allowed: 1, retain_available: false, wildcard_subscription: false },
    });
    b.aviary.hooks.add('client.authorize', (acc, _client, request) =>
      request.action === 'publish' && request.topic === 'lim/deny' ? { stop: 'deny' } : { ok: acc },
    );
    b.aviary.hooks.add('client.connect', (acc, client) => {
      if (client.clientId === BIG_PROPERTY_FOR) acc.properties.userProperties = [['big', 'x'.repeat(200)]];
      return { ok: acc };
    });
  });

  afterEach(closeClients);

  after(async () => {
    await closeClients();
    await b.close();
  });

  test('[MQTT-3.2.2-9] the CONNACK says Maximum QoS 1, Retain Available 0 and Wildcard Subscription Available 0', async () => {
    const c = await v5(b.port, 'lim-connack');
    assert.equal(c.connack.properties?.maximumQoS, 1);
    assert.equal(c.connack.properties?.retainAvailable, 0);
    assert.equal(c.connack.properties?.wildcardSubscriptionAvailable, 0);
  });

  test('[MQTT-3.2.2-10] [MQTT-3.8.4-7] a SUBSCRIBE requesting QoS 2 is accepted and granted QoS 1 (3.1.1 and 5.0)', async () => {
    for (const version of [4, 5] as const) {
      const c = await connect(b.port, { version, clientId: `lim-sub-${version}` });
      assert.deepEqual(await c.subscribe('lim/sub', 2), [1]);
    }
  });

  test('[MQTT-3.2.2-11] a PUBLISH above the Maximum QoS gets DISCONNECT 0x9B (QoS not supported)', async () => {
    const c = await v5(b.port, 'lim-pub-qos');
    c.send(publishFrame({ topic: 'lim/q', qos: 2, packetId: 1, props: [], payload: 'x' }));
    assert.equal(await expectRefusedAndClosed(c.raw), ReasonCode.QoSNotSupported);
  });

  test('[MQTT-3.2.2-12] [MQTT-3.2.2-7] a will QoS above what the server supports: CONNACK 0x9B, then the connection is closed', async () => {
    const c = await open(b.port, {
      version: 5,
      clientId: 'lim-will-qos',
      will: { topic: 'lim/will', payload: 'w', qos: 2 },
    });
    assert.equal(c.connack.reasonCode, ReasonCode.QoSNotSupported);
    assert.equal(c.connack.sessionPresent, false);
    await c.raw.expectClose();
  });

  test('[MQTT-3.2.2-13] [MQTT-3.2.2-8] a will with Will Retain 1 when retained messages are not supported: CONNACK 0x9A, then the connection is closed', async () => {
    const c = await open(b.port, {
      version: 5,
      clientId: 'lim-will-retain',
      will: { topic: 'lim/will', payload: 'w', retain: true },
    });
    assert.equal(c.connack.reasonCode, ReasonCode.RetainNotSupported);
    await c.raw.expectClose();
  });

  test('[MQTT-3.2.2-14] a PUBLISH with RETAIN 1 when retained messages are not supported gets DISCONNECT 0x9A', async () => {
    const c = await v5(b.port, 'lim-retain');
    c.send(publishFrame({ topic: 'lim/r', retain: true, props: [], payload: 'x' }));
    assert.equal(await expectRefusedAndClosed(c.raw), ReasonCode.RetainNotSupported);
  });

  test('(3.1.1 [MQTT-3.8.3-2] [MQTT-3.9.3-2]) a server without wildcard subscriptions refuses filters with wildcards: SUBACK 0x80 (5.0: 0xA2), the others granted', async () => {
    for (const version of [4, 5] as const) {
      const c = await connect(b.port, { version, clientId: `lim-wild-${version}` });
      c.send(
        subscribeMany(
          1,
          [
            ['lim/+', 0],
            ['lim/plain', 0],
            ['lim/#', 0],
          ],
          version === 5,
        ),
      );
      const suback = await expectPacket(c.raw, PacketType.Suback);
      const no = version === 5 ? ReasonCode.WildcardSubscriptionsNotSupported : 0x80;
      assert.deepEqual(suback.reasonCodes, [no, 0, no]);
    }
  });

  test('[MQTT-3.1.2-24] [MQTT-3.1.2-25] a message larger than the client Maximum Packet Size is not sent, and counts as delivered: not resent after a reconnect', async () => {
    const spec = {
      version: 5 as const,
      clientId: 'lim-mps',
      clean: false,
      props: [prop.maximumPacketSize(64), prop.sessionExpiryInterval(60)],
    };
    const c = await connect(b.port, spec);
    await c.subscribe('lim/mps', 1);
    const pub = await v5(b.port, 'lim-mps-pub');
    pub.send(publishFrame({ topic: 'lim/mps', qos: 1, packetId: 1, props: [], payload: 'x'.repeat(100) }));
    await expectPacket(pub.raw, PacketType.Puback);
    pub.send(publishFrame({ topic: 'lim/mps', qos: 1, packetId: 2, props: [], payload: 'small' }));
    await expectPacket(pub.raw, PacketType.Puback);
    const frame = await c.raw.readFrame();
    assert.ok(frame.length <= 64, `a PUBLISH of ${frame.length} bytes`);
    const small = new Decoder({ version: 5 }).decodeAll(frame)[0] as PublishPacket;
    assert.equal(small.payload.toString(), 'small');
    c.send(ackFrame(0x40, small.packetId));
    c.send(disconnectFrame(0));
    await c.raw.expectClose();
    const again = await connect(b.port, spec);
    assert.equal(again.connack.sessionPresent, true);
    await quiet(again.raw);
  });

  test('[MQTT-3.2.2-19] [MQTT-3.2.2-20] a User Property that would make the CONNACK exceed the client Maximum Packet Size is left out', async () => {
    const raw = await rawClient(b.port, 5);
    raw.send(connectFrame({ version: 5, clientId: BIG_PROPERTY_FOR, props: [prop.maximumPacketSize(100)] }));
    const frame = await raw.readFrame();
    assert.ok(frame.length <= 100, `CONNACK of ${frame.length} bytes`);
    assert.equal(frame[3], 0x00);
    // Without a Maximum Packet Size the same CONNACK carries it.
    const withIt = await rawClient(b.port, 5);
    withIt.send(connectFrame({ version: 5, clientId: BIG_PROPERTY_FOR }));
    const connack = await expectPacket(withIt, PacketType.Connack);
    assert.equal(connack.properties?.userProperties?.[0]?.[0], 'big');
  });

  test('[MQTT-3.4.2-2] [MQTT-3.6.2-2] [MQTT-3.14.2-3] a Reason String that would make a PUBACK, PUBREL or DISCONNECT exceed the client Maximum Packet Size is left out', async () => {
    // With room for it, the Reason String is there.
    const roomy = await v5(b.port, 'lim-rs-roomy');
    roomy.send(publishFrame({ topic: 'lim/deny', qos: 1, packetId: 1, props: [], payload: 'x' }));
    const said = await expectPacket(roomy.raw, PacketType.Puback);
    assert.equal(said.reasonCode, ReasonCode.NotAuthorized);
    assert.ok((said.properties?.reasonString ?? '').length > 0);
    roomy.send(publishFrame({ topic: '', qos: 1, packetId: 2, props: [prop.topicAlias(1)], payload: 'x' }));
    const explained = await expectPacket(roomy.raw, PacketType.Disconnect);
    assert.equal(explained.reasonCode, ReasonCode.ProtocolError);
    assert.ok((explained.properties?.reasonString ?? '').length > 0);

    const c = await v5(b.port, 'lim-rs', { props: [prop.maximumPacketSize(8)] });
    c.send(publishFrame({ topic: 'lim/deny', qos: 1, packetId: 1, props: [], payload: 'x' }));
    assert.equal(await c.raw.readHex(5), '4003000187'); // PUBACK 0x87, no properties
    c.send(ackWithCode(0x50, 77, 0)); // PUBREC for nothing in flight
    assert.equal(await c.raw.readHex(5), '6203004d92'); // PUBREL 0x92 (packet identifier not found)
    // A Topic Alias never set on this connection: DISCONNECT 0x82, its Reason String left out.
    c.send(publishFrame({ topic: '', qos: 1, packetId: 2, props: [prop.topicAlias(1)], payload: 'x' }));
    const rest = await c.raw.expectClose(undefined, true);
    assert.ok(
      rest.length <= 8 && rest[0] === 0xe0 && rest[2] === ReasonCode.ProtocolError,
      rest.toString('hex'),
    );
  });
});
