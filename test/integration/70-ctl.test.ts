/**
 * 70 ctl: `aviary ctl` run as a subprocess (`node bin/aviary.js ctl ...`, the built dist/) against
 * a running broker's API: tables for people, --json for scripts, exit status 1 on an error.
 * Like 05-cli, before() builds when a file under src/ is newer than dist/.
 */

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ApiBroker, startApiBroker, TEST_KEY, TEST_SECRET } from '../helpers/api.js';
import { closeClients, connectClient, Inbox } from '../helpers/broker.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'aviary.js');
const PROCESS_MS = 20_000;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function distIsStale(): boolean {
  const built = join(ROOT, 'dist', 'cli', 'ctl.js');
  return !existsSync(built) || newestMtime(join(ROOT, 'src')) > statSync(built).mtimeMs;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment without AVIARY_* variables, plus `extra`. */
function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AVIARY_')) out[k] = v;
  return { ...out, ...extra };
}

describe('70 ctl', () => {
  let b: ApiBroker;
  let ctlEnv: NodeJS.ProcessEnv;

  const ctl = (args: string[], e: NodeJS.ProcessEnv = ctlEnv): Promise<Run> =>
    new Promise((resolvePromise) => {
      execFile(
        process.execPath,
        [BIN, 'ctl', ...args],
        { cwd: ROOT, env: e, timeout: PROCESS_MS },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
          resolvePromise({ code, stdout, stderr });
        },
      );
    });

  before(async () => {
    if (distIsStale()) {
      const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
      if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
    }
    b = await startApiBroker();
    ctlEnv = env({ AVIARY_CTL_URL: b.url, AVIARY_CTL_API_KEY: TEST_KEY, AVIARY_CTL_API_SECRET: TEST_SECRET });
  });
  after(async () => {
    await closeClients();
    await b.close();
  });

  test('status (credentials from the environment)', async () => {
    const r = await ctl(['status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Node aviary@127\.0\.0\.1 is started/);
  });

  test('clients list | show | kick, as a table and as JSON', async () => {
    await connectClient(b.port, 5, { clientId: 'ctl-client', username: 'carol' });
    const list = await ctl(['clients', 'list']);
    assert.equal(list.code, 0, list.stderr);
    const [header, ...rows] = list.stdout.trim().split('\n');
    assert.match(header!, /^clientid\s+username\s+peer\s+proto_ver\s+connected/);
    assert.ok(
      rows.some((r) => /^ctl-client\s+carol\s+127\.0\.0\.1:\d+\s+5\s+true/.test(r)),
      list.stdout,
    );
    const json = await ctl(['--json', 'clients', 'list']);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.meta.count, 1);
    const show = await ctl(['--json', 'clients', 'show', 'ctl-client']);
    assert.equal(JSON.parse(show.stdout).username, 'carol');
    const kick = await ctl(['clients', 'kick', 'ctl-client']);
    assert.equal(kick.code, 0, kick.stderr);
    const gone = await ctl(['clients', 'show', 'ctl-client']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /CLIENTID_NOT_FOUND/);
  });

  test('subscriptions add | show | list | del, topics list', async () => {
    const c = await connectClient(b.port, 5, { clientId: 'ctl-sub' });
    const inbox = new Inbox(c);
    assert.equal((await ctl(['subscriptions', 'add', 'ctl-sub', 'ctl/+', '1'])).code, 0);
    const show = await ctl(['subscriptions', 'show', 'ctl-sub']);
    assert.match(show.stdout, /ctl-sub\s+ctl\/\+\s+1/);
    assert.match((await ctl(['subscriptions', 'list'])).stdout, /ctl\/\+/);
    assert.match((await ctl(['topics', 'list'])).stdout, /ctl\/\+/);
    const pub = await ctl(['publish', 'ctl/a', 'from ctl', '--qos', '1']);
    assert.equal(pub.code, 0, pub.stderr);
    assert.match(pub.stdout, /^ok [0-9a-f]{32}/);
    const [m] = await inbox.count(1);
    assert.equal(m!.payload.toString(), 'from ctl');
    assert.equal((await ctl(['subscriptions', 'del', 'ctl-sub', 'ctl/+'])).code, 0);
    assert.doesNotMatch((await ctl(['subscriptions', 'show', 'ctl-sub'])).stdout, /ctl\/\+/);
    assert.equal((await ctl(['subscriptions', 'add', 'ctl-sub', 'x', '7'])).code, 1);
  });

  test('publish --retain, retainer info | topics | clean', async () => {
    assert.equal((await ctl(['publish', 'ctl/kept', 'v', '--retain'])).code, 0);
    const info = await ctl(['--json', 'retainer', 'info']);
    assert.ok(JSON.parse(info.stdout).retained >= 1);
    assert.match((await ctl(['retainer', 'topics'])).stdout, /ctl\/kept/);
    assert.equal((await ctl(['retainer', 'clean', 'ctl/kept'])).code, 0);
    assert.doesNotMatch((await ctl(['retainer', 'topics'])).stdout, /ctl\/kept/);
    const again = await ctl(['retainer', 'clean', 'ctl/kept']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /NOT_FOUND/);
    assert.equal((await ctl(['retainer', 'clean'])).code, 0);
  });

  test('banned add | list | del', async () => {
    assert.equal((await ctl(['banned', 'add', 'clientid', 'ctl-bad', '--reason', 'test'])).code, 0);
    assert.match((await ctl(['banned', 'list'])).stdout, /clientid\s+ctl-bad/);
    assert.equal((await ctl(['banned', 'del', 'clientid', 'ctl-bad'])).code, 0);
    assert.doesNotMatch((await ctl(['banned', 'list'])).stdout, /ctl-bad/);
  });

  test('listeners, metrics, stats', async () => {
    assert.match((await ctl(['listeners'])).stdout, /tcp:default\s+127\.0\.0\.1:\d+\s+true/);
    const metrics = await ctl(['--json', 'metrics']);
    assert.equal(typeof JSON.parse(metrics.stdout)['messages.received'], 'number');
    assert.match((await ctl(['stats'])).stdout, /^connections\.count:\s+\d+$/m);
  });

  test('admins add | passwd | del with a user login (--username/--password)', async () => {
    const asAdmin = ['--username', 'admin', '--password', 'public'];
    assert.equal((await ctl([...asAdmin, 'admins', 'add', 'dave', 'dave-pass-1'])).code, 0);
    assert.equal((await ctl(['--username', 'dave', '--password', 'dave-pass-1', 'status'])).code, 0);
    assert.equal((await ctl([...asAdmin, 'admins', 'passwd', 'dave', 'dave-pass-2'])).code, 0);
    const old = await ctl(['--username', 'dave', '--password', 'dave-pass-1', 'status']);
    assert.equal(old.code, 1);
    assert.match(old.stderr, /BAD_USERNAME_OR_PWD/);
    assert.equal((await ctl([...asAdmin, 'admins', 'del', 'dave'])).code, 0);
    const withKey = await ctl(['admins', 'del', 'admin']);
    assert.equal(withKey.code, 1, 'API keys may not manage users');
    assert.match(withKey.stderr, /API_KEY_NOT_ALLOW/);
  });

  test('errors: exit 1 with the code on stderr; an unreachable broker', async () => {
    const bad = await ctl(['status'], env({ AVIARY_CTL_URL: b.url }));
    assert.equal(bad.code, 0, '/status needs no credentials');
    const noAuth = await ctl(['clients', 'list'], env({ AVIARY_CTL_URL: b.url }));
    assert.equal(noAuth.code, 1);
    assert.match(noAuth.stderr, /AUTHORIZATION_HEADER_ERROR/);
    const away = await ctl(['--url', 'http://127.0.0.1:1', 'status']);
    assert.equal(away.code, 1);
    assert.match(away.stderr, /cannot reach/);
  });
});
