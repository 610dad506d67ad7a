/**
 * The session (src/session/session.ts) seen through its Outlet: a fake outlet records every
 * sendPublish / sendPubrel, and the tests drive deliver / complete / received / attach / detach.
 *
 * Written as one suite over a factory (STYLE habits 13 and 15) so the durable session of issue 5
 * runs the same tests; today only the memory variant exists.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Message } from '../../../src/broker/message.js';
import type { QoS } from '../../../src/protocol/index.js';
import {
  type Delivery,
  type DropReason,
  type Outlet,
  Session,
  type SessionLimits,
} from '../../../src/session/session.js';

type Sent =
  | {
      kind: 'publish';
      topic: string;
      qos: QoS;
      retain: boolean;
      packetId: number;
      dup: boolean;
      subIds: number[] | null;
    }
  | { kind: 'pubrel'; packetId: number };

/** Records what the session sends. `onPublish` lets a test act like a channel while sending. */
class FakeOutlet implements Outlet {
  readonly sent: Sent[] = [];
  onPublish: ((message: Message, packetId: number) => void) | null = null;

  sendPublish(
    message: Message,
    qos: QoS,
    retain: boolean,
    packetId: number,
    dup: boolean,
    subIds: number[] | null,
  ): void {
    this.sent.push({ kind: 'publish', topic: message.topic, qos, retain, packetId, dup, subIds });
    this.onPublish?.(message, packetId);
  }

  sendPubrel(packetId: number): void {
    this.sent.push({ kind: 'pubrel', packetId });
  }

  /** Topics of the PUBLISHes sent, in order. */
  get topics(): string[] {
    return this.sent.flatMap((s) => (s.kind === 'publish' ? [s.topic] : []));
  }

  /** Packet id of the PUBLISH of a topic (the last one sent). */
  idOf(topic: string): number {
    const s = this.sent.findLast((x) => x.kind === 'publish' && x.topic === topic);
    assert.ok(s !== undefined && s.kind === 'publish', `${topic} was sent`);
    return s.packetId;
  }

  clear(): void {
    this.sent.length = 0;
  }
}

interface Drop {
  topic: string;
  reason: DropReason;
}

interface Harness {
  session: Session;
  drops: Drop[];
}

type OnDrop = (session: Session, delivery: Delivery, reason: DropReason) => void;
type SessionFactory = (clientId: string, limits: SessionLimits, onDrop: OnDrop) => Session;

const msg = (topic: string, qos: QoS = 1) => new Message(topic, Buffer.from(topic), qos, false, null, 'pub');

const LIMITS: SessionLimits = { maxInflight: 32, maxMqueueLen: 1000, mqueueStoreQos0: false };

/** Receive Maximum of a client that sent none. */
const NO_RECEIVE_MAXIMUM = 65_535;

function sessionSuite(variant: string, make: SessionFactory): void {
  const harness = (limits: Partial<SessionLimits> = {}): Harness => {
    const drops: Drop[] = [];
    const session = make('client-1', { ...LIMITS, ...limits }, (_s, d, reason) =>
      drops.push({ topic: d.message.topic, reason }),
    );
    return { session, drops };
  };
  const attached = (limits: Partial<SessionLimits> = {}, receiveMaximum = NO_RECEIVE_MAXIMUM) => {
    const h = harness(limits);
    const outlet = new FakeOutlet();
    h.session.attach(outlet, receiveMaximum);
    return { ...h, outlet };
  };
  const deliver = (session: Session, topic: string, qos: QoS = 1) =>
    session.deliver(msg(topic, qos), qos, false, null);

  describe(`session (${variant}): delivery`, () => {
    test('QoS 0 goes straight out when attached, with no packet id and nothing kept', () => {
      const { session, outlet } = attached();
      session.deliver(msg('t', 0), 0, true, [7]);
      assert.deepEqual(outlet.sent, [
        { kind: 'publish', topic: 't', qos: 0, retain: true, packetId: 0, dup: false, subIds: [7] },
      ]);
      assert.equal(session.inflightCount, 0);
      assert.equal(session.queueLength, 0);
    });

    test('QoS 1 and 2 are sent with a packet id and stay in flight until completed', () => {
      const { session, outlet } = attached();
      deliver(session, 'a', 1);
      deliver(session, 'b', 2);
      assert.deepEqual(outlet.sent, [
        { kind: 'publish', topic: 'a', qos: 1, retain: false, packetId: 1, dup: false, subIds: null },
        { kind: 'publish', topic: 'b', qos: 2, retain: false, packetId: 2, dup: false, subIds: null },
      ]);
      assert.equal(session.inflightCount, 2);
      assert.equal(session.complete(1)?.message.topic, 'a');
      assert.equal(session.inflightCount, 1);
    });

    test('the granted QoS, retain flag and subscription ids of the delivery are what is sent', () => {
      const { session, outlet } = attached();
      session.deliver(msg('t', 2), 1, true, [1, 2]);
      assert.deepEqual(outlet.sent[0], {
        kind: 'publish',
        topic: 't',
        qos: 1,
        retain: true,
        packetId: 1,
        dup: false,
        subIds: [1, 2],
      });
    });

    test('complete() of an unknown packet id returns null; a second complete() too', () => {
      const { session } = attached();
      assert.equal(session.complete(1), null);
      assert.equal(session.complete(0), null);
      deliver(session, 'a');
      assert.equal(session.complete(2), null);
      assert.notEqual(session.complete(1), null);
      assert.equal(session.complete(1), null, 'already completed');
    });

    test('an acknowledgement that does not fit the delivery is ignored [MQTT-4.3.2] [MQTT-4.3.3]', () => {
      const { session } = attached();
      deliver(session, 'q1', 1); // packet id 1
      deliver(session, 'q2', 2); // packet id 2
      assert.equal(session.complete(1, 'pubcomp'), null, 'PUBCOMP does not end a QoS 1 delivery');
      assert.equal(session.complete(2, 'puback'), null, 'PUBACK does not end a QoS 2 delivery');
      assert.equal(session.complete(2, 'pubcomp'), null, 'nor PUBCOMP before PUBREC');
      assert.equal(session.inflightCount, 2);
      assert.equal(session.complete(1, 'puback')?.message.topic, 'q1');
      assert.equal(session.received(2), true); // PUBREC: PUBREL goes out
      assert.equal(session.complete(2, 'pubrec_failed'), null, 'a failed PUBREC after PUBREL is late');
      assert.equal(session.complete(2, 'pubcomp')?.message.topic, 'q2');
    });
  });

  describe(`session (${variant}): flow control [MQTT-3.3.4-7]`, () => {
    for (const [label, maxInflight, receiveMaximum] of [
      ['Receive Maximum 2 < max_inflight 10', 10, 2],
      ['max_inflight 2 < Receive Maximum 65535', 2, NO_RECEIVE_MAXIMUM],
    ] as const) {
      test(`window = min(Receive Maximum, max_inflight): ${label}`, () => {
        const { session, outlet } = attached({ maxInflight }, receiveMaximum);
        deliver(session, 'm1');
        deliver(session, 'm2');
        deliver(session, 'm3');
        assert.deepEqual(outlet.topics, ['m1', 'm2'], 'the third QoS 1 message waits');
        assert.equal(session.inflightCount, 2);
        assert.equal(session.queueLength, 1);
        session.complete(outlet.idOf('m2'));
        assert.deepEqual(outlet.topics, ['m1', 'm2', 'm3'], 'it goes when one completes');
        assert.equal(session.queueLength, 0);
        assert.equal(session.inflightCount, 2);
      });
    }

    test('QoS 0 is not held back by a full window', () => {
      const { session, outlet } = attached({ maxInflight: 1 });
      deliver(session, 'q1', 1);
      deliver(session, 'q1-waits', 1);
      deliver(session, 'q0', 0);
      assert.deepEqual(outlet.topics, ['q1', 'q0']);
    });

    test('a message behind a queue waits its turn even when the window has room', () => {
      const { session, outlet } = attached({ maxInflight: 2 });
      deliver(session, 'm1');
      deliver(session, 'm2');
      deliver(session, 'm3');
      deliver(session, 'm4');
      session.complete(outlet.idOf('m1'));
      session.complete(outlet.idOf('m2'));
      deliver(session, 'm5');
      assert.deepEqual(outlet.topics, ['m1', 'm2', 'm3', 'm4']);
      session.complete(outlet.idOf('m3'));
      assert.deepEqual(outlet.topics, ['m1', 'm2', 'm3', 'm4', 'm5'], 'in delivery order');
    });

    test('a window of 1 sends strictly one at a time, in order', () => {
      const { session, outlet } = attached({}, 1);
      for (let i = 0; i < 5; i++) deliver(session, `m${i}`);
      for (let i = 0; i < 5; i++) {
        assert.equal(outlet.topics.length, i + 1);
        session.complete(outlet.idOf(`m${i}`));
      }
      assert.deepEqual(outlet.topics, ['m0', 'm1', 'm2', 'm3', 'm4']);
      assert.equal(session.inflightCount, 0);
    });
  });

  describe(`session (${variant}): offline queue`, () => {
    test('a detached session queues QoS 1 and 2, and drops QoS 0 (mqueue_store_qos0 = false)', () => {
      const { session, drops } = harness();
      assert.equal(session.connected, false);
      deliver(session, 'q1', 1);
      deliver(session, 'q2', 2);
      deliver(session, 'q0', 0);
      assert.equal(session.queueLength, 2);
      assert.deepEqual(drops, [{ topic: 'q0', reason: 'qos0_offline' }]);
      const outlet = new FakeOutlet();
      session.attach(outlet, NO_RECEIVE_MAXIMUM);
      assert.equal(session.connected, true);
      assert.deepEqual(outlet.topics, ['q1', 'q2']);
      assert.equal(session.queueLength, 0);
    });

    test('with mqueue_store_qos0 QoS 0 is queued too and sent without a packet id', () => {
      const { session, drops } = harness({ mqueueStoreQos0: true });
      deliver(session, 'q0', 0);
      deliver(session, 'q1', 1);
      assert.deepEqual(drops, []);
      const outlet = new FakeOutlet();
      session.attach(outlet, NO_RECEIVE_MAXIMUM);
      assert.deepEqual(outlet.sent, [
        { kind: 'publish', topic: 'q0', qos: 0, retain: false, packetId: 0, dup: false, subIds: null },
        { kind: 'publish', topic: 'q1', qos: 1, retain: false, packetId: 1, dup: false, subIds: null },
      ]);
    });

    test('queue overflow drops the OLDEST message and reports queue_full', () => {
      const { session, drops } = harness({ maxMqueueLen: 3 });
      for (let i = 1; i <= 5; i++) deliver(session, `m${i}`);
      assert.equal(session.queueLength, 3);
      assert.deepEqual(drops, [
        { topic: 'm1', reason: 'queue_full' },
        { topic: 'm2', reason: 'queue_full' },
      ]);
      assert.equal(session.droppedCount, 2);
      const outlet = new FakeOutlet();
      session.attach(outlet, NO_RECEIVE_MAXIMUM);
      assert.deepEqual(outlet.topics, ['m3', 'm4', 'm5']);
    });

    test('the queue behind a full window is bounded the same way', () => {
      const { session, outlet, drops } = attached({ maxInflight: 1, maxMqueueLen: 2 });
      for (let i = 1; i <= 5; i++) deliver(session, `m${i}`);
      assert.deepEqual(outlet.topics, ['m1']);
      assert.deepEqual(
        drops.map((d) => d.topic),
        ['m2', 'm3'],
      );
      session.complete(outlet.idOf('m1'));
      session.complete(outlet.idOf('m4'));
      assert.deepEqual(outlet.topics, ['m1', 'm4', 'm5']);
    });

    test('maxMqueueLen 0 means unbounded', () => {
      const { session, drops } = harness({ maxMqueueLen: 0 });
      for (let i = 0; i < 5000; i++) deliver(session, `m${i}`);
      assert.equal(session.queueLength, 5000);
      assert.deepEqual(drops, []);
    });

    test('a detached session that keeps overflowing does not grow its storage without bound', () => {
      const { session, drops } = harness({ maxMqueueLen: 10 });
      for (let i = 0; i < 100_000; i++) deliver(session, `m${i}`);
      assert.equal(session.queueLength, 10);
      assert.equal(drops.length, 99_990);
      // The backing array is private; peek at it, since only memory use shows the difference.
      const backing = Reflect.get(session, 'queue') as unknown[];
      assert.ok(backing.length <= 2 * 10 + 1024, `backing array of ${backing.length} slots for 10 messages`);
      const outlet = new FakeOutlet();
      session.attach(outlet, NO_RECEIVE_MAXIMUM);
      assert.deepEqual(
        outlet.topics,
        Array.from({ length: 10 }, (_, i) => `m${99_990 + i}`),
      );
    });
  });

  describe(`session (${variant}): reconnect [MQTT-4.4.0-1]`, () => {
    test('attach after detach resends in-flight messages with DUP in their original order, then drains the queue', () => {
      const { session, outlet } = attached({ maxInflight: 3 });
      for (let i = 1; i <= 5; i++) deliver(session, `m${i}`);
      assert.deepEqual(outlet.topics, ['m1', 'm2', 'm3']);
      session.complete(outlet.idOf('m2')); // m4 goes out
      const ids = { m1: outlet.idOf('m1'), m3: outlet.idOf('m3'), m4: outlet.idOf('m4') };
      session.detach(1000);
      assert.equal(session.disconnectedAt, 1000);
      assert.equal(session.connected, false);
      deliver(session, 'm6');
      deliver(session, 'm7');

      const next = new FakeOutlet();
      session.attach(next, NO_RECEIVE_MAXIMUM);
      assert.deepEqual(
        next.sent.slice(0, 3),
        (['m1', 'm3', 'm4'] as const).map((topic) => ({
          kind: 'publish',
          topic,
          qos: 1,
          retain: false,
          packetId: ids[topic],
          dup: true,
          subIds: null,
        })),
        'the same packet ids, DUP set, original order',
      );
      assert.deepEqual(next.topics.slice(3), [], 'the window (3) is full');
      session.complete(ids.m1);
      session.complete(ids.m3);
      session.complete(ids.m4);
      assert.deepEqual(next.topics.slice(3), ['m5', 'm6', 'm7']);
      assert.ok(
        next.sent.slice(3).every((s) => s.kind === 'publish' && !s.dup),
        'new sends are not DUP',
      );
    });

    test('nothing is sent while detached, and the old outlet gets nothing after detach', () => {
      const { session, outlet } = attached();
      session.detach(0);
      deliver(session, 'a');
      deliver(session, 'b', 0);
      assert.deepEqual(outlet.sent, []);
    });

    test('a smaller Receive Maximum on reattach still resends everything in flight', () => {
      const { session, outlet } = attached({ maxInflight: 10 });
      for (let i = 1; i <= 4; i++) deliver(session, `m${i}`);
      session.detach(0);
      deliver(session, 'm5');
      const next = new FakeOutlet();
      session.attach(next, 2);
      assert.deepEqual(next.topics, ['m1', 'm2', 'm3', 'm4'], 'all four resent, m5 waits');
      session.complete(outlet.idOf('m1'));
      session.complete(outlet.idOf('m2'));
      assert.deepEqual(next.topics, ['m1', 'm2', 'm3', 'm4'], 'still 2 in flight: the window is 2');
      session.complete(outlet.idOf('m3'));
      assert.deepEqual(next.topics, ['m1', 'm2', 'm3', 'm4', 'm5']);
    });

    test('QoS 2: received() moves to await-PUBCOMP; a re-attach resends PUBREL, not PUBLISH', () => {
      const { session, outlet } = attached();
      deliver(session, 'a', 2);
      deliver(session, 'b', 2);
      const a = outlet.idOf('a');
      const b = outlet.idOf('b');
      assert.equal(session.received(a), true);
      assert.equal(session.received(a), true, 'a repeated PUBREC is accepted');
      session.detach(0);
      const next = new FakeOutlet();
      session.attach(next, NO_RECEIVE_MAXIMUM);
      assert.deepEqual(next.sent, [
        { kind: 'pubrel', packetId: a },
        { kind: 'publish', topic: 'b', qos: 2, retain: false, packetId: b, dup: true, subIds: null },
      ]);
      assert.equal(session.complete(a)?.message.topic, 'a', 'PUBCOMP ends it');
      assert.equal(session.inflightCount, 1);
    });

    test('received() is false for an unknown id and for a QoS 1 message', () => {
      const { session, outlet } = attached();
      deliver(session, 'q1', 1);
      assert.equal(session.received(outlet.idOf('q1')), false);
      assert.equal(session.received(999), false);
      assert.equal(session.inflightCount, 1);
    });
  });

  describe(`session (${variant}): packet identifiers [MQTT-2.2.1-2]`, () => {
    test('ids start at 1 and never repeat an id in flight', () => {
      const { session, outlet } = attached({ maxInflight: 100 });
      for (let i = 0; i < 50; i++) deliver(session, `m${i}`);
      const ids = outlet.sent.map((s) => s.packetId);
      assert.equal(new Set(ids).size, 50);
      assert.ok(ids.every((id) => id >= 1 && id <= 65_535));
      assert.equal(ids[0], 1);
    });

    test('ids wrap from 65535 to 1 and skip ids still in flight', () => {
      const { session, outlet } = attached({ maxInflight: 2 });
      deliver(session, 'held'); // id 1, never acknowledged
      assert.equal(outlet.idOf('held'), 1);
      for (let id = 2; id <= 65_535; id++) {
        deliver(session, 'x');
        const sent = outlet.sent.at(-1)!;
        assert.equal(sent.packetId, id);
        session.complete(id);
      }
      deliver(session, 'after-wrap');
      assert.equal(outlet.idOf('after-wrap'), 2, 'id 1 is still in flight: skipped');
      session.complete(1);
      session.complete(2);
      deliver(session, 'next');
      assert.equal(outlet.idOf('next'), 3);
      assert.ok(outlet.sent.every((s) => s.packetId !== 0));
    });

    test('an id in await-PUBCOMP is still in use', () => {
      const { session, outlet } = attached({ maxInflight: 2 });
      deliver(session, 'q2', 2); // id 1
      session.received(1);
      for (let id = 2; id <= 65_535; id++) {
        deliver(session, 'x');
        session.complete(id);
      }
      deliver(session, 'after-wrap');
      assert.equal(outlet.idOf('after-wrap'), 2);
    });
  });

  describe(`session (${variant}): a delivery made while sending (a message.delivered hook that publishes)`, () => {
    test('during the resend on reconnect, a new delivery waits its turn and every packet id goes once', () => {
      const { session } = harness();
      const first = new FakeOutlet();
      session.attach(first, NO_RECEIVE_MAXIMUM);
      deliver(session, 'a');
      deliver(session, 'b');
      session.detach(Date.now());
      const outlet = new FakeOutlet();
      let hooked = false;
      outlet.onPublish = () => {
        if (hooked) return;
        hooked = true;
        deliver(session, 'from-hook'); // re-entrant, while the in-flight map is being walked
      };
      session.attach(outlet, NO_RECEIVE_MAXIMUM);
      assert.deepEqual(outlet.topics, ['a', 'b', 'from-hook']);
      const ids = outlet.sent.flatMap((x) => (x.kind === 'publish' ? [x.packetId] : []));
      assert.equal(new Set(ids).size, ids.length, `a packet id went out twice: ${ids}`);
      assert.equal(session.inflightCount, 3);
    });
  });

  describe(`session (${variant}): an outlet that completes while sending`, () => {
    // The channel completes a delivery inside sendPublish when it cannot send it: the message
    // expired [MQTT-3.3.2-5] or is larger than the client's Maximum Packet Size [MQTT-3.1.2-25].
    const completingOutlet = (session: Session, drop: (topic: string) => boolean) => {
      const outlet = new FakeOutlet();
      outlet.onPublish = (message, packetId) => {
        if (packetId !== 0 && drop(message.topic)) session.complete(packetId);
      };
      return outlet;
    };

    test('draining a queue of undeliverable messages sends each once and does not throw', () => {
      const { session } = harness({ maxInflight: 1 });
      for (let i = 0; i < 5; i++) deliver(session, `big${i}`);
      deliver(session, 'small');
      const outlet = completingOutlet(session, (t) => t.startsWith('big'));
      assert.doesNotThrow(() => session.attach(outlet, NO_RECEIVE_MAXIMUM));
      assert.deepEqual(outlet.topics, ['big0', 'big1', 'big2', 'big3', 'big4', 'small']);
      assert.equal(session.inflightCount, 1);
      assert.equal(session.queueLength, 0);
    });

    test('after a PUBACK, undeliverable queued messages are skipped and the next one goes', () => {
      const { session } = harness({ maxInflight: 1 });
      const outlet = completingOutlet(session, (t) => t.startsWith('big'));
      session.attach(outlet, NO_RECEIVE_MAXIMUM);
      deliver(session, 'first');
      deliver(session, 'big1');
      deliver(session, 'big2');
      deliver(session, 'last');
      assert.doesNotThrow(() => session.complete(outlet.idOf('first')));
      assert.deepEqual(outlet.topics, ['first', 'big1', 'big2', 'last']);
      assert.equal(session.inflightCount, 1);
      assert.equal(session.queueLength, 0);
    });

    test('a long queue of undeliverable messages does not overflow the stack', () => {
      const { session } = harness({ maxInflight: 1, maxMqueueLen: 0 });
      for (let i = 0; i < 50_000; i++) deliver(session, `big${i}`);
      const outlet = completingOutlet(session, () => true);
      assert.doesNotThrow(() => session.attach(outlet, NO_RECEIVE_MAXIMUM));
      assert.equal(outlet.topics.length, 50_000);
      assert.equal(session.inflightCount, 0);
      assert.equal(session.queueLength, 0);
    });

    test('an in-flight message completed during the resend is not followed by new sends before the other resends', () => {
      const { session, outlet } = attached({ maxInflight: 3 });
      deliver(session, 'expired');
      deliver(session, 'm2');
      deliver(session, 'm3');
      deliver(session, 'queued');
      assert.deepEqual(outlet.topics, ['expired', 'm2', 'm3']);
      session.detach(0);
      const next = completingOutlet(session, (t) => t === 'expired');
      session.attach(next, NO_RECEIVE_MAXIMUM);
      assert.deepEqual(
        next.sent.map((s) => (s.kind === 'publish' ? `${s.topic}${s.dup ? ' (dup)' : ''}` : 'pubrel')),
        ['expired (dup)', 'm2 (dup)', 'm3 (dup)', 'queued'],
        'resends first, in order, each once; then the queue',
      );
    });
  });

  describe(`session (${variant}): sessions share nothing (empty collections are shared until written)`, () => {
    test('subscriptions, deliveries in flight, queued and awaiting release stay with their own session', () => {
      const a = attached();
      const b = harness();
      const c = attached();
      a.session.subscribe('a/#', {
        qos: 1,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
        subscriptionId: 0,
        shareGroup: null,
      });
      deliver(a.session, 'to-a');
      deliver(b.session, 'queued-for-b');
      a.session.addAwaitingRel(7, 0);
      assert.deepEqual([...a.session.subscriptions.keys()], ['a/#']);
      for (const other of [b.session, c.session]) {
        assert.equal(other.subscriptions.size, 0);
        assert.equal(other.inflightCount, 0);
        assert.equal(other.isAwaitingRel(7), false);
      }
      assert.equal(b.session.queueLength, 1);
      assert.equal(c.session.queueLength, 0);
      assert.equal(a.session.inflightCount, 1);
      // Emptied again, a session keeps working and still shares nothing.
      assert.equal(a.session.complete(a.outlet.idOf('to-a'), 'puback')?.message.topic, 'to-a');
      assert.equal(a.session.release(7), true);
      assert.equal(a.session.unsubscribe('a/#'), true);
      deliver(c.session, 'to-c');
      assert.equal(a.session.inflightCount, 0);
      assert.equal(c.session.inflightCount, 1);
      assert.equal(b.session.unsubscribe('never'), false);
    });
  });
}

// The memory session (issue 5 adds the durable one to this list).
sessionSuite('memory', (clientId, limits, onDrop) => new Session(clientId, limits, onDrop));
