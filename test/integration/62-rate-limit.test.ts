/**
 * Rate limits over real sockets (src/security/limiter.ts): a publisher over its listener's
 * `messages_rate` or `bytes_rate`, or a zone's shared `mqtt.limiter`, is slowed down to the rate
 * by pausing the reading of its socket; nothing it sent is dropped, and the pauses show in metrics.
 *
 * The bounds are lower bounds derived from the configured rate (a bucket starts full with one
 * period's worth of tokens, so N messages at R/s take at least (N - R) / R seconds), with 10%
 * slack for timer granularity; nothing here depends on how fast the machine is.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PacketType, ProtocolVersion } from '../../src/protocol/index.js';
import { connectClient, Inbox, rawConnected, subscribe, WAIT_MS, within } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';

const SLACK = 0.9;
const MS_PER_SECOND = 1000;

/** The least time `n` tokens take from a bucket of `rate` per second that starts full. */
function leastMs(n: number, rate: number): number {
  return ((n - rate) / rate) * MS_PER_SECOND * SLACK;
}

describe('rate limits', () => {
  const MESSAGES_RATE = 50;
  const ZONE_RATE = 40;
  const BYTES_RATE_KB = 20;
  const b = brokerForSuite({
    listeners: {
      tcp: {
        default: { messages_rate: `${MESSAGES_RATE}/s` },
        bytes: { bind: '127.0.0.1:0', bytes_rate: `${BYTES_RATE_KB}KB/s` },
        zoned: { bind: '127.0.0.1:0', zone: 'slow' },
      },
    },
    zones: { slow: { mqtt: { limiter: { messages_rate: `${ZONE_RATE}/s` } } } },
  });
  const portOf = (id: string): number => b.aviary.addresses().find((a) => a.id === id)!.port;

  test('a publisher over messages_rate slows down to it, and every message arrives', async () => {
    const N = 150;
    const sub = await connectClient(b.port, 5);
    const inbox = new Inbox(sub);
    await subscribe(sub, 'rate/#', { qos: 1 });
    const pub = await connectClient(b.port, 5);
    const m0 = b.aviary.broker.metrics.toJSON();
    const started = Date.now();
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) acks.push(pub.publishAsync(`rate/${i}`, String(i), { qos: 1 }));
    await within(Promise.all(acks), 3 * WAIT_MS, `${N} PUBACKs`);
    const elapsed = Date.now() - started;
    assert.ok(
      elapsed >= leastMs(N, MESSAGES_RATE),
      `${N} messages at ${MESSAGES_RATE}/s took only ${elapsed} ms`,
    );
    const got = await inbox.count(N, 3 * WAIT_MS);
    assert.deepEqual(
      got.map((m) => m.payload.toString()),
      Array.from({ length: N }, (_, i) => String(i)),
      'all delivered, in order',
    );
    const m1 = b.aviary.broker.metrics.toJSON();
    assert.ok(m1['limiter.messages.exceeded']! > m0['limiter.messages.exceeded']!);
    assert.ok(m1['limiter.paused_ms']! > m0['limiter.paused_ms']!);
  });

  test('a client over bytes_rate is paused: packets behind a large PUBLISH wait for the quota', async () => {
    const port = portOf('tcp:bytes');
    const raw = await rawConnected(port, { version: 4, clientId: 'bytes-pub' });
    raw.version = ProtocolVersion.V4;
    const payload = Buffer.alloc(3 * BYTES_RATE_KB * 1024, 0x61);
    const started = Date.now();
    // One QoS 1 PUBLISH of three seconds' worth of bytes, then a PINGREQ, in one write.
    raw.sendPacket({
      type: PacketType.Publish,
      topic: 'bytes/t',
      payload,
      qos: 1,
      retain: false,
      dup: false,
      packetId: 1,
      properties: null,
    });
    raw.send('c000');
    const puback = await raw.readPacket(3 * WAIT_MS);
    assert.equal(puback.type, PacketType.Puback);
    const pingresp = await raw.readPacket(3 * WAIT_MS);
    assert.equal(pingresp.type, PacketType.Pingresp);
    const elapsed = Date.now() - started;
    const least = ((payload.length - BYTES_RATE_KB * 1024) / (BYTES_RATE_KB * 1024)) * MS_PER_SECOND * SLACK;
    assert.ok(elapsed >= least, `${payload.length} bytes at ${BYTES_RATE_KB}KB/s took only ${elapsed} ms`);
    assert.ok(b.aviary.broker.metrics.limiterBytesExceeded > 0);
  });

  test("a zone's mqtt.limiter is shared by all of the zone's clients", async () => {
    const port = portOf('tcp:zoned');
    const PER_CLIENT = 50;
    const pubs = [await connectClient(port, 5), await connectClient(port, 5)];
    const started = Date.now();
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < PER_CLIENT; i++) {
      for (const pub of pubs) acks.push(pub.publishAsync(`zone/${i}`, 'x', { qos: 1 }));
    }
    await within(Promise.all(acks), 3 * WAIT_MS, 'the PUBACKs');
    const elapsed = Date.now() - started;
    const total = PER_CLIENT * pubs.length;
    assert.ok(
      elapsed >= leastMs(total, ZONE_RATE),
      `${total} messages at ${ZONE_RATE}/s (shared) took only ${elapsed} ms`,
    );
  });
});
