/**
 * Broker statistics: gauges with their high-water marks, under EMQX's names (emqx_stats.erl,
 * emqx_cm.erl): `connections.count` / `connections.max`, `sessions.count`, `topics.count`, ...
 * They feed `$SYS/brokers/<node>/stats/*` now and the HTTP API and Prometheus later.
 *
 * What each gauge counts (as EMQX does):
 *  - `connections`: client channels the broker holds, connected or not: a client that left a
 *    session with an expiry interval still counts until the session expires (EMQX's channel
 *    processes live on with the session); `live_connections`: connected clients only;
 *  - `channels`, `sessions`: sessions held (the same number on a broker with MQTT only);
 *  - `topics`: distinct subscribed topic filters (EMQX's routes);
 *  - `subscriptions`: subscriptions, one per client and filter; `subscriptions.shared`: those
 *    that are members of a share group;
 *  - `retained`: retained messages stored.
 *
 * High-water marks. A `.max` never goes down. Connections and sessions only grow when a client
 * connects, subscriptions and topics only when one subscribes, so the marks are raised on those
 * hooks and are exact; a sampler (once a second, like EMQX's emqx_stats tick) catches the rest
 * (retained messages, which grow with publishes, where a hook would cost on the hot path).
 */

import type { Hooks } from './hooks.js';

/** What Stats reads: the broker's current sizes. */
export interface StatsSource {
  readonly hooks: Hooks;
  /** Connected clients. */
  readonly connectionCount: number;
  /** Sessions held, connected or not. */
  readonly sessionCount: number;
  readonly subscriptionCount: number;
  /** Shared subscriptions (members of share groups), part of subscriptionCount. */
  readonly sharedSubscriptionCount: number;
  /** Distinct subscribed filters. */
  readonly topicCount: number;
  readonly retainedCount: number;
}

/** How often the sampler raises the marks of gauges that have no hook. */
export const STATS_SAMPLE_MS = 1000;

export class Stats {
  connectionsMax = 0;
  liveConnectionsMax = 0;
  sessionsMax = 0;
  topicsMax = 0;
  subscriptionsMax = 0;
  sharedSubscriptionsMax = 0;
  retainedMax = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Statistics of other parts (delayed publish, ...), merged into toJSON. */
  private readonly extra: Array<() => Readonly<Record<string, number>>> = [];

  constructor(private readonly source: StatsSource) {}

  /** Adds the statistics of another part, e.g. () => delayed.stats() for `delayed.count`. */
  addSource(source: () => Readonly<Record<string, number>>): void {
    this.extra.push(source);
  }

  /** Starts tracking high-water marks (hooks and the sampler). Idempotent. */
  start(): void {
    if (this.timer !== null) return;
    this.source.hooks.add('client.connected', this.onConnected);
    this.source.hooks.add('session.subscribed', this.onSubscribed);
    this.timer = setInterval(() => this.update(), STATS_SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    this.source.hooks.remove('client.connected', this.onConnected);
    this.source.hooks.remove('session.subscribed', this.onSubscribed);
  }

  /** Reads every gauge and raises the high-water marks. */
  update(): void {
    this.updateConnections();
    this.updateSubscriptions();
    const retained = this.source.retainedCount;
    if (retained > this.retainedMax) this.retainedMax = retained;
  }

  private updateConnections(): void {
    const s = this.source;
    const sessions = s.sessionCount;
    const live = s.connectionCount;
    if (sessions > this.sessionsMax) this.sessionsMax = sessions;
    if (sessions > this.connectionsMax) this.connectionsMax = sessions;
    if (live > this.liveConnectionsMax) this.liveConnectionsMax = live;
  }

  private updateSubscriptions(): void {
    const s = this.source;
    const subscriptions = s.subscriptionCount;
    const topics = s.topicCount;
    const shared = s.sharedSubscriptionCount;
    if (subscriptions > this.subscriptionsMax) this.subscriptionsMax = subscriptions;
    if (shared > this.sharedSubscriptionsMax) this.sharedSubscriptionsMax = shared;
    if (topics > this.topicsMax) this.topicsMax = topics;
  }

  private readonly onConnected = (): void => this.updateConnections();
  private readonly onSubscribed = (): void => this.updateSubscriptions();

  /** EMQX-style names and values, e.g. { 'connections.count': 3, 'connections.max': 5 }. */
  toJSON(): Record<string, number> {
    this.update();
    const s = this.source;
    const sessions = s.sessionCount;
    const out: Record<string, number> = {
      'connections.count': sessions,
      'connections.max': this.connectionsMax,
      'live_connections.count': s.connectionCount,
      'live_connections.max': this.liveConnectionsMax,
      'channels.count': sessions,
      'channels.max': this.sessionsMax,
      'sessions.count': sessions,
      'sessions.max': this.sessionsMax,
      'topics.count': s.topicCount,
      'topics.max': this.topicsMax,
      'subscriptions.count': s.subscriptionCount,
      'subscriptions.max': this.subscriptionsMax,
      'subscriptions.shared.count': s.sharedSubscriptionCount,
      'subscriptions.shared.max': this.sharedSubscriptionsMax,
      'retained.count': s.retainedCount,
      'retained.max': this.retainedMax,
    };
    for (const source of this.extra) Object.assign(out, source());
    return out;
  }
}
