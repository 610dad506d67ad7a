#!/usr/bin/env node
// `npm test`: the whole test command, the one .ci/run calls.
//
//   1. node scripts/lint.mjs          (tsc, biome, depcruise): stops here if it fails
//   2. bash scripts/services.sh start  installs/starts the real tools and servers tests need
//      npm run build                   when test/integration is among the files (the CLI tests run dist/)
//   3. node's test runner over every test/**/*.test.ts (test/e2e included once it exists), run by
//        node --enable-source-maps --import tsx --test --test-reporter=spec --test-reporter-destination=stdout
//             --test-reporter=tap --test-reporter-destination=.ci/out/test.tap
//             --test-concurrency=2 --test-timeout=<file timeout> <files...>
//   4. prints node's summary again (so that it ends the output: node 20's spec reporter prints the
//      list of failing tests after it) and then a last line `N passed, N failed`.
//
// Usage:
//   npm test                               everything
//   npm test -- test/unit                  only the test files under the given files/directories
//   npm test -- test/unit --test-name-pattern=trie
//                                          arguments starting with `--` go to `node --test` as they are
//
// Environment:
//   AVIARY_SKIP_LINT=1          skip step 1, for quick local loops (CI never sets it)
//   AVIARY_TEST_FILE_TIMEOUT    milliseconds one test *file* may take (default 120000). On Node 20
//                               `--test-timeout` limits each file's whole run, not each test (the
//                               child processes get no default timeout), so a hung test fails its
//                               file after this long; a test that needs its own limit passes
//                               `{ timeout }` to test()/describe().
//   AVIARY_TEST_TOTAL_TIMEOUT   seconds the whole test run may take before it is killed (default
//                               840 = 14 minutes: CI allows 15).
//
// The exit code is non-zero if lint fails, the services script fails, any test fails, is cancelled
// or times out, or no test file is found.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

const FILE_TIMEOUT_MS = positiveInt('AVIARY_TEST_FILE_TIMEOUT', 120_000);
const TOTAL_TIMEOUT_S = positiveInt('AVIARY_TEST_TOTAL_TIMEOUT', 840);
const CONCURRENCY = 2;
const TAP_FILE = join('.ci', 'out', 'test.tap');
/** Directories never searched for tests. */
const SKIP_DIRS = new Set(['node_modules', 'fixtures']);

function positiveInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) fail(`${name} must be a positive integer, not '${raw}'`);
  return n;
}

function fail(message) {
  console.error(`\ntest: ${message}`);
  process.exit(1);
}

function header(text) {
  console.log(`\n=== ${text}`);
}

// ---------------------------------------------------------------------------------------------
// Arguments: paths select test files; `--flags` go to node's test runner.

const nodeFlags = [];
const selectors = [];
for (const arg of process.argv.slice(2)) {
  if (arg.startsWith('--')) nodeFlags.push(arg);
  else selectors.push(arg);
}

/** Every *.test.ts under dir, recursively, skipping dot-directories and SKIP_DIRS. */
function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && !SKIP_DIRS.has(entry.name)) found.push(...findTests(path));
    } else if (entry.isFile() && entry.name.endsWith('.test.ts')) {
      found.push(path);
    }
  }
  return found;
}

function selectFiles() {
  const roots = selectors.length > 0 ? selectors : ['test'];
  const files = new Set();
  for (const sel of roots) {
    const abs = resolve(root, sel);
    if (!existsSync(abs)) fail(`no such file or directory: ${sel}`);
    const rel = relative(root, abs) || '.';
    if (statSync(abs).isDirectory()) {
      const inDir = findTests(rel);
      if (inDir.length === 0) fail(`no *.test.ts files under ${sel}`);
      for (const f of inDir) files.add(f);
    } else {
      files.add(rel);
    }
  }
  return [...files].map((f) => f.split(sep).join('/')).sort();
}

// Chosen first, so that a mistyped path fails at once.
const files = selectFiles();
if (files.length === 0) fail('no test files found (test/**/*.test.ts)');

// ---------------------------------------------------------------------------------------------
// 1. lint

if (process.env.AVIARY_SKIP_LINT === '1') {
  header('lint skipped (AVIARY_SKIP_LINT=1)');
} else {
  const lint = spawnSync(process.execPath, [join('scripts', 'lint.mjs')], { stdio: 'inherit' });
  if (lint.status !== 0) fail('lint failed (see above): tests were not run');
}

// ---------------------------------------------------------------------------------------------
// 2. services

header('services: bash scripts/services.sh start');
const services = spawnSync('bash', [join('scripts', 'services.sh'), 'start'], { stdio: 'inherit' });
if (services.error) fail(`could not run bash scripts/services.sh: ${services.error.message}`);
if (services.status !== 0) fail('bash scripts/services.sh failed (see above): tests were not run');

// ---------------------------------------------------------------------------------------------
// 2b. build: the CLI tests (test/integration/05-cli) run bin/aviary.js, which runs dist/.

if (files.some((f) => f.startsWith('test/integration/'))) {
  header('build: npm run build');
  const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  if (build.error) fail(`could not run npm run build: ${build.error.message}`);
  if (build.status !== 0) fail('npm run build failed (see above): tests were not run');
}

// ---------------------------------------------------------------------------------------------
// 3. tests

mkdirSync(dirname(TAP_FILE), { recursive: true });

const args = [
  '--enable-source-maps', // failure locations in .ts lines (without it node reports tsx's output lines)
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  '--test-reporter=tap',
  `--test-reporter-destination=${TAP_FILE}`,
  `--test-concurrency=${CONCURRENCY}`,
  `--test-timeout=${FILE_TIMEOUT_MS}`,
  ...nodeFlags,
  ...files,
];
header(`tests: ${files.length} file(s), concurrency ${CONCURRENCY}, ${FILE_TIMEOUT_MS} ms per file`);
console.log(`node ${args.join(' ')}\n`);

const env = { ...process.env };
if (process.stdout.isTTY && env.NO_COLOR === undefined) env.FORCE_COLOR ??= '1';

// Its own process group, so that a timeout or Ctrl-C stops the runner and every test file it spawned.
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env, detached: true });

let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-256 * 1024);
});

let timedOut = false;
const killGroup = (signal) => {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
};
const watchdog = setTimeout(() => {
  timedOut = true;
  console.error(`\ntest: the test run exceeded ${TOTAL_TIMEOUT_S}s (AVIARY_TEST_TOTAL_TIMEOUT): stopping it`);
  killGroup('SIGTERM');
  setTimeout(() => killGroup('SIGKILL'), 5000).unref();
}, TOTAL_TIMEOUT_S * 1000);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    killGroup(signal);
    setTimeout(() => process.exit(1), 5000).unref();
  });
}

const { code, signal } = await new Promise((done) => {
  child.on('close', (code, signal) => done({ code, signal }));
});
clearTimeout(watchdog);

// ---------------------------------------------------------------------------------------------
// 4. summary

const KEYS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms'];

/** The last value of each summary key in text; keys absent from text are missing. */
function parseSummary(text, prefix) {
  const found = {};
  const re = new RegExp(`^${prefix} (${KEYS.join('|')}) ([0-9.]+)\\s*$`, 'gm');
  for (const m of text.matchAll(re)) found[m[1]] = Number(m[2]);
  return 'pass' in found && 'fail' in found ? found : undefined;
}

const plain = tail.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
let summary = parseSummary(plain, 'ℹ');
let summaryPrefix = 'ℹ';
if (!summary && existsSync(TAP_FILE)) {
  summary = parseSummary(readFileSync(TAP_FILE, 'utf8'), '#');
  summaryPrefix = '#';
}

header('summary');
if (!summary) {
  const how = signal ? `killed by ${signal}` : `exit code ${code}`;
  console.log(
    `test: node's test runner printed no summary (${how})${timedOut ? ' after the total timeout' : ''}`,
  );
  console.log('0 passed, 1 failed');
  process.exit(1);
}
for (const key of KEYS) {
  if (key in summary) console.log(`${summaryPrefix} ${key} ${summary[key]}`);
}
const passed = summary.pass;
const cancelled = summary.cancelled ?? 0;
let failed = summary.fail + cancelled; // node counts a timed-out or killed test file as cancelled
if (cancelled > 0) console.log(`(${cancelled} cancelled: timed out or interrupted, counted as failed)`);
if (timedOut) console.log(`(the run was stopped after ${TOTAL_TIMEOUT_S}s)`);
const runnerFailed = code !== 0 || signal !== null || timedOut;
if (runnerFailed && failed === 0) {
  // Keep the last line honest when node failed outside any test (e.g. the run was stopped).
  console.log(`(node's test runner ended with ${signal ? `signal ${signal}` : `exit code ${code}`})`);
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(runnerFailed || failed > 0 ? 1 : 0);
