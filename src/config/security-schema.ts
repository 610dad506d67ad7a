/**
 * Configuration of the security core (src/security), with EMQX 5's names and defaults:
 *
 *  - `flapping_detect { enable, max_count, window_time, ban_time }` (emqx_schema.erl
 *    fields("flapping_detect")), also per zone as `zones.<name>.flapping_detect`;
 *  - rate limits: `messages_rate` and `bytes_rate` per client on a listener
 *    (`listeners.tcp.default.messages_rate = "1000/s"`, EMQX 5.1+'s short form), and
 *    `mqtt.limiter { messages_rate, bytes_rate }` (EMQX 5.9's node- and zone-level limiter, also
 *    `zones.<name>.mqtt.limiter`), shared by all the clients of a zone.
 *
 * A rate is written as EMQX writes it: `"infinity"`, `"1000/s"`, `"1000/10s"`, `"500/m"`, and for
 * bytes `"1MB/s"`, `"64KB/10s"` (1024-based units); a bare number is per second. The parsed
 * configuration keeps the text (trimmed); `parseLimiterRate` turns it into `{ count, periodMs }`.
 */
import type { z } from 'zod';
import { bool, duration, int, leaf, section } from './fields.js';
import { parseByteSize, parseDuration } from './units.js';

/** A rate after parsing: `count` tokens every `periodMs` milliseconds. */
export interface LimiterRate {
  readonly count: number;
  readonly periodMs: number;
}

const RATE = /^([0-9]+(?:\.[0-9]+)?\s*(?:b|kb|mb|gb)?)\s*\/\s*([0-9]*)\s*(ms|s|m|h|d)$/;
const PLAIN_NUMBER = /^[0-9]+$/;

/**
 * Parses a rate; `null` for "infinity" (no limit), `undefined` when the text is not a rate.
 * `bytes` allows size units in the count ("1MB/s").
 */
export function parseLimiterRate(input: unknown, bytes = false): LimiterRate | null | undefined {
  if (input === Number.POSITIVE_INFINITY) return null;
  if (typeof input === 'number') {
    return Number.isSafeInteger(input) && input > 0 ? { count: input, periodMs: 1000 } : undefined;
  }
  if (typeof input !== 'string') return undefined;
  const text = input.trim().toLowerCase();
  if (text === 'infinity') return null;
  if (PLAIN_NUMBER.test(text)) return parseLimiterRate(Number(text), bytes);
  const match = RATE.exec(text);
  if (match === null) return undefined;
  const countText = (match[1] ?? '').replace(/\s+/g, '');
  const count = bytes
    ? parseByteSize(countText)
    : PLAIN_NUMBER.test(countText)
      ? Number(countText)
      : undefined;
  const periodMs = parseDuration(`${match[2] === '' ? '1' : match[2]}${match[3]}`);
  if (count === undefined || count <= 0 || periodMs === undefined || periodMs <= 0) return undefined;
  return { count, periodMs };
}

function rate(bytes: boolean) {
  const expected = bytes
    ? '"infinity" or a rate like "1MB/s", "64KB/10s"'
    : '"infinity" or a rate like "1000/s", "500/10s", "100/m"';
  return leaf(expected, (input) => {
    if (parseLimiterRate(input, bytes) === undefined) return undefined;
    return typeof input === 'number'
      ? Number.isFinite(input)
        ? `${input}/s`
        : 'infinity'
      : String(input).trim();
  });
}

/** `messages_rate`: PUBLISH packets a client may send. */
export const messagesRate = () => rate(false);
/** `bytes_rate`: bytes a client may send. */
export const bytesRate = () => rate(true);

/** The rate-limit keys of a listener (per client), next to EMQX's `max_conn_rate`. */
export const listenerRateFields = () => ({
  messages_rate: messagesRate().prefault('infinity'),
  bytes_rate: bytesRate().prefault('infinity'),
});

/** `mqtt.limiter`: limits shared by all the clients of a zone (on this node). */
export const limiterSchema = section({
  messages_rate: messagesRate().prefault('infinity'),
  bytes_rate: bytesRate().prefault('infinity'),
});

/** `zones.<name>.mqtt.limiter`: the same keys, each optional. */
export const limiterOverridesSchema = section({
  messages_rate: messagesRate().optional(),
  bytes_rate: bytesRate().optional(),
});

const positiveDuration = () => duration({ check: { test: (ms) => ms > 0, expected: 'more than 0' } });

/** `flapping_detect`: EMQX 5's defaults (disabled; 15 disconnects in 1 minute bans for 5 minutes). */
export const flappingDetectSchema = section({
  enable: bool().prefault(false),
  max_count: int(1, Number.POSITIVE_INFINITY).prefault(15),
  window_time: positiveDuration().prefault('1m'),
  ban_time: positiveDuration().prefault('5m'),
});

/** `zones.<name>.flapping_detect`: the same keys, each optional. */
export const flappingDetectOverridesSchema = section({
  enable: bool().optional(),
  max_count: int(1, Number.POSITIVE_INFINITY).optional(),
  window_time: positiveDuration().optional(),
  ban_time: positiveDuration().optional(),
});

/** The parsed `flapping_detect` section. */
export type FlappingDetectConfig = z.output<typeof flappingDetectSchema>;
/** The parsed `mqtt.limiter` section. */
export type LimiterConfig = z.output<typeof limiterSchema>;
