/**
 * Rate limits on what clients send: token buckets, after EMQX's limiter.
 *
 * A bucket holds up to `capacity` tokens (the count of its rate: "1000/10s" holds 1000) and
 * gains `count / periodMs` tokens per millisecond. Every PUBLISH a client sends takes a token
 * from its message buckets, every chunk of bytes read from its socket takes that many tokens from
 * its byte buckets. A bucket may go into debt: what was read is handled (it is already in memory,
 * and nothing acknowledged is ever dropped), and the connection stops reading from the socket
 * until the debt is paid off, `-tokens / rate` milliseconds later (MqttConnection.limitFor). The
 * client's TCP window then fills and the client slows down to the rate: backpressure, as EMQX
 * does, rather than dropping messages.
 *
 * Two levels, both optional:
 *  - per client, from the listener (`listeners.<type>.<name>.messages_rate` / `bytes_rate`):
 *    each connection gets its own buckets;
 *  - per zone, from `mqtt.limiter` / `zones.<name>.mqtt.limiter`: one bucket for all the
 *    clients of the zone on this node, so together they stay under the rate.
 * A connection with neither gets no limiter at all: the hot path then pays one null check per
 * chunk and per packet.
 *
 * Time is read by the caller (one Date.now() per chunk, which the connection reads anyway for
 * keep alive), and buckets are refilled lazily when used: no timer per bucket.
 */

import type { Metrics } from '../broker/metrics.js';
import type { InboundLimiter } from '../channel/connection.js';
import type { LimiterRate } from '../config/index.js';

export class TokenBucket {
  private tokens: number;
  private last: number;
  /** Tokens gained per millisecond. */
  private readonly perMs: number;
  readonly capacity: number;

  constructor(rate: LimiterRate, now: number) {
    this.capacity = rate.count;
    this.perMs = rate.count / rate.periodMs;
    this.tokens = rate.count;
    this.last = now;
  }

  /** Takes `n` tokens (possibly into debt); returns the milliseconds until the debt is paid (0: none). */
  take(n: number, now: number): number {
    this.refill(now);
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens / this.perMs);
  }

  /** Milliseconds until the bucket is out of debt (0: it is not in debt). */
  wait(now: number): number {
    this.refill(now);
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens / this.perMs);
  }

  /** Tokens available now (negative: debt). */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  private refill(now: number): void {
    if (now <= this.last) return;
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
  }
}

/** One connection's buckets: its own (listener level) and its zone's shared ones. */
export class ClientLimiter implements InboundLimiter {
  /** A quota ran out and the connection has not resumed yet (a pause counts once per kind). */
  private messagesOut = false;
  private bytesOut = false;

  constructor(
    private readonly messageBuckets: readonly TokenBucket[],
    private readonly byteBuckets: readonly TokenBucket[],
    private readonly metrics: Metrics,
  ) {}

  consumeBytes(n: number, now: number): number {
    const wait = takeAll(this.byteBuckets, n, now);
    if (wait > 0 && !this.bytesOut) {
      this.bytesOut = true;
      this.metrics.limiterBytesExceeded++;
    }
    return wait;
  }

  consumeMessage(now: number): number {
    const wait = takeAll(this.messageBuckets, 1, now);
    if (wait > 0 && !this.messagesOut) {
      this.messagesOut = true;
      this.metrics.limiterMessagesExceeded++;
    }
    return wait;
  }

  wait(now: number): number {
    let wait = 0;
    for (const b of this.messageBuckets) wait = Math.max(wait, b.wait(now));
    for (const b of this.byteBuckets) wait = Math.max(wait, b.wait(now));
    if (wait === 0) this.messagesOut = this.bytesOut = false;
    return wait;
  }

  paused(ms: number): void {
    this.metrics.limiterPausedMs += ms;
  }
}

function takeAll(buckets: readonly TokenBucket[], n: number, now: number): number {
  let wait = 0;
  for (let i = 0; i < buckets.length; i++) {
    const w = buckets[i]!.take(n, now);
    if (w > wait) wait = w;
  }
  return wait;
}

/** The rates that apply to a connection: its listener's (per client) and its zone's (shared). */
export interface LimitRates {
  listenerMessages: LimiterRate | null;
  listenerBytes: LimiterRate | null;
  zoneMessages: LimiterRate | null;
  zoneBytes: LimiterRate | null;
}

/** Makes the limiter of each new connection; keeps the zones' shared buckets. */
export class Limiters {
  private readonly zoneBuckets = new Map<
    string,
    { messages: TokenBucket | null; bytes: TokenBucket | null }
  >();

  constructor(
    private readonly metrics: Metrics,
    private readonly now: () => number = Date.now,
  ) {}

  /** A limiter for a new connection, or null when no rate applies to it. */
  forConnection(zone: string, rates: LimitRates): ClientLimiter | null {
    const now = this.now();
    let shared = this.zoneBuckets.get(zone);
    if (shared === undefined) {
      shared = {
        messages: rates.zoneMessages === null ? null : new TokenBucket(rates.zoneMessages, now),
        bytes: rates.zoneBytes === null ? null : new TokenBucket(rates.zoneBytes, now),
      };
      this.zoneBuckets.set(zone, shared);
    }
    const messages: TokenBucket[] = [];
    const bytes: TokenBucket[] = [];
    if (rates.listenerMessages !== null) messages.push(new TokenBucket(rates.listenerMessages, now));
    if (rates.listenerBytes !== null) bytes.push(new TokenBucket(rates.listenerBytes, now));
    if (shared.messages !== null) messages.push(shared.messages);
    if (shared.bytes !== null) bytes.push(shared.bytes);
    if (messages.length === 0 && bytes.length === 0) return null;
    return new ClientLimiter(messages, bytes, this.metrics);
  }
}
