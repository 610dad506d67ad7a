/**
 * 05 cli: the `aviary` command as users run it, `node bin/aviary.js ...`, which runs the built
 * dist/. `npm test` builds before running integration tests (scripts/test.mjs); when this file
 * runs alone, before() builds if any file under src/ is newer than dist/, so these tests always
 * run the current sources.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { IDisconnectPacket } from 'mqtt';
import { closeClients, connectClient, within } from '../helpers/broker.js';
import { ReasonCode } from '../../src/protocol/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'aviary.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Starting a Node process and the broker in it may be slow on a loaded machine. */
const PROCESS_MS = 20_000;

/** A port that was free a moment ago: listen on port 0, note the port, close. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** The environment without AVIARY_* variables (those of the test runner would be read as config). */
const DATA_DIR = mkdtempSync(join(tmpdir(), 'aviary-cli-'));
after(() => rmSync(DATA_DIR, { recursive: true, force: true }));

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AVIARY_')) env[k] = v;
  // The default ws listener (8083) on an ephemeral port, so parallel runs do not collide.
  // The management API (18083) too: ephemeral, on loopback.
  return {
    ...env,
    AVIARY_LISTENERS__WS__DEFAULT__BIND: '127.0.0.1:0',
    AVIARY_DASHBOARD__LISTENERS__HTTP__BIND: '127.0.0.1:0',
    // The durable store in a directory of this file's own, not data/ in the working tree.
    AVIARY_NODE__DATA_DIR: DATA_DIR,
    ...extra,
  };
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running `node bin/aviary.js ...` with its output so far. */
class Aviary {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private waiters: Array<() => void> = [];

  constructor(args: string[], env: NodeJS.ProcessEnv = cleanEnv()) {
    this.child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this.child);
    this.child.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString('utf8');
      this.wake();
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString('utf8');
      this.wake();
    });
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code, signal) => {
        running.delete(this.child);
        this.wake();
        resolve({ code, signal });
      }),
    );
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Waits until stdout matches `re`; rejects if the process exits first. */
  async waitStdout(re: RegExp, ms = PROCESS_MS): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.stdout);
      if (m !== null) return m;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`aviary exited before printing ${re}: ${this.output()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re}: ${this.output()}`);
      await within(new Promise<void>((r) => this.waiters.push(r)), left, `${re} on stdout`).catch(() => {});
    }
  }

  /** Waits for "Aviary <version> started: tcp:default on <host>:<port>". */
  async started(): Promise<number> {
    const m = await this.waitStdout(/Aviary \S+ started: tcp:default on 127\.0\.0\.1:(\d+)/);
    return Number(m[1]);
  }

  async exit(ms = PROCESS_MS): Promise<Exit> {
    return within(this.exited, ms, `aviary to exit; ${this.output()}`);
  }

  output(): string {
    return `stdout: ${JSON.stringify(this.stdout)}; stderr: ${JSON.stringify(this.stderr)}`;
  }
}

/** Newest modification time of the files under `dir`, in ms. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** True when dist/ is missing or older than a file under src/ (tsc rewrites every output). */
function distIsStale(): boolean {
  const built = join(ROOT, 'dist', 'cli', 'aviary.js');
  if (!existsSync(built)) return true;
  return newestMtime(join(ROOT, 'src')) > statSync(built).mtimeMs;
}

const running = new Set<ChildProcess>();
const tempDirs: string[] = [];

/** Writes an aviary.conf into a fresh temporary directory and returns its path. */
function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'aviary-cli-'));
  tempDirs.push(dir);
  const file = join(dir, 'aviary.conf');
  writeFileSync(file, text);
  return file;
}

describe('05 cli', () => {
  before(() => {
    // bin/aviary.js imports dist/cli/aviary.js: make sure it is built from the current sources.
    if (!distIsStale()) return;
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
    if (build.status !== 0) {
      throw new Error(
        `npm run build failed (${build.status ?? build.signal}):\n${build.stdout}\n${build.stderr}`,
      );
    }
  });

  after(async () => {
    await closeClients();
    for (const child of running) child.kill('SIGKILL');
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });

  test("--version prints package.json's version", async () => {
    const aviary = new Aviary(['--version']);
    const exit = await aviary.exit();
    assert.deepEqual(exit, { code: 0, signal: null }, aviary.output());
    assert.equal(aviary.stdout.trim(), VERSION);
  });

  test('start --config <aviary.conf> listens where the HOCON file says and accepts an MQTT.js client', async () => {
    const port = await freePort();
    const file = writeConfig(
      [
        '# written by 05-cli.test.ts',
        'listeners.tcp.default {',
        `  bind = "127.0.0.1:${port}"`,
        '}',
        'log.console.level = warning',
        '',
      ].join('\n'),
    );
    const aviary = new Aviary(['start', '--config', file]);
    assert.equal(await aviary.started(), port);
    const client = await connectClient(port, 5);
    assert.equal(client.connected, true);
    await client.endAsync();
    aviary.child.kill('SIGTERM');
    assert.deepEqual(await aviary.exit(), { code: 0, signal: null }, aviary.output());
  });

  test('AVIARY_LISTENERS__TCP__DEFAULT__BIND sets the listener address', async () => {
    const port = await freePort();
    const aviary = new Aviary(
      ['start'],
      cleanEnv({ AVIARY_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}` }),
    );
    assert.equal(await aviary.started(), port);
    const client = await connectClient(port, 4);
    assert.equal(client.connected, true);
    await client.endAsync();
    aviary.child.kill('SIGTERM');
    assert.deepEqual(await aviary.exit(), { code: 0, signal: null }, aviary.output());
  });

  test('the environment overrides the configuration file', async () => {
    const [filePort, envPort] = [await freePort(), await freePort()];
    const file = writeConfig(`listeners.tcp.default.bind = "127.0.0.1:${filePort}"\n`);
    const aviary = new Aviary(
      ['start', '--config', file],
      cleanEnv({ AVIARY_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${envPort}` }),
    );
    assert.equal(await aviary.started(), envPort);
    aviary.child.kill('SIGTERM');
    assert.deepEqual(await aviary.exit(), { code: 0, signal: null }, aviary.output());
  });

  describe('invalid configuration: exits non-zero and names the key on stderr', () => {
    for (const [line, key] of [
      ['mqtt.max_inflight = -1', 'mqtt.max_inflight'],
      ['listeners.tcp.default.bind = "abc"', 'listeners.tcp.default.bind'],
    ] as const) {
      test(line, async () => {
        const aviary = new Aviary(['start', '--config', writeConfig(`${line}\n`)]);
        const exit = await aviary.exit();
        assert.notEqual(exit.code, 0, aviary.output());
        assert.ok(aviary.stderr.includes(key), `stderr names ${key}: ${aviary.output()}`);
        assert.doesNotMatch(aviary.stdout, /started/);
      });
    }

    test('AVIARY_MQTT__MAX_INFLIGHT=-1 (from the environment)', async () => {
      const aviary = new Aviary(['start'], cleanEnv({ AVIARY_MQTT__MAX_INFLIGHT: '-1' }));
      const exit = await aviary.exit();
      assert.notEqual(exit.code, 0, aviary.output());
      assert.ok(aviary.stderr.includes('mqtt.max_inflight'), aviary.output());
      assert.ok(aviary.stderr.includes('AVIARY_MQTT__MAX_INFLIGHT'), aviary.output());
    });

    test('a configuration file that does not exist', async () => {
      const missing = join(tmpdir(), 'aviary-cli-no-such-dir', 'aviary.conf');
      const aviary = new Aviary(['start', '--config', missing]);
      const exit = await aviary.exit();
      assert.notEqual(exit.code, 0, aviary.output());
      assert.ok(aviary.stderr.includes(missing), aviary.output());
    });
  });

  describe('signals', () => {
    test('SIGTERM: a 5.0 client receives DISCONNECT 0x8B (server shutting down) and the process exits 0', async () => {
      const port = await freePort();
      const aviary = new Aviary(
        ['start'],
        cleanEnv({ AVIARY_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}` }),
      );
      await aviary.started();
      const v5 = await connectClient(port, 5);
      const v4 = await connectClient(port, 4);
      const disconnect = within(
        new Promise<IDisconnectPacket>((r) => v5.once('disconnect', r)),
        PROCESS_MS,
        'DISCONNECT from the broker',
      );
      const v4Closed = within(
        new Promise<void>((r) => v4.once('close', () => r())),
        PROCESS_MS,
        'the 3.1.1 connection to close',
      );
      // Both are awaited below; until then a rejection must not count as unhandled.
      disconnect.catch(() => {});
      v4Closed.catch(() => {});
      aviary.child.kill('SIGTERM');
      const packet = await disconnect;
      assert.equal(packet.reasonCode, ReasonCode.ServerShuttingDown);
      await v4Closed; // 3.1.1 has no DISCONNECT from the server: the connection is closed
      assert.deepEqual(await aviary.exit(), { code: 0, signal: null }, aviary.output());
      assert.match(aviary.stdout, /Aviary stopping \(SIGTERM\)/);
    });

    test('SIGINT: the process exits 0', async () => {
      const port = await freePort();
      const aviary = new Aviary(
        ['start'],
        cleanEnv({ AVIARY_LISTENERS__TCP__DEFAULT__BIND: `127.0.0.1:${port}` }),
      );
      await aviary.started();
      const client = await connectClient(port, 5);
      const closed = within(
        new Promise<void>((r) => client.once('close', () => r())),
        PROCESS_MS,
        'the connection to close',
      );
      closed.catch(() => {}); // awaited below
      aviary.child.kill('SIGINT');
      assert.deepEqual(await aviary.exit(), { code: 0, signal: null }, aviary.output());
      assert.match(aviary.stdout, /Aviary stopping \(SIGINT\)/);
      await closed;
    });
  });
});
