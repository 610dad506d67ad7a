/**
 * The retained store's limits (EMQX's `retainer.*`) and `mqtt.use_username_as_clientid`:
 * a payload over `retainer.max_payload_size` is delivered but not retained; a new topic beyond
 * `retainer.max_retained_messages` is not retained (replacing an existing one still works);
 * a retained message past `retainer.msg_expiry_interval`, or past its own Message Expiry
 * Interval, is no longer sent to new subscribers [MQTT-3.3.2-5].
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  clientId,
  closeClients,
  connectClient,
  connected,
  Inbox,
  openClient,
  publish,
  type StartedBroker,
  startBroker,
  subscribe,
} from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';

/** Subscribes a new client to `filter` and returns the retained topics it gets before `marker`. */
async function retainedTopics(b: StartedBroker, filter: string): Promise<string[]> {
  const c = await connectClient(b.port, 5, { clientId: clientId('probe') });
  const inbox = new Inbox(c);
  await subscribe(c, [filter, 'marker/#'], { qos: 1 });
  const pub = await connectClient(b.port, 5, { clientId: clientId('marker') });
  const marker = `marker/${clientId('m')}`;
  await publish(pub, marker, 'x', { qos: 1 });
  const got = await inbox.until(marker);
  return got
    .filter((m) => m.packet.retain)
    .map((m) => m.topic)
    .sort();
}

describe('12 retainer limits', () => {
  let b: StartedBroker;
  before(async () => {
    b = await startBroker({
      retainer: { max_payload_size: '16B', max_retained_messages: 2, msg_expiry_interval: '2s' },
    });
  });
  after(async () => {
    await closeClients();
    await b.close();
  });

  test('a payload over max_payload_size is delivered live but not retained', async () => {
    const live = await connectClient(b.port, 5, { clientId: clientId('live') });
    const inbox = new Inbox(live);
    await subscribe(live, 'big/#', { qos: 1 });
    const pub = await connectClient(b.port, 5, { clientId: clientId('pub') });
    await publish(pub, 'big/a', 'x'.repeat(17), { qos: 1, retain: true });
    const [m] = await inbox.count(1);
    assert.equal(m?.payload.length, 17);
    assert.deepEqual(await retainedTopics(b, 'big/#'), []);
    assert.equal(b.aviary.broker.metrics.retainedDroppedTooLarge, 1);
  });

  test('max_retained_messages: a third topic is not retained; replacing one still works', async () => {
    const pub = await connectClient(b.port, 5, { clientId: clientId('pub') });
    await publish(pub, 'full/1', 'a', { qos: 1, retain: true });
    await publish(pub, 'full/2', 'b', { qos: 1, retain: true });
    await publish(pub, 'full/3', 'c', { qos: 1, retain: true });
    assert.deepEqual(await retainedTopics(b, 'full/#'), ['full/1', 'full/2']);
    await publish(pub, 'full/2', 'b2', { qos: 1, retain: true });
    const c = await connectClient(b.port, 5, { clientId: clientId('check') });
    const inbox = new Inbox(c);
    await subscribe(c, 'full/2', { qos: 1 });
    const [m] = await inbox.count(1);
    assert.equal(m?.payload.toString(), 'b2');
    // Deleting frees a place.
    await publish(pub, 'full/1', '', { qos: 1, retain: true });
    await publish(pub, 'full/2', '', { qos: 1, retain: true });
  });

  test('[MQTT-3.3.2-5] expired retained messages are not sent to new subscribers', async () => {
    const pub = await connectClient(b.port, 5, { clientId: clientId('pub') });
    await publish(pub, 'exp/default', 'a', { qos: 1, retain: true }); // retainer.msg_expiry_interval 2s
    await publish(pub, 'exp/own', 'b', { qos: 1, retain: true, properties: { messageExpiryInterval: 100 } });
    assert.deepEqual(await retainedTopics(b, 'exp/#'), ['exp/default', 'exp/own']);
    await new Promise((r) => setTimeout(r, 2100));
    assert.deepEqual(await retainedTopics(b, 'exp/#'), ['exp/own']);
  });

  test('the periodic sweep removes expired retained messages nobody asked for, freeing their places', async () => {
    const pub = await connectClient(b.port, 5, { clientId: clientId('pub') });
    await publish(pub, 'sweep/1', 'a', { qos: 1, retain: true }); // retainer.msg_expiry_interval 2s
    const before = b.aviary.broker.retainedCount;
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal(b.aviary.broker.retainedCount, before, 'no subscription has looked at it yet');
    b.aviary.broker.sweepExpiredRetained();
    assert.equal(b.aviary.broker.retainedCount, before - 1);
  });
});

describe('12 mqtt.use_username_as_clientid', () => {
  const b = brokerForSuite({ mqtt: { use_username_as_clientid: true } }, { closeClientsAfterEach: false });

  test('the user name becomes the client id; a 5.0 client is told in the CONNACK', async () => {
    const ids: string[] = [];
    b.aviary.hooks.add('client.connected', (client) => {
      ids.push(client.clientId);
    });
    const c5 = openClient(b.port, 5, { clientId: 'device-1', username: 'alice' });
    const connack = await connected(c5);
    assert.equal(connack.properties?.assignedClientIdentifier, 'alice');
    await connectClient(b.port, 4, { clientId: 'device-2', username: 'bob' });
    await connectClient(b.port, 4, { clientId: 'device-3' });
    assert.deepEqual(ids.sort(), ['alice', 'bob', 'device-3']);
  });
});
