/**
 * The per-client authorization cache (EMQX's emqx_authz_cache): answers already given to one
 * client, so that most checks of a busy publisher are a map lookup and stay synchronous.
 *
 * What it stores. Per topic (the PUBLISH topic, or the SUBSCRIBE filter), one answer per kind of
 * request: nine slots, publish at QoS 0..2 with retain off / on (slots 0..5: `qos * 2 + retain`)
 * and subscribe at QoS 0..2 (slots 6..8), because a rule may depend on the QoS and the retain
 * flag. Each slot has its answer and its expiry time; an expired slot is a miss.
 *
 * Bounds. `max_size` counts cached answers (filled slots), as EMQX counts (action, topic) pairs;
 * when full, the topic stored longest ago is evicted with its answers (Map order is insertion
 * order, and a topic written again moves to the end). `ttl` bounds how long a changed rule can
 * go unnoticed; `Authorization.clearCache()` empties every client's cache at once by starting a
 * new generation, which each cache compares on use (so clearing costs nothing per client).
 *
 * One cache per connection (a WeakMap keyed by the ClientInfo, dropped on disconnect): EMQX too
 * keeps it in the connection's process.
 */

import type { AuthzRequest } from '../broker/hooks.js';

/** A cached answer: the first source's allow / deny, or no source had a rule (nomatch). */
export const Answer = { Allow: 1, Deny: 2, NoMatch: 3 } as const;
export type Answer = (typeof Answer)[keyof typeof Answer];

const SLOTS = 9;
const SUBSCRIBE_SLOTS_START = 6;

/** The slot of a request (see the header). */
export function slotOf(request: AuthzRequest): number {
  return request.action === 'publish'
    ? request.qos * 2 + (request.retain ? 1 : 0)
    : SUBSCRIBE_SLOTS_START + request.qos;
}

class TopicEntry {
  readonly expires = new Float64Array(SLOTS);
  readonly answers = new Uint8Array(SLOTS);
  filled = 0;
}

export class ClientCache {
  private readonly topics = new Map<string, TopicEntry>();
  /** Filled slots, across topics. */
  size = 0;

  constructor(readonly generation: number) {}

  /** The answer cached for `topic` and `slot`, if any and not expired at `now`. */
  get(topic: string, slot: number, now: number): Answer | undefined {
    const e = this.topics.get(topic);
    if (e === undefined) return undefined;
    const answer = e.answers[slot]!;
    if (answer === 0) return undefined;
    if (e.expires[slot]! <= now) {
      e.answers[slot] = 0;
      e.filled--;
      this.size--;
      if (e.filled === 0) this.topics.delete(topic);
      return undefined;
    }
    return answer as Answer;
  }

  put(topic: string, slot: number, answer: Answer, expiresAt: number, maxSize: number): void {
    let e = this.topics.get(topic);
    if (e !== undefined)
      this.topics.delete(topic); // re-inserted below: now the newest
    else e = new TopicEntry();
    if (e.answers[slot] === 0) {
      // A new answer: make room by evicting the oldest topics.
      while (this.size >= maxSize && this.topics.size > 0) {
        const oldest = this.topics.keys().next().value as string;
        this.size -= this.topics.get(oldest)!.filled;
        this.topics.delete(oldest);
      }
      e.filled++;
      this.size++;
    }
    e.answers[slot] = answer;
    e.expires[slot] = expiresAt;
    this.topics.set(topic, e);
  }
}
