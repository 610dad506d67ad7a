/**
 * The dashboard's history (EMQX's emqx_dashboard_monitor): every `dashboard.sample_interval`
 * (10 s) a sample of the gauges (connections, sessions, subscriptions, topics, retained) and of
 * what the counters moved since the previous sample (messages received, sent, dropped), kept in
 * memory for `MAX_SAMPLES` intervals (a day at 10 s) for `GET /monitor?latest=<seconds>`.
 * `GET /monitor_current` gives the gauges now and the rates per second over the last interval.
 *
 * One timer for the whole API; each tick reads a few numbers (no walk over clients), then lets
 * the client registry drop entries of sessions that have ended.
 */

import type { Broker, Stats } from '../broker/index.js';
import type { ClientRegistry } from './registry.js';

/** Samples kept: 24 h at the default 10 s interval. */
export const MAX_SAMPLES = 8640;
const MS_PER_SECOND = 1000;

/** One sample, under EMQX's field names. */
export interface Sample {
  time_stamp: number;
  connections: number;
  live_connections: number;
  sessions: number;
  subscriptions: number;
  topics: number;
  retained_msg_count: number;
  /** Counters moved during the interval that ends at time_stamp. */
  received: number;
  sent: number;
  dropped: number;
  received_bytes: number;
  sent_bytes: number;
}

interface Totals {
  at: number;
  received: number;
  sent: number;
  dropped: number;
  receivedBytes: number;
  sentBytes: number;
}

export class Monitor {
  private readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private last: Totals;

  constructor(
    private readonly broker: Broker,
    private readonly stats: Stats,
    private readonly registry: ClientRegistry,
    readonly intervalMs: number,
  ) {
    this.last = this.totals();
  }

  start(): void {
    if (this.timer !== null) return;
    this.last = this.totals();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes a sample now (the timer's work; tests call it directly). */
  sample(): Sample {
    const now = this.totals();
    const prev = this.last;
    this.last = now;
    const s: Sample = {
      time_stamp: now.at,
      ...this.gauges(),
      received: now.received - prev.received,
      sent: now.sent - prev.sent,
      dropped: now.dropped - prev.dropped,
      received_bytes: now.receivedBytes - prev.receivedBytes,
      sent_bytes: now.sentBytes - prev.sentBytes,
    };
    this.samples.push(s);
    if (this.samples.length > MAX_SAMPLES) this.samples.splice(0, this.samples.length - MAX_SAMPLES);
    void this.registry.sweep(); // in slices; cannot fail
    return s;
  }

  /** Samples of the last `seconds` seconds (all kept samples when undefined), oldest first. */
  latest(seconds: number | undefined, now = Date.now()): Sample[] {
    if (seconds === undefined) return [...this.samples];
    const since = now - seconds * MS_PER_SECOND;
    let i = this.samples.length;
    while (i > 0 && this.samples[i - 1]!.time_stamp >= since) i--;
    return this.samples.slice(i);
  }

  /** The gauges now and the rates (per second) since the last sample. */
  current(): Record<string, number> {
    const now = this.totals();
    const prev = this.last;
    const seconds = Math.max((now.at - prev.at) / MS_PER_SECOND, 1);
    const rate = (a: number, b: number): number => Math.round(((a - b) / seconds) * 100) / 100;
    return {
      ...this.gauges(),
      subscriptions_shared: this.broker.sharedSubscriptionCount,
      received_msg_rate: rate(now.received, prev.received),
      sent_msg_rate: rate(now.sent, prev.sent),
      dropped_msg_rate: rate(now.dropped, prev.dropped),
      received_bytes_rate: rate(now.receivedBytes, prev.receivedBytes),
      sent_bytes_rate: rate(now.sentBytes, prev.sentBytes),
      node_uptime: Math.floor((Date.now() - this.broker.startedAt) / MS_PER_SECOND),
    };
  }

  private gauges(): Omit<
    Sample,
    'time_stamp' | 'received' | 'sent' | 'dropped' | 'received_bytes' | 'sent_bytes'
  > {
    const b = this.broker;
    return {
      connections: b.sessionCount,
      live_connections: b.connectionCount,
      sessions: b.sessionCount,
      subscriptions: b.subscriptionCount,
      topics: b.topicCount,
      retained_msg_count: b.retainedCount,
    };
  }

  private totals(): Totals {
    const m = this.broker.metrics;
    this.stats.update(); // keeps the high-water marks honest between the stats ticks
    return {
      at: Date.now(),
      received: m.messagesReceived,
      sent: m.messagesSent,
      dropped: m.messagesDropped,
      receivedBytes: m.bytesReceived,
      sentBytes: m.bytesSent,
    };
  }
}
