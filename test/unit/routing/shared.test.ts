/**
 * Shared subscriptions without sockets: the pick strategies of a SharedGroup
 * (src/routing/shared.ts), then the broker's group table and redispatch (src/broker/broker.ts)
 * with sessions that record what they are sent.
 *
 * Randomness comes from a seeded generator, so every distribution below is the same on every
 * run; the bounds are wide (a fair pick lands well inside them) and only catch a broken strategy.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Broker, type LiveChannel } from '../../../src/broker/broker.js';
import { Message } from '../../../src/broker/message.js';
import type { ClientInfo, SubscriptionOptions } from '../../../src/broker/types.js';
import { MemoryRetainedStore } from '../../../src/persistence/memory/retained.js';
import type { QoS } from '../../../src/protocol/index.js';
import { fnv1a, type ShareMember, SharedGroup, type SharedStrategy } from '../../../src/routing/shared.js';
import type { Outlet, Session } from '../../../src/session/session.js';
import { clientInfo } from '../../helpers/client-info.js';

class Member implements ShareMember {
  constructor(
    readonly name: string,
    public connected = true,
  ) {}
}

/** A small deterministic generator (mulberry32) in [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function group(strategy: SharedStrategy, names = ['a', 'b', 'c'], seed = 1): [SharedGroup<Member>, Member[]] {
  const g = new SharedGroup<Member>('g', 't/#', strategy, { random: seeded(seed) });
  const members = names.map((n) => new Member(n));
  for (const m of members) g.add(m);
  return [g, members];
}

function picks(g: SharedGroup<Member>, n: number, publisher = 'pub', topic = 't/1'): string[] {
  return Array.from({ length: n }, () => g.pick(publisher, topic)?.name ?? '-');
}

function counts(names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (out[n] ?? 0) + 1;
  return out;
}

describe('SharedGroup: membership', () => {
  test('an empty group picks no one', () => {
    const g = new SharedGroup<Member>('g', 't', 'round_robin');
    assert.equal(g.pick('p', 't'), null);
    assert.equal(g.size, 0);
  });

  test('a member joins once; remove says whether it was a member', () => {
    const [g, [a, b]] = group('round_robin', ['a', 'b']);
    g.add(a!);
    assert.equal(g.size, 2);
    assert.equal(g.remove(a!), true);
    assert.equal(g.remove(a!), false);
    assert.deepEqual(
      g.members.map((m) => m.name),
      ['b'],
    );
    assert.equal(g.pick('p', 't'), b);
  });

  test('a single member is picked whether online or not', () => {
    const [g, [a]] = group('random', ['a']);
    a!.connected = false;
    assert.equal(g.pick('p', 't'), a);
  });

  for (const strategy of ['random', 'round_robin', 'sticky', 'hash_clientid', 'hash_topic'] as const) {
    test(`${strategy}: offline members are skipped while one is online; with none online one is picked all the same`, () => {
      const [g, [a, b, c]] = group(strategy);
      a!.connected = false;
      c!.connected = false;
      assert.deepEqual(new Set(picks(g, 30, 'p1')), new Set(['b']));
      b!.connected = false;
      const anyone = picks(g, 30, 'p2');
      assert.ok(anyone.every((n) => n !== '-'));
    });
  }
});

describe('SharedGroup: strategies', () => {
  test('round_robin: every member in turn, in the order they joined', () => {
    const [g] = group('round_robin');
    assert.deepEqual(picks(g, 7), ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  test('round_robin: the cursor is the group’s own, whoever publishes', () => {
    const [g] = group('round_robin');
    assert.deepEqual(
      [g.pick('p1', 't/1'), g.pick('p2', 't/2'), g.pick('p3', 't/3')].map((m) => m?.name),
      ['a', 'b', 'c'],
    );
    const [other] = group('round_robin');
    assert.equal(other.pick('p1', 't/1')?.name, 'a', 'another group has its own cursor');
  });

  test('round_robin: a member that joins takes its turn', () => {
    const [g] = group('round_robin', ['a', 'b']);
    assert.deepEqual(picks(g, 2), ['a', 'b']);
    g.add(new Member('c'));
    assert.deepEqual(picks(g, 3), ['c', 'a', 'b']);
  });

  test('round_robin_per_group is round robin per group', () => {
    const [g] = group('round_robin_per_group');
    assert.deepEqual(picks(g, 4), ['a', 'b', 'c', 'a']);
  });

  for (const strategy of ['random', 'local'] as const) {
    test(`${strategy}: every member gets about a third of 3000 messages`, () => {
      const [g] = group(strategy, ['a', 'b', 'c'], 42);
      const c = counts(picks(g, 3000));
      assert.deepEqual(Object.keys(c).sort(), ['a', 'b', 'c']);
      for (const n of Object.values(c)) assert.ok(n > 800 && n < 1200, `${JSON.stringify(c)} is not even`);
    });
  }

  test('sticky: the same member until it goes offline or leaves, then another one sticks', () => {
    const [g, members] = group('sticky', ['a', 'b', 'c'], 7);
    const first = g.pick('p', 't')!;
    assert.deepEqual(new Set(picks(g, 50, 'p2', 'x')), new Set([first.name]));
    first.connected = false;
    const second = g.pick('p', 't')!;
    assert.notEqual(second, first);
    assert.deepEqual(new Set(picks(g, 50)), new Set([second.name]), 'sticks to the new pick');
    first.connected = true;
    assert.equal(g.pick('p', 't'), second, 'does not go back when the first returns');
    g.remove(second);
    const third = g.pick('p', 't')!;
    assert.ok(members.includes(third) && third !== second);
    assert.deepEqual(new Set(picks(g, 20)), new Set([third.name]));
  });

  test('sticky: different seeds stick to different members (the first pick is random)', () => {
    const firsts = new Set<string>();
    for (let seed = 1; seed <= 30; seed++)
      firsts.add(group('sticky', ['a', 'b', 'c'], seed)[0].pick('p', 't')!.name);
    assert.deepEqual([...firsts].sort(), ['a', 'b', 'c']);
  });

  test('hash_clientid: one publisher always gets the same member, whatever the topic', () => {
    const [g] = group('hash_clientid');
    for (const publisher of ['sensor-1', 'sensor-2', 'x', '']) {
      const got = new Set(Array.from({ length: 20 }, (_, i) => g.pick(publisher, `t/${i}`)?.name));
      assert.equal(got.size, 1, `publisher ${publisher} went to ${[...got]}`);
    }
  });

  test('hash_clientid: publishers spread over the members', () => {
    const [g] = group('hash_clientid');
    const c = counts(Array.from({ length: 300 }, (_, i) => g.pick(`client-${i}`, 't')!.name));
    for (const n of Object.values(c)) assert.ok(n > 50, `${JSON.stringify(c)} is lopsided`);
    assert.equal(Object.keys(c).length, 3);
  });

  test('hash_topic: one topic always gets the same member, whoever publishes; topics spread', () => {
    const [g] = group('hash_topic');
    for (const topic of ['t/1', 't/2', 't/a/b']) {
      const got = new Set(Array.from({ length: 20 }, (_, i) => g.pick(`p${i}`, topic)?.name));
      assert.equal(got.size, 1);
    }
    const c = counts(Array.from({ length: 300 }, (_, i) => g.pick('p', `t/${i}`)!.name));
    for (const n of Object.values(c)) assert.ok(n > 50, `${JSON.stringify(c)} is lopsided`);
  });

  test('hashes are stable across runs and processes: FNV-1a test vectors', () => {
    assert.equal(fnv1a(''), 0x811c9dc5);
    assert.equal(fnv1a('a'), 0xe40c292c);
    assert.equal(fnv1a('foobar'), 0xbf9cf968);
    const [g1] = group('hash_clientid');
    const [g2] = group('hash_clientid');
    assert.deepEqual(picks(g1, 5, 'stable'), picks(g2, 5, 'stable'));
    assert.equal(g1.pick('foobar', 't')?.name, ['a', 'b', 'c'][0xbf9cf968 % 3]);
  });
});

// ---- the broker's group table ----------------------------------------------------------------

interface Sent {
  payload: string;
  qos: QoS;
  packetId: number;
  dup: boolean;
  subIds: number[] | null;
}

class RecordingOutlet implements Outlet {
  readonly sent: Sent[] = [];
  sendPublish(
    m: Message,
    qos: QoS,
    _r: boolean,
    packetId: number,
    dup: boolean,
    subIds: number[] | null,
  ): void {
    this.sent.push({ payload: m.payload.toString(), qos, packetId, dup, subIds });
  }
  sendPubrel(): void {}
}

class FakeChannel implements LiveChannel {
  kick(): void {}
}

function makeBroker(strategy: SharedStrategy = 'round_robin'): Broker {
  return new Broker({
    nodeName: 'aviary@127.0.0.1',
    session: { maxInflight: 32, maxMqueueLen: 100, mqueueStoreQos0: true },
    retainAvailable: true,
    retained: new MemoryRetainedStore<Message>(),
    sharedSubscriptionStrategy: strategy,
  });
}

const info = clientInfo;

function opts(qos: QoS, subscriptionId = 0): SubscriptionOptions {
  return {
    qos,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    subscriptionId,
    shareGroup: null,
  };
}

interface Client {
  info: ClientInfo;
  channel: FakeChannel;
  session: Session;
  outlet: RecordingOutlet;
}

function connect(broker: Broker, clientId: string, expiry = 0, receiveMaximum = 65_535): Client {
  const client = info(clientId);
  const channel = new FakeChannel();
  const { session } = broker.openSession(client, expiry === 0, channel);
  session.expiryInterval = expiry;
  const outlet = new RecordingOutlet();
  session.attach(outlet, receiveMaximum);
  return { info: client, channel, session, outlet };
}

const disconnect = (broker: Broker, c: Client): void => broker.closeSession(c.info, c.channel, c.session);

function pub(broker: Broker, topic: string, payload: string, qos: QoS = 1, from = 'publisher'): number {
  return broker.publish(new Message(topic, Buffer.from(payload), qos, false, null, from), null);
}

const payloads = (c: Client): string[] => c.outlet.sent.map((s) => s.payload);

describe('broker: share groups', () => {
  test('[MQTT-4.8.2-3] each message goes to one member, at that member’s granted QoS', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    const b = connect(broker, 'b');
    broker.subscribe(a.session, '$share/g/t/+', opts(1));
    broker.subscribe(b.session, '$share/g/t/+', opts(0));
    for (let i = 0; i < 4; i++) assert.equal(pub(broker, 't/x', `m${i}`, 2), 1);
    assert.deepEqual(payloads(a), ['m0', 'm2']);
    assert.deepEqual(payloads(b), ['m1', 'm3']);
    assert.deepEqual(
      a.outlet.sent.map((s) => s.qos),
      [1, 1],
    );
    assert.deepEqual(
      b.outlet.sent.map((s) => s.qos),
      [0, 0],
    );
  });

  test('a group is its name AND its filter; one trie route however many members; the last to leave ends it', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    const b = connect(broker, 'b');
    broker.subscribe(a.session, '$share/g/a/#', opts(0));
    broker.subscribe(b.session, '$share/g/a/#', opts(0));
    broker.subscribe(b.session, '$share/g/b', opts(0));
    assert.equal(broker.sharedGroupCount, 2);
    assert.equal(broker.subscriptionCount, 3);
    assert.equal(broker.sharedSubscriptionCount, 3);
    assert.equal(broker.unsubscribe(a.session, '$share/g/a/#'), true);
    assert.equal(broker.sharedGroupCount, 2, 'b is still a member');
    assert.equal(pub(broker, 'a/1', 'after', 0), 1);
    assert.deepEqual(payloads(b), ['after']);
    assert.equal(broker.unsubscribe(b.session, '$share/g/a/#'), true);
    assert.equal(broker.sharedGroupCount, 1);
    assert.equal(pub(broker, 'a/1', 'nobody', 0), 0, 'no stale route in the match cache');
    assert.equal(broker.unsubscribe(b.session, '$share/g/a/#'), false);
  });

  test('a member joining keeps the match cache right: the new member gets its turn', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    const b = connect(broker, 'b');
    broker.subscribe(a.session, '$share/g/t', opts(0));
    pub(broker, 't', 'm0', 0); // the topic's match is now cached
    broker.subscribe(b.session, '$share/g/t', opts(0));
    pub(broker, 't', 'm1', 0);
    pub(broker, 't', 'm2', 0);
    assert.deepEqual([...payloads(a), ...payloads(b)].sort(), ['m0', 'm1', 'm2']);
    assert.equal(payloads(b).length, 1);
  });

  test('$queue/t and $share/$queue/t are one group; a session is a member once', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    const b = connect(broker, 'b');
    assert.equal(broker.subscribe(a.session, '$queue/t', opts(0)), false);
    assert.equal(broker.subscribe(a.session, '$share/$queue/t', opts(0)), true, 'the same subscription');
    broker.subscribe(b.session, '$share/$queue/t', opts(0));
    assert.equal(broker.sharedGroupCount, 1);
    for (let i = 0; i < 4; i++) pub(broker, 't', `m${i}`, 0);
    assert.equal(payloads(a).length, 2);
    assert.equal(payloads(b).length, 2);
    assert.equal(broker.unsubscribe(a.session, '$share/$queue/t'), true);
    assert.equal(broker.sharedSubscriptionCount, 1);
  });

  test('two groups each get a copy, and a non-shared subscription its own [MQTT 5.0 4.8.2]', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    const b = connect(broker, 'b');
    broker.subscribe(a.session, '$share/g1/t', opts(1));
    broker.subscribe(b.session, '$share/g2/t', opts(1));
    broker.subscribe(a.session, 't', opts(1));
    assert.equal(pub(broker, 't', 'm'), 3);
    assert.deepEqual(payloads(a), ['m', 'm']);
    assert.deepEqual(payloads(b), ['m']);
  });

  for (const expiry of [0, 60]) {
    test(`a member that disconnects (session expiry ${expiry}) gives its unacknowledged QoS 1 and queued QoS 1/2 messages to an online member`, () => {
      const broker = makeBroker();
      // Receive Maximum 1: one message in flight, the others queued.
      const a = connect(broker, 'a', expiry, 1);
      broker.subscribe(a.session, '$share/g/t', opts(2));
      pub(broker, 't', 'q1-inflight', 1);
      pub(broker, 't', 'q2-queued', 2);
      pub(broker, 't', 'q1-queued', 1);
      assert.deepEqual(payloads(a), ['q1-inflight']);
      const b = connect(broker, 'b');
      broker.subscribe(b.session, '$share/g/t', opts(2));
      disconnect(broker, a);
      assert.deepEqual(
        b.outlet.sent.map((s) => [s.payload, s.qos, s.dup]),
        [
          ['q1-inflight', 1, false],
          ['q2-queued', 2, false],
          ['q1-queued', 1, false],
        ],
      );
      assert.equal(a.session.inflightCount + a.session.queueLength, 0, 'nothing left behind');
      assert.equal(broker.sharedSubscriptionCount, expiry === 0 ? 1 : 2, 'an ended session leaves the group');
    });
  }

  test('[MQTT-4.8.2-4] [MQTT-4.8.2-5] a QoS 2 message already sent stays with its session and goes to no one else', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a', 60);
    broker.subscribe(a.session, '$share/g/t', opts(2));
    pub(broker, 't', 'q2-sent', 2);
    const b = connect(broker, 'b');
    broker.subscribe(b.session, '$share/g/t', opts(2));
    disconnect(broker, a);
    assert.deepEqual(payloads(b), [], 'not redispatched');
    assert.equal(a.session.inflightCount, 1);
    // It comes back: the delivery is completed with it, resent with DUP [MQTT-4.4.0-1].
    const back = connect(broker, 'a', 60);
    assert.equal(back.session, a.session);
    assert.deepEqual(
      back.outlet.sent.map((s) => [s.payload, s.dup]),
      [['q2-sent', true]],
    );
  });

  test('a persistent member that goes offline keeps its messages when no other member is online', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a', 60);
    const b = connect(broker, 'b', 60);
    broker.subscribe(a.session, '$share/g/t', opts(1));
    broker.subscribe(b.session, '$share/g/t', opts(1));
    disconnect(broker, b);
    pub(broker, 't', 'm1');
    assert.deepEqual(payloads(a), ['m1'], 'the offline member is skipped');
    disconnect(broker, a);
    assert.equal(a.session.inflightCount, 1, 'no one online to take it: it stays');
    pub(broker, 't', 'm2');
    assert.equal(a.session.queueLength + b.session.queueLength, 1, 'all offline: queued with one of them');
    const back = connect(broker, 'a', 60);
    assert.ok(payloads(back).includes('m1'));
  });

  test('an acknowledged message is not redispatched', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    broker.subscribe(a.session, '$share/g/t', opts(1));
    pub(broker, 't', 'acked');
    a.session.complete(a.outlet.sent[0]!.packetId);
    const b = connect(broker, 'b');
    broker.subscribe(b.session, '$share/g/t', opts(1));
    disconnect(broker, a);
    assert.deepEqual(payloads(b), []);
  });

  test('a message whose group ended with its last member is dropped with the session', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    broker.subscribe(a.session, '$share/g/t', opts(1));
    pub(broker, 't', 'm');
    disconnect(broker, a);
    assert.equal(broker.sharedGroupCount, 0);
    assert.equal(pub(broker, 't', 'late'), 0);
  });

  test('hash_clientid picks by the publisher’s client id', () => {
    const broker = makeBroker('hash_clientid');
    const a = connect(broker, 'a');
    const b = connect(broker, 'b');
    broker.subscribe(a.session, '$share/g/t/+', opts(0));
    broker.subscribe(b.session, '$share/g/t/+', opts(0));
    for (let i = 0; i < 10; i++) pub(broker, `t/${i}`, `m${i}`, 0, 'one-publisher');
    assert.ok(payloads(a).length === 10 || payloads(b).length === 10, 'all to one member');
  });
});

describe('broker: overlapping subscriptions', () => {
  test('[MQTT-3.3.4-2] one copy at the highest QoS, [MQTT-3.3.4-4] with every subscription identifier', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    broker.subscribe(a.session, 'x/+', opts(0, 1));
    broker.subscribe(a.session, 'x/#', opts(2, 2));
    broker.subscribe(a.session, 'x/y', opts(1));
    broker.subscribe(a.session, 'other', opts(1, 9));
    assert.equal(pub(broker, 'x/y', 'p', 2), 1);
    assert.equal(a.outlet.sent.length, 1);
    assert.equal(a.outlet.sent[0]!.qos, 2);
    assert.deepEqual(a.outlet.sent[0]!.subIds?.sort(), [1, 2]);
  });

  test('one SUBSCRIBE’s identifier on two matching filters is sent once', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    broker.subscribe(a.session, 'x/+', opts(1, 5));
    broker.subscribe(a.session, 'x/#', opts(1, 5));
    pub(broker, 'x/y', 'p');
    assert.deepEqual(a.outlet.sent[0]!.subIds, [5]);
  });

  test('a session with several subscriptions, one matching, gets that one as it is', () => {
    const broker = makeBroker();
    const a = connect(broker, 'a');
    const b = connect(broker, 'b');
    broker.subscribe(a.session, 'x/#', opts(1, 3));
    broker.subscribe(a.session, 'y/#', opts(2, 4));
    broker.subscribe(b.session, 'x/#', opts(0));
    assert.equal(pub(broker, 'x/1', 'p', 2), 2);
    assert.deepEqual(
      a.outlet.sent.map((s) => [s.qos, s.subIds]),
      [[1, [3]]],
    );
    assert.equal(b.outlet.sent.length, 1);
  });

  test('a No Local subscription takes no part for its own client’s message [MQTT-3.8.3-3]', () => {
    const broker = makeBroker();
    const me = connect(broker, 'me');
    broker.subscribe(me.session, 'x/+', { ...opts(2, 1), noLocal: true });
    broker.subscribe(me.session, 'x/#', opts(0, 2));
    pub(broker, 'x/y', 'own', 2, 'me');
    assert.deepEqual(
      me.outlet.sent.map((s) => [s.qos, s.subIds]),
      [[0, [2]]],
      'delivered by the other subscription only',
    );
    broker.subscribe(me.session, 'x/#', { ...opts(0, 2), noLocal: true });
    assert.equal(pub(broker, 'x/y', 'own again', 2, 'me'), 0);
  });

  test('many sessions with overlapping subscriptions: one copy each', () => {
    const broker = makeBroker();
    const clients = Array.from({ length: 20 }, (_, i) => connect(broker, `c${i}`));
    for (const c of clients) {
      broker.subscribe(c.session, 'a/+/c', opts(0));
      broker.subscribe(c.session, 'a/#', opts(1));
      broker.subscribe(c.session, '+/b/c', opts(0));
    }
    assert.equal(pub(broker, 'a/b/c', 'p'), 20);
    assert.equal(pub(broker, 'a/b/c', 'again'), 20, 'cached match, same merge');
    for (const c of clients) assert.deepEqual(payloads(c), ['p', 'again']);
  });
});
