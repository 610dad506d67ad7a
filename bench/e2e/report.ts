/**
 * The machine a run was taken on, and the tables printed per scenario: each broker's median
 * over rounds, the correctness check, and the ratios Aviary / Mosquitto and Aviary / Aedes
 * (and Aviary's SQLite store / its memory store, when aviary-memory ran too). For Aviary's
 * SQLite runs, the store's size over the run (coordinator.ts, StoreSample).
 */

import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { type BrokerName, brokerVersions, ROOT } from './brokers.js';
import type {
  IdleMeasurement,
  LoadMeasurement,
  Measurement,
  RetainedMeasurement,
  StoreSample,
} from './coordinator.js';
import type { Scenario } from './scenarios.js';
import { median, ratio, si, table } from './util.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  kernel: string;
  node: string;
  commit: string;
  /** Files under src/ changed since the commit (the broker measured is the working tree's build). */
  srcDirty: boolean;
  /** Any tracked or new file changed since the commit, outside bench/results/ (where runs are appended). */
  treeDirty: boolean;
  versions: Record<BrokerName, string>;
  loadAverageAtStart: number[];
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return '';
  }
}

function cpuModel(): string {
  const model = os.cpus()[0]?.model ?? 'unknown';
  try {
    const lscpu = execFileSync('lscpu', { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(lscpu)?.[1]?.trim();
    const family = field('CPU family');
    const m = field('Model');
    const hv = field('Hypervisor vendor');
    return `${model}${family ? ` (family ${family}, model ${m})` : ''}${hv ? `, ${hv} VM` : ''}`;
  } catch {
    return model;
  }
}

export function machine(): Machine {
  return {
    cpu: cpuModel(),
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    kernel: os.release(),
    node: process.version,
    commit: git(['rev-parse', '--short', 'HEAD']) || 'unknown',
    srcDirty: git(['status', '--porcelain', '--', 'src']) !== '',
    treeDirty: git(['status', '--porcelain', '--', '.', ':!bench/results']) !== '',
    versions: brokerVersions(),
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function machineText(m: Machine): string {
  return [
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, ${m.os}`,
    `node ${m.node}; commit ${m.commit}${m.srcDirty ? ' (src/ has uncommitted changes)' : m.treeDirty ? ' (uncommitted changes outside src/)' : ''}; ` +
      `aviary ${m.versions.aviary}, mosquitto ${m.versions.mosquitto}, aedes ${m.versions.aedes}`,
    `load average at start: ${m.loadAverageAtStart.join(' ')} (generator and broker share the cores)`,
  ].join('\n');
}

export interface Run {
  broker: BrokerName;
  round: number;
  measurement: Measurement | null;
  error?: string;
  loadAverage: number;
  /** Generator threads of a load scenario. */
  workers?: number;
}

const pct = (v: number) => `${Math.round(v)}%`;
const ms = (v: number) => (Number.isFinite(v) ? (v >= 10 ? v.toFixed(1) : v.toFixed(3)) : '-');

function of<T extends Measurement>(runs: Run[], broker: BrokerName): T[] {
  return runs.filter((r) => r.broker === broker && r.measurement !== null).map((r) => r.measurement as T);
}

/** "min-max" of a figure over rounds (format f), or '' for a single round. */
function spread(values: number[], f: (v: number) => string): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2) return '';
  return `${f(Math.min(...finite))}-${f(Math.max(...finite))}`;
}

/** Whether some broker ran more than one round (the tables then show the spread). */
function multiRound(brokers: BrokerName[], runs: Run[]): boolean {
  return brokers.some((b) => of(runs, b).length > 1);
}

/** Per broker, the median of a figure over its rounds. */
export type Summary = Partial<Record<BrokerName, Record<string, number>>>;

/**
 * Throughput scenarios show rates and CPU; their latency is left out of the table (in a
 * closed loop it is the window divided by the rate, Little's law, not a property of the
 * broker) but kept in the JSON. The latency scenario shows percentiles instead.
 */
function loadTable(
  brokers: BrokerName[],
  runs: Run[],
  unit: string,
  latency: boolean,
): { text: string; summary: Summary } {
  const rows: string[][] = [];
  const summary: Summary = {};
  const rounds = multiRound(brokers, runs);
  for (const b of brokers) {
    const all = of<LoadMeasurement>(runs, b);
    if (all.length === 0) {
      rows.push([b, 'failed']);
      continue;
    }
    const m = (f: (x: LoadMeasurement) => number) => median(all.map(f));
    const s = {
      rate: m((x) => x.rate),
      p50: m((x) => x.latencyMs.p50),
      p95: m((x) => x.latencyMs.p95),
      p99: m((x) => x.latencyMs.p99),
      p999: m((x) => x.latencyMs.p999),
      max: m((x) => x.latencyMs.max),
      brokerCpu: m((x) => x.cpu.broker),
      generatorCpu: m((x) => x.cpu.generator),
      otherCpu: m((x) => x.cpu.other),
      deliveriesPerRead: m((x) => x.deliveriesPerRead),
    };
    summary[b] = s;
    const sum = (f: (x: LoadMeasurement) => number) => all.reduce((n, x) => n + f(x), 0);
    const figures = latency
      ? [
          ms(s.p50),
          ms(s.p95),
          ms(s.p99),
          ...(rounds
            ? [
                spread(
                  all.map((x) => x.latencyMs.p99),
                  ms,
                ),
              ]
            : []),
          ms(s.p999),
          ms(s.max),
        ]
      : [
          ...(rounds
            ? [
                spread(
                  all.map((x) => x.rate),
                  si,
                ),
              ]
            : []),
          s.deliveriesPerRead.toFixed(1),
        ];
    rows.push([
      b,
      si(s.rate),
      ...figures,
      pct(s.brokerCpu),
      pct(s.generatorCpu),
      pct(s.otherCpu),
      `${Math.round(m((x) => x.brokerRssMB))} MB`,
      `${si(sum((x) => x.check.distinct))}/${si(sum((x) => x.check.expected))}`,
      String(sum((x) => x.check.lost)),
      String(sum((x) => x.check.duplicates)),
      String(sum((x) => x.check.reordered)),
    ]);
  }
  const header = [
    'broker',
    unit,
    ...(latency
      ? ['p50 ms', 'p95 ms', 'p99 ms', ...(rounds ? ['p99 min-max'] : []), 'p99.9 ms', 'max ms']
      : [...(rounds ? ['min-max'] : []), 'per read']),
    'broker CPU',
    'gen CPU',
    'other CPU',
    'broker RSS',
    'received/expected',
    'lost',
    'dup',
    'reord',
  ];
  return { text: table(header, rows), summary };
}

function retainedTable(brokers: BrokerName[], runs: Run[]): { text: string; summary: Summary } {
  const rows: string[][] = [];
  const summary: Summary = {};
  const rounds = multiRound(brokers, runs);
  for (const b of brokers) {
    const all = of<RetainedMeasurement>(runs, b);
    if (all.length === 0) {
      rows.push([b, 'failed']);
      continue;
    }
    const rate = median(all.map((x) => x.rate));
    summary[b] = { rate };
    const millis = all.flatMap((x) => x.millis);
    rows.push([
      b,
      si(rate),
      ...(rounds
        ? [
            spread(
              all.map((x) => x.rate),
              si,
            ),
          ]
        : []),
      millis.map((x) => x.toFixed(0)).join(' '),
      ms(median(all.map((x) => x.storeMs))),
      all.every((x) => x.received.every((n) => n === x.received[0])) ? String(all[0]!.received[0]) : 'varies',
      String(all.reduce((n, x) => n + x.duplicates, 0)),
    ]);
  }
  return {
    text: table(
      ['broker', 'msg/s', ...(rounds ? ['min-max'] : []), 'ms per subscribe', 'store ms', 'received', 'dup'],
      rows,
    ),
    summary,
  };
}

function idleTable(brokers: BrokerName[], runs: Run[]): { text: string; summary: Summary } {
  const rows: string[][] = [];
  const summary: Summary = {};
  const rounds = multiRound(brokers, runs);
  for (const b of brokers) {
    const all = of<IdleMeasurement>(runs, b);
    if (all.length === 0) {
      rows.push([b, 'failed']);
      continue;
    }
    const m = (f: (x: IdleMeasurement) => number) => median(all.map(f));
    const lag = (f: (l: NonNullable<IdleMeasurement['loopLagMs']>) => number) =>
      all.some((x) => x.loopLagMs !== null)
        ? m((x) => (x.loopLagMs === null ? Number.NaN : f(x.loopLagMs)))
        : Number.NaN;
    const s = {
      kbPerConnection: m((x) => x.kbPerConnection),
      kbPerConnectionEnd: m((x) => x.kbPerConnectionEnd),
      connectRate: m((x) => x.connectRate),
      pingP50: m((x) => x.pingMs.p50),
      pingP99: m((x) => x.pingMs.p99),
      pingMax: m((x) => x.pingMs.max),
      lagP99: lag((l) => l.p99),
      lagMax: lag((l) => l.max),
      holdCpu: m((x) => x.holdCpu),
    };
    summary[b] = s;
    const kib = (v: number) => v.toFixed(2);
    rows.push([
      b,
      `${all[0]!.connected}/${all[0]!.connections}`,
      kib(s.kbPerConnection),
      ...(rounds
        ? [
            spread(
              all.map((x) => x.kbPerConnection),
              kib,
            ),
          ]
        : []),
      kib(s.kbPerConnectionEnd),
      si(s.connectRate),
      ...(rounds
        ? [
            spread(
              all.map((x) => x.connectRate),
              si,
            ),
          ]
        : []),
      `${Math.round(m((x) => x.rssBeforeMB))} -> ${Math.round(m((x) => x.rssAfterMB))} -> ${Math.round(m((x) => x.rssEndMB))} MB`,
      pct(s.holdCpu),
      ms(s.pingP50),
      ms(s.pingP99),
      ...(rounds
        ? [
            spread(
              all.map((x) => x.pingMs.p99),
              ms,
            ),
          ]
        : []),
      ms(s.pingMax),
      `${all.reduce((n, x) => n + x.keepalivePongs, 0)}/${all.reduce((n, x) => n + x.keepalivePings, 0)}`,
      Number.isFinite(s.lagP99) ? `${ms(s.lagP99)} / ${ms(s.lagMax)}` : 'n/a',
    ]);
  }
  const header = [
    'broker',
    'connected',
    'KiB/conn',
    ...(rounds ? ['min-max'] : []),
    'KiB/conn at end',
    'conn/s',
    ...(rounds ? ['min-max'] : []),
    'broker RSS before -> after -> end',
    'CPU held',
    'ping p50 ms',
    'ping p99 ms',
    ...(rounds ? ['min-max'] : []),
    'ping max ms',
    'keepalive PINGRESP/PINGREQ',
    'loop lag p99 / max ms',
  ];
  return { text: table(header, rows), summary };
}

function ratioLine(summary: Summary, key: string, what: string, lowerIsBetter: boolean): string {
  const a = summary.aviary?.[key];
  if (a === undefined) return '';
  const parts: string[] = [];
  for (const [other, label] of [
    ['aviary-memory', 'Aviary memory store'],
    ['mosquitto', 'Mosquitto'],
    ['aedes', 'Aedes'],
  ] as const) {
    const o = summary[other]?.[key];
    if (o !== undefined) parts.push(`Aviary / ${label} ${ratio(a, o)}`);
  }
  if (parts.length === 0) return '';
  return `${what}: ${parts.join(', ')}${lowerIsBetter ? ' (lower is better)' : ''}`;
}

const KIB = 1024;

/** The sample nearest to time t. */
function nearest(samples: StoreSample[], t: number): StoreSample | undefined {
  let best: StoreSample | undefined;
  for (const x of samples) if (best === undefined || Math.abs(x.t - t) < Math.abs(best.t - t)) best = x;
  return best;
}

const kib = (bytes: number | undefined) => (bytes === undefined ? '-' : `${Math.round(bytes / KIB)}`);
const both = (x: StoreSample | undefined) => (x === undefined ? undefined : x.dbBytes + x.walBytes);

/**
 * Aviary's SQLite store over each run: db + wal KiB at the start, middle and end of the measured
 * interval, the largest seen (and the largest WAL), and after the drain. Adds the medians to the
 * summary (storeStartKiB ... walMaxKiB).
 */
function storeLines(runs: Run[], summary: Summary): string[] {
  const lines: string[] = [];
  const figures: Record<string, number[]> = { start: [], mid: [], end: [], max: [], walMax: [], drained: [] };
  for (const r of runs) {
    const m = r.measurement;
    if (r.broker !== 'aviary' || m === null || m.kind !== 'load' || m.store.length === 0) continue;
    const measured = m.store.filter((x) => x.phase === 'measure');
    const first = measured[0];
    const last = measured[measured.length - 1];
    if (first === undefined || last === undefined) continue;
    const mid = nearest(measured, (first.t + last.t) / 2);
    const drained = m.store[m.store.length - 1];
    const max = Math.max(...m.store.map((x) => x.dbBytes + x.walBytes));
    const walMax = Math.max(...m.store.map((x) => x.walBytes));
    const row = { start: both(first), mid: both(mid), end: both(last), max, walMax, drained: both(drained) };
    for (const [k, v] of Object.entries(row)) if (v !== undefined) figures[k]!.push(v);
    lines.push(
      `  round ${r.round}: start ${kib(row.start)}, middle ${kib(row.mid)}, end ${kib(row.end)}, ` +
        `max ${kib(max)} (wal max ${kib(walMax)}), after drain ${kib(row.drained)} ` +
        `[db ${kib(last.dbBytes)} + wal ${kib(last.walBytes)} at the end; ${m.store.length} samples over ${last.t.toFixed(0)} s+]`,
    );
  }
  if (lines.length === 0) return [];
  const s = summary.aviary;
  if (s !== undefined) {
    for (const [k, v] of Object.entries(figures)) {
      if (v.length > 0) s[`store${k[0]!.toUpperCase()}${k.slice(1)}KiB`] = median(v) / KIB;
    }
  }
  return ['aviary SQLite store, aviary.db + aviary.db-wal in KiB over the measured interval:', ...lines];
}

/** The closed-loop window and payload the run used, and where a 5.0 Receive Maximum lowered it. */
function windowLines(runs: Run[]): string[] {
  const load = runs.flatMap((r) =>
    r.measurement?.kind === 'load' ? [{ b: r.broker, m: r.measurement }] : [],
  );
  const first = load[0]?.m;
  if (first === undefined) return [];
  const { min, max } = first.window;
  const lines = [
    `window: ${min === max ? min : `${min}-${max}`} messages per publisher end to end, ${first.payloadSize} B payloads`,
  ];
  const limited = new Map<string, number>();
  for (const { b, m } of load) if (m.receiveMaximum < max) limited.set(b, m.receiveMaximum);
  if (limited.size > 0) {
    lines.push(
      `incomplete QoS 1/2 flows per publisher capped by the broker's Receive Maximum (5.0 CONNACK): ` +
        [...limited].map(([b, n]) => `${b} ${n}`).join(', '),
    );
  }
  return lines;
}

export function scenarioReport(
  s: Scenario,
  brokers: BrokerName[],
  runs: Run[],
): { text: string; summary: Summary } {
  const failures = runs
    .filter((r) => r.error !== undefined)
    .map((r) => `  ${r.broker} round ${r.round}: ${r.error}`);
  const errors = runs.flatMap((r) => {
    const e = r.measurement?.errors ?? [];
    return e.length > 0 ? [`  ${r.broker} round ${r.round}: ${e.slice(0, 5).join('; ')}`] : [];
  });
  let body: { text: string; summary: Summary };
  const lines: string[] = [];
  if (s.kind === 'load') {
    const unit = s.topology === 'fan-out' ? 'deliveries/s' : 'msg/s';
    body = loadTable(brokers, runs, unit, s.rate !== null);
    if (s.rate === null) lines.push(ratioLine(body.summary, 'rate', unit, false));
    else {
      lines.push(ratioLine(body.summary, 'p50', 'latency p50', true));
      lines.push(ratioLine(body.summary, 'p99', 'latency p99', true));
      if (s.persistent) lines.push(ratioLine(body.summary, 'brokerCpu', 'broker CPU', true));
    }
    lines.push(...storeLines(runs, body.summary));
    lines.push(...windowLines(runs));
  } else if (s.kind === 'retained') {
    body = retainedTable(brokers, runs);
    lines.push(ratioLine(body.summary, 'rate', 'msg/s', false));
  } else {
    body = idleTable(brokers, runs);
    lines.push(ratioLine(body.summary, 'kbPerConnection', 'memory per connection', true));
    lines.push(
      ratioLine(body.summary, 'kbPerConnectionEnd', 'memory per connection at the end of the hold', true),
    );
    lines.push(ratioLine(body.summary, 'connectRate', 'connect rate', false));
    lines.push(ratioLine(body.summary, 'pingP99', 'ping p99 during the hold', true));
  }
  const text = [
    `== ${s.name}: ${s.title}`,
    body.text,
    ...lines.filter((l) => l !== ''),
    ...(failures.length > 0 ? ['failed runs:', ...failures] : []),
    ...(errors.length > 0 ? ['errors reported:', ...errors] : []),
  ].join('\n');
  return { text, summary: body.summary };
}
