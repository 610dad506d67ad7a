/**
 * End-to-end benchmark: Aviary against Mosquitto and Aedes, side by side in one run, over
 * loopback, with our own load generator (raw sockets, worker threads, every delivery checked).
 *
 *   npm run bench:e2e -- <scenario|group>... [options]
 *   npm run bench:e2e -- --list
 *
 * Scenarios (scenarios.ts): fanin-qos0 fanin-qos1 fanout-qos0 fanout-qos1 p2p-qos0 p2p-qos1
 * p2p-qos0-100k p2p-qos1-100k latency-qos1 durable-qos1 durable-qos1-10 durable-qos1-max
 * durable-qos1-10-max retained idle; groups: core, durable, all.
 *
 * Options:
 *   --brokers aviary,mosquitto,aedes   which brokers, in this order (default: these three;
 *                       with a durable scenario, aviary,aviary-memory,mosquitto,aedes)
 *   --cpu-prof          run Aviary under `node --cpu-prof`; profiles go to bench/e2e/results/prof/
 *   --set key=value     (repeatable) an Aviary configuration key for both Aviary variants, as an
 *                       AVIARY_* variable: `--set mqtt.max_inflight=128`, a what-if run
 *   --duration 10s      measured interval (idle: how long the connections are held, at most 5 s)
 *   --warmup 2s         load before measuring
 *   --rounds 1          repeat brokers in turn, A B C A B C ..., and report medians
 *   --workers 2         generator worker threads
 *   --window 100        per publisher: messages in flight end to end (and unacknowledged QoS 1)
 *   --batch 64          most PUBLISH frames a publisher writes at once
 *   --mqtt 3.1.1|5      protocol version of every client (default 3.1.1)
 *   --publishers N --subscribers N --extra-subs N --rate N     override a load scenario's sizes
 *   --retained N --connections N                               the same for retained and idle
 *   --no-build          use (a copy of) the existing dist/ (default: build a private copy first)
 *   --record            name the JSON file recorded-<time>.json, to be committed
 *   --list              print the scenarios and exit
 *
 * Every run writes bench/e2e/results/<time>-<scenarios>.json (machine, options, every
 * measurement, medians and ratios); that folder is gitignored except recorded-*.json.
 * docs/benchmarks.md ("End-to-end") explains the method and records a run.
 */

import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  BROKERS,
  type BrokerName,
  DEFAULT_BROKERS,
  DURABLE_BROKERS,
  ensureMosquitto,
  ROOT,
  startBroker,
} from './brokers.js';
import { type RunOptions, runScenario } from './coordinator.js';
import { machine, machineText, type Run, scenarioReport } from './report.js';
import { durableTitle, GROUPS, SCENARIOS, type Scenario } from './scenarios.js';
import { parseDuration } from './util.js';

const DEFAULTS = { duration: '10s', warmup: '2s', rounds: '1', workers: '2', window: '100', batch: '64' };
const LATENCY_STRIDE = 16;
const PAUSE_BETWEEN_RUNS_MS = 500;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    brokers: { type: 'string' },
    duration: { type: 'string', default: DEFAULTS.duration },
    warmup: { type: 'string', default: DEFAULTS.warmup },
    rounds: { type: 'string', default: DEFAULTS.rounds },
    workers: { type: 'string', default: DEFAULTS.workers },
    window: { type: 'string', default: DEFAULTS.window },
    batch: { type: 'string', default: DEFAULTS.batch },
    mqtt: { type: 'string', default: '3.1.1' },
    publishers: { type: 'string' },
    subscribers: { type: 'string' },
    'extra-subs': { type: 'string' },
    rate: { type: 'string' },
    retained: { type: 'string' },
    connections: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    record: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    set: { type: 'string', multiple: true, default: [] },
  },
});

function die(message: string): never {
  process.stderr.write(`bench:e2e: ${message}\n`);
  process.exit(2);
}

function int(name: string, text: string | undefined, min = 1): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) die(`--${name} must be an integer >= ${min}`);
  return n;
}

if (values.list || positionals.length === 0) {
  for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(16)} ${s.title}\n`);
  for (const [g, names] of Object.entries(GROUPS))
    process.stdout.write(`${g.padEnd(16)} group: ${names.join(' ')}\n`);
  process.exit(positionals.length === 0 && !values.list ? 2 : 0);
}

const names = positionals.flatMap((p) => GROUPS[p] ?? [p]);
const scenarios: Scenario[] = names.map((n) => {
  const s = SCENARIOS.find((x) => x.name === n);
  if (s === undefined) die(`unknown scenario ${n} (--list shows them)`);
  return applyOverrides(s);
});

function applyOverrides(s: Scenario): Scenario {
  if (s.kind === 'load') {
    const pubs = int('publishers', values.publishers) ?? s.publishers;
    const subs =
      int('subscribers', values.subscribers) ??
      (s.topology === 'p2p' && s.rate === null ? pubs : s.subscribers);
    const extra = int('extra-subs', values['extra-subs'], 0) ?? s.extraSubscriptions;
    const rate = s.rate === null ? null : (int('rate', values.rate) ?? s.rate);
    const changed =
      pubs !== s.publishers || subs !== s.subscribers || extra !== s.extraSubscriptions || rate !== s.rate;
    const next = { ...s, publishers: pubs, subscribers: subs, extraSubscriptions: extra, rate };
    const title = !changed
      ? s.title
      : s.persistent
        ? durableTitle(next)
        : `${s.title} [overridden: ${pubs} pub, ${subs} sub, +${extra} subs, rate ${rate}]`;
    return { ...next, title };
  }
  if (s.kind === 'retained') {
    const count = int('retained', values.retained) ?? s.count;
    return count === s.count
      ? s
      : { ...s, count, title: `${count} retained messages delivered on one wildcard subscribe` };
  }
  const connections = int('connections', values.connections) ?? s.connections;
  return connections === s.connections ? s : { ...s, connections, title: `${connections} idle connections` };
}

const anyDurable = scenarios.some((s) => s.kind === 'load' && s.persistent);
let brokers = (values.brokers ?? (anyDurable ? DURABLE_BROKERS : DEFAULT_BROKERS).join(','))
  .split(',')
  .map((b) => b.trim()) as BrokerName[];
for (const b of brokers) if (!BROKERS.includes(b)) die(`unknown broker ${b} (${BROKERS.join(', ')})`);
const version =
  values.mqtt === '5' || values.mqtt === '5.0' ? 5 : values.mqtt === '3.1.1' ? 4 : die('--mqtt 3.1.1 or 5');
if (version === 5 && brokers.includes('aedes')) {
  // Aedes 1.2 answers a 5.0 CONNECT with a 3.1.1 CONNACK (unacceptable protocol version).
  process.stdout.write('aedes 1.2 speaks MQTT 3.1.1 only: left out of this --mqtt 5 run\n');
  brokers = brokers.filter((b) => b !== 'aedes');
}
const options: RunOptions = {
  durationMs: parseDuration(values.duration),
  warmupMs: parseDuration(values.warmup),
  workers: int('workers', values.workers)!,
  window: int('window', values.window)!,
  batchMax: int('batch', values.batch)!,
  latencyStride: LATENCY_STRIDE,
  version,
};
const rounds = int('rounds', values.rounds)!;

/** `--set a.b_c=v` as AVIARY_A__B_C=v (src/config/env.ts). */
const aviaryEnv: Record<string, string> = {};
for (const kv of values.set) {
  const eq = kv.indexOf('=');
  if (eq <= 0) die(`--set ${kv}: expected key=value`);
  aviaryEnv[`AVIARY_${kv.slice(0, eq).toUpperCase().replaceAll('.', '__')}`] = kv.slice(eq + 1);
}

const cpuProfDir = values['cpu-prof'] ? path.join(ROOT, 'bench/e2e/results/prof') : null;
if (cpuProfDir !== null) mkdirSync(cpuProfDir, { recursive: true });

/**
 * Aviary runs from a private copy of its build (bin/, dist/, package.json, and a link to
 * node_modules) in a temp directory, removed at exit: other work on the machine may rebuild the
 * repository's dist/ during a run, and a broker started while it is half written fails. The
 * copy is built with the build's own settings (tsconfig.build.json) into that directory, or with
 * --no-build copied from the existing dist/.
 */
const aviaryRoot = mkdtempSync(path.join(os.tmpdir(), 'aviary-bench-build-'));
process.once('exit', () => rmSync(aviaryRoot, { recursive: true, force: true }));
if (brokers.some((b) => b.startsWith('aviary'))) {
  mkdirSync(path.join(aviaryRoot, 'bin'));
  cpSync(path.join(ROOT, 'bin/aviary.js'), path.join(aviaryRoot, 'bin/aviary.js'));
  cpSync(path.join(ROOT, 'package.json'), path.join(aviaryRoot, 'package.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(aviaryRoot, 'node_modules'));
  const dist = path.join(aviaryRoot, 'dist');
  if (values['no-build']) cpSync(path.join(ROOT, 'dist'), dist, { recursive: true });
  else {
    process.stdout.write('building Aviary (tsc -p tsconfig.build.json, into a private copy) ...\n');
    const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
    const r = spawnSync(tsc, ['-p', 'tsconfig.build.json', '--outDir', dist], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (r.status !== 0)
      die(`the build failed (use --no-build to run the existing dist/):\n${r.stdout}${r.stderr}`);
  }
}
if (brokers.includes('mosquitto')) ensureMosquitto();

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // Exit through process.exit so that brokers.ts kills the broker under test.
  process.once(signal, () => process.exit(130));
}

const info = machine();
process.stdout.write(`${machineText(info)}\n`);
process.stdout.write(
  `options: ${values.duration} measured after ${values.warmup} warm-up, ${rounds} round(s), ${options.workers} generator workers, ` +
    `window ${options.window}, batch ${options.batchMax}, MQTT ${values.mqtt}, 16 B payloads` +
    (values.set.length > 0 ? `, Aviary with ${values.set.join(' ')}` : '') +
    '\n\n',
);

const results: unknown[] = [];
for (const s of scenarios) {
  const runs: Run[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const b of brokers) {
      const loadAverage = os.loadavg()[0]!;
      let broker: Awaited<ReturnType<typeof startBroker>> | null = null;
      try {
        broker = await startBroker(b, {
          persistent: s.kind === 'load' && s.persistent,
          cpuProfDir,
          aviaryEnv,
          aviaryRoot,
        });
        const measurement = await runScenario(s, broker, options);
        runs.push({ broker: b, round, measurement, loadAverage });
        process.stdout.write(
          `  ${s.name} ${b} round ${round}: ${oneLine(measurement)} (load ${loadAverage.toFixed(2)})\n`,
        );
      } catch (error) {
        const message = (error as Error).message.split('\n')[0]!;
        runs.push({ broker: b, round, measurement: null, error: message, loadAverage });
        process.stdout.write(`  ${s.name} ${b} round ${round}: FAILED ${message}\n`);
      } finally {
        await broker?.stop();
      }
      await new Promise((r) => setTimeout(r, PAUSE_BETWEEN_RUNS_MS));
    }
  }
  const { text, summary } = scenarioReport(s, brokers, runs);
  process.stdout.write(`\n${text}\n\n`);
  results.push({ scenario: s, runs, summary });
}

function oneLine(m: Awaited<ReturnType<typeof runScenario>>): string {
  if (m.kind === 'load') {
    const c = m.check;
    return (
      `${Math.round(m.rate)}/s, broker ${Math.round(m.cpu.broker)}% gen ${Math.round(m.cpu.generator)}% ` +
      `other ${Math.round(m.cpu.other)}%, p50 ${m.latencyMs.p50.toFixed(3)} p99 ${m.latencyMs.p99.toFixed(3)} ms, ` +
      `lost ${c.lost} dup ${c.duplicates} reord ${c.reordered} of ${c.expected}, drain ${Math.round(m.drainMs)} ms` +
      (m.errors.length > 0 ? `, ${m.errors.length} errors` : '')
    );
  }
  if (m.kind === 'retained')
    return `${Math.round(m.rate)} msg/s (ms: ${m.millis.map((x) => x.toFixed(1)).join(' ')})`;
  return `${m.kbPerConnection.toFixed(2)} KiB/conn, ${Math.round(m.connectRate)} conn/s, ping p99 ${m.pingMs.p99.toFixed(3)} ms`;
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const dir = path.join(ROOT, 'bench/e2e/results');
mkdirSync(dir, { recursive: true });
const label = positionals.join('+').replace(/[^a-z0-9+-]/gi, '_');
const file = path.join(dir, values.record ? `recorded-${stamp}-${label}.json` : `${stamp}-${label}.json`);
const record = {
  machine: { ...info, loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100) },
  command: `npm run bench:e2e -- ${process.argv.slice(2).join(' ')}`,
  options: { ...options, rounds, brokers, mqtt: values.mqtt, aviarySet: values.set },
  results,
};
writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
if (values.record) {
  // A recorded file is committed, and `npm run lint` checks JSON formatting: format it as Biome does.
  spawnSync(path.join(ROOT, 'node_modules/.bin/biome'), ['format', '--write', file], {
    cwd: ROOT,
    stdio: 'ignore',
  });
}
process.stdout.write(`results: ${path.relative(ROOT, file)}\n`);
if (cpuProfDir !== null)
  process.stdout.write(`CPU profiles of Aviary: ${path.relative(ROOT, cpuProfDir)}/\n`);
