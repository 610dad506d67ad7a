/**
 * A subscriber that stops reading must not make the broker's memory grow without bound
 * (DESIGN.md, "Backpressure everywhere"): beyond SLOW_CONSUMER_BYTES waiting in its socket,
 * QoS 0 deliveries to it are dropped and counted (`delivery.dropped.queue_full`); QoS 1
 * deliveries wait in its session, bounded by the inflight window and `mqtt.max_mqueue_len`
 * (oldest dropped first). Other subscribers are not affected.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SLOW_CONSUMER_BYTES } from '../../src/channel/channel.js';
import { type Packet, PacketType } from '../../src/protocol/index.js';
import {
  clientId,
  closeClients,
  connectClient,
  Inbox,
  publish,
  rawConnected,
  type StartedBroker,
  startBroker,
  subscribe,
  waitUntil,
} from '../helpers/broker.js';

describe('15 a subscriber that does not read', () => {
  let b: StartedBroker;
  before(async () => {
    b = await startBroker({ mqtt: { max_mqueue_len: 50, max_inflight: 10 } });
  });
  after(async () => {
    await closeClients();
    await b.close();
  });

  test('QoS 0 beyond the slow-consumer limit is dropped and counted; QoS 1 waits, bounded', {
    timeout: 60_000,
  }, async () => {
    // The stalled subscriber: subscribes, then never reads again.
    const stalled = await rawConnected(b.port, { version: 4, clientId: 'stalled', keepalive: 0 });
    stalled.sendPacket({
      type: PacketType.Subscribe,
      packetId: 1,
      subscriptions: [sub('slow/q0', 0), sub('slow/q1', 1)],
      properties: null,
    } as Packet);
    const suback = await stalled.readPacket();
    assert.equal(suback.type, PacketType.Suback);
    stalled.socket.pause();

    // A healthy subscriber is still served. (It lives in this test process, which also runs the
    // broker, so it may itself fall behind during the burst and have QoS 0 shed: it is checked on
    // a QoS 1 message sent after the burst, not on the count of QoS 0 ones.)
    const healthy = await connectClient(b.port, 5, { clientId: clientId('healthy') });
    const inbox = new Inbox(healthy);
    await subscribe(healthy, ['slow/q0', 'slow/end'], { qos: 1 });

    const pub = await connectClient(b.port, 5, { clientId: clientId('pub') });
    const payload = Buffer.alloc(64 * 1024, 0x61);
    const count = Math.ceil((SLOW_CONSUMER_BYTES * 3) / payload.length); // 3x the limit
    for (let i = 0; i < count; i++) await publish(pub, 'slow/q0', payload, { qos: 0 });
    await publish(pub, 'slow/end', 'end', { qos: 1 });
    const got = await inbox.until('slow/end', 30_000);
    assert.equal(got.at(-1)?.payload.toString(), 'end');
    assert.ok(got.length > 1, 'the healthy subscriber got the burst too');
    await waitUntil(
      () => b.aviary.broker.metrics.deliveryDroppedQueueFull > 0,
      'QoS 0 drops to the stalled client',
      30_000,
    );

    // QoS 1: 10 in flight + 50 queued at most; the rest drop oldest-first.
    const before1 = b.aviary.broker.metrics.deliveryDroppedQueueFull;
    for (let i = 0; i < 100; i++) await publish(pub, 'slow/q1', `m${i}`, { qos: 1 });
    await waitUntil(
      () => b.aviary.broker.metrics.deliveryDroppedQueueFull - before1 >= 40,
      'QoS 1 queue overflow drops',
      30_000,
    );
  });
});

function sub(topicFilter: string, qos: 0 | 1) {
  return { topicFilter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 as const };
}
