/**
 * Token buckets and limiters (src/security/limiter.ts), on a fake clock, and the rate syntax
 * (src/config/security-schema.ts).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Metrics } from '../../../src/broker/metrics.js';
import { parseConfig, parseLimiterRate } from '../../../src/config/index.js';
import { Limiters, TokenBucket } from '../../../src/security/limiter.js';

describe('TokenBucket', () => {
  test('starts full, goes into debt, and says how long the debt takes to pay', () => {
    const bucket = new TokenBucket({ count: 10, periodMs: 1000 }, 0);
    for (let i = 0; i < 10; i++) assert.equal(bucket.take(1, 0), 0);
    assert.equal(bucket.take(1, 0), 100); // one token at 10/s
    assert.equal(bucket.take(4, 0), 500);
    assert.equal(bucket.wait(250), 250);
    assert.equal(bucket.wait(500), 0);
    // Refills up to its capacity only.
    assert.equal(bucket.available(60_000), 10);
  });
});

describe('Limiters', () => {
  test('no rate: no limiter at all (nothing on the hot path)', () => {
    const limiters = new Limiters(new Metrics(), () => 0);
    const none = { listenerMessages: null, listenerBytes: null, zoneMessages: null, zoneBytes: null };
    assert.equal(limiters.forConnection('default', none), null);
  });

  test('per-client buckets are separate; a zone bucket is shared', () => {
    const metrics = new Metrics();
    const limiters = new Limiters(metrics, () => 0);
    const perClient = {
      listenerMessages: { count: 2, periodMs: 1000 },
      listenerBytes: null,
      zoneMessages: null,
      zoneBytes: null,
    };
    const a = limiters.forConnection('z1', perClient)!;
    const b = limiters.forConnection('z1', perClient)!;
    assert.equal(a.consumeMessage(0), 0);
    assert.equal(a.consumeMessage(0), 0);
    assert.equal(a.consumeMessage(0), 500);
    assert.equal(b.consumeMessage(0), 0, 'b has its own bucket');
    const shared = {
      listenerMessages: null,
      listenerBytes: null,
      zoneMessages: { count: 2, periodMs: 1000 },
      zoneBytes: null,
    };
    const c = limiters.forConnection('z2', shared)!;
    const d = limiters.forConnection('z2', shared)!;
    assert.equal(c.consumeMessage(0), 0);
    assert.equal(d.consumeMessage(0), 0);
    assert.equal(c.consumeMessage(0), 500, "the zone's bucket is empty for both");
    assert.equal(d.wait(0), 500);
    assert.equal(metrics.limiterMessagesExceeded, 2, 'one per pause, not per message');
    assert.equal(c.wait(500), 0);
    c.paused(500);
    assert.equal(metrics.limiterPausedMs, 500);
  });

  test('bytes take one token per byte', () => {
    const metrics = new Metrics();
    const limiters = new Limiters(metrics, () => 0);
    const l = limiters.forConnection('z', {
      listenerMessages: null,
      listenerBytes: { count: 1024, periodMs: 1000 },
      zoneMessages: null,
      zoneBytes: null,
    })!;
    assert.equal(l.consumeBytes(1024, 0), 0);
    assert.equal(l.consumeBytes(512, 0), 500);
    assert.equal(metrics.limiterBytesExceeded, 1);
  });
});

describe('rates in the configuration', () => {
  test("EMQX's forms", () => {
    assert.deepEqual(parseLimiterRate('1000/s'), { count: 1000, periodMs: 1000 });
    assert.deepEqual(parseLimiterRate('1000/10s'), { count: 1000, periodMs: 10_000 });
    assert.deepEqual(parseLimiterRate('60/m'), { count: 60, periodMs: 60_000 });
    assert.deepEqual(parseLimiterRate(' 5 / 2h '), { count: 5, periodMs: 7_200_000 });
    assert.deepEqual(parseLimiterRate('100'), { count: 100, periodMs: 1000 });
    assert.deepEqual(parseLimiterRate('1MB/s', true), { count: 1024 * 1024, periodMs: 1000 });
    assert.deepEqual(parseLimiterRate('64KB/10s', true), { count: 65_536, periodMs: 10_000 });
    assert.equal(parseLimiterRate('infinity'), null);
    for (const bad of ['1MB/s', '0/s', '10/0s', '10/x', '-1/s', 'fast']) {
      assert.equal(parseLimiterRate(bad), undefined, bad);
    }
  });

  test('listener, mqtt.limiter and zone keys default to infinity and reject bad rates', () => {
    const cfg = parseConfig({
      listeners: { tcp: { default: { messages_rate: '10/s', bytes_rate: '1KB/s' } } },
      zones: { z: { mqtt: { limiter: { messages_rate: '5/s' } } } },
    });
    assert.equal(cfg.listeners.tcp.default?.messages_rate, '10/s');
    assert.equal(cfg.mqtt.limiter.messages_rate, 'infinity');
    assert.equal(cfg.mqtt.limiter.bytes_rate, 'infinity');
    assert.equal(cfg.zones.z?.mqtt.limiter?.messages_rate, '5/s');
    assert.throws(
      () => parseConfig({ listeners: { tcp: { default: { messages_rate: '1MB/s' } } } }),
      /messages_rate/,
    );
    assert.throws(() => parseConfig({ mqtt: { limiter: { bytes_rate: 'lots' } } }), /bytes_rate/);
  });
});
