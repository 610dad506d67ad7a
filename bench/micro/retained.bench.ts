/**
 * Retained-index micro-benchmark: the memory retained store's trie (src/persistence/memory/
 * retained-index.ts) against the linear scan it replaced (every stored topic tested with
 * `filterMatches`, copied below as ScanRetainedStore), on the same topics and filters.
 *
 *   npm run bench:retained                     # 10k and 100k topics, about half a minute
 *   npm run bench:retained -- --sizes 10000    # only 10k
 *   npm run bench:retained -- --round-ms 50 --rounds 3   # a shorter, noisier run
 *
 * What is measured
 *   Topics are `site/<s>/device/<d>/<metric>`: 50 devices per site, 4 metrics per device
 *   (temp, humidity, battery, status); 10k topics = 50 sites, 100k = 500 sites. For each size:
 *     match  `#` (every topic), `site/+/device/+/temp` (a quarter), `site/42/#` (one site:
 *            200 topics), and one exact topic. Each op is one match() whose result is iterated
 *            and folded into a checksum, as the broker iterates it to deliver.
 *     write  `set` of a topic already retained (a device re-publishing its state) and a
 *            `set` + `delete` of a new topic (churn), the costs on the publish path.
 *     build  inserting every topic into an empty store, and the heap it then holds.
 *   Each op is first warmed up (--warmup-ms, at least 10 calls) so that it is measured
 *   optimized, as in a broker that has been up a while. Each case then runs --rounds rounds; in a round the scan and the trie run in turn, each for
 *   about --round-ms, with op counts calibrated first. The figures are the median µs per op,
 *   wall clock and CPU time (process.cpuUsage: this process's user + system time, so garbage
 *   collector threads count), and the ratios scan / trie (above 1: the trie is faster). The
 *   CPU figures are the steadier ones on a loaded machine: time spent waiting for a core does
 *   not count. The 1-minute load average is printed before and after.
 */

import os from 'node:os';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { MemoryRetainedStore } from '../../src/persistence/memory/retained.js';
import type { RetainedStore } from '../../src/persistence/retained.js';
import { filterMatches } from '../../src/routing/match.js';

/** The store before the retained index: a Map by topic, matched by a linear scan. */
class ScanRetainedStore<M> implements RetainedStore<M> {
  private readonly messages = new Map<string, M>();
  get size(): number {
    return this.messages.size;
  }
  get(topic: string): M | undefined {
    return this.messages.get(topic);
  }
  set(topic: string, message: M): void {
    this.messages.set(topic, message);
  }
  delete(topic: string): boolean {
    return this.messages.delete(topic);
  }
  *match(filter: string): Iterable<M> {
    for (const [topic, message] of this.messages) if (filterMatches(filter, topic)) yield message;
  }
}

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    rounds: { type: 'string', default: '5' },
    'round-ms': { type: 'string', default: '100' },
    'warmup-ms': { type: 'string', default: '300' },
  },
});
const SIZES = args.sizes.split(',').map(Number);
const ROUNDS = Number(args.rounds);
const ROUND_MS = Number(args['round-ms']);
const WARMUP_MS = Number(args['warmup-ms']);
const WARMUP_CALLS = 10;
const DEVICES_PER_SITE = 50;
const METRICS = ['temp', 'humidity', 'battery', 'status'] as const;
const TOPICS_PER_SITE = DEVICES_PER_SITE * METRICS.length;
const NS_PER_MS = 1e6;
const NS_PER_US = 1e3;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** A retained message stand-in: what the broker's Message is to the store, an object. */
interface Msg {
  readonly topic: string;
  readonly n: number;
}

function topicsFor(size: number): string[] {
  const topics: string[] = [];
  for (let s = 0; topics.length < size; s++) {
    for (let d = 0; d < DEVICES_PER_SITE; d++)
      for (const m of METRICS) topics.push(`site/${s}/device/${d}/${m}`);
  }
  return topics.slice(0, size);
}

function fill(store: RetainedStore<Msg>, topics: readonly string[]): void {
  topics.forEach((topic, n) => {
    store.set(topic, { topic, n });
  });
}

let checksum = 0;

/** Runs op n times; returns ns per op. */
function time(op: () => void, n: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) op();
  return Number(process.hrtime.bigint() - start) / n;
}

/** Runs op n times; returns [wall-clock ns per op, CPU ns per op]. */
function measure(op: () => void, n: number): [wall: number, cpu: number] {
  const cpu = process.cpuUsage();
  const wall = time(op, n);
  const used = process.cpuUsage(cpu);
  return [wall, ((used.user + used.system) * NS_PER_US) / n];
}

/**
 * Runs op for at least WARMUP_MS and WARMUP_CALLS calls, so it is measured optimized (a broker
 * that has been up a while), then returns how many ops make one round of about ROUND_MS.
 */
function calibrate(op: () => void): number {
  const start = process.hrtime.bigint();
  for (
    let calls = 0;
    calls < WARMUP_CALLS || Number(process.hrtime.bigint() - start) < WARMUP_MS * NS_PER_MS;
    calls++
  ) {
    op();
  }
  let n = 1;
  for (;;) {
    const ns = time(op, n) * n;
    if (ns >= (ROUND_MS * NS_PER_MS) / 4) return Math.max(1, Math.round((n * ROUND_MS * NS_PER_MS) / ns));
    n *= 2;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Row {
  size: number;
  name: string;
  results: number | string;
  scanUs: number;
  trieUs: number;
  scanCpuUs: number;
  trieCpuUs: number;
}

/** Scan and trie side by side, alternating within each round. */
function compare(
  size: number,
  name: string,
  results: number | string,
  scan: () => void,
  trie: () => void,
): Row {
  const ops = [scan, trie];
  const counts = ops.map((op) => calibrate(op));
  const wall: number[][] = [[], []];
  const cpu: number[][] = [[], []];
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < ops.length; k++) {
      const i = (k + r) % ops.length; // alternate which side goes first
      gc();
      const [w, c] = measure(ops[i]!, counts[i]!);
      wall[i]!.push(w);
      cpu[i]!.push(c);
    }
  }
  const us = (xs: number[]) => median(xs) / NS_PER_US;
  return {
    size,
    name,
    results,
    scanUs: us(wall[0]!),
    trieUs: us(wall[1]!),
    scanCpuUs: us(cpu[0]!),
    trieCpuUs: us(cpu[1]!),
  };
}

// One function per store class, so that each iteration site sees one kind of result (the
// scan's generator or the trie's array), as the broker's single store does.
function scanMatch(store: ScanRetainedStore<Msg>, filter: string): () => void {
  return () => {
    for (const m of store.match(filter)) checksum = (checksum + m.n) | 0;
  };
}
function trieMatch(store: MemoryRetainedStore<Msg>, filter: string): () => void {
  return () => {
    for (const m of store.match(filter)) checksum = (checksum + m.n) | 0;
  };
}

function heapAfter(build: () => unknown): { ms: number; mb: number; keep: unknown } {
  gc();
  const before = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  const keep = build();
  const ms = Number(process.hrtime.bigint() - start) / NS_PER_MS;
  gc();
  return { ms, mb: (process.memoryUsage().heapUsed - before) / 2 ** 20, keep };
}

function ratio(scan: number, trie: number): string {
  const x = scan / trie;
  return `${x >= 100 ? x.toFixed(0) : x.toFixed(2)}x`;
}

function fmt(us: number): string {
  return us >= 100 ? us.toFixed(0) : us >= 1 ? us.toFixed(2) : us.toFixed(3);
}

function main(): void {
  const loadBefore = os.loadavg()[0]!;
  const rows: Row[] = [];
  const builds: string[] = [];
  for (const size of SIZES) {
    const topics = topicsFor(size);
    const scanBuild = heapAfter(() => {
      const s = new ScanRetainedStore<Msg>();
      fill(s, topics);
      return s;
    });
    const trieBuild = heapAfter(() => {
      const s = new MemoryRetainedStore<Msg>();
      fill(s, topics);
      return s;
    });
    const scan = scanBuild.keep as ScanRetainedStore<Msg>;
    const trie = trieBuild.keep as MemoryRetainedStore<Msg>;
    builds.push(
      `${size} topics: build ${scanBuild.ms.toFixed(1)} ms / ${trieBuild.ms.toFixed(1)} ms, ` +
        `heap ${scanBuild.mb.toFixed(1)} MB / ${trieBuild.mb.toFixed(1)} MB (scan / trie)`,
    );
    const exact = `site/${Math.floor(size / TOPICS_PER_SITE / 2)}/device/7/temp`;
    for (const filter of ['#', 'site/+/device/+/temp', 'site/42/#', exact]) {
      const expected = [...scan.match(filter)].length;
      if ([...trie.match(filter)].length !== expected) throw new Error(`results differ for ${filter}`);
      rows.push(
        compare(
          size,
          filter === exact ? `${filter} (exact)` : filter,
          expected,
          scanMatch(scan, filter),
          trieMatch(trie, filter),
        ),
      );
    }
    let i = 0;
    const update = (store: RetainedStore<Msg>) => () => {
      const topic = topics[i++ % topics.length]!;
      store.set(topic, { topic, n: i });
    };
    rows.push(compare(size, 'set (topic already retained)', '-', update(scan), update(trie)));
    let j = 0;
    const churn = (store: RetainedStore<Msg>) => () => {
      const topic = `site/new/device/${j++}/temp`;
      store.set(topic, { topic, n: j });
      store.delete(topic);
    };
    rows.push(compare(size, 'set + delete (new topic)', '-', churn(scan), churn(trie)));
  }
  const loadAfter = os.loadavg()[0]!;

  console.log(`Retained index micro-benchmark: median µs per op over ${ROUNDS} rounds of ~${ROUND_MS} ms`);
  console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}`);
  console.log(`1-min load average: ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after\n`);
  console.log(
    '| topics | op | results | scan µs | trie µs | scan/trie | scan CPU µs | trie CPU µs | CPU scan/trie |',
  );
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.size} | \`${r.name}\` | ${r.results} | ${fmt(r.scanUs)} | ${fmt(r.trieUs)} | ${ratio(r.scanUs, r.trieUs)} ` +
        `| ${fmt(r.scanCpuUs)} | ${fmt(r.trieCpuUs)} | ${ratio(r.scanCpuUs, r.trieCpuUs)} |`,
    );
  }
  console.log('');
  for (const b of builds) console.log(b);
  console.log(`checksum ${checksum}`);
}

main();
