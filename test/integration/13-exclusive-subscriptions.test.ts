/**
 * 13 exclusive subscriptions (EMQX's `$exclusive/<filter>`, `mqtt.exclusive_subscription`)
 * through a real broker. `$exclusive/<filter>` is an ordinary subscription to `<filter>` that one
 * session broker-wide may hold: another session's claim gets SUBACK 0x97 Quota Exceeded (3.1.1:
 * 0x80); with the feature off every `$exclusive/` filter gets 0x8F Topic Filter Invalid (3.1.1:
 * 0x80). The holder's UNSUBSCRIBE or the end of its session frees it; a mere disconnect of a
 * session that persists does not.
 *
 * SUBACK and UNSUBACK codes are read as exact bytes from raw sockets; delivery is checked with
 * MQTT.js clients.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  connectClient,
  frame,
  hex,
  Inbox,
  nextDisconnect,
  publish,
  type RawClient,
  rawConnected,
  str,
  subscribe,
} from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';

/** 5.0 SUBSCRIBE (packet id 1, no properties, QoS 1) for one filter. */
const subscribeV5 = (filter: string): Buffer => frame(0x82, '0001', '00', str(filter), '01');
/** 3.1.1 SUBSCRIBE (packet id 1, QoS 1) for one filter. */
const subscribeV4 = (filter: string): Buffer => frame(0x82, '0001', str(filter), '01');
/** 5.0 UNSUBSCRIBE (packet id 2, no properties) for one filter. */
const unsubscribeV5 = (filter: string): Buffer => frame(0xa2, '0002', '00', str(filter));

/** The 5.0 SUBACK code (one filter, packet id 1) the broker answers `filter` with. */
async function subackV5(raw: RawClient, filter: string): Promise<string> {
  raw.send(subscribeV5(filter));
  const bytes = await raw.readHex(6);
  assert.equal(bytes.slice(0, 10), '9004000100', 'SUBACK, packet id 1, no properties');
  return bytes.slice(10);
}

/** The 3.1.1 SUBACK code (one filter, packet id 1). */
async function subackV4(raw: RawClient, filter: string): Promise<string> {
  raw.send(subscribeV4(filter));
  const bytes = await raw.readHex(5);
  assert.equal(bytes.slice(0, 8), '90030001', 'SUBACK, packet id 1');
  return bytes.slice(8);
}

const GRANTED_1 = '01';
const QUOTA_EXCEEDED = '97';
const TOPIC_FILTER_INVALID = '8f';
const FAILURE_V4 = '80';
/** Session Expiry Interval 300 s, as 5.0 CONNECT properties. */
const EXPIRY_300 = hex('11 0000012c');

const v5 = (port: number, clientId: string, clean = true, properties?: Buffer): Promise<RawClient> =>
  rawConnected(port, { version: 5, clientId, clean, ...(properties ? { properties } : {}) });

describe('13 exclusive subscriptions: feature off (the default)', () => {
  const b = brokerForSuite();

  test('5.0: $exclusive/<filter> gets SUBACK 0x8F Topic Filter Invalid, a plain filter is granted', async () => {
    const raw = await v5(b.port, 'ex-off-5');
    assert.equal(await subackV5(raw, '$exclusive/ex/off'), TOPIC_FILTER_INVALID);
    assert.equal(await subackV5(raw, 'ex/off'), GRANTED_1);
  });

  test('3.1.1: $exclusive/<filter> gets SUBACK 0x80', async () => {
    const raw = await rawConnected(b.port, { version: 4, clientId: 'ex-off-4' });
    assert.equal(await subackV4(raw, '$exclusive/ex/off'), FAILURE_V4);
  });

  test('5.0: UNSUBSCRIBE $exclusive/<filter> does not touch the plain <filter> (0x11)', async () => {
    const raw = await v5(b.port, 'ex-off-unsub');
    assert.equal(await subackV5(raw, 'ex/off/u'), GRANTED_1);
    raw.send(unsubscribeV5('$exclusive/ex/off/u'));
    assert.equal(await raw.readHex(6), 'b00400020011', 'UNSUBACK 0x11 No Subscription Existed');
  });
});

describe('13 exclusive subscriptions: mqtt.exclusive_subscription = true', () => {
  const b = brokerForSuite({ mqtt: { exclusive_subscription: true } });

  test('the holder receives messages on <filter> as with a plain subscription, retained ones too', async () => {
    const pub = await connectClient(b.port, 5);
    await publish(pub, 'ex/deliver/r', 'kept', { qos: 1, retain: true });
    const holder = await connectClient(b.port, 5);
    const inbox = new Inbox(holder);
    assert.deepEqual(await subscribe(holder, '$exclusive/ex/deliver/+', { qos: 1 }), [1]);
    const [retained] = await inbox.count(1);
    assert.equal(retained?.topic, 'ex/deliver/r');
    assert.equal(retained?.packet.retain, true, 'a retained message on subscribing [MQTT-3.3.1-9]');
    await publish(pub, 'ex/deliver/x', 'live', { qos: 1 });
    const [, live] = await inbox.count(2);
    assert.equal(live?.topic, 'ex/deliver/x');
    assert.equal(live?.payload.toString(), 'live');
    assert.equal(live?.packet.qos, 1);
    await publish(pub, 'ex/deliver/r', '', { qos: 1, retain: true });
  });

  test("5.0: another session's claim gets 0x97 Quota Exceeded; the holder may resubscribe", async () => {
    const a = await v5(b.port, 'ex-taken-a');
    const c = await v5(b.port, 'ex-taken-c');
    assert.equal(await subackV5(a, '$exclusive/ex/taken'), GRANTED_1);
    assert.equal(await subackV5(c, '$exclusive/ex/taken'), QUOTA_EXCEEDED);
    assert.equal(await subackV5(a, '$exclusive/ex/taken'), GRANTED_1, 'the holder again');
    // Exclusive per filter string: another filter, even an overlapping one, is another claim.
    assert.equal(await subackV5(c, '$exclusive/ex/+'), GRANTED_1);
  });

  test('3.1.1: a taken exclusive filter gets 0x80', async () => {
    const a = await v5(b.port, 'ex-taken4-a');
    const c = await rawConnected(b.port, { version: 4, clientId: 'ex-taken4-c' });
    assert.equal(await subackV5(a, '$exclusive/ex/taken4'), GRANTED_1);
    assert.equal(await subackV4(c, '$exclusive/ex/taken4'), FAILURE_V4);
  });

  test('a plain subscription to the filter is not affected, and a refused claim subscribes nothing', async () => {
    const holder = await connectClient(b.port, 5);
    const other = await connectClient(b.port, 4);
    const holderBox = new Inbox(holder);
    const otherBox = new Inbox(other);
    assert.deepEqual(await subscribe(holder, '$exclusive/ex/plain', { qos: 1 }), [1]);
    // 3.1.1 SUBACK 0x80, which MQTT.js reports as an error.
    await assert.rejects(subscribe(other, '$exclusive/ex/plain', { qos: 1 }), /Subscribe error/);
    await subscribe(other, 'ex/plain/end', { qos: 1 });
    const pub = await connectClient(b.port, 5);
    await publish(pub, 'ex/plain', 'one', { qos: 1 });
    await publish(pub, 'ex/plain/end', 'end', { qos: 1 });
    assert.deepEqual(
      (await otherBox.until('ex/plain/end')).map((m) => m.topic),
      ['ex/plain/end'],
      'the refused claim did not subscribe',
    );
    assert.equal((await holderBox.count(1))[0]?.payload.toString(), 'one');
    assert.deepEqual(await subscribe(other, 'ex/plain', { qos: 1 }), [1], 'plain subscription granted');
    await publish(pub, 'ex/plain', 'two', { qos: 1 });
    assert.equal((await otherBox.count(1))[0]?.payload.toString(), 'two');
  });

  test('invalid exclusive filters get 0x8F: empty, bad wildcard, shared, nested', async () => {
    const raw = await v5(b.port, 'ex-invalid');
    for (const f of ['$exclusive/', '$exclusive/a/#/b', '$exclusive/$share/g/a', '$exclusive/$exclusive/a']) {
      assert.equal(await subackV5(raw, f), TOPIC_FILTER_INVALID, f);
    }
  });

  test("the holder's UNSUBSCRIBE frees it (UNSUBACK 0x00); a non-holder's does not", async () => {
    const a = await v5(b.port, 'ex-unsub-a');
    const c = await v5(b.port, 'ex-unsub-c');
    const d = await v5(b.port, 'ex-unsub-d');
    assert.equal(await subackV5(a, '$exclusive/ex/unsub'), GRANTED_1);
    c.send(unsubscribeV5('$exclusive/ex/unsub'));
    assert.equal(await c.readHex(6), 'b00400020011', 'not its subscription: 0x11');
    assert.equal(await subackV5(c, '$exclusive/ex/unsub'), QUOTA_EXCEEDED, 'still held');
    a.send(unsubscribeV5('$exclusive/ex/unsub'));
    assert.equal(await a.readHex(6), 'b00400020000', 'UNSUBACK 0x00');
    assert.equal(await subackV5(c, '$exclusive/ex/unsub'), GRANTED_1, 'free once the holder left');
    assert.equal(await subackV5(d, '$exclusive/ex/unsub'), QUOTA_EXCEEDED, 'and c holds it now');
    // Unsubscribing the plain spelling of the filter frees it too (it is the same subscription).
    c.send(unsubscribeV5('ex/unsub'));
    assert.equal(await c.readHex(6), 'b00400020000');
    assert.equal(await subackV5(d, '$exclusive/ex/unsub'), GRANTED_1);
  });

  test('the end of a session that does not persist frees it', async () => {
    const a = await v5(b.port, 'ex-end-a');
    assert.equal(await subackV5(a, '$exclusive/ex/end'), GRANTED_1);
    const gone = nextDisconnect(b.aviary, 'ex-end-a');
    await a.destroy();
    await gone;
    const c = await v5(b.port, 'ex-end-c');
    assert.equal(await subackV5(c, '$exclusive/ex/end'), GRANTED_1);
  });

  test('a persistent session keeps it across a disconnect; discarding or expiring the session frees it', async () => {
    const a = await v5(b.port, 'ex-keep-a', false, EXPIRY_300);
    const c = await v5(b.port, 'ex-keep-c');
    assert.equal(await subackV5(a, '$exclusive/ex/keep'), GRANTED_1);
    assert.equal(await subackV5(a, '$exclusive/ex/expire'), GRANTED_1);
    let gone = nextDisconnect(b.aviary, 'ex-keep-a');
    await a.destroy();
    await gone;
    assert.equal(await subackV5(c, '$exclusive/ex/keep'), QUOTA_EXCEEDED, 'held by the offline session');

    // Resumed (Clean Start 0): still the holder, and its subscription still delivers.
    const a2 = await v5(b.port, 'ex-keep-a', false, EXPIRY_300);
    assert.equal(await subackV5(a2, '$exclusive/ex/keep'), GRANTED_1);
    gone = nextDisconnect(b.aviary, 'ex-keep-a');
    await a2.destroy();
    await gone;

    // Clean Start 1 discards the old session [MQTT-3.1.2-4], and with it the claims.
    const a3 = await v5(b.port, 'ex-keep-a', true, EXPIRY_300);
    assert.equal(await subackV5(c, '$exclusive/ex/keep'), GRANTED_1);
    assert.equal(await subackV5(a3, '$exclusive/ex/expire'), GRANTED_1, 'a3 is a new session');
    gone = nextDisconnect(b.aviary, 'ex-keep-a');
    await a3.destroy();
    await gone;
    assert.equal(await subackV5(c, '$exclusive/ex/expire'), QUOTA_EXCEEDED);
    // Its expiry interval passes [MQTT-3.1.2-23]: the sweep discards it and frees the claim.
    assert.ok(b.aviary.broker.sweepExpiredSessions(Date.now() + 301_000) >= 1);
    assert.equal(await subackV5(c, '$exclusive/ex/expire'), GRANTED_1);
  });
});
