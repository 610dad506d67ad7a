/**
 * Wills (src/broker/wills.ts): the PendingWills heap with its one timer, driven by an explicit
 * clock (runDue) and once by the real timer; publishWill's authorization and the properties a
 * will carries.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Broker } from '../../../src/broker/broker.js';
import type { Message } from '../../../src/broker/message.js';
import { PendingWills, publishWill, willMessageProperties } from '../../../src/broker/wills.js';
import { MemoryRetainedStore } from '../../../src/persistence/memory/retained.js';
import type { Will } from '../../../src/protocol/index.js';
import { clientInfo } from '../../helpers/client-info.js';

const client = clientInfo;

const will = (topic: string): Will => ({
  topic,
  payload: Buffer.from(topic),
  qos: 0,
  retain: false,
  properties: null,
});

/** A registry on a fake clock that records what it fires. */
function registry() {
  const fired: string[] = [];
  let now = 1_000_000;
  const wills = new PendingWills(
    (p) => fired.push(p.client.clientId),
    () => now,
  );
  return {
    wills,
    fired,
    at: (t: number) => {
      now = t;
    },
  };
}

describe('PendingWills', () => {
  test('fires in due order, each once, whatever the order of scheduling', () => {
    const { wills, fired } = registry();
    const dues = [50, 10, 40, 30, 20, 60, 5, 45, 25, 15];
    for (const [i, d] of dues.entries()) wills.schedule(client(`c${i}`), will('t'), d);
    assert.equal(wills.size, dues.length);
    assert.equal(wills.runDue(25), 5);
    assert.equal(wills.runDue(1000), 5);
    const byDue = dues.map((d, i) => [d, `c${i}`] as const).sort((a, b) => a[0] - b[0]);
    assert.deepEqual(
      fired,
      byDue.map(([, id]) => id),
    );
    assert.equal(wills.size, 0);
    wills.clear();
  });

  test('take() removes a waiting will (cancel or publish now); the rest keep their order', () => {
    const { wills, fired } = registry();
    for (let i = 0; i < 20; i++) wills.schedule(client(`c${i}`), will('t'), (i * 7) % 20);
    assert.equal(wills.take('c7')?.client.clientId, 'c7');
    assert.equal(wills.take('c7'), null);
    assert.equal(wills.has('c7'), false);
    wills.runDue(100);
    assert.equal(fired.length, 19);
    assert.ok(!fired.includes('c7'));
    const order = fired.map((id) => (Number(id.slice(1)) * 7) % 20);
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
    );
    wills.clear();
  });

  test('scheduling again for a client id replaces its waiting will', () => {
    const { wills, fired } = registry();
    wills.schedule(client('c'), will('first'), 10);
    wills.schedule(client('c'), will('second'), 20);
    assert.equal(wills.size, 1);
    assert.equal(wills.runDue(15), 0);
    assert.equal(wills.take('c')?.will.topic, 'second');
    assert.deepEqual(fired, []);
    wills.clear();
  });

  test('clear() forgets every will', () => {
    const { wills, fired } = registry();
    wills.schedule(client('a'), will('t'), 1);
    wills.clear();
    assert.equal(wills.runDue(10), 0);
    assert.deepEqual(fired, []);
  });

  test('the timer publishes a will when it is due', async () => {
    // The registry's timer does not hold the process open (unref): this one does, meanwhile.
    const hold = setTimeout(() => {}, 10_000);
    let wills: PendingWills | null = null;
    try {
      const done = new Promise<string>((resolve) => {
        wills = new PendingWills((p) => resolve(p.client.clientId));
        wills.schedule(client('far'), will('t'), Date.now() + 10 * 365 * 24 * 3600 * 1000); // past setTimeout's range
        wills.schedule(client('soon'), will('t'), Date.now() + 20);
      });
      assert.equal(await done, 'soon');
      assert.equal((wills as PendingWills | null)?.has('far'), true);
    } finally {
      clearTimeout(hold);
      (wills as PendingWills | null)?.clear();
    }
  });
});

describe('publishWill', () => {
  function broker(): { b: Broker; got: Message[] } {
    const b = new Broker({
      nodeName: 'aviary@127.0.0.1',
      session: { maxInflight: 32, maxMqueueLen: 100, mqueueStoreQos0: false },
      retainAvailable: true,
      retained: new MemoryRetainedStore<Message>(),
    });
    const got: Message[] = [];
    b.hooks.add('message.publish', (m) => {
      if (m !== null) got.push(m);
      return undefined;
    });
    return { b, got };
  }

  test('publishes from the client, with the will properties but the Will Delay Interval', () => {
    const { b, got } = broker();
    const w: Will = {
      topic: 'w/t',
      payload: Buffer.from('bye'),
      qos: 1,
      retain: true,
      properties: { willDelayInterval: 5, contentType: 'text/plain', userProperties: [['k', 'v']] },
    };
    publishWill(b, client('dev'), w);
    assert.equal(got.length, 1);
    const m = got[0]!;
    assert.deepEqual(
      [m.topic, m.payload.toString(), m.qos, m.retain, m.from],
      ['w/t', 'bye', 1, true, 'dev'],
    );
    assert.deepEqual(m.properties, { contentType: 'text/plain', userProperties: [['k', 'v']] });
  });

  test('client.authorize deny (synchronous or not) keeps it from being published', async () => {
    const { b, got } = broker();
    b.hooks.add('client.authorize', (_acc, _c, req) => (req.topic === 'no' ? { stop: 'deny' } : undefined));
    publishWill(b, client('a'), will('no'));
    publishWill(b, client('a'), will('yes'));
    assert.deepEqual(
      got.map((m) => m.topic),
      ['yes'],
    );
    const { b: b2, got: got2 } = broker();
    b2.hooks.add('client.authorize', async (_acc, _c, req) =>
      req.topic === 'no' ? { stop: 'deny' } : undefined,
    );
    publishWill(b2, client('a'), will('no'));
    publishWill(b2, client('a'), will('yes'));
    assert.equal(got2.length, 0, 'waits for the callback');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      got2.map((m: Message) => m.topic),
      ['yes'],
    );
  });

  test('willMessageProperties: null when only the Will Delay Interval was there', () => {
    assert.equal(willMessageProperties({ willDelayInterval: 3 }), null);
    assert.equal(willMessageProperties(null), null);
    assert.deepEqual(willMessageProperties({ messageExpiryInterval: 9 }), { messageExpiryInterval: 9 });
  });
});
