/**
 * The top of a V8 CPU profile (`node --cpu-prof`, as `npm run bench:e2e -- --cpu-prof` writes
 * for Aviary): self time per function and per file, and the inclusive time of the functions
 * whose name matches --match (e.g. the store's commit), as a share of all samples.
 *
 *   node --import tsx bench/e2e/profile-top.ts <file.cpuprofile> [--top 25] [--match commit,run]
 *
 * Self time is where the samples were taken; "(program)", "(idle)" and "(garbage collector)"
 * are V8's own entries (idle is the event loop waiting). Native code that a JS function calls
 * (better-sqlite3's statements, socket writes) is charged to that JS function's self time.
 */

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, match: { type: 'string', default: '' } },
});
const file = positionals[0];
if (file === undefined) {
  process.stderr.write('usage: profile-top.ts <file.cpuprofile> [--top N] [--match name,name]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const label = (n: ProfileNode): string => {
  const { functionName, url, lineNumber } = n.callFrame;
  const where = url === '' ? '' : ` ${path.basename(url)}:${lineNumber + 1}`;
  return `${functionName || '(anonymous)'}${where}`;
};

/** Time per sample: the delta that follows it (µs). */
const selfTime = new Map<number, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i + 1] ?? 0;
  selfTime.set(id, (selfTime.get(id) ?? 0) + dt);
  total += dt;
});

const selfByFunction = new Map<string, number>();
const selfByFile = new Map<string, number>();
for (const [id, t] of selfTime) {
  const n = byId.get(id)!;
  selfByFunction.set(label(n), (selfByFunction.get(label(n)) ?? 0) + t);
  const f = n.callFrame.url === '' ? n.callFrame.functionName : path.basename(n.callFrame.url);
  selfByFile.set(f, (selfByFile.get(f) ?? 0) + t);
}

const top = Number(values.top);
const pct = (t: number) => `${((t / total) * 100).toFixed(1).padStart(5)}%`;
const print = (title: string, m: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(`${pct(t)}  ${k}\n`);
};
process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s of samples\n`);
print('self time by function', selfByFunction);
print('self time by file', selfByFile);

// Inclusive time: a sample counts once for every distinct matching function on its stack.
const names = values.match.split(',').filter((x) => x !== '');
if (names.length > 0) {
  const inclusive = new Map<string, number>();
  for (const [id, t] of selfTime) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at)!;
      if (names.includes(n.callFrame.functionName)) seen.add(label(n));
    }
    for (const k of seen) inclusive.set(k, (inclusive.get(k) ?? 0) + t);
  }
  print(`inclusive time of ${names.join(', ')}`, inclusive);
}
