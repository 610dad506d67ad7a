/**
 * The channel (src/channel/channel.ts and handlers/*.ts) without sockets (STYLE habit 2).
 *
 * Two levels:
 *  - `Channel.handleIn(packet)` directly, asserting the actions it returns;
 *  - an MqttConnection over a FakeLink (test/helpers/fake-link.ts), with a KeepaliveSweeper that
 *    never sweeps, when a test needs the actions performed (attach, deliveries to other clients,
 *    wills, takeover): client packets go in as bytes, written frames come out decoded.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Broker } from '../../../src/broker/broker.js';
import { Message } from '../../../src/broker/message.js';
import { type Action, Channel, ChannelState } from '../../../src/channel/channel.js';
import { KeepaliveSweeper, MqttConnection } from '../../../src/channel/connection.js';
import { type ChannelSettings, DEFAULT_CHANNEL_SETTINGS } from '../../../src/channel/settings.js';
import { createLogger } from '../../../src/observability/logger.js';
import { MemoryRetainedStore } from '../../../src/persistence/memory/retained.js';
import {
  type ConnackPacket,
  type ConnectPacket,
  ConnectReturnCode,
  encode,
  type Packet,
  PacketType,
  type Properties,
  ProtocolError,
  ProtocolVersion,
  type PublishPacket,
  type QoS,
  ReasonCode,
  SubackFailure,
  type Subscription,
  type Will,
} from '../../../src/protocol/index.js';
import { FakeLink } from '../../helpers/fake-link.js';

const { V4, V5 } = ProtocolVersion;
const VERSION_NAME = { 3: '3.1', 4: '3.1.1', 5: '5.0' } as const;

const log = createLogger({ enable: false, level: 'error', file: null });
// Connections register with it; it is never swept (its timer is unref'd and stopped at the end).
const sweeper = new KeepaliveSweeper(60_000);
after(() => sweeper.stop());

const SETTINGS: ChannelSettings = { ...DEFAULT_CHANNEL_SETTINGS, maxPacketSize: 64 * 1024 };

function makeBroker(): Broker {
  return new Broker({
    nodeName: 'aviary@127.0.0.1',
    session: { maxInflight: 32, maxMqueueLen: 1000, mqueueStoreQos0: false },
    retainAvailable: true,
    retained: new MemoryRetainedStore<Message>(),
  });
}

// ---- client packets -----------------------------------------------------------------------------

function connect(version: ProtocolVersion, fields: Partial<ConnectPacket> = {}): ConnectPacket {
  return {
    type: PacketType.Connect,
    protocolName: version === ProtocolVersion.V3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: version,
    bridge: false,
    clean: true,
    keepalive: 60,
    clientId: 'client-1',
    will: null,
    username: null,
    password: null,
    properties: null,
    ...fields,
  };
}

function publish(topic: string, payload: string | Buffer, qos: QoS = 0, fields: Partial<PublishPacket> = {}) {
  return {
    type: PacketType.Publish,
    topic,
    payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
    qos,
    retain: false,
    dup: false,
    packetId: qos === 0 ? 0 : 1,
    properties: null,
    ...fields,
  } satisfies PublishPacket;
}

function sub(topicFilter: string, qos: QoS = 0, options: Partial<Subscription> = {}): Subscription {
  return { topicFilter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0, ...options };
}

function subscribe(packetId: number, ...subscriptions: Subscription[]): Packet {
  return { type: PacketType.Subscribe, packetId, subscriptions, properties: null };
}

function ack(type: 4 | 5 | 6 | 7, packetId: number, reasonCode = 0): Packet {
  return { type, packetId, reasonCode, properties: null } as Packet;
}

function disconnect(reasonCode = 0, properties: Properties | null = null): Packet {
  return { type: PacketType.Disconnect, reasonCode, properties };
}

const PINGREQ: Packet = { type: PacketType.Pingreq };

// ---- helpers ------------------------------------------------------------------------------------

/** Lets an asynchronous CONNECT (hooks) settle and its actions be performed. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A channel driven directly; kicks (takeover) are recorded. */
function channel(broker = makeBroker(), settings = SETTINGS) {
  const link = new FakeLink();
  const kicks: Array<readonly Action[]> = [];
  const ch = new Channel(broker, link, settings, { perform: (actions) => kicks.push(actions) });
  return { ch, link, broker, kicks };
}

/** A channel that has been through CONNECT (the session attached, as the connection does). */
async function connected(
  version: ProtocolVersion,
  fields: Partial<ConnectPacket> = {},
  broker = makeBroker(),
) {
  const h = channel(broker);
  const actions = await h.ch.handleIn(connect(version, fields));
  assert.equal(actions[0]?.kind, 'send');
  h.ch.session!.attach(h.ch, h.ch.receiveMaximum);
  return { ...h, actions };
}

/** The actions of a packet handled synchronously (everything but CONNECT). */
function sync(result: readonly Action[] | Promise<readonly Action[]>): readonly Action[] {
  assert.ok(!(result instanceof Promise), 'handled synchronously');
  return result;
}

function sendPacket(action: Action | undefined): Packet {
  assert.ok(action !== undefined && action.kind === 'send', `a send action, not ${JSON.stringify(action)}`);
  return action.packet;
}

function isProtocolError(reasonCode: number, specId?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `a ProtocolError, not ${String(error)}`);
    assert.equal(error.reasonCode, reasonCode);
    if (specId !== undefined) assert.equal(error.specId, specId);
    return true;
  };
}

/** A client over an MqttConnection and a FakeLink. */
class TestClient {
  readonly link = new FakeLink();
  readonly conn: MqttConnection;

  constructor(
    readonly broker: Broker,
    settings = SETTINGS,
  ) {
    this.conn = new MqttConnection(this.link, broker, settings, log, sweeper);
  }

  get channel(): Channel {
    return this.conn.channel;
  }

  /** Sends CONNECT; resolves to the CONNACK, leaving what followed it (resends) on the link. */
  async connect(packet: ConnectPacket): Promise<ConnackPacket> {
    this.link.receive(packet);
    await settle();
    const [connack] = this.link.packets();
    assert.equal(connack?.type, PacketType.Connack);
    this.link.frames.shift();
    return connack as ConnackPacket;
  }

  send(packet: Packet): void {
    this.link.receive(packet);
  }

  take(): Packet[] {
    return this.link.take();
  }

  publishes(): PublishPacket[] {
    return this.link.take().filter((p): p is PublishPacket => p.type === PacketType.Publish);
  }
}

async function client(broker: Broker, packet: ConnectPacket, settings = SETTINGS): Promise<TestClient> {
  const c = new TestClient(broker, settings);
  const connack = await c.connect(packet);
  assert.equal(connack.reasonCode, 0, 'connected');
  return c;
}

// ---- CONNECT ------------------------------------------------------------------------------------

describe('channel: CONNECT', () => {
  test('3.1.1: CONNACK 0 (accepted), then attach', async () => {
    const { ch } = channel();
    const actions = await ch.handleIn(connect(V4));
    assert.deepEqual(actions, [
      {
        kind: 'send',
        packet: { type: PacketType.Connack, sessionPresent: false, reasonCode: 0, properties: null },
      },
      { kind: 'attach' },
    ]);
    assert.equal(ch.state, ChannelState.Connected);
    assert.equal(ch.client?.clientId, 'client-1');
    assert.notEqual(ch.session, null);
  });

  test('5.0: CONNACK Success with the server capabilities', async () => {
    const { ch } = channel();
    const actions = await ch.handleIn(connect(V5));
    const connack = sendPacket(actions[0]) as ConnackPacket;
    assert.equal(connack.reasonCode, ReasonCode.Success);
    assert.equal(connack.sessionPresent, false);
    assert.deepEqual(connack.properties, {
      maximumPacketSize: SETTINGS.maxPacketSize,
      receiveMaximum: SETTINGS.receiveMaximum,
      topicAliasMaximum: SETTINGS.maxTopicAlias,
      sharedSubscriptionAvailable: 0, // not available yet (section 3.2.2.3.17)
    });
    assert.deepEqual(actions[1], { kind: 'attach' });
  });

  test('5.0: an empty client id gets an Assigned Client Identifier [MQTT-3.1.3-7]', async () => {
    const { ch } = channel();
    const actions = await ch.handleIn(connect(V5, { clientId: '' }));
    const connack = sendPacket(actions[0]) as ConnackPacket;
    assert.equal(connack.reasonCode, ReasonCode.Success);
    const assigned = connack.properties?.assignedClientIdentifier;
    assert.match(assigned ?? '', /^aviary-[0-9a-f]{16}$/);
    assert.equal(ch.client?.clientId, assigned);
    assert.equal(ch.session?.clientId, assigned);
  });

  test('5.0: no Maximum Packet Size is advertised when the limit is the protocol maximum', async () => {
    const { ch } = channel(makeBroker(), { ...SETTINGS, maxPacketSize: 268_435_460 });
    const connack = sendPacket((await ch.handleIn(connect(V5)))[0]) as ConnackPacket;
    assert.equal(connack.properties?.maximumPacketSize, undefined);
  });

  test('5.0: the CONNACK leaves the connection encoded and decodable, properties included', async () => {
    const c = new TestClient(makeBroker());
    const connack = await c.connect(connect(V5, { clientId: '' }));
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties?.maximumPacketSize, SETTINGS.maxPacketSize);
    assert.equal(connack.properties?.sharedSubscriptionAvailable, 0);
    assert.match(connack.properties?.assignedClientIdentifier ?? '', /^aviary-/);
    assert.equal(c.link.ended, false);
  });

  test('3.1.1: an empty client id is accepted with Clean Session 1 [MQTT-3.1.3-6]', async () => {
    const { ch } = channel();
    const actions = await ch.handleIn(connect(V4, { clientId: '', clean: true }));
    assert.equal((sendPacket(actions[0]) as ConnackPacket).reasonCode, ConnectReturnCode.Accepted);
    assert.match(ch.client?.clientId ?? '', /^aviary-/);
  });

  test('3.1.1: an empty client id with Clean Session 0 is refused with 0x02 [MQTT-3.1.3-8]', async () => {
    const { ch } = channel();
    const actions = await ch.handleIn(connect(V4, { clientId: '', clean: false }));
    assert.deepEqual(actions, [
      {
        kind: 'send',
        packet: {
          type: PacketType.Connack,
          sessionPresent: false,
          reasonCode: ConnectReturnCode.IdentifierRejected,
          properties: null,
        },
      },
      { kind: 'close', reason: 'client_id_rejected' },
    ]);
    assert.equal(ch.state, ChannelState.Disconnected);
  });

  test('Session Present is set when a session is resumed with Clean Start 0 [MQTT-3.2.2-3]', async () => {
    const broker = makeBroker();
    const first = await client(
      broker,
      connect(V5, { clean: false, properties: { sessionExpiryInterval: 60 } }),
    );
    first.send(disconnect());
    const second = new TestClient(broker);
    const connack = await second.connect(connect(V5, { clean: false }));
    assert.equal(connack.sessionPresent, true);
    const third = new TestClient(broker);
    assert.equal((await third.connect(connect(V5, { clean: true }))).sessionPresent, false, '[MQTT-3.2.2-2]');
  });

  test('the first packet must be CONNECT [MQTT-3.1.0-1]', () => {
    const { ch } = channel();
    assert.throws(() => ch.handleIn(PINGREQ), isProtocolError(ReasonCode.ProtocolError, 'MQTT-3.1.0-1'));
    assert.throws(
      () => ch.handleIn(publish('t', 'x')),
      isProtocolError(ReasonCode.ProtocolError, 'MQTT-3.1.0-1'),
    );
  });

  test('the first packet not CONNECT: the connection is closed without a reply [MQTT-3.1.0-1]', () => {
    const c = new TestClient(makeBroker());
    c.send(PINGREQ);
    assert.equal(c.link.ended, true);
    assert.deepEqual(c.take(), []);
  });

  for (const version of [V4, V5]) {
    test(`${VERSION_NAME[version]}: a second CONNECT is a protocol error [MQTT-3.1.0-2]`, async () => {
      const { ch } = await connected(version);
      assert.throws(
        () => ch.handleIn(connect(version)),
        isProtocolError(ReasonCode.ProtocolError, 'MQTT-3.1.0-2'),
      );
    });
  }

  test('5.0: a second CONNECT on a connection gets DISCONNECT 0x82 and the connection closes', async () => {
    const c = await client(makeBroker(), connect(V5));
    c.send(connect(V5));
    assert.deepEqual(c.take(), [
      { type: PacketType.Disconnect, reasonCode: ReasonCode.ProtocolError, properties: null },
    ]);
    assert.equal(c.link.ended, true);
  });

  test('3.1.1: a second CONNECT closes the connection without a packet [MQTT-3.1.0-2]', async () => {
    const c = await client(makeBroker(), connect(V4));
    c.send(connect(V4));
    assert.deepEqual(c.take(), []);
    assert.equal(c.link.ended, true);
  });
});

describe('channel: authentication', () => {
  for (const [version, expected] of [
    [V5, ReasonCode.BadUserNameOrPassword],
    [V4, ConnectReturnCode.BadUserNameOrPassword],
  ] as const) {
    test(`${VERSION_NAME[version]}: client.authenticate deny gives CONNACK 0x${expected.toString(16).padStart(2, '0')}`, async () => {
      const broker = makeBroker();
      const seen: Array<string | undefined> = [];
      broker.hooks.add('client.authenticate', (_acc, c, password) => {
        seen.push(`${c.clientId}:${c.username}:${password?.toString()}`);
        return { stop: { result: 'deny' } };
      });
      const { ch } = channel(broker);
      const actions = await ch.handleIn(
        connect(version, { username: 'alice', password: Buffer.from('wrong') }),
      );
      assert.deepEqual(actions, [
        {
          kind: 'send',
          packet: { type: PacketType.Connack, sessionPresent: false, reasonCode: expected, properties: null },
        },
        { kind: 'close', reason: 'not_authorized' },
      ]);
      assert.deepEqual(seen, ['client-1:alice:wrong']);
      assert.equal(ch.state, ChannelState.Disconnected);
      assert.equal(ch.session, null, 'no session is opened');
      assert.equal(broker.sessionCount, 0);
      assert.equal(broker.metrics.clientAuthFailure, 1);
    });
  }

  test('5.0: a deny with its own reason code (0x87) is sent as it is; 3.1.1 maps it to 0x05', async () => {
    for (const [version, expected] of [
      [V5, ReasonCode.NotAuthorized],
      [V4, ConnectReturnCode.NotAuthorized],
    ] as const) {
      const broker = makeBroker();
      broker.hooks.add('client.authenticate', async () => ({
        stop: { result: 'deny', reasonCode: ReasonCode.NotAuthorized },
      }));
      const { ch } = channel(broker);
      const connack = sendPacket((await ch.handleIn(connect(version)))[0]) as ConnackPacket;
      assert.equal(connack.reasonCode, expected, VERSION_NAME[version]);
    }
  });

  test('an asynchronous allow connects and sets isSuperuser', async () => {
    const broker = makeBroker();
    broker.hooks.add('client.authenticate', async () => {
      await settle();
      return { stop: { result: 'allow', isSuperuser: true } };
    });
    const c = new TestClient(broker);
    c.link.receive(connect(V5));
    assert.equal(c.link.paused, true, 'reading waits for the hook');
    await settle();
    await settle();
    const [connack] = c.take();
    assert.equal((connack as ConnackPacket).reasonCode, 0);
    assert.equal(c.channel.client?.isSuperuser, true);
    assert.equal(c.link.paused, false);
  });

  test('packets that arrive while CONNECT waits on the hook are handled after it, in order', async () => {
    const broker = makeBroker();
    broker.hooks.add('client.authenticate', async () => {
      await settle();
      return { ok: { result: 'allow' } };
    });
    const c = new TestClient(broker);
    c.link.receive(connect(V4));
    c.send(PINGREQ);
    c.send(subscribe(3, sub('t')));
    await settle();
    await settle();
    assert.deepEqual(
      c.take().map((p) => p.type),
      [PacketType.Connack, PacketType.Pingresp, PacketType.Suback],
    );
  });
});

// ---- PUBLISH ------------------------------------------------------------------------------------

describe('channel: PUBLISH from the client', () => {
  test('QoS 0: routed, nothing sent back', async () => {
    const broker = makeBroker();
    const { ch } = await connected(V4, {}, broker);
    assert.deepEqual(ch.handleIn(publish('t', 'x', 0)), []);
    assert.equal(broker.metrics.messagesReceived, 1);
  });

  test('QoS 1: PUBACK with the packet id (5.0: 0x10 when nobody subscribes)', async () => {
    const broker = makeBroker();
    const v5 = await connected(V5, { clientId: 'five' }, broker);
    const v4 = await connected(V4, { clientId: 'four' }, broker);
    assert.deepEqual(v5.ch.handleIn(publish('t', 'x', 1, { packetId: 17 })), [
      {
        kind: 'send',
        packet: {
          type: PacketType.Puback,
          packetId: 17,
          reasonCode: ReasonCode.NoMatchingSubscribers,
          properties: null,
        },
      },
    ]);
    assert.deepEqual(v4.ch.handleIn(publish('t', 'x', 1, { packetId: 18 })), [
      { kind: 'send', packet: { type: PacketType.Puback, packetId: 18, reasonCode: 0, properties: null } },
    ]);
    broker.subscribe(v4.ch.session!, 't', {
      qos: 0,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0,
      subscriptionId: 0,
      shareGroup: null,
    });
    const actions = sync(v5.ch.handleIn(publish('t', 'x', 1, { packetId: 19 })));
    assert.equal((sendPacket(actions[0]) as { reasonCode: number }).reasonCode, ReasonCode.Success);
  });

  test('QoS 1 end to end: the subscriber gets the message, the publisher its PUBACK', async () => {
    const broker = makeBroker();
    const subscriber = await client(broker, connect(V4, { clientId: 'sub' }));
    subscriber.send(subscribe(1, sub('a/+', 1)));
    assert.deepEqual(subscriber.take(), [
      { type: PacketType.Suback, packetId: 1, reasonCodes: [1], properties: null },
    ]);
    const publisher = await client(broker, connect(V4, { clientId: 'pub' }));
    publisher.send(publish('a/b', 'hello', 1, { packetId: 5 }));
    assert.deepEqual(publisher.take(), [
      { type: PacketType.Puback, packetId: 5, reasonCode: 0, properties: null },
    ]);
    const [delivered] = subscriber.publishes();
    assert.equal(delivered?.topic, 'a/b');
    assert.equal(delivered?.payload.toString(), 'hello');
    assert.equal(delivered?.qos, 1);
    assert.equal(delivered?.dup, false);
    assert.notEqual(delivered?.packetId, 0);
  });

  for (const version of [V4, V5]) {
    test(`${VERSION_NAME[version]}: QoS 2 duplicate PUBLISH with the same id is routed once [MQTT-4.3.3-10], then PUBREL -> PUBCOMP`, async () => {
      const broker = makeBroker();
      const routed: string[] = [];
      broker.hooks.add('message.publish', (m) => {
        routed.push(m?.payload.toString() ?? '');
        return undefined;
      });
      const { ch } = await connected(version, {}, broker);
      const pubrec = { type: PacketType.Pubrec, packetId: 9, reasonCode: 0, properties: null };
      const first = sync(ch.handleIn(publish('t', 'once', 2, { packetId: 9 })));
      // 5.0 says 0x10 (no matching subscribers) on the first PUBREC; only the packet matters here.
      assert.equal(sendPacket(first[0]).type, PacketType.Pubrec);
      assert.equal((sendPacket(first[0]) as { packetId: number }).packetId, 9);
      assert.deepEqual(ch.handleIn(publish('t', 'once', 2, { packetId: 9, dup: true })), [
        { kind: 'send', packet: pubrec },
      ]);
      assert.deepEqual(routed, ['once'], 'routed once');
      assert.deepEqual(ch.handleIn(ack(PacketType.Pubrel, 9)), [
        { kind: 'send', packet: { type: PacketType.Pubcomp, packetId: 9, reasonCode: 0, properties: null } },
      ]);
      assert.equal(ch.session?.awaitingRelCount, 0);
      // Released: the id may be used for a new message, which is routed again.
      ch.handleIn(publish('t', 'twice', 2, { packetId: 9 }));
      assert.deepEqual(routed, ['once', 'twice']);
    });
  }

  test('5.0: PUBREL for an unknown id gets PUBCOMP 0x92 with a Reason String; 3.1.1 PUBCOMP', async () => {
    const v5 = await connected(V5);
    assert.deepEqual(v5.ch.handleIn(ack(PacketType.Pubrel, 4)), [
      {
        kind: 'send',
        packet: {
          type: PacketType.Pubcomp,
          packetId: 4,
          reasonCode: ReasonCode.PacketIdentifierNotFound,
          properties: { reasonString: 'no QoS 2 message awaits release with this packet id' },
        },
      },
    ]);
    const v4 = await connected(V4);
    assert.deepEqual(v4.ch.handleIn(ack(PacketType.Pubrel, 4)), [
      { kind: 'send', packet: { type: PacketType.Pubcomp, packetId: 4, reasonCode: 0, properties: null } },
    ]);
  });

  test('5.0: a PUBLISH with a Subscription Identifier is a protocol error [MQTT-3.3.4-6]', async () => {
    const { ch } = await connected(V5);
    assert.throws(
      () => ch.handleIn(publish('t', 'x', 0, { properties: { subscriptionIdentifiers: [3] } })),
      isProtocolError(ReasonCode.ProtocolError, 'MQTT-3.3.4-6'),
    );
  });

  test('PINGREQ -> PINGRESP', async () => {
    const { ch } = await connected(V4);
    assert.deepEqual(ch.handleIn(PINGREQ), [{ kind: 'send', packet: { type: PacketType.Pingresp } }]);
  });
});

// ---- SUBSCRIBE ----------------------------------------------------------------------------------

describe('channel: SUBSCRIBE', () => {
  const filters = [
    sub('a/b', 1),
    sub('a/#/b', 1), // '#' not last: invalid
    sub('$share/group/x', 1), // shared: not available yet
    sub('c/+', 2),
    sub('d+', 0), // '+' not a whole level: invalid
    sub('e/#', 0),
  ];

  test('5.0: a SUBACK code per filter: granted QoS, 0x8F invalid, 0x9E shared not supported', async () => {
    const { ch, broker } = await connected(V5);
    const actions = sync(ch.handleIn(subscribe(7, ...filters)));
    assert.deepEqual(sendPacket(actions[0]), {
      type: PacketType.Suback,
      packetId: 7,
      reasonCodes: [
        1,
        ReasonCode.TopicFilterInvalid,
        ReasonCode.SharedSubscriptionsNotSupported,
        2,
        ReasonCode.TopicFilterInvalid,
        0,
      ],
      properties: null,
    });
    assert.equal(broker.subscriptionCount, 3, 'only the valid filters are subscribed');
    assert.deepEqual([...ch.session!.subscriptions.keys()].sort(), ['a/b', 'c/+', 'e/#']);
  });

  test('3.1.1: a SUBACK code per filter: granted QoS or 0x80', async () => {
    const { ch } = await connected(V4);
    const actions = sync(ch.handleIn(subscribe(7, ...filters)));
    assert.deepEqual((sendPacket(actions[0]) as { reasonCodes: number[] }).reasonCodes, [
      1,
      SubackFailure,
      SubackFailure,
      2,
      SubackFailure,
      0,
    ]);
  });

  test('the granted QoS is capped at the maximum QoS allowed', async () => {
    const h = channel(makeBroker(), { ...SETTINGS, maxQosAllowed: 1 });
    await h.ch.handleIn(connect(V4));
    const actions = sync(h.ch.handleIn(subscribe(1, sub('a', 2), sub('b', 0))));
    assert.deepEqual((sendPacket(actions[0]) as { reasonCodes: number[] }).reasonCodes, [1, 0]);
  });

  test('5.0: No Local on a shared subscription is a protocol error [MQTT-3.8.3-4]', async () => {
    const { ch } = await connected(V5);
    assert.throws(
      () => ch.handleIn(subscribe(1, sub('$share/g/t', 1, { noLocal: true }))),
      isProtocolError(ReasonCode.ProtocolError, 'MQTT-3.8.3-4'),
    );
  });

  test('retained messages are requested after the SUBACK according to Retain Handling', async () => {
    const { ch } = await connected(V5);
    const actions = sync(
      ch.handleIn(
        subscribe(
          2,
          sub('r/0', 0, { retainHandling: 0 }),
          sub('r/1', 0, { retainHandling: 1 }),
          sub('r/2', 0, { retainHandling: 2 }),
        ),
      ),
    );
    assert.equal(sendPacket(actions[0]).type, PacketType.Suback);
    assert.equal(actions[1]?.kind, 'retained');
    assert.deepEqual(actions[1]?.kind === 'retained' ? actions[1].subscriptions.map((s) => s.filter) : [], [
      'r/0',
      'r/1',
    ]);
    const again = sync(ch.handleIn(subscribe(3, sub('r/1', 0, { retainHandling: 1 }))));
    assert.equal(again.length, 1, 'Retain Handling 1: none for an existing subscription [MQTT-3.3.1-10]');
  });

  test('retained messages arrive after the SUBACK with the retain flag set [MQTT-3.3.1-8]', async () => {
    const broker = makeBroker();
    broker.publish(new Message('r/x', Buffer.from('kept'), 1, true, null, 'someone'), null);
    const c = await client(broker, connect(V4));
    c.send(subscribe(1, sub('r/#', 1)));
    const [suback, retained] = c.take();
    assert.equal(suback?.type, PacketType.Suback);
    assert.equal(retained?.type, PacketType.Publish);
    assert.equal((retained as PublishPacket).retain, true);
    assert.equal((retained as PublishPacket).payload.toString(), 'kept');
  });

  test('UNSUBSCRIBE answers per filter (5.0: 0x00 / 0x11)', async () => {
    const { ch } = await connected(V5);
    ch.handleIn(subscribe(1, sub('a')));
    assert.deepEqual(
      ch.handleIn({ type: PacketType.Unsubscribe, packetId: 2, topicFilters: ['a', 'b'], properties: null }),
      [
        {
          kind: 'send',
          packet: {
            type: PacketType.Unsuback,
            packetId: 2,
            reasonCodes: [ReasonCode.Success, ReasonCode.NoSubscriptionExisted],
            properties: null,
          },
        },
      ],
    );
  });
});

// ---- DISCONNECT and wills -----------------------------------------------------------------------

describe('channel: DISCONNECT', () => {
  const will: Will = {
    topic: 'wills/c1',
    payload: Buffer.from('gone'),
    qos: 0,
    retain: false,
    properties: null,
  };

  test('5.0: a Session Expiry Interval > 0 on DISCONNECT when CONNECT had 0 is a protocol error [MQTT-3.14.2-2]', async () => {
    const { ch } = await connected(V5);
    assert.throws(
      () => ch.handleIn(disconnect(0, { sessionExpiryInterval: 30 })),
      isProtocolError(ReasonCode.ProtocolError, 'MQTT-3.14.2-2'),
    );
  });

  test('5.0: DISCONNECT may change a non-zero Session Expiry Interval, and may set it to 0', async () => {
    const { ch } = await connected(V5, { properties: { sessionExpiryInterval: 10 } });
    assert.equal(ch.session?.expiryInterval, 10);
    assert.deepEqual(ch.handleIn(disconnect(0, { sessionExpiryInterval: 100 })), [
      { kind: 'close', reason: 'normal' },
    ]);
    assert.equal(ch.session?.expiryInterval, 100);
    const other = await connected(V5, { clientId: 'other', properties: { sessionExpiryInterval: 10 } });
    other.ch.handleIn(disconnect(0, { sessionExpiryInterval: 0 }));
    assert.equal(other.ch.session?.expiryInterval, 0);
  });

  test('a normal DISCONNECT discards the will; 0x04 keeps it [MQTT-3.14.4-3]', async () => {
    const normal = await connected(V5, { will });
    normal.ch.handleIn(disconnect(ReasonCode.NormalDisconnection));
    assert.equal(normal.ch.will, null);
    const withWill = await connected(V5, { will, clientId: 'c2' });
    withWill.ch.handleIn(disconnect(ReasonCode.DisconnectWithWillMessage));
    assert.deepEqual(withWill.ch.will, will);
  });

  for (const [label, reasonCode, published] of [
    ['a normal DISCONNECT: the will is not published', ReasonCode.NormalDisconnection, false],
    ['DISCONNECT 0x04: the will is published', ReasonCode.DisconnectWithWillMessage, true],
  ] as const) {
    test(`end to end, ${label} [MQTT-3.14.4-3]`, async () => {
      const broker = makeBroker();
      const watcher = await client(broker, connect(V4, { clientId: 'watcher' }));
      watcher.send(subscribe(1, sub('wills/#')));
      watcher.take();
      const dying = await client(broker, connect(V5, { clientId: 'c1', will }));
      dying.send(disconnect(reasonCode));
      assert.equal(dying.link.ended, true);
      assert.deepEqual(
        watcher.publishes().map((p) => p.payload.toString()),
        published ? ['gone'] : [],
      );
    });
  }

  test('a connection lost without DISCONNECT publishes the will [MQTT-3.1.2-8]', async () => {
    const broker = makeBroker();
    const watcher = await client(broker, connect(V4, { clientId: 'watcher' }));
    watcher.send(subscribe(1, sub('wills/#')));
    watcher.take();
    const dying = await client(broker, connect(V4, { clientId: 'c1', will }));
    dying.link.peerClose(new Error('ECONNRESET'));
    assert.deepEqual(
      watcher.publishes().map((p) => p.topic),
      ['wills/c1'],
    );
  });
});

// ---- errors -------------------------------------------------------------------------------------

describe('channel: actionsForError', () => {
  test('3.1.1: an unsupported protocol version before CONNACK gives CONNACK 0x01 and close', () => {
    const { ch } = channel();
    const actions = ch.actionsForError(
      new ProtocolError(ReasonCode.UnsupportedProtocolVersion, 'level 6', 'MQTT-3.1.2-2'),
    );
    assert.deepEqual(actions, [
      {
        kind: 'send',
        packet: {
          type: PacketType.Connack,
          sessionPresent: false,
          reasonCode: ConnectReturnCode.UnacceptableProtocolVersion,
          properties: null,
        },
      },
      { kind: 'close', reason: 'protocol_error:0x84' },
    ]);
  });

  test('an unknown protocol level on the wire gets CONNACK 0x01 and the connection closes [MQTT-3.1.2-2]', () => {
    const c = new TestClient(makeBroker());
    const bytes = encode(connect(V4), V4);
    // The protocol level follows the fixed header (2 bytes) and the protocol name (2 + 4 bytes).
    assert.equal(bytes[8], 4);
    bytes[8] = 6;
    c.link.receiveBytes(bytes);
    assert.deepEqual(c.take(), [
      {
        type: PacketType.Connack,
        sessionPresent: false,
        reasonCode: ConnectReturnCode.UnacceptableProtocolVersion,
        properties: null,
      },
    ]);
    assert.equal(c.link.ended, true);
  });

  test('5.0, connected: DISCONNECT with the reason code, then close', async () => {
    const { ch } = await connected(V5);
    assert.deepEqual(ch.actionsForError(new ProtocolError(ReasonCode.TopicAliasInvalid, 'alias')), [
      {
        kind: 'send',
        packet: { type: PacketType.Disconnect, reasonCode: ReasonCode.TopicAliasInvalid, properties: null },
      },
      { kind: 'close', reason: 'protocol_error:0x94' },
    ]);
  });

  test('3.1.1, connected: close without a packet [MQTT-4.8.0-1]', async () => {
    const { ch } = await connected(V4);
    assert.deepEqual(ch.actionsForError(new ProtocolError(ReasonCode.MalformedPacket, 'bad')), [
      { kind: 'close', reason: 'protocol_error:0x81' },
    ]);
  });

  test('5.0, connected: a PUBLISH with a Topic Alias (none advertised) gets DISCONNECT 0x94 on the wire [MQTT-3.2.2-18]', async () => {
    const c = await client(makeBroker(), connect(V5), { ...SETTINGS, maxTopicAlias: 0 });
    c.send(publish('t', 'x', 0, { properties: { topicAlias: 1 } }));
    assert.deepEqual(c.take(), [
      {
        type: PacketType.Disconnect,
        reasonCode: ReasonCode.TopicAliasInvalid,
        properties: { reasonString: 'Topic Alias 1 is above the Topic Alias Maximum 0 [MQTT-3.3.2-9]' },
      },
    ]);
    assert.equal(c.link.ended, true);
  });

  test('an unexpected error while performing the CONNECT actions closes the connection, not the process', async () => {
    const broker = makeBroker();
    broker.hooks.add('client.authenticate', async () => ({ ok: { result: 'allow' } }));
    const c = new TestClient(broker);
    const original = c.link.write.bind(c.link);
    c.link.write = (frame: Buffer) => {
      if (frame[0]! >> 4 === PacketType.Connack) throw new Error('transport bug');
      return original(frame);
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      c.link.receive(connect(V4));
      await settle();
      await settle();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.deepEqual(unhandled, []);
    assert.equal(c.link.ended, true);
    assert.equal(c.channel.closeReason, 'internal_error');
  });
});

// ---- deliveries ---------------------------------------------------------------------------------

describe('channel: deliveries to the client', () => {
  test('5.0: a message larger than the client Maximum Packet Size is not sent [MQTT-3.1.2-25]', async () => {
    const broker = makeBroker();
    const small = await client(
      broker,
      connect(V5, { clientId: 'small', properties: { maximumPacketSize: 64 } }),
    );
    small.send(subscribe(1, sub('t/#', 1)));
    small.take();
    broker.publishFromBroker('t/big', Buffer.alloc(100, 1), 0, false, null);
    broker.publishFromBroker('t/fits', Buffer.from('ok'), 0, false, null);
    broker.publishFromBroker('t/big1', Buffer.alloc(100, 1), 1, false, null);
    assert.deepEqual(
      small.publishes().map((p) => p.topic),
      ['t/fits'],
    );
    assert.equal(broker.metrics.messagesDroppedTooLarge, 2);
    assert.equal(
      small.channel.session?.inflightCount,
      0,
      'a dropped QoS 1 message is treated as sent and done',
    );
    assert.equal(small.link.ended, false);
  });

  test('5.0: too large messages queued behind the Receive Maximum are skipped when a PUBACK frees the window', async () => {
    const broker = makeBroker();
    const c = await client(
      broker,
      connect(V5, { clientId: 'small', properties: { maximumPacketSize: 64, receiveMaximum: 1 } }),
    );
    c.send(subscribe(1, sub('t', 1)));
    c.take();
    const pub = (payload: Buffer | string) =>
      broker.publishFromBroker('t', Buffer.from(payload), 1, false, null);
    pub('first');
    pub(Buffer.alloc(100, 1));
    pub(Buffer.alloc(100, 2));
    pub('last');
    const [first] = c.publishes();
    assert.equal(first?.payload.toString(), 'first');
    c.send(ack(PacketType.Puback, first!.packetId));
    assert.equal(c.link.ended, false, 'the connection survives');
    assert.deepEqual(
      c.publishes().map((p) => p.payload.toString()),
      ['last'],
    );
    assert.equal(broker.metrics.messagesDroppedTooLarge, 2);
  });

  test('5.0: messages that expired while the client was away are not sent; others carry the time left [MQTT-3.3.2-5] [MQTT-3.3.2-6]', async () => {
    const broker = makeBroker();
    const first = await client(
      broker,
      connect(V5, { clientId: 'away', clean: false, properties: { sessionExpiryInterval: 300 } }),
    );
    first.send(subscribe(1, sub('t', 1)));
    first.send(disconnect());
    const tenSecondsAgo = Date.now() - 10_000;
    const message = (payload: string, expiry: number | null) =>
      new Message(
        't',
        Buffer.from(payload),
        1,
        false,
        expiry === null ? null : { messageExpiryInterval: expiry },
        'p',
        tenSecondsAgo,
      );
    broker.publish(message('expired', 5), null);
    broker.publish(message('fresh', 100), null);
    broker.publish(message('forever', null), null);

    const back = new TestClient(broker);
    const connack = await back.connect(connect(V5, { clientId: 'away', clean: false }));
    assert.equal(connack.sessionPresent, true);
    await settle();
    assert.equal(back.link.ended, false);
    const delivered = back.link.sent(PacketType.Publish);
    assert.deepEqual(
      delivered.map((p) => p.payload.toString()),
      ['fresh', 'forever'],
    );
    const left = delivered[0]?.properties?.messageExpiryInterval ?? 0;
    assert.ok(left >= 89 && left <= 90, `expiry left: ${left}`);
    assert.equal(delivered[1]?.properties, null);
  });

  test('3.1.1: QoS 1 in flight at disconnect is resent with DUP on reconnect [MQTT-4.4.0-1]', async () => {
    const broker = makeBroker();
    const first = await client(broker, connect(V4, { clientId: 'dev', clean: false }));
    first.send(subscribe(1, sub('t', 1)));
    first.take();
    broker.publishFromBroker('t', Buffer.from('m'), 1, false, null);
    const [original] = first.publishes();
    first.link.peerClose();
    const second = new TestClient(broker);
    const connack = await second.connect(connect(V4, { clientId: 'dev', clean: false }));
    assert.equal(connack.sessionPresent, true);
    const [resent] = second.link.sent(PacketType.Publish);
    assert.equal(resent?.dup, true);
    assert.equal(resent?.packetId, original?.packetId);
  });

  test('5.0: takeover sends DISCONNECT 0x8E to the old connection and closes it [MQTT-3.1.4-3]', async () => {
    const broker = makeBroker();
    const first = await client(
      broker,
      connect(V5, { clientId: 'dev', clean: false, properties: { sessionExpiryInterval: 60 } }),
    );
    first.send(subscribe(1, sub('t', 1)));
    first.take();
    const second = new TestClient(broker);
    const connack = await second.connect(connect(V5, { clientId: 'dev', clean: false }));
    assert.equal(connack.sessionPresent, true);
    assert.deepEqual(first.take(), [
      { type: PacketType.Disconnect, reasonCode: ReasonCode.SessionTakenOver, properties: null },
    ]);
    assert.equal(first.link.ended, true);
    assert.equal(broker.connectionCount, 1);
    broker.publishFromBroker('t', Buffer.from('to the new one'), 1, false, null);
    assert.equal(second.publishes().length, 1);
    assert.equal(first.link.writesAfterClose, 0);
  });
});
