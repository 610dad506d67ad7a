/**
 * Flapping detection on a fake clock (src/security/flapping.ts) and its configuration.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig, zoneFlapping } from '../../../src/config/index.js';
import { MemoryBannedStore } from '../../../src/persistence/memory/banned.js';
import { Banned } from '../../../src/security/banned.js';
import { FlappingDetector } from '../../../src/security/flapping.js';
import { clientInfo } from '../../helpers/client-info.js';

const POLICY = { enable: true, max_count: 3, window_time: 1000, ban_time: 5000 };

function fixture(policy = POLICY) {
  let now = 0;
  const banned = new Banned(new MemoryBannedStore(), { now: () => now });
  const bans: number[] = [];
  const detector = new FlappingDetector(banned, {
    policyOf: () => policy,
    onBanned: (_c, count) => bans.push(count),
    now: () => now,
  });
  return { banned, detector, bans, tick: (ms: number) => (now += ms) };
}

describe('FlappingDetector', () => {
  test('bans at max_count disconnects within window_time, for ban_time', () => {
    const { banned, detector, bans, tick } = fixture();
    const c = clientInfo('f');
    detector.disconnected(c);
    tick(400);
    detector.disconnected(c);
    assert.equal(banned.check(c), null);
    tick(400);
    detector.disconnected(c);
    const ban = banned.check(c);
    assert.ok(ban);
    assert.equal(ban.by, 'flapping_detect');
    assert.equal(ban.until, 800 + 5000);
    assert.deepEqual(bans, [3]);
    assert.equal(detector.size, 0);
    tick(5000);
    assert.equal(banned.check(c), null);
  });

  test('a disconnect after the window starts a new count; sweep drops old windows', () => {
    const { banned, detector, tick } = fixture();
    const c = clientInfo('slow');
    detector.disconnected(c);
    detector.disconnected(c);
    tick(1001);
    detector.disconnected(c);
    detector.disconnected(c);
    assert.equal(banned.check(c), null);
    tick(1001);
    assert.equal(detector.sweep(), 1);
    assert.equal(detector.size, 0);
  });

  test('disabled: nothing is counted', () => {
    const { detector } = fixture({ ...POLICY, enable: false });
    for (let i = 0; i < 10; i++) detector.disconnected(clientInfo('x'));
    assert.equal(detector.size, 0);
  });
});

test("flapping_detect: EMQX 5's defaults, and zones override key by key", () => {
  const cfg = parseConfig({ zones: { edge: { flapping_detect: { enable: true, max_count: 5 } } } });
  assert.deepEqual(cfg.flapping_detect, {
    enable: false,
    max_count: 15,
    window_time: 60_000,
    ban_time: 300_000,
  });
  assert.deepEqual(zoneFlapping(cfg, 'edge'), {
    enable: true,
    max_count: 5,
    window_time: 60_000,
    ban_time: 300_000,
  });
  assert.deepEqual(zoneFlapping(cfg, 'default'), cfg.flapping_detect);
  assert.throws(() => parseConfig({ flapping_detect: { window_time: '0s' } }), /window_time/);
});
