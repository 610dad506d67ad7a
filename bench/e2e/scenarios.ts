/**
 * The end-to-end scenarios (issue 8's table), and how one is split into per-worker plans.
 *
 * Topics and filters:
 *   fan-in     publisher i -> `bench/in/<i>`; every subscriber holds `bench/in/+`
 *   fan-out    publisher i -> `bench/out/<i>`; every subscriber holds each `bench/out/<i>`
 *   p2p        publisher i -> `bench/p2p/<i>`; subscriber i holds `bench/p2p/<i>` only
 *   noise      (the "100k" variants) clients holding non-matching filters, a quarter each of
 *              exact `bench/p2p/<k>/n<j>`, `bench/+/<k>/n<j>`, `bench/p2p/<k>/n<j>/#` and
 *              `noise/<j>/x`: they share the benchmark's first levels, so the broker's trie
 *              walks through them, but none matches a 3-level `bench/p2p/<i>` (a `#` matches its
 *              parent level, here 4 levels deep, never 3) [MQTT-4.7.1-2]
 *   qos2       fan-in, fan-out and p2p at QoS 2 both ways: the publisher's flow is PUBLISH,
 *              PUBREC, PUBREL, PUBCOMP (its window counts a message until PUBCOMP), the
 *              subscriber answers PUBLISH with PUBREC and PUBREL with PUBCOMP (load-worker.ts)
 *   durable    (issue 5) QoS 1 both ways to subscribers with persistent sessions: 10 publishers
 *              fan in to one subscriber, or 10 pairs (p2p), at 20,000 msg/s offered in total
 *              (open loop) or in a closed loop; the brokers run with their stores on
 *              (brokers.ts), and Aviary also with its memory store (aviary-memory)
 * Clients are spread over the workers round robin; publisher i goes to the worker after
 * subscriber i's, so a p2p pair crosses threads.
 *
 * Windows and payload sizes: with --payload 64KiB, 1,000 subscribers x 100 messages in flight
 * would be 6.5 GB queued between publisher and subscribers. So --inflight-bytes (default
 * 64 MiB) bounds the whole run's end-to-end in-flight bytes: each publisher's window is
 * --window, lowered to its share (inflight-bytes / publishers) divided by the bytes one of its
 * messages puts in flight (frame size x fanout), and at least 1 (windowFor).
 */

import type { QoS } from '../../src/protocol/index.js';
import type { ConnectionSettings, LoadPlan, NoisePlan, PublisherPlan, SubscriberPlan } from './shared.js';

export type Topology = 'fan-in' | 'fan-out' | 'p2p';

export interface LoadScenario {
  kind: 'load';
  name: string;
  title: string;
  topology: Topology;
  qos: QoS;
  publishers: number;
  subscribers: number;
  extraSubscriptions: number;
  /** Total publish rate in msg/s (open loop, the latency scenario), or null for closed loop. */
  rate: number | null;
  /**
   * Subscribers hold persistent sessions (3.1.1 Clean Session 0, 5.0 Session Expiry Interval
   * PERSISTENT_SESSION_EXPIRY_S), so a broker with a durable store keeps every QoS 1 delivery
   * in it until its PUBACK; Mosquitto runs with `persistence true` (brokers.ts).
   */
  persistent: boolean;
  /**
   * Generator threads when --workers is not given. The latency scenario uses one: at 5,000
   * msg/s the generator needs a sixth of a core, and a second thread only adds a third runnable
   * thread to this 2-core machine whenever the broker answers both clients at once
   * (docs/benchmarks.md, "Latency and the generator's threads").
   */
  workers?: number;
}

export interface RetainedScenario {
  kind: 'retained';
  name: string;
  title: string;
  count: number;
  repeats: number;
}

export interface IdleScenario {
  kind: 'idle';
  name: string;
  title: string;
  connections: number;
}

export type Scenario = LoadScenario | RetainedScenario | IdleScenario;

const FAN_IN_PUBLISHERS = 100;
const FAN_OUT_SUBSCRIBERS = 1000;
const PAIRS = 500;
const EXTRA_SUBSCRIPTIONS = 100_000;
const LATENCY_RATE = 5000;
/** Generator threads of the latency scenario (LoadScenario.workers). */
const LATENCY_WORKERS = 1;
const RETAINED_COUNT = 10_000;
const RETAINED_REPEATS = 5;
/**
 * Connections of the idle scenario: this machine's hard open-file limit is 20,000 per process
 * (the broker holds one descriptor per connection, plus its own); --connections raises it where
 * the OS allows (idle.ts spreads the generator's side over processes).
 */
export const IDLE_CONNECTIONS = 19_500;
/** Non-matching filters held by one noise client. */
export const NOISE_FILTERS_PER_CLIENT = 10_000;
/** Distinct second-level values the noise filters cycle through. */
const NOISE_SPREAD = 512;
const NOISE_KINDS = 4;
/** The durable scenarios: publishers, and the offered rate of the open-loop ones (issue 5). */
const DURABLE_PUBLISHERS = 10;
const DURABLE_RATE = 20_000;
/** Session Expiry Interval of a persistent subscriber in 5.0 (3.1.1 has the broker's own). */
export const PERSISTENT_SESSION_EXPIRY_S = 7200;

function load(
  name: string,
  topology: Topology,
  qos: QoS,
  publishers: number,
  subscribers: number,
  extra = 0,
  rate: number | null = null,
  persistent = false,
): LoadScenario {
  const what =
    rate !== null
      ? `latency at ${rate} msg/s QoS ${qos}, ${publishers} publisher -> ${subscribers} subscriber`
      : topology === 'p2p'
        ? `point-to-point QoS ${qos}, ${publishers} pairs`
        : `${topology} QoS ${qos}, ${publishers} publisher${publishers > 1 ? 's' : ''} -> ${subscribers} subscriber${subscribers > 1 ? 's' : ''}`;
  const title = extra > 0 ? `${what}, +${extra} non-matching subscriptions` : what;
  return {
    kind: 'load',
    name,
    title,
    topology,
    qos,
    publishers,
    subscribers,
    extraSubscriptions: extra,
    rate,
    persistent,
  };
}

/** A durable scenario: QoS 1 both ways to persistent subscribers (fan-in or pairs). */
function durable(
  name: string,
  topology: 'fan-in' | 'p2p',
  subscribers: number,
  rate: number | null,
): LoadScenario {
  const s = load(name, topology, 1, DURABLE_PUBLISHERS, subscribers, 0, rate, true);
  return { ...s, title: durableTitle(s) };
}

export function durableTitle(s: LoadScenario): string {
  const shape =
    s.topology === 'p2p'
      ? `${s.publishers} publishers -> ${s.subscribers} persistent subscribers, in pairs`
      : `${s.publishers} publishers -> ${s.subscribers} persistent subscriber${s.subscribers > 1 ? 's' : ''}`;
  const load = s.rate === null ? 'closed loop (max throughput)' : `${s.rate} msg/s offered`;
  return `durable QoS 1, ${shape}, ${load}`;
}

export const SCENARIOS: readonly Scenario[] = [
  load('fanin-qos0', 'fan-in', 0, FAN_IN_PUBLISHERS, 1),
  load('fanin-qos1', 'fan-in', 1, FAN_IN_PUBLISHERS, 1),
  load('fanout-qos0', 'fan-out', 0, 1, FAN_OUT_SUBSCRIBERS),
  load('fanout-qos1', 'fan-out', 1, 1, FAN_OUT_SUBSCRIBERS),
  load('fanin-qos2', 'fan-in', 2, FAN_IN_PUBLISHERS, 1),
  load('fanout-qos2', 'fan-out', 2, 1, FAN_OUT_SUBSCRIBERS),
  load('p2p-qos2', 'p2p', 2, PAIRS, PAIRS),
  load('p2p-qos0', 'p2p', 0, PAIRS, PAIRS),
  load('p2p-qos1', 'p2p', 1, PAIRS, PAIRS),
  load('p2p-qos0-100k', 'p2p', 0, PAIRS, PAIRS, EXTRA_SUBSCRIPTIONS),
  load('p2p-qos1-100k', 'p2p', 1, PAIRS, PAIRS, EXTRA_SUBSCRIPTIONS),
  { ...load('latency-qos1', 'p2p', 1, 1, 1, 0, LATENCY_RATE), workers: LATENCY_WORKERS },
  durable('durable-qos1', 'fan-in', 1, DURABLE_RATE),
  durable('durable-qos1-10', 'p2p', DURABLE_PUBLISHERS, DURABLE_RATE),
  durable('durable-qos1-max', 'fan-in', 1, null),
  durable('durable-qos1-10-max', 'p2p', DURABLE_PUBLISHERS, null),
  {
    kind: 'retained',
    name: 'retained',
    title: `${RETAINED_COUNT} retained messages delivered on one wildcard subscribe`,
    count: RETAINED_COUNT,
    repeats: RETAINED_REPEATS,
  },
  {
    kind: 'idle',
    name: 'idle',
    title: idleTitle(IDLE_CONNECTIONS),
    connections: IDLE_CONNECTIONS,
  },
];

export function idleTitle(connections: number): string {
  return `${connections} idle connections keeping alive: memory per connection, connect rate, responsiveness`;
}

export const GROUPS: Readonly<Record<string, readonly string[]>> = {
  core: ['fanin-qos0', 'fanin-qos1', 'fanout-qos0', 'fanout-qos1', 'p2p-qos0', 'p2p-qos1', 'latency-qos1'],
  qos2: ['fanin-qos2', 'fanout-qos2', 'p2p-qos2'],
  durable: ['durable-qos1', 'durable-qos1-10', 'durable-qos1-max', 'durable-qos1-10-max'],
  /** `npm run bench:quick` (run.ts --quick: short durations, 2,000 idle connections). */
  quick: ['fanin-qos0', 'p2p-qos1', 'fanout-qos0', 'latency-qos1', 'retained', 'idle'],
  all: SCENARIOS.map((s) => s.name),
};

/** The non-matching filters number first .. first+count-1 (see the header). */
export function noiseFilters(first: number, count: number): string[] {
  const filters: string[] = [];
  for (let j = first; j < first + count; j++) {
    const k = (j >>> 2) % NOISE_SPREAD;
    switch (j % NOISE_KINDS) {
      case 0:
        filters.push(`bench/p2p/${k}/n${j}`);
        break;
      case 1:
        filters.push(`bench/+/${k}/n${j}`);
        break;
      case 2:
        filters.push(`bench/p2p/${k}/n${j}/#`);
        break;
      default:
        filters.push(`noise/${j}/x`);
    }
  }
  return filters;
}

export interface LoadOptions {
  workers: number;
  window: number;
  batchMax: number;
  latencyStride: number;
  /** Payload bytes per message (track.ts HEADER_SIZE at least). */
  payloadSize: number;
  /** Most payload bytes in flight end to end over all publishers (closed loop). */
  inflightBytes: number;
}

/** Bytes of a PUBLISH frame besides its payload and topic: fixed header, length, packet id, properties. */
const FRAME_OVERHEAD = 8;

/**
 * A closed-loop publisher's window in messages (see the header): --window, or fewer when its
 * share of --inflight-bytes cannot hold that many of its messages at every subscriber.
 */
export function windowFor(s: LoadScenario, fanout: number, topic: string, o: LoadOptions): number {
  const frame = o.payloadSize + topic.length + FRAME_OVERHEAD;
  const share = o.inflightBytes / Math.max(1, s.publishers);
  return Math.max(1, Math.min(o.window, Math.floor(share / (frame * Math.max(1, fanout)))));
}

/** Splits a load scenario into one plan per worker. */
export function loadPlans(s: LoadScenario, conn: ConnectionSettings, o: LoadOptions): LoadPlan[] {
  const pubTopic = (i: number) =>
    s.topology === 'fan-in'
      ? `bench/in/${i}`
      : s.topology === 'fan-out'
        ? `bench/out/${i}`
        : `bench/p2p/${i}`;
  const subscribers: SubscriberPlan[] = [];
  const all = Array.from({ length: s.publishers }, (_, i) => i);
  for (let j = 0; j < s.subscribers; j++) {
    const base = { index: j, clientId: `s${j}` };
    if (s.topology === 'fan-in') subscribers.push({ ...base, filters: ['bench/in/+'], expects: all });
    else if (s.topology === 'fan-out')
      subscribers.push({ ...base, filters: all.map(pubTopic), expects: all });
    else if (j < s.publishers) subscribers.push({ ...base, filters: [pubTopic(j)], expects: [j] });
  }
  const fanout = new Array<number>(s.publishers).fill(0);
  for (const sub of subscribers) for (const p of sub.expects) fanout[p]!++;
  const publishers: PublisherPlan[] = all.map((i) => ({
    index: i,
    clientId: `p${i}`,
    topic: pubTopic(i),
    fanout: fanout[i]!,
    window: windowFor(s, fanout[i]!, pubTopic(i), o),
  }));
  const noise: NoisePlan[] = [];
  for (let first = 0, k = 0; first < s.extraSubscriptions; first += NOISE_FILTERS_PER_CLIENT, k++) {
    noise.push({
      clientId: `n${k}`,
      first,
      count: Math.min(NOISE_FILTERS_PER_CLIENT, s.extraSubscriptions - first),
    });
  }
  const rate = s.rate ?? 0;
  return Array.from({ length: o.workers }, (_, w) => ({
    ...conn,
    kind: 'load' as const,
    qos: s.qos,
    mode: s.rate === null ? ('closed' as const) : ('rate' as const),
    payloadSize: o.payloadSize,
    ratePerPublisher: s.publishers > 0 ? rate / s.publishers : 0,
    batchMax: o.batchMax,
    latencyStride: s.rate === null ? o.latencyStride : 1,
    publishers: publishers.filter((p) => (p.index + 1) % o.workers === w),
    subscribers: subscribers.filter((sub) => sub.index % o.workers === w),
    noise: noise.filter((_, k) => k % o.workers === w),
    totalPublishers: s.publishers,
    subscriberSessionExpiry: s.persistent ? PERSISTENT_SESSION_EXPIRY_S : 0,
  }));
}
