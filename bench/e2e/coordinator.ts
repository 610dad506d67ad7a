/**
 * Runs one scenario against one running broker: starts the generator's worker threads, steps
 * them through the phases, takes the measurements, and returns one Measurement.
 *
 * The idle scenario runs in generator processes of its own: idle.ts.
 *
 * Load scenarios (throughput and latency):
 *   setup      subscribers (and noise clients) connect and subscribe; every SUBACK is checked
 *   publishers connect, then start (closed loop or fixed rate, load-worker.ts)
 *   warm-up    --warmup: not measured
 *   measure    --duration: deliveries counted by the subscribers between two snapshots of the
 *              shared counters; the broker's CPU time and RSS (/proc/<pid>), the generator's
 *              CPU time (process.cpuUsage: all its threads) and the machine's busy time
 *              (/proc/stat) at the same two instants; latency samples recorded
 *   drain      publishers stop; wait until every message sent has reached every subscriber of
 *              its publisher and every QoS 1/2 flow is complete (PUBACK; PUBREC, PUBREL, PUBCOMP), or until nothing has
 *              moved for DRAIN_STALL_MS (what is missing then is reported as lost)
 *   report     each subscriber's check of what it received (track.ts) and the latency samples
 * The generator's CPU includes its coordinator thread, which mostly sleeps.
 *
 * Aviary's SQLite store (RunningBroker.storeFiles): the sizes of `aviary.db` and `aviary.db-wal`
 * are sampled every STORE_SAMPLE_MS from the start of publishing to the end of the drain, and at
 * the two measurement snapshots, to show whether the store stays bounded under a steady load.
 */

import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { fileSize, machineBusyMs, processCpuMs, processRss, type RunningBroker } from './brokers.js';
import { type LoadOptions, type LoadScenario, loadPlans, type Scenario } from './scenarios.js';
import { type IdleMeasurement, runIdle } from './idle.js';
import {
  Counters,
  type Event,
  type LoadReport,
  Phase,
  type Plan,
  type RetainedReport,
  WorkerCell,
} from './shared.js';
import { addCheck, type DeliveryCheck, emptyCheck } from './track.js';
import { Mailboxes, type Percentiles, percentiles, sleep } from './util.js';

const BOOT = new URL('./worker-boot.mjs', import.meta.url);
const DRAIN_POLL_MS = 20;
const DRAIN_STALL_MS = 3000;
const MS_PER_S = 1000;
const US_PER_MS = 1000;
const STORE_SAMPLE_MS = 1000;

export interface RunOptions extends LoadOptions {
  warmupMs: number;
  durationMs: number;
  version: 4 | 5;
  /** The idle scenario (idle.ts): hold, keep-alive period, generator processes (0: automatic). */
  holdMs: number;
  keepaliveSeconds: number;
  procs: number;
}

export type { Percentiles } from './util.js';
export type { IdleMeasurement } from './idle.js';

/** CPU use over the measured interval, in % of one core. */
export interface CpuShare {
  broker: number;
  generator: number;
  /** The machine's busy time minus the two above: other processes, and kernel work not charged to either. */
  other: number;
}

export interface LoadMeasurement {
  kind: 'load';
  /** Deliveries per second received by subscribers (msg/s for fan-in and p2p). */
  rate: number;
  /** Messages per second published. */
  publishRate: number;
  /** Deliveries per socket read at the subscribers: how much the broker batched its writes. */
  deliveriesPerRead: number;
  seconds: number;
  cpu: CpuShare;
  brokerRssMB: number;
  check: DeliveryCheck;
  /** Milliseconds, from the send timestamp in the payload to the chunk's arrival. */
  latencyMs: Percentiles;
  drainMs: number;
  setupMs: number;
  errors: string[];
  payloadSize: number;
  /** Publishers' closed-loop windows in messages (lowest and highest; scenarios.ts windowFor). */
  window: { min: number; max: number };
  /** The lowest 5.0 Receive Maximum the broker gave a publisher (65,535: none, and 3.1.1). */
  receiveMaximum: number;
  /** Aviary's SQLite files over the run (empty for the other brokers). */
  store: StoreSample[];
}

export interface RetainedMeasurement {
  kind: 'retained';
  /** count / the median time, msg/s. */
  rate: number;
  millis: number[];
  received: number[];
  duplicates: number;
  storeMs: number;
  brokerRssMB: number;
  errors: string[];
}

/** One reading of the SQLite store's files, `t` seconds after publishing started. */
export interface StoreSample {
  t: number;
  phase: 'warm-up' | 'measure' | 'drain';
  dbBytes: number;
  walBytes: number;
}

export type Measurement = LoadMeasurement | RetainedMeasurement | IdleMeasurement;

/** The generator's worker threads and the ordered exchange of commands and events with them. */
class Workers {
  private readonly threads: Worker[];
  private readonly mail: Mailboxes<Event>;
  private failure: Error | null = null;

  constructor(plans: Plan[], counters: Counters) {
    this.threads = plans.map(
      (plan, worker) =>
        new Worker(BOOT, {
          workerData: {
            worker,
            workers: plans.length,
            counters: counters.cells.buffer,
            publishersTotal: counters.publishers,
            plan,
          },
        }),
    );
    this.mail = new Mailboxes<Event>(this.threads.length);
    this.threads.forEach((t, i) => {
      t.on('message', (e: Event) => this.deliver(i, e));
      t.on('error', (error) => this.deliver(i, { ev: 'error', message: error.stack ?? String(error) }));
    });
  }

  private deliver(i: number, e: Event): void {
    this.mail.deliver(i, e);
  }

  private next(i: number): Promise<Event> {
    return this.mail.next(i);
  }

  /** Sends a command to every worker and waits for each one's answer. */
  async all(cmd: Parameters<Worker['postMessage']>[0] & { cmd: string }): Promise<Event[]> {
    if (this.failure !== null) throw this.failure;
    for (const t of this.threads) t.postMessage(cmd);
    const events = await Promise.all(this.threads.map((_, i) => this.next(i)));
    const error = events.find((e) => e.ev === 'error');
    if (error !== undefined && error.ev === 'error') {
      this.failure = new Error(`generator worker failed during ${cmd.cmd}: ${error.message}`);
      throw this.failure;
    }
    return events;
  }

  async close(): Promise<void> {
    if (this.failure === null) {
      try {
        await this.all({ cmd: 'close' });
      } catch {
        // terminate below
      }
    }
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}

function reports<T>(events: Event[]): T[] {
  return events.map((e) => {
    if (e.ev !== 'report') throw new Error(`expected a report, got ${e.ev}`);
    return e.report as T;
  });
}

function concat(arrays: Float64Array[]): Float64Array {
  const out = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

interface Snapshot {
  at: number;
  deliveries: number;
  reads: number;
  published: number;
  brokerCpu: number;
  generatorCpu: number;
  machineBusy: number;
}

function snapshot(counters: Counters, pid: number): Snapshot {
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    deliveries: counters.sumWorkers(WorkerCell.Deliveries),
    reads: counters.sumWorkers(WorkerCell.Reads),
    published: counters.sumWorkers(WorkerCell.Published),
    brokerCpu: processCpuMs(pid),
    generatorCpu: (usage.user + usage.system) / US_PER_MS,
    machineBusy: machineBusyMs(),
  };
}

function cpuShare(a: Snapshot, b: Snapshot): CpuShare {
  const wall = b.at - a.at;
  const broker = (b.brokerCpu - a.brokerCpu) / wall;
  const generator = (b.generatorCpu - a.generatorCpu) / wall;
  const busy = (b.machineBusy - a.machineBusy) / wall;
  return {
    broker: broker * 100,
    generator: generator * 100,
    other: Math.max(0, busy - broker - generator) * 100,
  };
}

/** Samples the sizes of a broker's store files until stopped (nothing if it has none). */
class StoreSampler {
  readonly samples: StoreSample[] = [];
  phase: StoreSample['phase'] = 'warm-up';
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout | null;

  constructor(private readonly files: string[]) {
    this.timer = files.length === 0 ? null : setInterval(() => this.sample(), STORE_SAMPLE_MS);
  }

  sample(): void {
    const [db, wal] = this.files;
    if (db === undefined) return;
    this.samples.push({
      t: (performance.now() - this.started) / MS_PER_S,
      phase: this.phase,
      dbBytes: fileSize(db),
      walBytes: wal === undefined ? 0 : fileSize(wal),
    });
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }
}

async function runLoad(s: LoadScenario, broker: RunningBroker, o: RunOptions): Promise<LoadMeasurement> {
  const plans = loadPlans(s, { host: broker.host, port: broker.port, version: o.version }, o);
  const counters = Counters.create(plans.length, s.publishers);
  const workers = new Workers(plans, counters);
  let store: StoreSampler | null = null;
  try {
    const setupStart = performance.now();
    await workers.all({ cmd: 'setup' });
    await workers.all({ cmd: 'connect-publishers' });
    const setupMs = performance.now() - setupStart;

    counters.phase = Phase.Running;
    await workers.all({ cmd: 'start' });
    store = new StoreSampler(broker.storeFiles);
    store.sample();
    await sleep(o.warmupMs);
    counters.phase = Phase.Measuring;
    const a = snapshot(counters, broker.pid);
    store.phase = 'measure';
    store.sample();
    await sleep(o.durationMs);
    const b = snapshot(counters, broker.pid);
    store.sample();
    store.phase = 'drain';
    const brokerRssMB = processRss(broker.pid) / 2 ** 20;
    counters.phase = Phase.Stopping;
    await workers.all({ cmd: 'stop' });

    const drainStart = performance.now();
    const fanout = plans.flatMap((p) => p.publishers).sort((x, y) => x.index - y.index);
    let last = -1;
    let lastMove = performance.now();
    for (;;) {
      let missing = 0;
      for (const p of fanout) missing += counters.sent(p.index) * p.fanout - counters.delivered(p.index);
      const inflight = counters.sumWorkers(WorkerCell.Inflight);
      if (missing <= 0 && inflight === 0) break;
      // Incomplete flows going down (QoS 2 PUBRELs arriving) are progress too.
      const progress =
        counters.sumWorkers(WorkerCell.Deliveries) + counters.sumWorkers(WorkerCell.Pubacks) - inflight;
      if (progress !== last) {
        last = progress;
        lastMove = performance.now();
      } else if (performance.now() - lastMove > DRAIN_STALL_MS) {
        break;
      }
      await sleep(DRAIN_POLL_MS);
    }
    const drainMs = performance.now() - drainStart;
    store.sample();
    store.stop();

    const parts = reports<LoadReport>(await workers.all({ cmd: 'report' }));
    const check = emptyCheck();
    for (const r of parts) addCheck(check, r.deliveryCheck);
    const seconds = (b.at - a.at) / MS_PER_S;
    return {
      kind: 'load',
      rate: (b.deliveries - a.deliveries) / seconds,
      publishRate: (b.published - a.published) / seconds,
      deliveriesPerRead: (b.deliveries - a.deliveries) / Math.max(1, b.reads - a.reads),
      seconds,
      cpu: cpuShare(a, b),
      brokerRssMB,
      check,
      latencyMs: percentiles(concat(parts.map((r) => r.latencies)), 1 / US_PER_MS),
      drainMs,
      setupMs,
      errors: parts.flatMap((r) => r.errors),
      payloadSize: o.payloadSize,
      window: {
        min: Math.min(...fanout.map((p) => p.window)),
        max: Math.max(...fanout.map((p) => p.window)),
      },
      receiveMaximum: Math.min(...parts.map((r) => r.receiveMaximum)),
      store: store.samples,
    };
  } finally {
    store?.stop();
    await workers.close();
  }
}

async function runRetained(
  s: Scenario & { kind: 'retained' },
  broker: RunningBroker,
  o: RunOptions,
): Promise<RetainedMeasurement> {
  const counters = Counters.create(1, 0);
  const plan = {
    kind: 'retained' as const,
    host: broker.host,
    port: broker.port,
    version: o.version,
    count: s.count,
    repeats: s.repeats,
    subscribeQos: 0 as const,
  };
  const workers = new Workers([plan], counters);
  try {
    const [r] = reports<RetainedReport>(await workers.all({ cmd: 'start' }));
    const sorted = r!.millis.filter(Number.isFinite).sort((x, y) => x - y);
    const med = sorted.length > 0 ? sorted[(sorted.length - 1) >> 1]! : Number.NaN;
    return {
      kind: 'retained',
      rate: s.count / (med / MS_PER_S),
      millis: r!.millis,
      received: r!.received,
      duplicates: r!.duplicates,
      storeMs: r!.publishMillis,
      brokerRssMB: processRss(broker.pid) / 2 ** 20,
      errors: r!.errors,
    };
  } finally {
    await workers.close();
  }
}

export function runScenario(s: Scenario, broker: RunningBroker, o: RunOptions): Promise<Measurement> {
  switch (s.kind) {
    case 'load':
      return runLoad(s, broker, o);
    case 'retained':
      return runRetained(s, broker, o);
    case 'idle':
      return runIdle(s, broker, {
        version: o.version,
        holdMs: o.holdMs,
        keepaliveSeconds: o.keepaliveSeconds,
        procs: o.procs,
      });
  }
}
