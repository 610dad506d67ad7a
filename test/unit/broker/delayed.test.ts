/**
 * Delayed publish (src/broker/delayed.ts) on a real Broker with a fake clock: time moves only
 * when a test says so, and the one timer fires synchronously, so every test is instant and
 * deterministic. What leaves the delayed module is recorded by a message.publish callback of
 * lower priority, i.e. exactly what Broker.publish goes on to route.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Broker, CONSUMED } from '../../../src/broker/broker.js';
import {
  DELAYED_HOOK_PRIORITY,
  type DelayedClock,
  type DelayedLog,
  DelayedPublish,
  RELEASE_BATCH,
} from '../../../src/broker/delayed.js';
import { Message } from '../../../src/broker/message.js';
import type { DelayedStore } from '../../../src/persistence/delayed.js';
import { MemoryDelayedStore } from '../../../src/persistence/memory/delayed.js';
import { MemoryRetainedStore } from '../../../src/persistence/memory/retained.js';
import { MAX_DELAY_SECONDS, type QoS } from '../../../src/protocol/index.js';

// The fake clock starts at the real time: the broker checks retained expiry against Date.now().
const T0 = Date.now();
/** Below every other callback in these tests: it sees what Broker.publish goes on to route. */
const RECORDER_PRIORITY = -1000;
const SECOND = 1000;

interface FakeTimer {
  at: number;
  callback: () => void;
}

/** A clock that moves only in advance(); timers fire synchronously, in time order. */
class FakeClock implements DelayedClock {
  time = T0;
  readonly timers = new Set<FakeTimer>();
  /** Every wait ever asked for, in ms. */
  readonly waits: number[] = [];

  now(): number {
    return this.time;
  }
  setTimer(callback: () => void, ms: number): unknown {
    const timer = { at: this.time + ms, callback };
    this.timers.add(timer);
    this.waits.push(ms);
    return timer;
  }
  clearTimer(handle: unknown): void {
    this.timers.delete(handle as FakeTimer);
  }

  /** Fires the earliest timer if it is due by `until`; false when none is. */
  fireNext(until = this.time): boolean {
    let next: FakeTimer | undefined;
    for (const t of this.timers) if (t.at <= until && (next === undefined || t.at < next.at)) next = t;
    if (next === undefined) return false;
    this.timers.delete(next);
    this.time = Math.max(this.time, next.at);
    next.callback();
    return true;
  }

  /** Moves time forward by `ms`, firing every timer that comes due on the way. */
  advance(ms: number): void {
    const until = this.time + ms;
    while (this.fireNext(until)) {}
    this.time = until;
  }
}

class RecordingLog implements DelayedLog {
  readonly lines: Array<{ level: string; details: object; message: string }> = [];
  warn(details: object, message: string): void {
    this.lines.push({ level: 'warn', details, message });
  }
  error(details: object, message: string): void {
    this.lines.push({ level: 'error', details, message });
  }
}

interface Setup {
  broker: Broker;
  clock: FakeClock;
  delayed: DelayedPublish;
  store: DelayedStore<Message>;
  log: RecordingLog;
  /** Every message Broker.publish routes after the delayed module let it through. */
  routed: Message[];
  /** message.dropped calls: [topic, reason]. */
  dropped: Array<[string, string]>;
  publish(topic: string, payload?: string, qos?: QoS, retain?: boolean): number;
}

function setup(
  options: { max?: number; start?: boolean; store?: DelayedStore<Message>; clock?: FakeClock } = {},
): Setup {
  const broker = new Broker({
    nodeName: 'aviary@127.0.0.1',
    session: { maxInflight: 32, maxMqueueLen: 100, mqueueStoreQos0: false },
    retainAvailable: true,
    retained: new MemoryRetainedStore<Message>(),
  });
  const clock = options.clock ?? new FakeClock();
  const store = options.store ?? new MemoryDelayedStore<Message>();
  const log = new RecordingLog();
  const delayed = new DelayedPublish(broker, {
    store,
    maxDelayedMessages: options.max ?? Number.POSITIVE_INFINITY,
    clock,
    log,
  });
  const routed: Message[] = [];
  const dropped: Array<[string, string]> = [];
  broker.hooks.add(
    'message.publish',
    (m) => {
      if (m !== null) routed.push(m);
      return undefined;
    },
    RECORDER_PRIORITY,
  );
  broker.hooks.add('message.dropped', (m, reason) => {
    if (reason !== 'no_subscribers') dropped.push([m.topic, reason]);
  });
  if (options.start !== false) delayed.start();
  const publish = (topic: string, payload = 'x', qos: QoS = 0, retain = false): number =>
    broker.publish(new Message(topic, Buffer.from(payload), qos, retain, null, 'pub', clock.now()), null);
  return { broker, clock, delayed, store, log, routed, dropped, publish };
}

const routedTopics = (s: Setup) => s.routed.map((m) => `${m.topic}:${m.payload.toString()}`);

describe('delayed publish: holding and releasing', () => {
  test('$delayed/<seconds>/<topic> is taken (CONSUMED) and published to <topic> after the delay', () => {
    const s = setup();
    assert.equal(s.publish('$delayed/10/a/b', 'hello'), CONSUMED);
    assert.deepEqual(s.routed, [], 'nothing is routed at publish time');
    assert.equal(s.delayed.count, 1);
    assert.equal(s.broker.metrics.toJSON()['messages.delayed'], 1);
    s.clock.advance(10 * SECOND - 1);
    assert.deepEqual(s.routed, [], 'not a millisecond early');
    s.clock.advance(1);
    assert.deepEqual(routedTopics(s), ['a/b:hello']);
    assert.equal(s.delayed.count, 0);
    assert.equal(s.clock.timers.size, 0, 'no timer is left once the store is empty');
  });

  test('$delay/<seconds>/<topic> (the seed name) works as well', () => {
    const s = setup();
    assert.equal(s.publish('$delay/2/x', 'short'), CONSUMED);
    s.clock.advance(2 * SECOND);
    assert.deepEqual(routedTopics(s), ['x:short']);
  });

  test('the released message keeps QoS, retain, properties, publisher and original timestamp', () => {
    const s = setup();
    const correlationData = Buffer.from('corr');
    const properties = { messageExpiryInterval: 60, contentType: 'text/plain', correlationData };
    const original = new Message(
      '$delayed/5/t',
      Buffer.from('p'),
      2,
      true,
      properties,
      'client-7',
      s.clock.now(),
    );
    const from = { clientId: 'client-7' } as Parameters<Broker['publish']>[1];
    assert.equal(s.broker.publish(original, from), CONSUMED);
    s.clock.advance(5 * SECOND);
    const [m] = s.routed;
    assert.ok(m !== undefined);
    assert.notEqual(m, original, 'a new Message for the target topic');
    assert.equal(m.topic, 't');
    assert.equal(m.qos, 2);
    assert.equal(m.retain, true);
    assert.equal(m.from, 'client-7');
    assert.equal(m.properties?.contentType, 'text/plain');
    assert.equal(m.properties?.messageExpiryInterval, 60, 'the interval is not reset');
    assert.equal(m.timestamp, original.timestamp, 'expiry counts from the original publish');
    assert.equal(m.payload.toString(), 'p');
    assert.notEqual(m.payload, original.payload, 'the kept message owns a copy of the payload');
    assert.equal(
      [...s.broker.retainedMatching('t')][0]?.payload,
      m.payload,
      'retaining it on release does not copy it again',
    );
  });

  test('the payload is copied out of the read buffer (Message.own)', () => {
    const s = setup();
    const readBuffer = Buffer.from('XXpayloadXX');
    const view = readBuffer.subarray(2, 9);
    s.broker.publish(new Message('$delayed/1/t', view, 0, false, null, 'pub', s.clock.now()), null);
    readBuffer.fill(0); // the socket reuses its buffer
    s.clock.advance(SECOND);
    assert.equal(s.routed[0]?.payload.toString(), 'payload');
  });

  test('messages come out by due time, not by publish order', () => {
    const s = setup();
    s.publish('$delayed/3/t', 'three');
    s.publish('$delayed/1/t', 'one');
    s.publish('$delayed/2/t', 'two');
    s.publish('$delayed/0/t', 'zero');
    s.clock.advance(0);
    assert.deepEqual(routedTopics(s), ['t:zero'], 'a delay of 0 is released on the next timer turn');
    s.clock.advance(3 * SECOND);
    assert.deepEqual(routedTopics(s), ['t:zero', 't:one', 't:two', 't:three']);
  });

  test('messages due at the same time come out in the order they were published', () => {
    const s = setup();
    const payloads = Array.from({ length: 20 }, (_, i) => `m${i}`);
    for (const p of payloads) s.publish('$delayed/1/same', p);
    s.clock.advance(SECOND);
    assert.deepEqual(
      s.routed.map((m) => m.payload.toString()),
      payloads,
    );
  });

  test('one timer for the earliest message, not one per message', () => {
    const s = setup();
    for (let i = 0; i < 1000; i++) s.publish(`$delayed/${((i * 7919) % 1000) + 1}/t`, `${i}`);
    assert.equal(s.clock.timers.size, 1);
    const [timer] = s.clock.timers;
    assert.equal(timer?.at, T0 + SECOND, 'set for the earliest due time');
    // Later messages do not touch the timer; only an earlier one moves it.
    const waitsBefore = s.clock.waits.length;
    s.publish('$delayed/500/t');
    assert.equal(s.clock.waits.length, waitsBefore, 'a later message does not reset the timer');
    s.publish('$delayed/0/t', 'now');
    assert.equal(s.clock.timers.size, 1);
    assert.equal([...s.clock.timers][0]?.at, T0);
    s.clock.advance(1000 * SECOND);
    assert.equal(s.routed.length, 1002);
    assert.equal(s.clock.timers.size, 0);
  });

  test(`at most ${RELEASE_BATCH} messages are released per timer callback; the rest on the next turn`, () => {
    const s = setup();
    const n = RELEASE_BATCH * 2 + 500;
    for (let i = 0; i < n; i++) s.publish('$delayed/1/burst', `${i}`);
    s.clock.time += SECOND;
    assert.ok(s.clock.fireNext());
    assert.equal(s.routed.length, RELEASE_BATCH);
    assert.equal([...s.clock.timers][0]?.at, s.clock.time, 'the rest are due at once');
    while (s.clock.fireNext()) {}
    assert.equal(s.routed.length, n);
    assert.deepEqual(
      s.routed.map((m) => Number(m.payload.toString())),
      Array.from({ length: n }, (_, i) => i),
      'still in publish order',
    );
  });

  test(`the longest delay (${MAX_DELAY_SECONDS} s) outlasts setTimeout's limit and is waited in steps`, () => {
    const s = setup();
    s.publish(`$delayed/${MAX_DELAY_SECONDS}/far`);
    assert.ok(
      s.clock.waits.every((w) => w <= 0x7fff_ffff),
      'no wait above 2^31 - 1 ms',
    );
    s.clock.advance(MAX_DELAY_SECONDS * SECOND - 1);
    assert.deepEqual(s.routed, []);
    s.clock.advance(1);
    assert.deepEqual(routedTopics(s), ['far:x']);
  });

  test('a timer that fires early finds nothing due and is set again', () => {
    const s = setup();
    s.publish('$delayed/1/t');
    const [timer] = s.clock.timers;
    assert.ok(timer !== undefined);
    s.clock.timers.delete(timer);
    s.clock.time += 900;
    timer.callback(); // the runtime fired it 100 ms early
    assert.deepEqual(s.routed, []);
    assert.equal([...s.clock.timers][0]?.at, T0 + SECOND);
    s.clock.advance(100);
    assert.deepEqual(routedTopics(s), ['t:x']);
  });

  test('a delayed target that is itself delayed is delayed again (as in EMQX)', () => {
    const s = setup();
    s.publish('$delayed/1/$delayed/2/t');
    s.clock.advance(SECOND);
    assert.deepEqual(s.routed, []);
    assert.equal(s.delayed.count, 1);
    s.clock.advance(2 * SECOND);
    assert.deepEqual(routedTopics(s), ['t:x']);
  });

  test('a retained delayed message is retained under the target topic when released', () => {
    const s = setup();
    s.publish('$delayed/1/r', 'kept', 1, true);
    assert.deepEqual([...s.broker.retainedMatching('#')], [], 'nothing retained at publish time');
    assert.deepEqual([...s.broker.retainedMatching('$delayed/#')], []);
    s.clock.advance(SECOND);
    assert.deepEqual(
      [...s.broker.retainedMatching('r')].map((m) => m.payload.toString()),
      ['kept'],
    );
  });

  test('a hook that throws while a message is released is logged and the rest are still released', () => {
    const s = setup();
    s.broker.hooks.add(
      'message.publish',
      (m) => {
        if (m?.topic === 'boom') throw new Error('bad hook');
        return undefined;
      },
      DELAYED_HOOK_PRIORITY - 1,
    );
    s.publish('$delayed/1/boom');
    s.publish('$delayed/1/fine');
    s.clock.advance(SECOND);
    assert.deepEqual(routedTopics(s), ['fine:x']);
    assert.equal(s.log.lines.filter((l) => l.level === 'error').length, 1);
  });
});

describe('delayed publish: what passes through untouched', () => {
  test('topics that are not delayed topics go on unchanged and at once', () => {
    const s = setup();
    const topics = ['a/b', '$SYS/x', '$delayedx/1/a', '$delays/1/a', '$delayed', 'a/$delayed/1/b'];
    for (const t of topics) assert.notEqual(s.publish(t), CONSUMED, t);
    assert.deepEqual(
      s.routed.map((m) => m.topic),
      topics,
    );
    assert.equal(s.delayed.count, 0);
  });

  test('disabled (delayed.enable = false: never started), $delayed/... is an ordinary topic', () => {
    const s = setup({ start: false });
    assert.notEqual(s.publish('$delayed/1/a'), CONSUMED);
    assert.deepEqual(
      s.routed.map((m) => m.topic),
      ['$delayed/1/a'],
    );
    assert.equal(s.delayed.count, 0);
    assert.equal(s.clock.timers.size, 0);
  });
});

describe('delayed publish: dropped messages', () => {
  test('a malformed delayed topic is taken, not routed, counted and logged', () => {
    const s = setup();
    const bad = [
      '$delayed/abc/t',
      '$delayed/10/a/+',
      '$delayed/10/#',
      '$delayed/10/',
      '$delay/1.5/t',
      '$delayed/4294968/t',
    ];
    for (const t of bad) assert.equal(s.publish(t), CONSUMED, t);
    s.clock.advance(10 * SECOND);
    assert.deepEqual(s.routed, []);
    assert.equal(s.delayed.count, 0);
    assert.equal(s.delayed.droppedInvalid, bad.length);
    assert.equal(s.broker.metrics.messagesDropped, bad.length);
    assert.equal(s.broker.metrics.messagesDelayed, 0);
    assert.deepEqual(
      s.dropped,
      bad.map((t) => [t, 'delayed_invalid']),
    );
    assert.equal(s.log.lines.length, bad.length);
    assert.ok(s.log.lines.every((l) => l.level === 'warn'));
  });

  test('max_delayed_messages: a new message beyond the limit is dropped and counted', () => {
    const s = setup({ max: 2 });
    s.publish('$delayed/1/t', 'a');
    s.publish('$delayed/2/t', 'b');
    assert.equal(s.publish('$delayed/1/t', 'c'), CONSUMED);
    assert.equal(s.delayed.count, 2);
    assert.equal(s.delayed.droppedFull, 1);
    assert.equal(s.broker.metrics.messagesDropped, 1);
    assert.deepEqual(s.dropped, [['$delayed/1/t', 'delayed_full']]);
    s.clock.advance(SECOND);
    assert.deepEqual(routedTopics(s), ['t:a'], 'the pending ones are kept, the new one dropped');
    s.publish('$delayed/1/t', 'd');
    assert.equal(s.delayed.count, 2, 'room again once one was released');
    s.clock.advance(SECOND);
    assert.deepEqual(routedTopics(s), ['t:a', 't:b', 't:d']);
  });
});

describe('delayed publish: statistics, close and restart', () => {
  test('count and max (delayed.count, delayed.max: the most pending at once)', () => {
    const s = setup();
    assert.deepEqual(s.delayed.stats(), { 'delayed.count': 0, 'delayed.max': 0 });
    s.publish('$delayed/1/t');
    s.publish('$delayed/1/t');
    s.publish('$delayed/2/t');
    s.clock.advance(SECOND);
    assert.deepEqual(s.delayed.stats(), { 'delayed.count': 1, 'delayed.max': 3 });
    s.clock.advance(SECOND);
    assert.deepEqual(s.delayed.stats(), { 'delayed.count': 0, 'delayed.max': 3 });
  });

  test('remove(key) deletes a pending message and moves the timer', () => {
    const s = setup();
    s.publish('$delayed/1/t', 'gone');
    s.publish('$delayed/5/t', 'stays');
    const gone = [...s.delayed.pending()].find((e) => e.message.payload.toString() === 'gone');
    assert.ok(gone !== undefined);
    assert.equal(s.delayed.remove(gone.key), true);
    assert.equal(s.delayed.remove(gone.key), false);
    assert.equal([...s.clock.timers][0]?.at, T0 + 5 * SECOND);
    s.clock.advance(5 * SECOND);
    assert.deepEqual(routedTopics(s), ['t:stays']);
  });

  test('close() stops the timer and keeps the pending messages in the store', () => {
    const s = setup();
    s.publish('$delayed/1/t', 'pending');
    s.delayed.close();
    assert.equal(s.clock.timers.size, 0);
    s.clock.advance(10 * SECOND);
    assert.deepEqual(s.routed, []);
    assert.equal(s.store.size, 1);
    s.publish('$delayed/1/t', 'during shutdown');
    assert.deepEqual(s.routed, [], 'still taken, not routed to $delayed/...');
    assert.equal(s.store.size, 2);
    assert.equal(s.clock.timers.size, 0, 'and no timer is set');
  });

  test('a new DelayedPublish over the same store (a durable store after a restart) releases what is pending', () => {
    const clock = new FakeClock();
    const store = new MemoryDelayedStore<Message>();
    const first = setup({ clock, store });
    first.publish('$delayed/5/t', 'overdue');
    first.publish('$delayed/60/t', 'later');
    first.delayed.close();
    clock.time += 30 * SECOND; // down for 30 s
    const second = setup({ clock, store });
    assert.equal(second.delayed.max, 2, 'max starts from what is pending');
    clock.advance(0);
    assert.deepEqual(routedTopics(second), ['t:overdue'], 'an overdue message goes out at once');
    clock.advance(30 * SECOND);
    assert.deepEqual(routedTopics(second), ['t:overdue', 't:later']);
  });
});
