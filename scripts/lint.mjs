#!/usr/bin/env node
// `npm run lint`: the static checks, in order, stopping at the first that fails.
//   1. TypeScript   tsc -p tsconfig.json --noEmit
//   2. Biome        biome check .   (formatting + lint rules of biome.json; `npm run format` fixes format)
//   3. Layers       depcruise --config .dependency-cruiser.cjs src   (the direction of dependencies)
// `npm test` runs this first (scripts/test.mjs).

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

const steps = [
  {
    title: 'TypeScript (tsc -p tsconfig.json --noEmit)',
    cmd: bin('tsc'),
    args: ['-p', 'tsconfig.json', '--noEmit'],
  },
  { title: 'Biome (biome check .)', cmd: bin('biome'), args: ['check', '.'] },
  {
    title: 'Layers (depcruise --config .dependency-cruiser.cjs src)',
    cmd: bin('depcruise'),
    args: ['--config', '.dependency-cruiser.cjs', '--output-type', 'err', 'src'],
  },
];

for (const step of steps) {
  console.log(`\n=== lint: ${step.title}`);
  if (!existsSync(step.cmd)) {
    console.error(`lint: ${step.cmd} is missing: run \`npm ci\` first`);
    process.exit(1);
  }
  const started = Date.now();
  const r = spawnSync(step.cmd, step.args, { cwd: root, stdio: 'inherit' });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (r.error) {
    console.error(`lint: could not run ${step.cmd}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) {
    const how = r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`;
    console.error(`\n=== lint FAILED at: ${step.title} (${how}, ${secs}s)`);
    process.exit(1);
  }
  console.log(`=== ok (${secs}s)`);
}
console.log('\n=== lint: all checks passed');
