/**
 * The brokers under test, each in its own process on 127.0.0.1, started fresh for every
 * scenario, and the /proc readings taken of them.
 *
 *   aviary     `node bin/aviary.js start` from a private copy of the build (run.ts builds it
 *              into a temp directory, or copies dist/ with --no-build), configured only
 *              through AVIARY_* variables: the listener address, the management API's
 *              listener on another free port of 127.0.0.1 (`dashboard.listeners.http.bind`,
 *              whose `/api/v5/prometheus/stats` gives the event-loop lag), the default
 *              WebSocket listener off (its fixed port 8083 may be taken), log level error,
 *              `mqtt.max_mqueue_len = 0` (no limit, the
 *              counterpart of Mosquitto's `max_queued_messages 0`), and `node.data_dir` a
 *              fresh temp directory, removed after the run. Its store is the default, SQLite
 *              (`aviary.db` and its `-wal` in that directory, whose sizes the coordinator
 *              samples: RunningBroker.storeFiles).
 *   aviary-memory  the same with `durable_storage.backend = memory`: nothing on disk.
 *   mosquitto  Debian's /usr/sbin/mosquitto 2.0 with its own config file in a temp directory
 *              owned by the mosquitto user (it drops root and then writes its pid and log
 *              files there): listener, anonymous access, and `max_queued_messages 0` so that
 *              it does not drop QoS 1 messages when a subscriber's queue passes the default
 *              1000. No persistence, except for the durable scenarios (`persistent`):
 *              `persistence true` with its `persistence_location` in that directory and its
 *              default `autosave_interval 1800` (it writes its in-memory state to disk every
 *              30 minutes and at exit, so during a run it works from memory). Everything else
 *              is its default (max_inflight_messages 20, set_tcp_nodelay false), except
 *              for the QoS 2 scenarios (mosquittoConfig). Installed
 *              with `scripts/services.sh start mosquitto` if missing.
 *   aedes      aedes 1.2 (devDependency) on a plain net server: bench/e2e/aedes-runner.mjs.
 *              Its default persistence, aedes-persistence, is in memory: nothing on disk.
 *              It measures its own event-loop delay and writes it to a file on SIGUSR2.
 *
 * Event-loop lag (RunningBroker.loopLag, the idle scenario): each call returns the lag since
 * the previous call. Aviary: prom-client's `nodejs_eventloop_lag_{p50,p99,max,mean}_seconds`
 * from a scrape of `/api/v5/prometheus/stats` (no credentials by default); prom-client takes
 * them from a perf_hooks histogram (10 ms resolution) that it resets at every scrape. Aedes:
 * the same histogram in aedes-runner.mjs. Mosquitto (C, no event loop to measure): null.
 * The histogram records the time between ticks of a 10 ms timer (an idle process shows a p50
 * of ~10.1 ms), so the lag reported is each figure minus LAG_RESOLUTION_MS, at least 0.
 *
 * A broker is ready when its port accepts a TCP connection.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './util.js';

export const BROKERS = ['aviary', 'aviary-memory', 'mosquitto', 'aedes'] as const;
export type BrokerName = (typeof BROKERS)[number];
/** The brokers of a run when --brokers is not given; the durable scenarios add aviary-memory. */
export const DEFAULT_BROKERS: readonly BrokerName[] = ['aviary', 'mosquitto', 'aedes'];
export const DURABLE_BROKERS: readonly BrokerName[] = ['aviary', 'aviary-memory', 'mosquitto', 'aedes'];

export interface BrokerOptions {
  /** The scenario has persistent sessions: Mosquitto runs with `persistence true`. */
  persistent: boolean;
  /** Run Aviary's node with --cpu-prof, writing its profile into this directory at exit. */
  cpuProfDir: string | null;
  /** More node options for Aviary's process (run.ts --node-args). */
  nodeArgs: readonly string[];
  /** More AVIARY_* variables for both Aviary variants (run.ts --set), e.g. for a what-if run. */
  aviaryEnv: Record<string, string>;
  /** Where Aviary's bin/aviary.js and dist/ are (run.ts's private copy of the build). */
  aviaryRoot: string;
  /**
   * QoS 2 scenarios: Mosquitto's `max_inflight_messages`, raised from its default 20 to the
   * generator's window (see mosquittoConfig); null keeps the default.
   */
  mosquittoMaxInflight: number | null;
}

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MOSQUITTO = '/usr/sbin/mosquitto';
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const POLL_MS = 50;
const OUTPUT_KEPT = 4000;
const HOST = '127.0.0.1';

/** Event-loop delay over an interval, in milliseconds beyond the 10 ms sampling timer. */
export interface LoopLag {
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export interface RunningBroker {
  name: BrokerName;
  pid: number;
  host: string;
  port: number;
  /** The event-loop lag since the previous call (the first call starts the interval); null if not measurable. */
  loopLag(): Promise<LoopLag | null>;
  /** The last lines the broker printed, for error messages. */
  output(): string;
  /** Aviary's SQLite files (database and WAL), whose sizes are sampled; empty for the others. */
  storeFiles: string[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: HOST });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The environment without AVIARY_* variables (they would configure the broker). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AVIARY_')) env[k] = v;
  return { ...env, ...extra };
}

/**
 * Mosquitto 2.0 counts a client's incoming QoS 2 messages awaiting PUBREL against
 * `max_inflight_messages` (default 20) and disconnects a 3.1.1 client that sends more (a 5.0
 * client learns the limit as its Receive Maximum). The QoS 2 scenarios keep up to --window
 * (100) flows open per publisher, so for them it is raised to the window, which also lets
 * Mosquitto keep that many outgoing QoS 1/2 messages in flight (favouring Mosquitto if anything).
 */
function mosquittoConfig(port: number, dir: string, persistent: boolean, maxInflight: number | null): string {
  return [
    ...(maxInflight === null ? [] : [`max_inflight_messages ${maxInflight}`]),
    `listener ${port} ${HOST}`,
    'allow_anonymous true',
    // Its default autosave_interval (1800 s) applies: the state is written at that interval
    // and at exit, not per message.
    ...(persistent ? ['persistence true', `persistence_location ${dir}/`] : ['persistence false']),
    // No limit on queued QoS 1/2 messages per client (default 1000, beyond which it drops).
    'max_queued_messages 0',
    `pid_file ${path.join(dir, 'mosquitto.pid')}`,
    `log_dest file ${path.join(dir, 'mosquitto.log')}`,
    'log_type error',
    'log_type warning',
    '',
  ].join('\n');
}

/** Installs mosquitto through the project's services script if it is missing. */
export function ensureMosquitto(): void {
  if (existsSync(MOSQUITTO)) return;
  execFileSync('bash', [path.join(ROOT, 'scripts/services.sh'), 'start', 'mosquitto'], { stdio: 'inherit' });
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is still missing after scripts/services.sh`);
}

/** Aviary's database file in its data directory (durable_storage.sqlite.file's default). */
const AVIARY_DB = 'aviary.db';

interface Spawned {
  child: ChildProcess;
  cleanup: () => void;
  storeFiles: string[];
  loopLag: () => Promise<LoopLag | null>;
}

const NS_PER_MS = 1e6;
const MS_PER_SECOND = 1000;
/** monitorEventLoopDelay's resolution in prom-client (its default) and in aedes-runner.mjs. */
const LAG_RESOLUTION_MS = 10;
const excess = (ms: number): number => (Number.isFinite(ms) ? Math.max(0, ms - LAG_RESOLUTION_MS) : ms);

function lagOf(ms: (name: 'p50' | 'p99' | 'max' | 'mean') => number): LoopLag {
  return { p50: excess(ms('p50')), p99: excess(ms('p99')), max: excess(ms('max')), mean: excess(ms('mean')) };
}
const LAG_TIMEOUT_MS = 5000;

/** Aviary: the event-loop gauges of a Prometheus scrape (prom-client resets them per scrape). */
async function scrapeLag(apiPort: number): Promise<LoopLag | null> {
  const response = await fetch(`http://${HOST}:${apiPort}/api/v5/prometheus/stats`, {
    signal: AbortSignal.timeout(LAG_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`prometheus scrape: HTTP ${response.status}`);
  const text = await response.text();
  const gauge = (name: string): number => {
    const m = new RegExp(`^nodejs_eventloop_lag_${name}_seconds(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    return m === null ? Number.NaN : Number(m[1]) * MS_PER_SECOND;
  };
  return lagOf(gauge);
}

/** Aedes: SIGUSR2 makes aedes-runner.mjs write its histogram to `file` and reset it. */
async function signalledLag(child: ChildProcess, file: string): Promise<LoopLag | null> {
  const read = (): { seq: number } & Record<string, number> => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as { seq: number } & Record<string, number>;
    } catch {
      return { seq: 0 };
    }
  };
  const before = read().seq;
  child.kill('SIGUSR2');
  const deadline = Date.now() + LAG_TIMEOUT_MS;
  for (;;) {
    const now = read();
    if (now.seq !== before) {
      return lagOf((k) => (now[k] ?? Number.NaN) / NS_PER_MS);
    }
    if (Date.now() > deadline) throw new Error('aedes-runner did not write its event-loop lag');
    await sleep(POLL_MS);
  }
}

function spawnBroker(name: BrokerName, port: number, apiPort: number, options: BrokerOptions): Spawned {
  switch (name) {
    case 'aviary':
    case 'aviary-memory': {
      const memory = name === 'aviary-memory';
      // A fresh data directory per run, so that no run sees another's sessions or retained
      // messages and the repository's own `data/` is never written.
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'aviary-bench-data-'));
      const profile =
        options.cpuProfDir === null
          ? []
          : [
              '--cpu-prof',
              `--cpu-prof-dir=${options.cpuProfDir}`,
              `--cpu-prof-name=${name}-${port}.cpuprofile`,
            ];
      const child = spawn(
        process.execPath,
        [...options.nodeArgs, ...profile, path.join(options.aviaryRoot, 'bin/aviary.js'), 'start'],
        {
          cwd: ROOT,
          env: cleanEnv({
            AVIARY_LISTENERS__TCP__DEFAULT__BIND: `${HOST}:${port}`,
            AVIARY_DASHBOARD__LISTENERS__HTTP__BIND: `${HOST}:${apiPort}`,
            // The default WebSocket listener's fixed port (8083) is often taken by another Aviary
            // on this machine, which would stop this one from starting; the bench is TCP only.
            AVIARY_LISTENERS__WS__DEFAULT__ENABLE: 'false',
            AVIARY_LOG__CONSOLE__LEVEL: 'error',
            AVIARY_MQTT__MAX_MQUEUE_LEN: '0',
            AVIARY_NODE__DATA_DIR: dataDir,
            ...options.aviaryEnv,
            ...(memory ? { AVIARY_DURABLE_STORAGE__BACKEND: 'memory' } : {}),
          }),
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const db = path.join(dataDir, AVIARY_DB);
      return {
        child,
        cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
        storeFiles: memory ? [] : [db, `${db}-wal`],
        loopLag: () => scrapeLag(apiPort),
      };
    }
    case 'mosquitto': {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'aviary-bench-mosquitto-'));
      const conf = path.join(dir, 'mosquitto.conf');
      writeFileSync(conf, mosquittoConfig(port, dir, options.persistent, options.mosquittoMaxInflight));
      if (process.getuid?.() === 0) {
        // As root, mosquitto switches to the `mosquitto` user before writing its files.
        const uid = Number(execFileSync('id', ['-u', 'mosquitto']).toString().trim());
        const gid = Number(execFileSync('id', ['-g', 'mosquitto']).toString().trim());
        chownSync(dir, uid, gid);
      }
      const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
      return {
        child,
        cleanup: () => {
          try {
            const log = readFileSync(path.join(dir, 'mosquitto.log'), 'utf8').trim();
            if (log !== '') process.stderr.write(`[mosquitto log]\n${log.slice(-OUTPUT_KEPT)}\n`);
          } catch {
            // no log written
          }
          rmSync(dir, { recursive: true, force: true });
        },
        storeFiles: [],
        loopLag: async () => null,
      };
    }
    case 'aedes': {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'aviary-bench-aedes-'));
      const lagFile = path.join(dir, 'lag.json');
      const child = spawn(
        process.execPath,
        [path.join(ROOT, 'bench/e2e/aedes-runner.mjs'), String(port), HOST, lagFile],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      return {
        child,
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
        storeFiles: [],
        loopLag: () => signalledLag(child, lagFile),
      };
    }
  }
}

/** Brokers not yet stopped: killed if the harness exits early (Ctrl-C, an uncaught error). */
const live = new Map<ChildProcess, () => void>();
process.once('exit', () => {
  for (const [child, cleanup] of live) {
    child.kill('SIGKILL');
    cleanup();
  }
});

export async function startBroker(name: BrokerName, options: BrokerOptions): Promise<RunningBroker> {
  const port = await freePort();
  const apiPort = await freePort();
  const { child, cleanup, storeFiles, loopLag } = spawnBroker(name, port, apiPort, options);
  live.set(child, cleanup);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      live.delete(child);
      resolve();
    }),
  );
  const broker: RunningBroker = {
    name,
    pid: child.pid ?? -1,
    host: HOST,
    port,
    output: () => output,
    storeFiles,
    loopLag,
    stop: async () => {
      if (!exited) {
        child.kill('SIGTERM');
        await Promise.race([exit, sleep(STOP_TIMEOUT_MS)]);
        if (!exited) {
          child.kill('SIGKILL');
          await exit;
        }
      }
      cleanup();
    },
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (exited || Date.now() > deadline) {
      await broker.stop();
      throw new Error(`${name} did not start listening on ${HOST}:${port}:\n${output}`);
    }
    await sleep(POLL_MS);
  }
  return broker;
}

// ---------------------------------------------------------------------------------------------
// /proc readings

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();
const MS_PER_S = 1000;
/** Fields of /proc/<pid>/stat after the command name: utime and stime. */
const STAT_UTIME = 11;
const STAT_STIME = 12;

/** CPU time (user + system, all threads) of a process, in milliseconds. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[STAT_UTIME]) + Number(fields[STAT_STIME])) / CLK_TCK) * MS_PER_S;
}

/** Resident set size of a process, in bytes. */
export function processRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? Number.NaN : Number(m[1]) * 1024;
}

/** The soft open-file limit of a process (each connection holds one descriptor). */
export function fdLimit(pid: number): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return m === null || m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}

/** Size of a file in bytes, 0 if it does not exist (the WAL before the first write). */
export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Busy CPU time of the whole machine (all cores), in milliseconds. */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return ((total - idle) / CLK_TCK) * MS_PER_S;
}

export function brokerVersions(): Record<BrokerName, string> {
  const pkg = (p: string) =>
    (JSON.parse(readFileSync(path.join(ROOT, p), 'utf8')) as { version: string }).version;
  let mosquitto = 'not installed';
  try {
    execFileSync(MOSQUITTO, ['-h'], { stdio: 'pipe' });
  } catch (error) {
    // `mosquitto -h` prints its usage and exits non-zero.
    const out = String((error as { stdout?: Buffer }).stdout ?? '');
    mosquitto = /mosquitto version (\S+)/.exec(out)?.[1] ?? 'unknown';
  }
  const aviary = pkg('package.json');
  return { aviary, 'aviary-memory': aviary, mosquitto, aedes: pkg('node_modules/aedes/package.json') };
}
