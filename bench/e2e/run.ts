/**
 * End-to-end benchmark: Aviary against Mosquitto and Aedes, side by side in one run, over
 * loopback, with our own load generator (raw sockets, worker threads and processes, every
 * delivery checked).
 *
 *   npm run bench -- <scenario|group>... [options]      (`npm run bench:e2e` is the same)
 *   npm run bench -- --list
 *   npm run bench:quick                                  (--quick: a smoke-sized run, < 3 min)
 *
 * Scenarios (scenarios.ts): fanin-qos0 fanin-qos1 fanin-qos2 fanout-qos0 fanout-qos1
 * fanout-qos2 p2p-qos0 p2p-qos1 p2p-qos2 p2p-qos0-100k p2p-qos1-100k latency-qos1 durable-qos1
 * durable-qos1-10 durable-qos1-max durable-qos1-10-max retained idle; groups: core, qos2,
 * durable, quick, all.
 *
 * Options:
 *   --brokers aviary,mosquitto,aedes   which brokers, in this order (default: these three;
 *                       with a durable scenario, aviary,aviary-memory,mosquitto,aedes)
 *   --cpu-prof          run Aviary under `node --cpu-prof`; profiles go to bench/e2e/results/prof/
 *   --node-args="..."   more node/V8 options for Aviary's process (a what-if run, e.g.
 *                       "--max-semi-space-size=32")
 *   --set key=value     (repeatable) an Aviary configuration key for both Aviary variants, as an
 *                       AVIARY_* variable: `--set mqtt.max_inflight=128`, a what-if run
 *   --duration 10s      measured interval of a load scenario
 *   --warmup 2s         load before measuring
 *   --rounds 1          repeat brokers in turn, A B C A B C ..., and report medians and min-max
 *   --workers 2         generator worker threads (load scenarios; latency-qos1: 1 unless given)
 *   --window 100        per publisher: messages in flight end to end (and incomplete QoS 1/2 flows)
 *   --inflight-bytes 64MiB  most payload bytes in flight end to end over all publishers: lowers
 *                       the window of big payloads (scenarios.ts, windowFor)
 *   --payload 16        payload size of the load scenarios: bytes, or with a unit (1KiB, 64KiB)
 *   --batch 64          most PUBLISH frames a publisher writes at once
 *   --mqtt 3.1.1|5      protocol version of every client (default 3.1.1)
 *   --publishers N --subscribers N --extra-subs N --rate N     override a load scenario's sizes
 *   --retained N        the same for retained
 *   --connections N     idle: connections (default 19,500)
 *   --hold 30s          idle: how long the connections are held while the probe pings
 *   --keepalive 30s     idle: Keep Alive of the connections; each sends one PINGREQ per period
 *   --procs N           idle: generator processes (default ceil(connections / 8,000))
 *   --quick             the `quick` group, 2 s measured after 1 s warm-up, 2,000 idle
 *                       connections held 5 s with a 10 s keep-alive (other options still apply)
 *   --results FILE      the JSON-lines log to append to (default bench/results/e2e.jsonl)
 *   --no-build          use (a copy of) the existing dist/ (default: build a private copy first)
 *   --record            name the JSON file recorded-<time>.json, to be committed
 *   --list              print the scenarios and exit
 *
 * Every run appends one JSON line per measurement and one summary line per scenario to
 * bench/results/e2e.jsonl (results.ts; machine, Node, commit, options on every line), and
 * writes the whole run as one file, bench/e2e/results/<time>-<scenarios>.json (gitignored
 * except recorded-*.json, which docs/benchmarks.md cites). docs/benchmarks.md ("End-to-end")
 * explains the method and records runs.
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
import { ResultLog } from './results.js';
import { durableTitle, GROUPS, idleTitle, SCENARIOS, type Scenario } from './scenarios.js';
import { HEADER_SIZE } from './track.js';
import { parseDuration } from './util.js';

const DEFAULTS = {
  duration: '10s',
  warmup: '2s',
  rounds: '1',
  workers: '2',
  window: '100',
  batch: '64',
  payload: '16',
  inflightBytes: '64MiB',
  hold: '30s',
  keepalive: '30s',
};
/** --quick: the smoke-sized run of `npm run bench:quick`. */
const QUICK = { duration: '2s', warmup: '1s', connections: '2000', hold: '5s', keepalive: '10s' };
const RESULTS_FILE = 'bench/results/e2e.jsonl';
/** Mosquitto's default max_inflight_messages (brokers.ts, mosquittoConfig). */
const MOSQUITTO_DEFAULT_INFLIGHT = 20;
const LATENCY_STRIDE = 16;
const PAUSE_BETWEEN_RUNS_MS = 500;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    brokers: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    rounds: { type: 'string', default: DEFAULTS.rounds },
    workers: { type: 'string' },
    window: { type: 'string', default: DEFAULTS.window },
    batch: { type: 'string', default: DEFAULTS.batch },
    payload: { type: 'string', default: DEFAULTS.payload },
    'inflight-bytes': { type: 'string', default: DEFAULTS.inflightBytes },
    hold: { type: 'string' },
    keepalive: { type: 'string' },
    procs: { type: 'string' },
    quick: { type: 'boolean', default: false },
    results: { type: 'string', default: RESULTS_FILE },
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
    'node-args': { type: 'string', default: '' },
    set: { type: 'string', multiple: true, default: [] },
  },
});

function die(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KiB|KB|k|MiB|MB|M)?$/i;
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kib: 1024,
  kb: 1024,
  k: 1024,
  mib: 2 ** 20,
  mb: 2 ** 20,
  m: 2 ** 20,
};

/** "16", "1KiB", "64KiB", "64MiB": bytes (KB and MB are read as KiB and MiB). */
function bytes(name: string, text: string): number {
  const m = SIZE.exec(text.trim());
  if (m === null) die(`--${name} ${text}: expected bytes, or a size such as 1KiB or 64KiB`);
  return Math.round(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]!);
}

function duration(name: string, text: string): number {
  try {
    return parseDuration(text);
  } catch {
    return die(`--${name} ${text}: expected a duration such as 500ms, 10s, 2m`);
  }
}

function int(name: string, text: string | undefined, min = 1): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) die(`--${name} must be an integer >= ${min}`);
  return n;
}

const quick = values.quick;
if (quick) {
  values.duration ??= QUICK.duration;
  values.warmup ??= QUICK.warmup;
  values.connections ??= QUICK.connections;
  values.hold ??= QUICK.hold;
  values.keepalive ??= QUICK.keepalive;
  if (positionals.length === 0) positionals.push('quick');
}
values.duration ??= DEFAULTS.duration;
values.warmup ??= DEFAULTS.warmup;
values.hold ??= DEFAULTS.hold;
values.keepalive ??= DEFAULTS.keepalive;

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
  return connections === s.connections ? s : { ...s, connections, title: idleTitle(connections) };
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
const payloadSize = bytes('payload', values.payload);
if (payloadSize < HEADER_SIZE) die(`--payload must be at least ${HEADER_SIZE} bytes (the header, track.ts)`);
const options: RunOptions = {
  durationMs: duration('duration', values.duration),
  warmupMs: duration('warmup', values.warmup),
  workers: int('workers', values.workers ?? DEFAULTS.workers)!,
  window: int('window', values.window)!,
  batchMax: int('batch', values.batch)!,
  latencyStride: LATENCY_STRIDE,
  version,
  payloadSize,
  inflightBytes: bytes('inflight-bytes', values['inflight-bytes']),
  holdMs: duration('hold', values.hold),
  keepaliveSeconds: Math.max(1, Math.round(duration('keepalive', values.keepalive) / 1000)),
  procs: int('procs', values.procs) ?? 0,
};
const rounds = int('rounds', values.rounds)!;

/** A scenario may fix its generator threads (the latency one: 1) unless --workers is given. */
function scenarioOptions(s: Scenario): RunOptions {
  if (values.workers !== undefined || s.kind !== 'load' || s.workers === undefined) return options;
  return { ...options, workers: s.workers };
}

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
const anyIdle = scenarios.some((s) => s.kind === 'idle');
process.stdout.write(
  `options: ${values.duration} measured after ${values.warmup} warm-up, ${rounds} round(s) (brokers in turn per round), ` +
    `${options.workers} generator workers (latency-qos1: 1 unless --workers), window ${options.window} (in flight at most ${values['inflight-bytes']} in all), ` +
    `batch ${options.batchMax}, MQTT ${values.mqtt}, ${payloadSize} B payloads` +
    (anyIdle
      ? `; idle: hold ${values.hold}, keep-alive ${options.keepaliveSeconds} s, ` +
        `${options.procs > 0 ? options.procs : 'ceil(N / 8000)'} generator processes`
      : '') +
    (values.set.length > 0 ? `, Aviary with ${values.set.join(' ')}` : '') +
    '\n\n',
);
const runId = `${new Date().toISOString()}-${process.pid}`;
const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`;
const jsonOptions = {
  ...options,
  rounds,
  brokers,
  mqtt: values.mqtt,
  aviarySet: values.set,
  quick,
  inflightBytesText: values['inflight-bytes'],
};
const log = new ResultLog(path.resolve(ROOT, values.results), {
  run: runId,
  machine: info,
  options: jsonOptions,
  command,
});

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
          nodeArgs: values['node-args'].split(' ').filter((a) => a.length > 0),
          aviaryEnv,
          aviaryRoot,
          mosquittoMaxInflight:
            s.kind === 'load' && s.qos === 2 ? Math.max(MOSQUITTO_DEFAULT_INFLIGHT, options.window) : null,
        });
        const runOptions = scenarioOptions(s);
        const measurement = await runScenario(s, broker, runOptions);
        runs.push({
          broker: b,
          round,
          measurement,
          loadAverage,
          ...(s.kind === 'load' ? { workers: runOptions.workers } : {}),
        });
        log.measurement(s, runs[runs.length - 1]!);
        process.stdout.write(
          `  ${s.name} ${b} round ${round}: ${oneLine(measurement)} (load ${loadAverage.toFixed(2)})\n`,
        );
      } catch (error) {
        const message = (error as Error).message.split('\n')[0]!;
        runs.push({ broker: b, round, measurement: null, error: message, loadAverage });
        log.measurement(s, runs[runs.length - 1]!);
        process.stdout.write(`  ${s.name} ${b} round ${round}: FAILED ${message}\n`);
      } finally {
        await broker?.stop();
      }
      await new Promise((r) => setTimeout(r, PAUSE_BETWEEN_RUNS_MS));
    }
  }
  const { text, summary } = scenarioReport(s, brokers, runs);
  log.summary(s, brokers, summary);
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
      (m.errors.length > 0 ? `, ${m.errors.length} errors: ${m.errors[0]}` : '')
    );
  }
  if (m.kind === 'retained')
    return `${Math.round(m.rate)} msg/s (ms: ${m.millis.map((x) => x.toFixed(1)).join(' ')})`;
  const lag =
    m.loopLagMs === null
      ? ''
      : `, loop lag p99 ${m.loopLagMs.p99.toFixed(1)} max ${m.loopLagMs.max.toFixed(1)} ms`;
  return (
    `${m.connected}/${m.connections} connected by ${m.procs} processes, ${m.kbPerConnection.toFixed(2)} KiB/conn (${m.kbPerConnectionEnd.toFixed(2)} at the end), ` +
    `${Math.round(m.connectRate)} conn/s, ping p50 ${m.pingMs.p50.toFixed(3)} p99 ${m.pingMs.p99.toFixed(3)} ` +
    `max ${m.pingMs.max.toFixed(1)} ms, keepalive ${m.keepalivePongs}/${m.keepalivePings}${lag}` +
    (m.errors.length > 0 ? `, ${m.errors.length} errors: ${m.errors[0]}` : '')
  );
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const dir = path.join(ROOT, 'bench/e2e/results');
mkdirSync(dir, { recursive: true });
const label = positionals.join('+').replace(/[^a-z0-9+-]/gi, '_');
const file = path.join(dir, values.record ? `recorded-${stamp}-${label}.json` : `${stamp}-${label}.json`);
const record = {
  machine: { ...info, loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100) },
  run: runId,
  command,
  options: jsonOptions,
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
process.stdout.write(`results: ${path.relative(ROOT, file)}; appended to ${path.relative(ROOT, log.file)}\n`);
if (cpuProfDir !== null)
  process.stdout.write(`CPU profiles of Aviary: ${path.relative(ROOT, cpuProfDir)}/\n`);
