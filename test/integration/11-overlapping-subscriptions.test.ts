/**
 * 11 overlapping subscriptions and the authorization of SUBSCRIBE, through a real broker.
 *
 * Overlap: a client whose subscriptions both match a topic gets ONE copy: at the highest QoS of
 * the matching subscriptions (3.1.1 [MQTT-3.3.5-1], 5.0 [MQTT-3.3.4-2]) and, in 5.0, with the
 * Subscription Identifier of every matching subscription [MQTT-3.3.4-3] [MQTT-3.3.4-4].
 *
 * Authorization: a `client.authorize` callback (added by the test) is asked about each filter
 * of a SUBSCRIBE; 'deny' gives 0x87 (5.0) / 0x80 (3.1.1) for
 * that filter alone [MQTT-3.9.3-1 (5.0 SUBACK reason codes)].
 *
 * "Only one copy" is checked without timers: the publisher sends a sentinel after the message,
 * and the subscriber's inbox is read up to it [MQTT-4.6.0-5].
 */

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { ClientInfo } from '../../src/broker/types.js';
import type { AuthzRequest, FoldResult } from '../../src/broker/hooks.js';
import { type Packet, PacketType, type PublishPacket } from '../../src/protocol/index.js';
import {
  closeClients,
  connectClient,
  frame,
  hex,
  Inbox,
  publish,
  type RawClient,
  rawConnected,
  type StartedBroker,
  startBroker,
  str,
  subscribe,
} from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';

type Verdict = 'allow' | 'deny';
type AuthorizeCallback = (
  acc: Verdict,
  client: ClientInfo,
  request: AuthzRequest,
) => FoldResult<Verdict> | Promise<FoldResult<Verdict>>;

/** Reads packets until one of `type` arrives; returns it. */
async function next(raw: RawClient, type: number): Promise<Packet> {
  for (;;) {
    const p = await raw.readPacket();
    if (p.type === type) return p;
  }
}

describe('11 overlapping subscriptions', () => {
  const b = brokerForSuite();

  test('3.1.1: two matching subscriptions, one copy at the highest QoS [MQTT-3.3.5-1]', async () => {
    const client = await connectClient(b.port, 4);
    const inbox = new Inbox(client);
    await subscribe(client, 'ov4/+', { qos: 0 });
    await subscribe(client, 'ov4/#', { qos: 2 });
    await subscribe(client, 'ov4-end', { qos: 0 });
    const pub = await connectClient(b.port, 4);
    await publish(pub, 'ov4/x', 'once', { qos: 1 });
    await publish(pub, 'ov4-end', 'end', { qos: 0 });
    const got = await inbox.until('ov4-end');
    assert.deepEqual(
      got.map((m) => [m.topic, m.payload.toString(), m.packet.qos]),
      [
        ['ov4/x', 'once', 1],
        ['ov4-end', 'end', 0],
      ],
    );
  });

  test('5.0: one copy at the highest QoS carrying every matching subscription identifier [MQTT-3.3.4-2] [MQTT-3.3.4-4]', async () => {
    const client = await connectClient(b.port, 5);
    const inbox = new Inbox(client);
    await subscribe(client, 'ov5/+', { qos: 0, properties: { subscriptionIdentifier: 1 } });
    await subscribe(client, 'ov5/#', { qos: 2, properties: { subscriptionIdentifier: 2 } });
    await subscribe(client, 'ov5/x', { qos: 1 }); // no identifier: adds none
    await subscribe(client, 'ov5/other', { qos: 1, properties: { subscriptionIdentifier: 9 } });
    await subscribe(client, 'ov5-end', { qos: 0 });
    const pub = await connectClient(b.port, 5);
    await publish(pub, 'ov5/x', 'once', { qos: 2 });
    await publish(pub, 'ov5-end', 'end', { qos: 0 });
    const got = await inbox.until('ov5-end');
    assert.equal(got.length, 2, `one copy, then the sentinel: ${got.map((m) => m.topic)}`);
    const m = got[0]!;
    assert.equal(m.packet.qos, 2);
    const ids = m.packet.properties?.subscriptionIdentifier;
    assert.deepEqual(Array.isArray(ids) ? [...ids].sort() : ids, [1, 2]);
  });

  test('5.0 on the wire: one PUBLISH with two Subscription Identifier properties (0x0B)', async () => {
    const raw = await rawConnected(b.port, { version: 5, clientId: 'ov-raw' });
    // SUBSCRIBE id 1, Subscription Identifier 7, 'ovr/+' QoS 0; then id 2, identifier 8, 'ovr/#' QoS 1.
    raw.send(frame(0x82, '0001', '02 0b 07', str('ovr/+'), '00'));
    assert.equal(await raw.readHex(6), '900400010000');
    raw.send(frame(0x82, '0002', '02 0b 08', str('ovr/#'), '01'));
    assert.equal(await raw.readHex(6), '900400020001');
    const pub = await connectClient(b.port, 5);
    await publish(pub, 'ovr/a', 'p', { qos: 1 });
    // PUBLISH QoS 1: 0x32, remaining length, topic 'ovr/a', packet id, properties, payload 'p'.
    const bytes = await raw.readFrame();
    assert.equal(bytes[0], 0x32, 'QoS 1, no retain, no DUP');
    const p = bytes.subarray(2);
    assert.deepEqual(p.subarray(0, 7), str('ovr/a'));
    assert.equal(p[9], 4, 'properties: 4 bytes');
    const ids = [p.subarray(10, 12).toString('hex'), p.subarray(12, 14).toString('hex')].sort();
    assert.deepEqual(ids, ['0b07', '0b08'], 'both identifiers, in any order');
    assert.equal(p.subarray(14).toString(), 'p', 'one payload');
    raw.send(frame(0x40, p.subarray(7, 9))); // PUBACK
    await publish(pub, 'ovr/b', 'q', { qos: 0 });
    const second = (await next(raw, PacketType.Publish)) as PublishPacket;
    assert.equal(second.payload.toString(), 'q', 'and nothing in between');
  });

  test('5.0: Retain As Published on any matching subscription keeps the retain flag of the one copy', async () => {
    const client = await connectClient(b.port, 5);
    const inbox = new Inbox(client);
    await subscribe(client, 'ovrap/+', { qos: 0, rap: true, rh: 2 });
    await subscribe(client, 'ovrap/#', { qos: 1, rap: false, rh: 2 });
    await subscribe(client, 'ovrap-end', { qos: 0 });
    const pub = await connectClient(b.port, 5);
    await publish(pub, 'ovrap/x', 'kept', { qos: 1, retain: true });
    await publish(pub, 'ovrap-end', 'end', { qos: 0 });
    const got = await inbox.until('ovrap-end');
    assert.deepEqual(
      got.map((m) => [m.topic, m.packet.retain, m.packet.qos]),
      [
        ['ovrap/x', true, 1],
        ['ovrap-end', false, 0],
      ],
    );
    await publish(pub, 'ovrap/x', '', { qos: 1, retain: true });
  });

  test('5.0: a No Local subscription takes no part in the copy of the client’s own message [MQTT-3.8.3-3]', async () => {
    const client = await connectClient(b.port, 5);
    const inbox = new Inbox(client);
    await subscribe(client, 'ovnl/+', { qos: 2, nl: true, properties: { subscriptionIdentifier: 1 } });
    await subscribe(client, 'ovnl/#', { qos: 0, properties: { subscriptionIdentifier: 2 } });
    await subscribe(client, 'ovnl-end', { qos: 0 });
    await publish(client, 'ovnl/x', 'own', { qos: 2 });
    await publish(client, 'ovnl-end', 'end', { qos: 0 });
    const got = await inbox.until('ovnl-end');
    assert.deepEqual(
      got.map((m) => [m.topic, m.packet.qos, m.packet.properties?.subscriptionIdentifier]),
      [
        ['ovnl/x', 0, 2],
        ['ovnl-end', 0, undefined],
      ],
    );
  });
});

describe('11 SUBSCRIBE authorization (client.authorize)', () => {
  let b: StartedBroker;
  let callback: AuthorizeCallback | null = null;

  before(async () => {
    b = await startBroker();
  });

  afterEach(async () => {
    if (callback !== null) b.aviary.hooks.remove('client.authorize', callback);
    callback = null;
    await closeClients();
  });

  after(async () => {
    await closeClients();
    await b.close();
  });

  function authorize(cb: AuthorizeCallback): void {
    callback = cb;
    b.aviary.hooks.add('client.authorize', cb);
  }

  /** Denies subscribing to anything under secret/ (the filter without any $share prefix). */
  const denySecret: AuthorizeCallback = (_acc, _client, request) =>
    request.action === 'subscribe' && request.topic.startsWith('secret/') ? { stop: 'deny' } : undefined;

  test('5.0: a denied filter gets 0x87 Not Authorized, the others their QoS', async () => {
    authorize(denySecret);
    const raw = await rawConnected(b.port, { version: 5, clientId: 'az-5' });
    raw.send(
      frame(0x82, '0001', '00', str('public/x'), '01', str('secret/x'), '01', str('$share/g/secret/y'), '00'),
    );
    assert.equal(await raw.readHex(8), '9006000100018787');
  });

  test('3.1.1: a denied filter gets 0x80', async () => {
    authorize(denySecret);
    const raw = await rawConnected(b.port, { version: 4, clientId: 'az-4' });
    raw.send(frame(0x82, '0001', str('secret/x'), '02', str('public/x'), '02'));
    assert.equal(await raw.readHex(6), '900400018002');
  });

  test('a denied subscription receives nothing; the allowed one does', async () => {
    authorize(denySecret);
    const client = await connectClient(b.port, 5);
    const inbox = new Inbox(client);
    await assert.rejects(subscribe(client, 'secret/z', { qos: 1 }), /Not authorized/);
    await subscribe(client, 'public/z', { qos: 1 });
    const pub = await connectClient(b.port, 5);
    await publish(pub, 'secret/z', 'hidden', { qos: 1 });
    await publish(pub, 'public/z', 'seen', { qos: 1 });
    const got = await inbox.until('public/z');
    assert.deepEqual(
      got.map((m) => m.topic),
      ['public/z'],
    );
  });

  test('the callback is asked with the action, the real filter (no $share prefix), the requested QoS and retain false', async () => {
    const asked: Array<[string, AuthzRequest]> = [];
    authorize((_acc, client, request) => {
      asked.push([client.clientId, request]);
      return undefined;
    });
    const raw = await rawConnected(b.port, { version: 5, clientId: 'az-args' });
    raw.send(frame(0x82, '0001', '00', str('a/+'), '02', str('$share/grp/b/#'), '01', str('$queue/c'), '00'));
    assert.equal(await raw.readHex(8), '9006000100020100');
    assert.deepEqual(asked, [
      ['az-args', { action: 'subscribe', topic: 'a/+', qos: 2, retain: false }],
      ['az-args', { action: 'subscribe', topic: 'b/#', qos: 1, retain: false }],
      ['az-args', { action: 'subscribe', topic: 'c', qos: 0, retain: false }],
    ]);
  });

  test('an invalid filter is refused without asking the callback', async () => {
    const asked: string[] = [];
    authorize((_acc, _client, request) => {
      asked.push(request.topic);
      return undefined;
    });
    const raw = await rawConnected(b.port, { version: 5, clientId: 'az-invalid' });
    raw.send(frame(0x82, '0001', '00', str('a/#/b'), '00', str('ok'), '00'));
    assert.equal(await raw.readHex(7), '90050001008f00');
    assert.deepEqual(asked, ['ok']);
  });

  test('an asynchronous callback: the SUBACK waits for it and packets after the SUBSCRIBE keep their order', async () => {
    authorize(async (_acc, _client, request) => {
      await new Promise((r) => setImmediate(r));
      return request.topic.startsWith('secret/') ? { stop: 'deny' } : undefined;
    });
    const raw = await rawConnected(b.port, { version: 5, clientId: 'az-async' });
    // SUBSCRIBE and PINGREQ in one write: the PINGRESP must come after the SUBACK.
    raw.send(
      Buffer.concat([frame(0x82, '0001', '00', str('secret/a'), '01', str('open/a'), '01'), hex('c0 00')]),
    );
    assert.equal(await raw.readHex(7), '90050001008701');
    assert.equal(await raw.readHex(2), 'd000');
  });

  test('a callback that throws denies (authorization fails closed); the connection stays', async () => {
    authorize(() => {
      throw new Error('ACL backend down');
    });
    const raw = await rawConnected(b.port, { version: 5, clientId: 'az-throw' });
    raw.send(frame(0x82, '0001', '00', str('t'), '01'));
    assert.equal(await raw.readHex(6), '900400010087');
    raw.send('c0 00');
    assert.equal(await raw.readHex(2), 'd000');
  });

  test('a rejected Promise denies too', async () => {
    authorize(() => Promise.reject(new Error('timeout')));
    const raw = await rawConnected(b.port, { version: 4, clientId: 'az-reject' });
    raw.send(frame(0x82, '0001', str('t'), '01'));
    assert.equal(await raw.readHex(5), '9003000180');
  });

  test('once the callback is removed, the filter it denied is granted', async () => {
    authorize(denySecret);
    b.aviary.hooks.remove('client.authorize', denySecret);
    callback = null;
    const raw = await rawConnected(b.port, { version: 5, clientId: 'az-removed' });
    raw.send(frame(0x82, '0001', '00', str('secret/x'), '02'));
    assert.equal(await raw.readHex(6), '900400010002');
  });
});
