/**
 * The session's protocol timers and counters (src/session/session.ts), through a fake outlet and
 * explicit times: `retry` (retry_interval resends), the incoming QoS 2 ids awaiting PUBREL with
 * their per-connection Receive Maximum count and `expireAwaitingRel` (await_rel_timeout), and
 * `ignoreLoop` (ignore_loop_deliver).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Message } from '../../../src/broker/message.js';
import type { QoS } from '../../../src/protocol/index.js';
import { type Outlet, Session } from '../../../src/session/session.js';

type Sent =
  | { kind: 'publish'; topic: string; packetId: number; dup: boolean }
  | { kind: 'pubrel'; packetId: number };

class FakeOutlet implements Outlet {
  readonly sent: Sent[] = [];
  sendPublish(message: Message, _qos: QoS, _retain: boolean, packetId: number, dup: boolean): void {
    this.sent.push({ kind: 'publish', topic: message.topic, packetId, dup });
  }
  sendPubrel(packetId: number): void {
    this.sent.push({ kind: 'pubrel', packetId });
  }
  take(): Sent[] {
    return this.sent.splice(0);
  }
}

const msg = (topic: string, qos: QoS = 1, from = 'pub') =>
  new Message(topic, Buffer.from(topic), qos, false, null, from);

function attached() {
  const session = new Session('c', { maxInflight: 32, maxMqueueLen: 100, mqueueStoreQos0: false }, () => {});
  const outlet = new FakeOutlet();
  session.attach(outlet, 65_535);
  return { session, outlet };
}

describe('session: retry', () => {
  test('resends, with DUP and in send order, only what was sent at least the interval ago', () => {
    const { session, outlet } = attached();
    session.deliver(msg('a'), 1, false, null);
    session.deliver(msg('b'), 2, false, null);
    outlet.take();
    const sentAt = Date.now();
    assert.equal(session.retry(sentAt, 60_000), 0, 'nothing is due yet');
    assert.deepEqual(outlet.take(), []);
    assert.equal(session.retry(sentAt + 60_000, 60_000), 2);
    assert.deepEqual(outlet.take(), [
      { kind: 'publish', topic: 'a', packetId: 1, dup: true },
      { kind: 'publish', topic: 'b', packetId: 2, dup: true },
    ]);
    // The resend restarts the interval.
    assert.equal(session.retry(sentAt + 60_001, 60_000), 0);
  });

  test('a QoS 2 delivery past PUBREC is retried as a PUBREL; a completed one not at all', () => {
    const { session, outlet } = attached();
    session.deliver(msg('q1'), 1, false, null);
    session.deliver(msg('q2'), 2, false, null);
    outlet.take();
    assert.equal(session.received(2), true);
    session.complete(1);
    assert.equal(session.retry(Date.now() + 10_000, 1000), 1);
    assert.deepEqual(outlet.take(), [{ kind: 'pubrel', packetId: 2 }]);
  });

  test('a detached session retries nothing', () => {
    const { session, outlet } = attached();
    session.deliver(msg('a'), 1, false, null);
    outlet.take();
    session.detach(Date.now());
    assert.equal(session.retry(Date.now() + 10_000, 1000), 0);
    assert.deepEqual(outlet.take(), []);
  });
});

describe('session: incoming QoS 2 awaiting PUBREL', () => {
  test('ids are remembered until released; the Receive Maximum count is per connection', () => {
    const { session, outlet } = attached();
    session.addAwaitingRel(1, 1000);
    session.addAwaitingRel(2, 1000);
    assert.equal(session.isAwaitingRel(1), true);
    assert.deepEqual([session.awaitingRelCount, session.receiving], [2, 2]);
    // A new connection: the old ids stay known but do not count against it.
    session.detach(2000);
    session.attach(outlet, 65_535);
    assert.deepEqual([session.awaitingRelCount, session.receiving], [2, 0]);
    session.addAwaitingRel(3, 3000);
    assert.deepEqual([session.awaitingRelCount, session.receiving], [3, 1]);
    assert.equal(session.release(1), true, 'an id of the previous connection');
    assert.deepEqual([session.awaitingRelCount, session.receiving], [2, 1]);
    assert.equal(session.release(3), true);
    assert.deepEqual([session.awaitingRelCount, session.receiving], [1, 0]);
    assert.equal(session.release(3), false, 'released twice');
  });

  test('expireAwaitingRel forgets the ids older than the timeout, oldest first', () => {
    const { session } = attached();
    session.addAwaitingRel(5, 1000);
    session.addAwaitingRel(6, 2000);
    session.addAwaitingRel(7, 3000);
    assert.equal(session.expireAwaitingRel(3000, 1000), 2);
    assert.deepEqual(
      [session.isAwaitingRel(5), session.isAwaitingRel(6), session.isAwaitingRel(7)],
      [false, false, true],
    );
    assert.deepEqual([session.awaitingRelCount, session.receiving], [1, 1]);
    assert.equal(session.expireAwaitingRel(3999, 1000), 0);
    assert.equal(session.expireAwaitingRel(4000, 1000), 1);
    assert.deepEqual([session.awaitingRelCount, session.receiving], [0, 0]);
  });
});

describe('session: ignoreLoop (ignore_loop_deliver)', () => {
  test('the client own messages are not delivered; others are', () => {
    const { session, outlet } = attached();
    session.ignoreLoop = true;
    session.deliver(msg('own', 1, 'c'), 1, false, null);
    session.deliver(msg('other', 1, 'someone'), 1, false, null);
    session.detach(Date.now());
    session.deliver(msg('own-offline', 1, 'c'), 1, false, null);
    assert.deepEqual(
      outlet.take().map((s) => (s.kind === 'publish' ? s.topic : s.kind)),
      ['other'],
    );
    assert.equal(session.queueLength, 0);
  });
});
