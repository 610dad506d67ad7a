/**
 * $SYS topics, statistics and metrics (src/broker/sys.ts, stats.ts, metrics.ts) on the broker
 * core without sockets: a recording session subscribed to `$SYS/#` sees what SysTopics
 * publishes; tick() and heartbeat() are called directly (the timers are tested over sockets in
 * test/integration/30-sys-topics.test.ts).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Broker, type LiveChannel } from '../../../src/broker/broker.js';
import { Message } from '../../../src/broker/message.js';
import { Metrics } from '../../../src/broker/metrics.js';
import { Stats } from '../../../src/broker/stats.js';
import { isSysFilter, rfc3339, SysTopics, type SysTopicsOptions } from '../../../src/broker/sys.js';
import type { ClientInfo, SubscriptionOptions } from '../../../src/broker/types.js';
import { MemoryRetainedStore } from '../../../src/persistence/memory/retained.js';
import { type Packet, PacketType, type QoS, ReasonCode } from '../../../src/protocol/index.js';
import type { Outlet, Session } from '../../../src/session/session.js';

const NODE = 'aviary@127.0.0.1';
const PREFIX = `$SYS/brokers/${NODE}/`;

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

class RecordingOutlet implements Outlet {
  readonly received: Received[] = [];
  sendPublish(message: Message, _qos: QoS, retain: boolean): void {
    this.received.push({ topic: message.topic, payload: message.payload.toString(), retain });
  }
  sendPubrel(): void {}

  /** Payload of the last message on `topic`, or undefined. */
  last(topic: string): string | undefined {
    return this.received.findLast((r) => r.topic === topic)?.payload;
  }

  json(topic: string): Record<string, unknown> {
    const payload = this.last(topic);
    assert.ok(
      payload !== undefined,
      `nothing on ${topic}; got ${this.received.map((r) => r.topic).join(', ')}`,
    );
    return JSON.parse(payload) as Record<string, unknown>;
  }
}

const liveChannel: LiveChannel = { kick() {} };

function makeBroker(): Broker {
  return new Broker({
    nodeName: NODE,
    session: { maxInflight: 32, maxMqueueLen: 100, mqueueStoreQos0: false },
    retainAvailable: true,
    retained: new MemoryRetainedStore<Message>(),
  });
}

function info(clientId: string, extra: Partial<ClientInfo> = {}): ClientInfo {
  return {
    clientId,
    username: null,
    peerHost: '127.0.0.1',
    peerPort: 50_000,
    listener: 'tcp:default',
    zone: 'default',
    protocolVersion: 5,
    isSuperuser: false,
    connectedAt: 1_700_000_000_000,
    ...extra,
  };
}

function subOptions(qos: QoS = 0): SubscriptionOptions {
  return {
    qos,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    subscriptionId: 0,
    shareGroup: null,
  };
}

function connect(broker: Broker, clientId: string): { session: Session; outlet: RecordingOutlet } {
  const { session } = broker.openSession(info(clientId), true, liveChannel);
  const outlet = new RecordingOutlet();
  session.attach(outlet, 65_535);
  return { session, outlet };
}

function sysOptions(extra: Partial<SysTopicsOptions> = {}): SysTopicsOptions {
  return {
    nodeName: NODE,
    version: '9.8.7',
    sysdescr: 'Aviary',
    msgInterval: 0, // no timers: the tests call tick() and heartbeat()
    heartbeatInterval: 0,
    events: {
      clientConnected: true,
      clientDisconnected: true,
      clientSubscribed: false,
      clientUnsubscribed: false,
    },
    subscribeAllowHosts: ['127.0.0.1', '::1', '::ffff:127.0.0.1'],
    listenerPort: (id) => (id === 'tcp:default' ? 1883 : 0),
    ...extra,
  };
}

/** A broker with SysTopics started and a session subscribed to `$SYS/#`. */
function sysBroker(extra: Partial<SysTopicsOptions> = {}) {
  const broker = makeBroker();
  const stats = new Stats(broker);
  const sys = new SysTopics(broker, stats, sysOptions(extra));
  sys.start();
  const watcher = connect(broker, 'watcher');
  broker.subscribe(watcher.session, '$SYS/#', subOptions());
  return { broker, stats, sys, watcher: watcher.outlet };
}

function authorize(broker: Broker, peerHost: string, action: 'subscribe' | 'publish', topic: string) {
  return broker.hooks.fold('client.subscribe', 'allow', info('asker', { peerHost }), {
    action,
    topic,
    qos: 0,
    retain: false,
  });
}

// ---- metrics ------------------------------------------------------------------------------------

describe('metrics: packets by type (EMQX emqx_metrics inc_recv / inc_sent)', () => {
  test('every received packet counts in packets.received and in its type', () => {
    const m = new Metrics();
    const received: Packet[] = [
      { type: PacketType.Pingreq },
      { type: PacketType.Puback, packetId: 1, reasonCode: 0, properties: null },
      { type: PacketType.Subscribe, packetId: 2, subscriptions: [], properties: null },
      { type: PacketType.Disconnect, reasonCode: 0, properties: null },
    ];
    for (const p of received) m.packetReceived(p);
    const j = m.toJSON();
    assert.equal(j['packets.received'], 4);
    assert.equal(j['packets.pingreq.received'], 1);
    assert.equal(j['packets.puback.received'], 1);
    assert.equal(j['packets.subscribe.received'], 1);
    assert.equal(j['packets.disconnect.received'], 1);
    assert.equal(j['packets.publish.received'], 0);
  });

  test('sent packets count with their bytes; failures count as EMQX counts them', () => {
    const m = new Metrics();
    const connack = (reasonCode: number): Packet => ({
      type: PacketType.Connack,
      sessionPresent: false,
      reasonCode,
      properties: null,
    });
    m.packetSent(connack(ReasonCode.Success), 4);
    m.packetSent(connack(ReasonCode.BadUserNameOrPassword), 4); // 5.0
    m.packetSent(connack(0x05), 4); // 3.1.1 "not authorized"
    m.packetSent(connack(ReasonCode.ServerBusy), 4);
    m.packetSent(
      { type: PacketType.Puback, packetId: 1, reasonCode: ReasonCode.NotAuthorized, properties: null },
      4,
    );
    m.packetSent(
      {
        type: PacketType.Pubrec,
        packetId: 2,
        reasonCode: ReasonCode.NoMatchingSubscribers,
        properties: null,
      },
      4,
    );
    m.packetSent(
      {
        type: PacketType.Suback,
        packetId: 3,
        reasonCodes: [1, ReasonCode.NotAuthorized, ReasonCode.TopicFilterInvalid],
        properties: null,
      },
      7,
    );
    m.packetSent(
      { type: PacketType.Unsuback, packetId: 4, reasonCodes: [0, 0x11, 0x87], properties: null },
      7,
    );
    m.packetSent({ type: PacketType.Pingresp }, 2);
    const j = m.toJSON();
    assert.equal(j['packets.sent'], 9);
    assert.equal(j['bytes.sent'], 40);
    assert.equal(j['packets.connack.sent'], 4);
    assert.equal(j['packets.connack.error'], 3);
    assert.equal(j['packets.connack.auth_error'], 2);
    assert.equal(j['packets.puback.sent'], 1);
    assert.equal(j['packets.pubrec.sent'], 1);
    assert.equal(j['packets.publish.error'], 1, '0x10 no matching subscribers is not an error');
    assert.equal(j['packets.publish.auth_error'], 1);
    assert.equal(j['packets.suback.sent'], 1);
    assert.equal(j['packets.subscribe.error'], 1, 'once per SUBACK');
    assert.equal(j['packets.subscribe.auth_error'], 1);
    assert.equal(j['packets.unsubscribe.error'], 1);
    assert.equal(j['packets.pingresp.sent'], 1);
  });

  test('a delivered PUBLISH counts by QoS; a $SYS one counts only its bytes', () => {
    const m = new Metrics();
    m.publishSent('a/b', 0, 10);
    m.publishSent('a/b', 1, 10);
    m.publishSent('a/b', 2, 10);
    m.publishSent('$SYS/brokers/x/uptime', 0, 30);
    const j = m.toJSON();
    assert.equal(j['bytes.sent'], 60);
    assert.equal(j['packets.sent'], 3);
    assert.equal(j['packets.publish.sent'], 3);
    assert.equal(j['messages.sent'], 3);
    assert.equal(j['messages.qos0.sent'], 1);
    assert.equal(j['messages.qos1.sent'], 1);
    assert.equal(j['messages.qos2.sent'], 1);
  });

  test('messages.received = the sum of messages.qos{0,1,2}.received', () => {
    const broker = makeBroker();
    broker.publish(new Message('t', Buffer.from('x'), 0, false, null, 'c'), info('c'));
    broker.publish(new Message('t', Buffer.from('x'), 1, false, null, 'c'), info('c'));
    broker.publish(new Message('t', Buffer.from('x'), 2, false, null, 'c'), info('c'));
    const j = broker.metrics.toJSON();
    assert.equal(j['messages.received'], 3);
    assert.equal(j['messages.qos0.received'], 1);
    assert.equal(j['messages.qos1.received'], 1);
    assert.equal(j['messages.qos2.received'], 1);
    assert.equal(j['messages.dropped.no_subscribers'], 3);
  });

  test("the broker's own $SYS messages are not received, dropped or retained messages", () => {
    const broker = makeBroker();
    broker.publishFromBroker('$SYS/brokers/n/version', Buffer.from('1'), 0, true, null);
    broker.publishFromBroker('$SYS/brokers/n/uptime', Buffer.from('5'), 0, false, null);
    const j = broker.metrics.toJSON();
    assert.equal(j['messages.received'], 0);
    assert.equal(j['messages.dropped'], 0);
    assert.equal(j['messages.dropped.no_subscribers'], 0);
    assert.equal(j['messages.retained'], 0);
    assert.equal(broker.retainedCount, 1, 'but the retained one is stored');
    // A client publishing to $SYS/... is client traffic and counts.
    broker.publish(new Message('$SYS/x', Buffer.from('1'), 0, false, null, 'c'), info('c'));
    assert.equal(broker.metrics.toJSON()['messages.received'], 1);
  });

  test('session drops count by reason under delivery.dropped.*', () => {
    const m = new Metrics();
    m.sessionDropped('queue_full');
    m.sessionDropped('qos0_offline');
    m.droppedNoSubscribers();
    const j = m.toJSON();
    assert.equal(j['messages.dropped'], 3);
    assert.equal(j['delivery.dropped'], 2);
    assert.equal(j['delivery.dropped.queue_full'], 1);
    assert.equal(j['delivery.dropped.qos0_msg'], 1);
    assert.equal(j['messages.dropped.no_subscribers'], 1);
  });
});

// ---- stats ----------------------------------------------------------------------------------------

describe('stats: gauges and high-water marks', () => {
  test('counts follow the broker; a .max keeps the high-water mark', () => {
    const broker = makeBroker();
    const stats = new Stats(broker);
    stats.start();
    try {
      const a = connect(broker, 'a');
      const b = connect(broker, 'b');
      broker.subscribe(a.session, 'x/#', subOptions());
      broker.subscribe(b.session, 'x/#', subOptions());
      broker.subscribe(b.session, 'y', subOptions());
      broker.subscribe(b.session, '$share/g/x/#', subOptions());
      broker.hooks.run('session.subscribed', info('b'), '$share/g/x/#', subOptions()); // as a channel does
      broker.unsubscribe(b.session, '$share/g/x/#');
      let s = stats.toJSON();
      assert.equal(s['connections.count'], 2);
      assert.equal(s['live_connections.count'], 2);
      assert.equal(s['sessions.count'], 2);
      assert.equal(s['subscriptions.count'], 3);
      assert.equal(s['topics.count'], 2, 'distinct filters');

      broker.unsubscribe(b.session, 'y');
      broker.closeSession(info('b'), liveChannel, b.session);
      s = stats.toJSON();
      assert.equal(s['connections.count'], 1);
      assert.equal(s['connections.max'], 2);
      assert.equal(s['live_connections.max'], 2);
      assert.equal(s['sessions.max'], 2);
      assert.equal(s['subscriptions.count'], 1);
      assert.equal(s['subscriptions.max'], 4, 'the shared one while it was there');
      assert.equal(s['topics.count'], 1);
      assert.equal(s['topics.max'], 2);
      assert.equal(s['subscriptions.shared.count'], 0);
      assert.equal(s['subscriptions.shared.max'], 1);
    } finally {
      stats.stop();
    }
  });

  test('the connect and subscribe hooks raise the marks between samples', () => {
    const broker = makeBroker();
    const stats = new Stats(broker);
    stats.start();
    try {
      const a = connect(broker, 'a');
      broker.hooks.run('client.connected', info('a'));
      broker.subscribe(a.session, 't', subOptions());
      broker.hooks.run('session.subscribed', info('a'), 't', subOptions());
      broker.unsubscribe(a.session, 't');
      broker.closeSession(info('a'), liveChannel, a.session);
      assert.equal(stats.connectionsMax, 1);
      assert.equal(stats.liveConnectionsMax, 1);
      assert.equal(stats.subscriptionsMax, 1);
      assert.equal(stats.topicsMax, 1);
    } finally {
      stats.stop();
    }
    assert.equal(broker.hooks.has('client.connected'), false, 'stop() removes its hooks');
  });

  test('a client that left a session with an expiry still counts in connections, not live_connections', () => {
    const broker = makeBroker();
    const stats = new Stats(broker);
    const a = connect(broker, 'a');
    a.session.expiryInterval = 60;
    broker.closeSession(info('a'), liveChannel, a.session);
    const s = stats.toJSON();
    assert.equal(s['connections.count'], 1);
    assert.equal(s['live_connections.count'], 0);
  });

  test('retained.count and the statistics of other parts (addSource)', () => {
    const broker = makeBroker();
    const stats = new Stats(broker);
    stats.addSource(() => ({ 'delayed.count': 4, 'delayed.max': 5 }));
    broker.publish(new Message('r', Buffer.from('v'), 0, true, null, 'c'), info('c'));
    const s = stats.toJSON();
    assert.equal(s['retained.count'], 1);
    assert.equal(s['retained.max'], 1);
    assert.equal(s['delayed.count'], 4);
    assert.equal(s['delayed.max'], 5);
  });
});

// ---- periodic messages ----------------------------------------------------------------------------

describe('$SYS periodic messages (EMQX emqx_sys)', () => {
  test('tick: version and sysdescr retained under the node, the node list on $SYS/brokers', () => {
    const { broker, sys, watcher } = sysBroker();
    sys.tick();
    const version = watcher.received.find((r) => r.topic === `${PREFIX}version`);
    assert.deepEqual(version, { topic: `${PREFIX}version`, payload: '9.8.7', retain: false });
    assert.equal(watcher.last(`${PREFIX}sysdescr`), 'Aviary');
    assert.equal(watcher.last('$SYS/brokers'), NODE);
    // Retained: a later subscriber gets them from the store.
    const retained = [...broker.retainedMatching('$SYS/#')].map((m) => m.topic).sort();
    assert.deepEqual(retained, ['$SYS/brokers', `${PREFIX}sysdescr`, `${PREFIX}version`]);
    sys.stop();
  });

  test('tick: stats/<name> and metrics/<name> with dots turned into slashes', () => {
    const { broker, sys, watcher } = sysBroker();
    connect(broker, 'other');
    broker.publish(new Message('a/b', Buffer.from('x'), 1, false, null, 'other'), info('other'));
    sys.tick();
    assert.equal(watcher.last(`${PREFIX}stats/connections/count`), '2');
    assert.equal(watcher.last(`${PREFIX}stats/live_connections/count`), '2');
    assert.equal(watcher.last(`${PREFIX}stats/subscriptions/count`), '1');
    assert.equal(watcher.last(`${PREFIX}stats/topics/count`), '1');
    assert.equal(watcher.last(`${PREFIX}stats/retained/count`), '3', 'version, sysdescr, brokers');
    assert.equal(watcher.last(`${PREFIX}metrics/messages/received`), '1');
    assert.equal(watcher.last(`${PREFIX}metrics/messages/qos1/received`), '1');
    assert.equal(watcher.last(`${PREFIX}metrics/messages/dropped/no_subscribers`), '1');
    assert.equal(watcher.last(`${PREFIX}metrics/packets/publish/received`), '0', 'no packets: no sockets');
    for (const name of Object.keys(broker.metrics.toJSON())) {
      const topic = `${PREFIX}metrics/${name.replaceAll('.', '/')}`;
      assert.ok(watcher.last(topic) !== undefined, `nothing on ${topic}`);
    }
    assert.ok(
      watcher.received.every((r) => !r.topic.includes('/stats/') || !r.retain),
      'stats are not retained',
    );
    sys.stop();
  });

  test('heartbeat: uptime in milliseconds and datetime in RFC 3339', () => {
    const { broker, sys, watcher } = sysBroker();
    sys.heartbeat(broker.startedAt + 12_345);
    assert.equal(watcher.last(`${PREFIX}uptime`), '12345');
    const datetime = watcher.last(`${PREFIX}datetime`)!;
    assert.match(datetime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
    assert.equal(Date.parse(datetime), broker.startedAt + 12_345);
    sys.stop();
  });

  test('rfc3339 writes local time with its offset', () => {
    const d = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));
    assert.equal(Date.parse(rfc3339(d)), d.getTime());
  });

  test('start() with an interval publishes the retained information at once; stop() ends the timers', () => {
    const broker = makeBroker();
    const sys = new SysTopics(
      broker,
      new Stats(broker),
      sysOptions({ msgInterval: 60_000, heartbeatInterval: 30_000 }),
    );
    sys.start();
    assert.equal([...broker.retainedMatching(`${PREFIX}version`)].length, 1);
    sys.stop();
    assert.equal(broker.hooks.has('client.connected'), false);
    assert.equal(broker.hooks.has('client.subscribe'), false);
  });
});

// ---- events ---------------------------------------------------------------------------------------

describe('$SYS client events', () => {
  const COMMON = [
    'clientid',
    'username',
    'ipaddress',
    'sockport',
    'protocol',
    'proto_name',
    'proto_ver',
    'connected_at',
    'ts',
  ];

  test('connected: the JSON fields of EMQX 5 on clients/<clientid>/connected', () => {
    const { broker, sys, watcher } = sysBroker();
    const client = info('dev-1', {
      username: 'alice',
      protocolVersion: 4,
      protoName: 'MQTT',
      keepalive: 30,
      cleanStart: false,
      expiryInterval: 7200,
    });
    broker.hooks.run('client.connected', client);
    const p = watcher.json(`${PREFIX}clients/dev-1/connected`);
    assert.deepEqual(
      Object.keys(p).sort(),
      [...COMMON, 'keepalive', 'clean_start', 'expiry_interval'].sort(),
    );
    assert.deepEqual(p, {
      clientid: 'dev-1',
      username: 'alice',
      ipaddress: '127.0.0.1',
      sockport: 1883,
      protocol: 'mqtt',
      proto_name: 'MQTT',
      proto_ver: 4,
      connected_at: 1_700_000_000_000,
      ts: p.ts,
      keepalive: 30,
      clean_start: false,
      expiry_interval: 7_200_000, // milliseconds, as EMQX 5 sends it
    });
    assert.equal(typeof p.ts, 'number');
    sys.stop();
  });

  test('disconnected: the common fields, reason and disconnected_at', () => {
    const { broker, sys, watcher } = sysBroker();
    broker.hooks.run('client.disconnected', info('dev-2', { protocolVersion: 3 }), 'keepalive_timeout');
    const p = watcher.json(`${PREFIX}clients/dev-2/disconnected`);
    assert.deepEqual(Object.keys(p).sort(), [...COMMON, 'reason', 'disconnected_at'].sort());
    assert.equal(p.reason, 'keepalive_timeout');
    assert.equal(p.proto_name, 'MQIsdp', '3.1 by its version when CONNECT gave no name');
    assert.equal(p.username, null);
    assert.equal(typeof p.disconnected_at, 'number');
    sys.stop();
  });

  test('subscribed / unsubscribed when enabled', () => {
    const { broker, sys, watcher } = sysBroker({
      events: {
        clientConnected: false,
        clientDisconnected: false,
        clientSubscribed: true,
        clientUnsubscribed: true,
      },
    });
    broker.hooks.run('session.subscribed', info('dev-3', { username: 'bob' }), 'a/+', {
      ...subOptions(1),
      noLocal: true,
      retainHandling: 2,
    });
    broker.hooks.run('session.unsubscribed', info('dev-3'), 'a/+');
    const sub = watcher.json(`${PREFIX}clients/dev-3/subscribed`);
    assert.deepEqual(
      { ...sub, ts: 0 },
      {
        clientid: 'dev-3',
        username: 'bob',
        protocol: 'mqtt',
        topic: 'a/+',
        subopts: { qos: 1, nl: 1, rap: 0, rh: 2 },
        ts: 0,
      },
    );
    const unsub = watcher.json(`${PREFIX}clients/dev-3/unsubscribed`);
    assert.deepEqual(Object.keys(unsub).sort(), ['clientid', 'protocol', 'topic', 'ts', 'username']);
    broker.hooks.run('client.connected', info('dev-3'));
    assert.equal(watcher.last(`${PREFIX}clients/dev-3/connected`), undefined, 'connected is switched off');
    sys.stop();
  });

  test('subscribed / unsubscribed are off by default (EMQX)', () => {
    const { broker, sys, watcher } = sysBroker();
    assert.equal(broker.hooks.has('session.unsubscribed'), false);
    broker.hooks.run('session.subscribed', info('dev-4'), 'a', subOptions());
    assert.equal(watcher.last(`${PREFIX}clients/dev-4/subscribed`), undefined);
    sys.stop();
  });

  test('a client id with + or # is not a topic level: no event', () => {
    const { broker, sys, watcher } = sysBroker();
    broker.hooks.run('client.connected', info('a+b'));
    broker.hooks.run('client.connected', info('c#'));
    assert.deepEqual(
      watcher.received.filter((r) => r.topic.includes('/clients/')),
      [],
    );
    sys.stop();
  });
});

// ---- who may subscribe ----------------------------------------------------------------------------

describe('$SYS subscriptions: sys_topics.subscribe_allow_hosts', () => {
  test('a $SYS filter from a host not listed is denied; listed hosts, other filters and publishes pass', () => {
    const { broker, sys } = sysBroker();
    assert.equal(authorize(broker, '10.1.2.3', 'subscribe', '$SYS/#'), 'deny');
    assert.equal(authorize(broker, '10.1.2.3', 'subscribe', '$SYS'), 'deny');
    assert.equal(authorize(broker, '10.1.2.3', 'subscribe', '$SYS/brokers/+/uptime'), 'deny');
    assert.equal(authorize(broker, '10.1.2.3', 'subscribe', '$share/g/$SYS/#'), 'deny');
    assert.equal(authorize(broker, '127.0.0.1', 'subscribe', '$SYS/#'), 'allow');
    assert.equal(authorize(broker, '::1', 'subscribe', '$SYS/#'), 'allow');
    assert.equal(authorize(broker, '::ffff:127.0.0.1', 'subscribe', '$SYS/#'), 'allow');
    // [MQTT-4.7.2-1]: '#' and '+' at the first level never match $SYS, so they are not checked.
    assert.equal(authorize(broker, '10.1.2.3', 'subscribe', '#'), 'allow');
    assert.equal(authorize(broker, '10.1.2.3', 'subscribe', '$SYSTEM/x'), 'allow');
    assert.equal(authorize(broker, '10.1.2.3', 'publish', '$SYS/x'), 'allow');
    sys.stop();
  });

  test('"all" (or null) lets every host subscribe: no callback is registered at all', () => {
    for (const hosts of [['all'], null]) {
      const { broker, sys } = sysBroker({ subscribeAllowHosts: hosts });
      assert.equal(broker.hooks.has('client.subscribe'), false);
      sys.stop();
    }
  });

  test('an empty list denies every host', () => {
    const { broker, sys } = sysBroker({ subscribeAllowHosts: [] });
    assert.equal(authorize(broker, '127.0.0.1', 'subscribe', '$SYS/#'), 'deny');
    sys.stop();
  });

  test('isSysFilter looks through $share and $queue', () => {
    assert.equal(isSysFilter('$SYS/#'), true);
    assert.equal(isSysFilter('$queue/$SYS/a'), true);
    assert.equal(isSysFilter('$share/g/$SYS/a'), true);
    assert.equal(isSysFilter('$share/g/a'), false);
    assert.equal(isSysFilter('a/$SYS'), false);
  });
});
