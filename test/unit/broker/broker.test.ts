/**
 * The broker core (src/broker/broker.ts) without channels or sockets: sessions get a recording
 * Outlet, live connections are fake LiveChannels that record kicks.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Broker, type BrokerOptions, type LiveChannel, CONSUMED } from '../../../src/broker/broker.js';
import { Message } from '../../../src/broker/message.js';
import { MemoryRetainedStore } from '../../../src/persistence/memory/retained.js';
import type { ClientInfo, SubscriptionOptions } from '../../../src/broker/types.js';
import { type QoS, ReasonCode } from '../../../src/protocol/index.js';
import type { Outlet, Session } from '../../../src/session/session.js';

interface Received {
  topic: string;
  payload: string;
  qos: QoS;
  retain: boolean;
  subIds: number[] | null;
}

class RecordingOutlet implements Outlet {
  readonly received: Received[] = [];
  sendPublish(
    message: Message,
    qos: QoS,
    retain: boolean,
    _packetId: number,
    _dup: boolean,
    subIds: number[] | null,
  ): void {
    this.received.push({ topic: message.topic, payload: message.payload.toString(), qos, retain, subIds });
  }
  sendPubrel(): void {}
}

class FakeChannel implements LiveChannel {
  readonly kicks: Array<[reasonCode: number, reason: string]> = [];
  kick(reasonCode: number, reason: string): void {
    this.kicks.push([reasonCode, reason]);
  }
}

const SESSION_LIMITS: BrokerOptions['session'] = {
  maxInflight: 32,
  maxMqueueLen: 100,
  mqueueStoreQos0: false,
};

function makeBroker(options: Partial<BrokerOptions> = {}): Broker {
  return new Broker({
    nodeName: 'aviary@127.0.0.1',
    session: SESSION_LIMITS,
    retainAvailable: true,
    retained: new MemoryRetainedStore<Message>(),
    ...options,
  });
}

function info(clientId: string): ClientInfo {
  return {
    clientId,
    username: null,
    peerHost: '127.0.0.1',
    peerPort: 1234,
    listener: 'tcp:default',
    zone: 'default',
    protocolVersion: 5,
    isSuperuser: false,
    connectedAt: 0,
  };
}

function subOptions(qos: QoS, extra: Partial<SubscriptionOptions> = {}): SubscriptionOptions {
  return {
    qos,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    subscriptionId: 0,
    shareGroup: null,
    ...extra,
  };
}

interface Client {
  info: ClientInfo;
  channel: FakeChannel;
  session: Session;
  outlet: RecordingOutlet;
  present: boolean;
}

/** Opens (or takes over) a session and attaches a recording outlet, as a channel would. */
function connect(broker: Broker, clientId: string, clean = true): Client {
  const client = info(clientId);
  const channel = new FakeChannel();
  const { session, present } = broker.openSession(client, clean, channel);
  const outlet = new RecordingOutlet();
  session.attach(outlet, 65_535);
  return { info: client, channel, session, outlet, present };
}

function message(topic: string, payload = 'x', qos: QoS = 0, retain = false, from = 'publisher'): Message {
  return new Message(topic, Buffer.from(payload), qos, retain, null, from);
}

const topics = (c: Client) => c.outlet.received.map((r) => r.topic);

describe('broker: routing', () => {
  test('publish reaches every matching session, with QoS = min(message, subscription) [MQTT-3.8.4-8]', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    const b = connect(broker, 'b');
    const c = connect(broker, 'c');
    broker.subscribe(a.session, 'sensors/+', subOptions(1));
    broker.subscribe(b.session, 'sensors/#', subOptions(0));
    broker.subscribe(c.session, 'other', subOptions(2));
    assert.equal(broker.publish(message('sensors/1', 'hot', 2), null), 2);
    assert.deepEqual(a.outlet.received, [
      { topic: 'sensors/1', payload: 'hot', qos: 1, retain: false, subIds: null },
    ]);
    assert.deepEqual(b.outlet.received, [
      { topic: 'sensors/1', payload: 'hot', qos: 0, retain: false, subIds: null },
    ]);
    assert.equal(c.outlet.received.length, 0);

    broker.subscribe(c.session, 'sensors/1', subOptions(2));
    broker.publish(message('sensors/1', 'cold', 1), null);
    assert.equal(c.outlet.received[0]?.qos, 1, 'a QoS 1 message stays QoS 1 under a QoS 2 subscription');
    assert.equal(a.outlet.received[1]?.qos, 1);
    assert.equal(b.outlet.received[1]?.qos, 0);
  });

  test('a session with two matching subscriptions gets one copy at the highest QoS [MQTT-3.3.4-2]', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    broker.subscribe(a.session, 'x/+', subOptions(0));
    broker.subscribe(a.session, 'x/#', subOptions(1));
    assert.equal(broker.publish(message('x/y', 'p', 1), null), 1);
    assert.deepEqual(
      a.outlet.received.map((r) => r.qos),
      [1],
    );
  });

  test('the subscription identifier travels with the delivery', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    broker.subscribe(a.session, 't', subOptions(0, { subscriptionId: 42 }));
    broker.publish(message('t'), null);
    assert.deepEqual(a.outlet.received[0]?.subIds, [42]);
  });

  test('No Local: a message is not sent back to its publisher [MQTT-3.8.3-3]', () => {
    const broker = makeBroker();
    const me = connect(broker, 'me');
    const other = connect(broker, 'other');
    broker.subscribe(me.session, 'chat', subOptions(0, { noLocal: true }));
    broker.subscribe(other.session, 'chat', subOptions(0, { noLocal: true }));
    assert.equal(broker.publish(message('chat', 'hi', 0, false, 'me'), me.info), 1);
    assert.deepEqual(topics(me), []);
    assert.deepEqual(topics(other), ['chat']);

    broker.subscribe(me.session, 'chat', subOptions(0, { noLocal: false }));
    broker.publish(message('chat', 'again', 0, false, 'me'), me.info);
    assert.deepEqual(topics(me), ['chat'], 'without No Local the publisher gets its own message');
  });

  test('Retain As Published keeps the retain flag; otherwise it is cleared [MQTT-3.3.1-12] [MQTT-3.3.1-13]', () => {
    const broker = makeBroker();
    const keep = connect(broker, 'keep');
    const clear = connect(broker, 'clear');
    broker.subscribe(keep.session, 't', subOptions(0, { retainAsPublished: true }));
    broker.subscribe(clear.session, 't', subOptions(0, { retainAsPublished: false }));
    broker.publish(message('t', 'r', 0, true), null);
    broker.publish(message('t', 'n', 0, false), null);
    assert.deepEqual(
      keep.outlet.received.map((r) => [r.payload, r.retain]),
      [
        ['r', true],
        ['n', false],
      ],
    );
    assert.deepEqual(
      clear.outlet.received.map((r) => [r.payload, r.retain]),
      [
        ['r', false],
        ['n', false],
      ],
    );
  });

  test('subscribing again replaces the options and keeps one route [MQTT-3.8.4-3]', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    assert.equal(broker.subscribe(a.session, 't', subOptions(0)), false, 'new');
    assert.equal(broker.subscribe(a.session, 't', subOptions(2)), true, 'existed');
    assert.equal(broker.subscriptionCount, 1);
    assert.equal(a.session.subscriptions.get('t')?.qos, 2);
    assert.equal(broker.publish(message('t', 'x', 2), null), 1);
    assert.equal(a.outlet.received[0]?.qos, 2);
  });

  test('unsubscribe removes the route; a second unsubscribe returns false', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    broker.subscribe(a.session, 't/#', subOptions(0));
    broker.publish(message('t/1'), null); // cached in the match cache
    assert.equal(broker.unsubscribe(a.session, 't/#'), true);
    assert.equal(broker.unsubscribe(a.session, 't/#'), false);
    assert.equal(broker.subscriptionCount, 0);
    assert.equal(a.session.subscriptions.size, 0);
    assert.equal(broker.publish(message('t/1'), null), 0, 'no stale cached route');
    assert.deepEqual(topics(a), ['t/1']);
  });

  test('$SYS topics are not matched by # [MQTT-4.7.2-1]', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    broker.subscribe(a.session, '#', subOptions(0));
    assert.equal(broker.publishFromBroker('$SYS/brokers', Buffer.from('x'), 0, false, null), 0);
    broker.subscribe(a.session, '$SYS/#', subOptions(0));
    assert.equal(broker.publishFromBroker('$SYS/brokers', Buffer.from('x'), 0, false, null), 1);
  });
});

describe('broker: retained messages', () => {
  const retained = (broker: Broker, filter: string) =>
    [...broker.retainedMatching(filter)].map((m) => `${m.topic}=${m.payload.toString()}`).sort();

  test('a retained message is stored, replaced, and deleted by an empty payload [MQTT-3.3.1-5..7]', () => {
    const broker = makeBroker();
    broker.publish(message('r/1', 'one', 1, true), null);
    broker.publish(message('r/2', 'two', 0, true), null);
    broker.publish(message('r/3', 'not retained', 0, false), null);
    assert.equal(broker.retainedCount, 2);
    assert.deepEqual(retained(broker, 'r/+'), ['r/1=one', 'r/2=two']);

    broker.publish(message('r/1', 'uno', 1, true), null);
    assert.equal(broker.retainedCount, 2);
    assert.deepEqual(retained(broker, 'r/1'), ['r/1=uno'], 'replaced');

    broker.publish(message('r/1', '', 0, true), null);
    assert.equal(broker.retainedCount, 1);
    assert.deepEqual(retained(broker, '#'), ['r/2=two'], 'deleted');
  });

  test('an empty retained message is still delivered to current subscribers', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    broker.subscribe(a.session, 'r', subOptions(0, { retainAsPublished: true }));
    broker.publish(message('r', 'v', 0, true), null);
    broker.publish(message('r', '', 0, true), null);
    assert.deepEqual(
      a.outlet.received.map((r) => r.payload),
      ['v', ''],
    );
    assert.equal(broker.retainedCount, 0);
  });

  test('retainedMatching applies the wildcard rules, $ topics included', () => {
    const broker = makeBroker();
    for (const t of ['a', 'a/b', 'a/b/c', '$SYS/x', 'b']) broker.publish(message(t, t, 0, true), null);
    assert.deepEqual(retained(broker, 'a/#'), ['a/b/c=a/b/c', 'a/b=a/b', 'a=a']);
    assert.deepEqual(retained(broker, 'a/+'), ['a/b=a/b']);
    assert.deepEqual(retained(broker, '#'), ['a/b/c=a/b/c', 'a/b=a/b', 'a=a', 'b=b']);
    assert.deepEqual(retained(broker, '$SYS/#'), ['$SYS/x=$SYS/x']);
    assert.deepEqual(retained(broker, 'c'), []);
  });

  test('the stored message owns its payload (the read buffer may be reused)', () => {
    const broker = makeBroker();
    const bytes = Buffer.from('original');
    broker.publish(new Message('r', bytes.subarray(0, 8), 0, true, null, 'p'), null);
    bytes.fill(0);
    assert.deepEqual(retained(broker, 'r'), ['r=original']);
  });

  test('nothing is stored when retain is not available', () => {
    const broker = makeBroker({ retainAvailable: false });
    broker.publish(message('r', 'v', 0, true), null);
    assert.equal(broker.retainedCount, 0);
  });
});

describe('broker: the message.publish hook', () => {
  test('{ stop: null } takes the message: not routed, not retained, CONSUMED; the hook counts it', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    broker.subscribe(a.session, '#', subOptions(0));
    broker.hooks.add('message.publish', (m) => (m?.topic.startsWith('secret/') ? { stop: null } : undefined));
    assert.equal(broker.publish(message('secret/x', 'v', 0, true), null), CONSUMED);
    assert.equal(broker.publish(message('public/x'), null), 1);
    assert.deepEqual(topics(a), ['public/x']);
    assert.equal(broker.retainedCount, 0);
    assert.equal(broker.metrics.messagesReceived, 2);
    assert.equal(broker.metrics.messagesDropped, 0);
    assert.equal(broker.metrics.messagesDroppedNoSubscribers, 0);
  });

  test('{ ok: message } rewrites it before routing and retaining', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    broker.subscribe(a.session, 'new/#', subOptions(1));
    let from: ClientInfo | null | undefined;
    broker.hooks.add('message.publish', (m, client) => {
      from = client;
      if (m === null) return undefined;
      return { ok: new Message(`new/${m.topic}`, Buffer.from('rewritten'), m.qos, m.retain, null, m.from) };
    });
    const publisher = info('publisher');
    assert.equal(broker.publish(message('t', 'v', 1, true), publisher), 1);
    assert.equal(from, publisher, 'the hook sees the publishing client');
    assert.deepEqual(a.outlet.received, [
      { topic: 'new/t', payload: 'rewritten', qos: 1, retain: false, subIds: null },
    ]);
    assert.deepEqual(
      [...broker.retainedMatching('#')].map((m) => m.topic),
      ['new/t'],
    );
  });
});

describe('broker: sessions and takeover', () => {
  test('a new client id opens a new session (present = false)', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a', false);
    assert.equal(a.present, false);
    assert.equal(broker.sessionCount, 1);
    assert.equal(broker.connectionCount, 1);
  });

  test('takeover with clean = false: the old channel is kicked with 0x8E and the session kept [MQTT-3.1.4-3]', () => {
    const broker = makeBroker();
    const first = connect(broker, 'dev', false);
    first.session.expiryInterval = 60; // a session that outlives its connection
    broker.subscribe(first.session, 't', subOptions(1));
    const second = connect(broker, 'dev', false);
    assert.deepEqual(first.channel.kicks, [[ReasonCode.SessionTakenOver, 'takenover']]);
    assert.deepEqual(second.channel.kicks, []);
    assert.equal(second.session, first.session, 'the same session');
    assert.equal(second.present, true);
    assert.equal(broker.sessionCount, 1);
    assert.equal(broker.connectionCount, 1);
    broker.publish(message('t', 'after', 1), null);
    assert.deepEqual(topics(second), ['t'], 'subscriptions kept, delivered to the new connection');
    assert.deepEqual(topics(first), [], 'nothing to the old one');
  });

  test('takeover with clean = true: the session is replaced and its subscriptions dropped [MQTT-3.1.2-4]', () => {
    const broker = makeBroker();
    const first = connect(broker, 'dev', false);
    broker.subscribe(first.session, 't', subOptions(1));
    const second = connect(broker, 'dev', true);
    assert.deepEqual(first.channel.kicks, [[ReasonCode.SessionTakenOver, 'takenover']]);
    assert.notEqual(second.session, first.session);
    assert.equal(second.present, false);
    assert.equal(broker.sessionCount, 1);
    assert.equal(broker.subscriptionCount, 0);
    assert.equal(broker.publish(message('t'), null), 0);
  });

  test('takeover of a session with expiry 0: it ended with the old connection, present = false', () => {
    const broker = makeBroker();
    const first = connect(broker, 'dev', false);
    first.session.expiryInterval = 0;
    broker.subscribe(first.session, 't', subOptions(1));
    const second = connect(broker, 'dev', false);
    assert.deepEqual(first.channel.kicks, [[ReasonCode.SessionTakenOver, 'takenover']]);
    assert.notEqual(second.session, first.session);
    assert.equal(second.present, false);
    assert.equal(broker.sessionCount, 1);
    assert.equal(broker.publish(message('t'), null), 0, 'the old subscriptions are gone');
  });

  test('the kicked channel closing afterwards does not touch the new session', () => {
    const broker = makeBroker();
    const first = connect(broker, 'dev', false);
    first.session.expiryInterval = 60;
    broker.subscribe(first.session, 't', subOptions(0));
    const second = connect(broker, 'dev', false);
    broker.closeSession(first.info, first.channel, first.session);
    assert.equal(broker.connectionCount, 1);
    assert.equal(second.session.connected, true);
    assert.equal(broker.publish(message('t'), null), 1);
    assert.deepEqual(topics(second), ['t']);
  });

  test('a session resumed after a disconnect (not a takeover) kicks nobody', () => {
    const broker = makeBroker();
    const first = connect(broker, 'dev', false);
    first.session.expiryInterval = 60;
    broker.closeSession(first.info, first.channel, first.session);
    const second = connect(broker, 'dev', false);
    assert.deepEqual(first.channel.kicks, []);
    assert.equal(second.present, true);
  });

  test('closeSession with expiry 0 discards the session and its subscriptions', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    broker.subscribe(a.session, 't/#', subOptions(1));
    broker.publish(message('t/1'), null); // fills the match cache
    a.session.expiryInterval = 0;
    broker.closeSession(a.info, a.channel, a.session);
    assert.equal(broker.sessionCount, 0);
    assert.equal(broker.connectionCount, 0);
    assert.equal(broker.subscriptionCount, 0);
    assert.equal(broker.publish(message('t/1'), null), 0, 'routes to nobody');
    assert.equal(broker.metrics.messagesDroppedNoSubscribers, 1);
    const again = connect(broker, 'a', false);
    assert.equal(again.present, false, 'a later CONNECT finds no session');
  });

  test('closeSession with expiry > 0 keeps the session; messages queue for it', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a', false);
    broker.subscribe(a.session, 't', subOptions(1));
    a.session.expiryInterval = 3600;
    broker.closeSession(a.info, a.channel, a.session);
    assert.equal(broker.sessionCount, 1);
    assert.equal(broker.connectionCount, 0);
    assert.equal(a.session.connected, false);
    assert.equal(broker.publish(message('t', 'while away', 1), null), 1);
    assert.equal(a.session.queueLength, 1);
    const back = connect(broker, 'a', false);
    assert.equal(back.present, true);
    assert.deepEqual(
      back.outlet.received.map((r) => r.payload),
      ['while away'],
    );
  });
});

describe('broker: metrics', () => {
  test('messages.received, messages.dropped and messages.dropped.no_subscribers move', () => {
    const broker = makeBroker();
    const dropped: Array<[string, string]> = [];
    broker.hooks.add('message.dropped', (m, reason) => dropped.push([m.topic, reason]));
    broker.publish(message('nobody'), null);
    const a = connect(broker, 'a', false);
    broker.subscribe(a.session, 'x', subOptions(0));
    broker.publish(message('x'), null);
    a.session.expiryInterval = 10;
    broker.closeSession(a.info, a.channel, a.session);
    broker.publish(message('x'), null); // QoS 0 to an offline session: dropped
    const m = broker.metrics.toJSON();
    assert.equal(m['messages.received'], 3);
    assert.equal(m['messages.dropped'], 2);
    assert.equal(m['messages.dropped.no_subscribers'], 1);
    assert.deepEqual(dropped, [
      ['nobody', 'no_subscribers'],
      ['x', 'qos0_offline'],
    ]);
  });

  test('a full offline queue counts each message it drops', () => {
    const broker = makeBroker({ session: { ...SESSION_LIMITS, maxMqueueLen: 2 } });
    const dropped: string[] = [];
    broker.hooks.add('message.dropped', (m, reason) => dropped.push(`${m.payload.toString()}:${reason}`));
    const a = connect(broker, 'a', false);
    broker.subscribe(a.session, 'q', subOptions(1));
    a.session.expiryInterval = 10;
    broker.closeSession(a.info, a.channel, a.session);
    for (const p of ['1', '2', '3', '4']) broker.publish(message('q', p, 1), null);
    assert.equal(broker.metrics.messagesDropped, 2);
    assert.deepEqual(dropped, ['1:queue_full', '2:queue_full']);
  });

  test('messages.retained counts retained publishes', () => {
    const broker = makeBroker();
    broker.publish(message('r', 'v', 0, true), null);
    broker.publish(message('r', 'w', 0, true), null);
    assert.equal(broker.metrics.toJSON()['messages.retained'], 2);
  });
});

describe('broker: session expiry', () => {
  test('a detached session is discarded once its expiry interval has passed [MQTT-3.1.2-23]', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a', false);
    broker.subscribe(a.session, 't', subOptions(1));
    a.session.expiryInterval = 10;
    broker.closeSession(a.info, a.channel, a.session);
    const at = a.session.disconnectedAt;
    assert.equal(broker.sweepExpiredSessions(at + 9_999), 0, 'not yet');
    assert.equal(broker.sessionCount, 1);
    assert.equal(broker.sweepExpiredSessions(at + 10_000), 1);
    assert.equal(broker.sessionCount, 0);
    assert.equal(broker.subscriptionCount, 0);
    assert.equal(broker.publish(message('t'), null), 0);
    assert.equal(connect(broker, 'a', false).present, false);
  });

  test('connected sessions and an interval of 0xFFFFFFFF never expire', () => {
    const broker = makeBroker();
    const live = connect(broker, 'live', false);
    live.session.expiryInterval = 1;
    const forever = connect(broker, 'forever', false);
    forever.session.expiryInterval = 0xffff_ffff;
    broker.closeSession(forever.info, forever.channel, forever.session);
    assert.equal(broker.sweepExpiredSessions(Date.now() + 10 * 365 * 24 * 3600 * 1000), 0);
    assert.equal(broker.sessionCount, 2);
  });
});
