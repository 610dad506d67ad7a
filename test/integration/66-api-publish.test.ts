/**
 * 66 api publish: POST /api/v5/publish and /publish/bulk reach real MQTT.js subscribers, with
 * the MQTT 5.0 properties the body gives, and answer as EMQX does (200 {id}, 202 no matching
 * subscribers, 400 topic_name_invalid / packet_too_large / bad base64).
 */

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { type ApiBroker, startApiBroker } from '../helpers/api.js';
import { closeClients, connectClient, Inbox, subscribe } from '../helpers/broker.js';

describe('66 api publish', () => {
  let b: ApiBroker;
  before(async () => {
    b = await startApiBroker({ mqtt: { max_packet_size: '64KB' } });
  });
  afterEach(closeClients);
  after(() => b.close());

  test('a message with MQTT 5.0 properties reaches a 5.0 subscriber [MQTT-3.3.2-15] [MQTT-3.3.2-17]', async () => {
    const sub = await connectClient(b.port, 5);
    const inbox = new Inbox(sub);
    await subscribe(sub, 'api/props', { qos: 1 });
    const res = await b.post('/publish', {
      topic: 'api/props',
      payload: 'hello',
      qos: 1,
      properties: {
        payload_format_indicator: 1,
        message_expiry_interval: 60,
        response_topic: 'api/reply',
        correlation_data: 'corr-1',
        user_properties: { foo: 'bar', who: 'api' },
        content_type: 'text/plain',
      },
    });
    assert.equal(res.status, 200, res.text);
    assert.match(res.body.id, /^[0-9a-f]{32}$/);
    const [m] = await inbox.count(1);
    assert.equal(m!.payload.toString(), 'hello');
    assert.equal(m!.packet.qos, 1);
    const p = m!.packet.properties!;
    assert.equal(p.payloadFormatIndicator, true);
    assert.ok(p.messageExpiryInterval! <= 60 && p.messageExpiryInterval! > 0);
    assert.equal(p.responseTopic, 'api/reply');
    assert.equal(Buffer.from(p.correlationData!).toString(), 'corr-1');
    assert.deepEqual({ ...p.userProperties }, { foo: 'bar', who: 'api' });
    assert.equal(p.contentType, 'text/plain');
  });

  test('payload_encoding base64, retained: a later subscriber gets it with the retain flag', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const first = await b.post('/publish', {
      topic: 'api/retained',
      payload: bytes.toString('base64'),
      payload_encoding: 'base64',
      retain: true,
    });
    assert.equal(first.status, 202, 'nobody subscribed yet');
    assert.deepEqual(first.body, { reason_code: 16, message: 'no_matching_subscribers' });
    const sub = await connectClient(b.port, 4);
    const inbox = new Inbox(sub);
    await subscribe(sub, 'api/retained');
    const [m] = await inbox.count(1);
    assert.deepEqual(m!.payload, bytes);
    assert.equal(m!.packet.retain, true);
  });

  test('400 topic_name_invalid, packet_too_large (mqtt.max_packet_size), bad base64, bad body', async () => {
    const wild = await b.post('/publish', { topic: 'a/+/b', payload: 'x' });
    assert.equal(wild.status, 400);
    assert.deepEqual(wild.body, { reason_code: 144, message: 'topic_name_invalid' });
    const big = await b.post('/publish', { topic: 'a', payload: 'x'.repeat(70 * 1024) });
    assert.equal(big.status, 400);
    assert.deepEqual(big.body, { reason_code: 151, message: 'packet_too_large' });
    const b64 = await b.post('/publish', { topic: 'a', payload: '***', payload_encoding: 'base64' });
    assert.equal(b64.status, 400);
    assert.equal(b64.body.reason_code, 131);
    const shape = await b.post('/publish', { topic: 'a', payload: 'x', qos: 3 });
    assert.equal(shape.status, 400);
    assert.equal(shape.body.code, 'BAD_REQUEST');
    const missing = await b.post('/publish', { payload: 'x' });
    assert.equal(missing.body.code, 'BAD_REQUEST');
  });

  test('bulk: in order, 200 when all were delivered, 202 when one matched nobody', async () => {
    const sub = await connectClient(b.port, 5);
    const inbox = new Inbox(sub);
    await subscribe(sub, 'bulk/#', { qos: 1 });
    const all = await b.post('/publish/bulk', [
      { topic: 'bulk/1', payload: 'one', qos: 1 },
      { topic: 'bulk/2', payload: 'two', qos: 1 },
    ]);
    assert.equal(all.status, 200, all.text);
    assert.equal(all.body.length, 2);
    const got = await inbox.count(2);
    assert.deepEqual(
      got.map((m) => [m.topic, m.payload.toString()]),
      [
        ['bulk/1', 'one'],
        ['bulk/2', 'two'],
      ],
    );
    const some = await b.post('/publish/bulk', [
      { topic: 'bulk/3', payload: 'three' },
      { topic: 'elsewhere', payload: 'nobody' },
    ]);
    assert.equal(some.status, 202);
    assert.match(some.body[0].id, /^[0-9a-f]{32}$/);
    assert.deepEqual(some.body[1], { reason_code: 16, message: 'no_matching_subscribers' });
    const invalid = await b.post('/publish/bulk', [
      { topic: 'bulk/4', payload: 'four' },
      { topic: '#', payload: 'bad' },
    ]);
    assert.equal(invalid.status, 400, 'one invalid message: nothing is published');
    await inbox.count(3);
    assert.equal(inbox.messages.length, 3);
  });

  test('a $delayed topic is accepted (200) and published after the delay', async () => {
    const sub = await connectClient(b.port, 5);
    const inbox = new Inbox(sub);
    await subscribe(sub, 'later');
    const res = await b.post('/publish', { topic: '$delayed/1/later', payload: 'soon' });
    assert.equal(res.status, 200, res.text);
    const listed = await b.get('/mqtt/delayed/messages');
    assert.equal(listed.body.meta.count, 1);
    assert.equal(listed.body.data[0].topic, 'later');
    const [m] = await inbox.count(1);
    assert.equal(m!.payload.toString(), 'soon');
  });

  test('the counters count HTTP publishes as received messages', async () => {
    const before = (await b.get('/metrics?aggregate=true')).body['messages.received'];
    await b.post('/publish', { topic: 'count/me', payload: 'x' });
    const after = (await b.get('/metrics?aggregate=true')).body['messages.received'];
    assert.equal(after, before + 1);
  });
});
