/**
 * What the coordinator (main thread) and the generator's worker threads share: the plans a
 * worker receives, the messages they exchange, and the counters they keep in one
 * SharedArrayBuffer.
 *
 * Counters live in shared memory so that the coordinator can read progress at any instant
 * (the start and end of the measurement window) without asking the workers, and so that
 * publishers in one worker see deliveries counted by subscribers in another: that is how a
 * closed-loop publisher keeps at most `window` messages in flight end to end, per publisher,
 * across threads. Each cell has one writer (a worker's own totals) or is only ever added to
 * with Atomics.add (deliveries per publisher).
 */

import type { ProtocolVersion, QoS } from '../../src/protocol/index.js';

export const Phase = {
  Idle: 0,
  /** Publishers run; not yet measured (warm-up). */
  Running: 1,
  /** Publishers run and subscribers record latency samples. */
  Measuring: 2,
  /** Publishers have stopped; in-flight messages drain. */
  Stopping: 3,
} as const;

/** Per-worker cells, each written only by its worker. */
export const WorkerCell = {
  Deliveries: 0,
  Published: 1,
  /** Completed publisher flows: PUBACKs (QoS 1) and PUBCOMPs (QoS 2) received. */
  Pubacks: 2,
  Errors: 3,
  /**
   * QoS 1/2 flows not yet complete: PUBLISHes sent without their PUBACK or PUBCOMP, and QoS 2
   * deliveries whose PUBREL has not arrived yet (the drain waits for both).
   */
  Inflight: 4,
  /** Socket reads by subscribers (deliveries / reads shows how a broker batches its writes). */
  Reads: 5,
} as const;
const WORKER_CELLS = 6;
const HEADER_CELLS = 1;

export class Counters {
  readonly cells: Int32Array;
  readonly workers: number;
  readonly publishers: number;

  constructor(buffer: SharedArrayBuffer, workers: number, publishers: number) {
    this.cells = new Int32Array(buffer);
    this.workers = workers;
    this.publishers = publishers;
  }

  static create(workers: number, publishers: number): Counters {
    const size = HEADER_CELLS + workers * WORKER_CELLS + publishers * 2;
    return new Counters(new SharedArrayBuffer(size * Int32Array.BYTES_PER_ELEMENT), workers, publishers);
  }

  get phase(): number {
    return Atomics.load(this.cells, 0);
  }
  set phase(value: number) {
    Atomics.store(this.cells, 0, value);
  }

  workerIndex(worker: number, cell: number): number {
    return HEADER_CELLS + worker * WORKER_CELLS + cell;
  }
  /** Index of publisher p's "messages sent" cell (written by its worker). */
  sentIndex(p: number): number {
    return HEADER_CELLS + this.workers * WORKER_CELLS + p * 2;
  }
  /** Index of publisher p's "deliveries received" cell (added to by subscribers). */
  deliveredIndex(p: number): number {
    return this.sentIndex(p) + 1;
  }

  sumWorkers(cell: number): number {
    let total = 0;
    for (let w = 0; w < this.workers; w++) total += Atomics.load(this.cells, this.workerIndex(w, cell));
    return total;
  }
  sent(p: number): number {
    return Atomics.load(this.cells, this.sentIndex(p));
  }
  delivered(p: number): number {
    return Atomics.load(this.cells, this.deliveredIndex(p));
  }
}

export interface PublisherPlan {
  index: number;
  clientId: string;
  topic: string;
  /** How many subscribers receive each of its messages. */
  fanout: number;
  /**
   * Its closed-loop window in messages: --window, lowered so that its share of --inflight-bytes
   * holds `window x fanout` payloads (scenarios.ts, windowFor), at least 1.
   */
  window: number;
}

export interface SubscriberPlan {
  index: number;
  clientId: string;
  filters: string[];
  /** Publisher indices whose messages this subscriber must receive. */
  expects: number[];
}

/** A client that only subscribes to `count` non-matching filters, from filter number `first`. */
export interface NoisePlan {
  clientId: string;
  first: number;
  count: number;
}

export interface ConnectionSettings {
  host: string;
  port: number;
  version: ProtocolVersion;
}

export interface LoadPlan extends ConnectionSettings {
  kind: 'load';
  qos: QoS;
  /** closed: keep `window` messages per publisher in flight end to end; rate: open loop. */
  mode: 'closed' | 'rate';
  /** Payload bytes of every message (HEADER_SIZE and padding, track.ts). */
  payloadSize: number;
  /** Messages per second per publisher (rate mode). */
  ratePerPublisher: number;
  /** Most frames written per publisher per turn. */
  batchMax: number;
  /** Record the latency of one message in `latencyStride` while measuring. */
  latencyStride: number;
  publishers: PublisherPlan[];
  subscribers: SubscriberPlan[];
  noise: NoisePlan[];
  /** Number of publishers in the whole run (sizes the per-subscriber lookup). */
  totalPublishers: number;
  /** Subscribers' Session Expiry Interval in seconds: above 0, persistent sessions (client.ts). */
  subscriberSessionExpiry: number;
}

export interface RetainedPlan extends ConnectionSettings {
  kind: 'retained';
  count: number;
  repeats: number;
  /** QoS of the wildcard subscription (and so of the deliveries). */
  subscribeQos: QoS;
}

/** One generator process's share of the idle scenario (idle.ts, idle-proc.ts). */
export interface IdlePlan extends ConnectionSettings {
  kind: 'idle';
  /** Global index of this process's first connection, and how many it opens. */
  first: number;
  count: number;
  /** Most CONNECT handshakes in progress at once in this process. */
  concurrency: number;
  /** Source addresses (127.0.0.x) to spread the connections over. */
  sourceAddresses: string[];
  /** Keep Alive of every connection; each sends a PINGREQ once per period. */
  keepaliveSeconds: number;
}

export type Plan = LoadPlan | RetainedPlan;

export interface WorkerData {
  worker: number;
  workers: number;
  counters: SharedArrayBuffer;
  publishersTotal: number;
  plan: Plan;
}

/** Coordinator -> worker. */
export type Command =
  | { cmd: 'setup' }
  | { cmd: 'connect-publishers' }
  | { cmd: 'start' }
  | { cmd: 'stop' }
  | { cmd: 'report' }
  | { cmd: 'close' };

export interface LoadReport {
  deliveryCheck: import('./track.js').DeliveryCheck;
  /** Latency samples in microseconds (recorded while measuring). */
  latencies: Float64Array;
  errors: string[];
  /** The lowest 5.0 Receive Maximum the broker gave this worker's publishers (65,535: none). */
  receiveMaximum: number;
}

export interface RetainedReport {
  /** Per repeat: milliseconds from SUBSCRIBE sent to the last retained message received. */
  millis: number[];
  /** Per repeat: distinct retained messages received (should be `count`). */
  received: number[];
  duplicates: number;
  publishMillis: number;
  errors: string[];
}

export interface IdleReport {
  connected: number;
  /** Monotonic microseconds (CLOCK_MONOTONIC, shared by every process) of the first connect attempt and the last CONNACK. */
  firstStart: number;
  lastConnack: number;
  /** Keep-alive PINGREQs sent by the connections, and PINGRESPs received for them. */
  keepalivePings: number;
  keepalivePongs: number;
  /** Slowest keep-alive round trip, microseconds. */
  keepaliveMaxMicros: number;
  errors: string[];
}

/** Worker -> coordinator. */
export type Event =
  | { ev: 'ready' }
  | { ev: 'done' }
  | { ev: 'report'; report: LoadReport | RetainedReport | IdleReport }
  | { ev: 'error'; message: string };
