/**
 * The idle scenario (issue 8, "Connection scale"), coordinator side: N connections that only
 * keep alive, spread over several generator processes (idle-proc.ts), and what the broker
 * pays for them.
 *
 *   baseline   the broker's RSS 1 s after it started listening
 *   connect    every process opens its share (at most `--procs`, default ceil(N / 8,000)
 *              processes: the open-file limit is per process, 20,000 here), each from
 *              SOURCES_PER_PROC addresses of its own in 127.0.0.0/8, CONCURRENCY handshakes at a
 *              time; connect rate = connections / (last CONNACK - first attempt), over all
 *              processes (one monotonic clock for the whole machine)
 *   settle     IDLE_SETTLE_MS later, the broker's RSS again: KiB per connection =
 *              (RSS after - RSS before) / connections
 *   hold       --hold (30 s): every connection sends a PINGREQ once per keep-alive period
 *              (--keepalive, 30 s), spread evenly; a probe connection of this process sends a
 *              PINGREQ every PING_INTERVAL_MS and times the PINGRESP (issue 8: p99 < 10 ms);
 *              the broker's CPU and its event-loop lag over the hold (RunningBroker.loopLag:
 *              Aviary from its Prometheus endpoint, Aedes from its runner, Mosquitto none)
 *   stop       PINGREQs stop, every PINGRESP still due must arrive (a missing one is an error),
 *              reports, DISCONNECT
 */

import { type ChildProcess, fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fdLimit, type LoopLag, processCpuMs, processRss, ROOT, type RunningBroker } from './brokers.js';
import { Client, type ClientHandler } from './client.js';
import type { IdleCommand, IdleEvent } from './idle-proc.js';
import type { IdleScenario } from './scenarios.js';
import type { IdlePlan, IdleReport } from './shared.js';
import { ErrorLog, Mailboxes, type Percentiles, percentiles, SampleBuffer, sleep } from './util.js';

const ENTRY = new URL('./idle-proc.ts', import.meta.url);
/** Connections per generator process when --procs is not given. */
export const CONNECTIONS_PER_PROC = 8000;
const CONCURRENCY = 100;
/** Source addresses per process: 127.0.0.<FIRST_SOURCE + p * SOURCES_PER_PROC + j>. */
const SOURCES_PER_PROC = 8;
const FIRST_SOURCE = 10;
const BASELINE_SETTLE_MS = 1000;
const IDLE_SETTLE_MS = 3000;
const PING_INTERVAL_MS = 10;
const MS_PER_S = 1000;
const US_PER_MS = 1000;
const KIB = 1024;
const MIB = 2 ** 20;
/** Descriptors a broker needs besides its connections (listeners, files, the probe). */
const FD_HEADROOM = 50;

export interface IdleOptions {
  version: 4 | 5;
  holdMs: number;
  keepaliveSeconds: number;
  /** Generator processes; 0: ceil(N / CONNECTIONS_PER_PROC). */
  procs: number;
}

export interface IdleMeasurement {
  kind: 'idle';
  connections: number;
  connected: number;
  procs: number;
  /** (RSS after connecting and settling - RSS before) / connected, in KiB. */
  kbPerConnection: number;
  /**
   * The same at the end of the hold: a Node broker's young generation grows during the connect
   * storm and V8 gives it back only after some quiet seconds (its memory reducer).
   */
  kbPerConnectionEnd: number;
  connectRate: number;
  connectSeconds: number;
  rssBeforeMB: number;
  rssAfterMB: number;
  /** RSS at the end of the hold. */
  rssEndMB: number;
  /** Broker CPU during the hold, % of one core. */
  holdCpu: number;
  holdSeconds: number;
  keepaliveSeconds: number;
  /** The probe's PINGREQ -> PINGRESP round trips during the hold. */
  pingMs: Percentiles;
  /** Keep-alive PINGREQs sent by the N connections (whole run) and PINGRESPs received. */
  keepalivePings: number;
  keepalivePongs: number;
  keepaliveMaxMs: number;
  /** The broker's event-loop lag over the hold; null for Mosquitto. */
  loopLagMs: LoopLag | null;
  /** The broker's soft open-file limit. */
  brokerFdLimit: number;
  errors: string[];
}

/** The generator's processes and the ordered exchange of commands and events with them. */
class Procs {
  private readonly children: ChildProcess[];
  private readonly mail: Mailboxes<IdleEvent>;

  constructor(count: number) {
    this.children = Array.from({ length: count }, () =>
      fork(ENTRY, [], {
        cwd: ROOT,
        execArgv: ['--import', 'tsx'],
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    this.mail = new Mailboxes<IdleEvent>(this.children.length);
    this.children.forEach((c, i) => {
      c.on('message', (e: IdleEvent) => this.deliver(i, e));
      c.on('exit', (code) => {
        if (code !== 0) this.deliver(i, { ev: 'error', message: `generator process exited with ${code}` });
      });
    });
  }

  private deliver(i: number, e: IdleEvent): void {
    this.mail.deliver(i, e);
  }

  private next(i: number): Promise<IdleEvent> {
    return this.mail.next(i);
  }

  /** Sends each process its command and waits for every answer. */
  async all(commands: IdleCommand[] | IdleCommand): Promise<IdleEvent[]> {
    this.children.forEach((c, i) => {
      c.send(Array.isArray(commands) ? commands[i]! : commands);
    });
    const events = await Promise.all(this.children.map((_, i) => this.next(i)));
    const error = events.find((e) => e.ev === 'error');
    if (error !== undefined && error.ev === 'error')
      throw new Error(`generator process failed: ${error.message}`);
    return events;
  }

  async close(): Promise<void> {
    try {
      await this.all({ cmd: 'close' });
    } catch {
      // killed below
    }
    for (const c of this.children) if (c.exitCode === null) c.kill();
  }
}

/** The probe: one more connection, timing a PINGREQ round trip every PING_INTERVAL_MS. */
async function probe(broker: RunningBroker, version: 4 | 5, errors: ErrorLog): Promise<Client> {
  const handler: ClientHandler = {
    onPublish: () => errors.add('probe: unexpected PUBLISH'),
    onAck: () => errors.add('probe: unexpected ack'),
    onChunkEnd: () => {},
    onError: (_c, error) => errors.add(`probe: ${error.message}`),
  };
  return Client.connect({ host: broker.host, port: broker.port, version, clientId: 'ping-probe', handler });
}

export async function runIdle(
  s: IdleScenario,
  broker: RunningBroker,
  o: IdleOptions,
): Promise<IdleMeasurement> {
  const procs = o.procs > 0 ? o.procs : Math.max(1, Math.ceil(s.connections / CONNECTIONS_PER_PROC));
  const per = Math.ceil(s.connections / procs);
  const plans: IdlePlan[] = Array.from({ length: procs }, (_, p) => ({
    kind: 'idle',
    host: broker.host,
    port: broker.port,
    version: o.version,
    first: p * per,
    count: Math.max(0, Math.min(per, s.connections - p * per)),
    concurrency: CONCURRENCY,
    sourceAddresses: Array.from(
      { length: SOURCES_PER_PROC },
      (_, j) => `127.0.0.${FIRST_SOURCE + p * SOURCES_PER_PROC + j}`,
    ),
    keepaliveSeconds: o.keepaliveSeconds,
  }));
  const errors = new ErrorLog();
  const limit = fdLimit(broker.pid);
  if (limit < s.connections + FD_HEADROOM)
    errors.add(
      `the broker's open-file limit is ${limit}, below ${s.connections} connections + ${FD_HEADROOM}`,
    );
  await sleep(BASELINE_SETTLE_MS);
  const rssBefore = processRss(broker.pid);
  const children = new Procs(procs);
  let pinger: Client | null = null;
  try {
    await children.all(plans.map((plan) => ({ cmd: 'setup' as const, plan })));
    await sleep(IDLE_SETTLE_MS);
    const rssAfter = processRss(broker.pid);

    pinger = await probe(broker, o.version, errors);
    await broker.loopLag(); // starts the interval (prom-client and the Aedes runner reset here)
    const cpu0 = processCpuMs(broker.pid);
    const t0 = performance.now();
    const pings = new SampleBuffer();
    while (performance.now() - t0 < o.holdMs) {
      pings.push(await pinger.ping());
      await sleep(PING_INTERVAL_MS);
    }
    const holdMs = performance.now() - t0;
    const holdCpu = ((processCpuMs(broker.pid) - cpu0) / holdMs) * 100;
    let loopLagMs: LoopLag | null = null;
    try {
      loopLagMs = await broker.loopLag();
    } catch (error) {
      errors.add(`event-loop lag: ${(error as Error).message}`);
    }
    const rssEnd = processRss(broker.pid);

    await children.all({ cmd: 'stop' });
    const parts = (await children.all({ cmd: 'report' })).map((e) => {
      if (e.ev !== 'report') throw new Error(`expected a report, got ${e.ev}`);
      return e.report as IdleReport;
    });
    const connected = parts.reduce((n, r) => n + r.connected, 0);
    const first = Math.min(...parts.map((r) => r.firstStart));
    const lastConnack = Math.max(...parts.map((r) => r.lastConnack));
    const connectSeconds = (lastConnack - first) / (US_PER_MS * MS_PER_S);
    if (connected < s.connections) errors.add(`${s.connections - connected} connections failed`);
    for (const e of parts.flatMap((r) => r.errors)) errors.add(e);
    return {
      kind: 'idle',
      connections: s.connections,
      connected,
      procs,
      kbPerConnection: (rssAfter - rssBefore) / KIB / Math.max(1, connected),
      kbPerConnectionEnd: (rssEnd - rssBefore) / KIB / Math.max(1, connected),
      connectRate: connected / connectSeconds,
      connectSeconds,
      rssBeforeMB: rssBefore / MIB,
      rssAfterMB: rssAfter / MIB,
      rssEndMB: rssEnd / MIB,
      holdCpu,
      holdSeconds: holdMs / MS_PER_S,
      keepaliveSeconds: o.keepaliveSeconds,
      pingMs: percentiles(pings.toArray(), 1 / US_PER_MS),
      keepalivePings: parts.reduce((n, r) => n + r.keepalivePings, 0),
      keepalivePongs: parts.reduce((n, r) => n + r.keepalivePongs, 0),
      keepaliveMaxMs: Math.max(...parts.map((r) => r.keepaliveMaxMicros)) / US_PER_MS,
      loopLagMs,
      brokerFdLimit: limit,
      errors: errors.list(),
    };
  } finally {
    await pinger?.close();
    await children.close();
  }
}
