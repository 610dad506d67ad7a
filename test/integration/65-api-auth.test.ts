/**
 * 65 api auth: who may use the management API, and EMQX's answers when they may not.
 * API keys (Basic), the bootstrap key file read at the first start, users who log in for a
 * Bearer token (logout, expiry), roles, and the endpoints that need no credentials.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ApiBroker, BASIC, startApiBroker, TEST_KEY } from '../helpers/api.js';

const basic = (key: string, secret: string): string =>
  `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;

describe('65 api auth', () => {
  let b: ApiBroker;
  before(async () => {
    b = await startApiBroker();
  });
  after(() => b.close());

  const login = async (username: string, password: string): Promise<string> => {
    const res = await b.post('/login', { username, password }, { authorization: '' });
    assert.equal(res.status, 200, res.text);
    return res.body.token as string;
  };

  test('the bootstrap key file works from the first start (EMQX name from_bootstrap_file_<hash>)', async () => {
    const res = await b.get('/clients');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.meta, { page: 1, limit: 100, count: 0, hasnext: false });
    const admin = await login('admin', 'public');
    const keys = await b.get('/api_key', { authorization: `Bearer ${admin}` });
    const boot = keys.body.find((k: { api_key: string }) => k.api_key === TEST_KEY);
    assert.match(boot.name, /^from_bootstrap_file_[0-9a-f]{16}$/);
    assert.equal(boot.desc, 'Bootstrapped From File');
    assert.equal(boot.expired_at, 'infinity');
  });

  test('401 AUTHORIZATION_HEADER_ERROR without credentials', async () => {
    const res = await b.get('/clients', { authorization: '' });
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'AUTHORIZATION_HEADER_ERROR');
    assert.equal(typeof res.body.message, 'string');
  });

  test('401 BAD_API_KEY_OR_SECRET for a wrong secret and an unknown key', async () => {
    for (const auth of [basic(TEST_KEY, 'wrong'), basic('nobody', 'x'), 'Basic !!!']) {
      const res = await b.get('/clients', { authorization: auth });
      assert.equal(res.status, 401);
      assert.equal(res.body.code, 'BAD_API_KEY_OR_SECRET');
    }
  });

  test('401 BAD_TOKEN for a token never issued', async () => {
    const res = await b.get('/clients', { authorization: 'Bearer not-a-token' });
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'BAD_TOKEN');
  });

  test('401 BAD_USERNAME_OR_PWD for a wrong password at login', async () => {
    const res = await b.post('/login', { username: 'admin', password: 'nope' }, { authorization: '' });
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'BAD_USERNAME_OR_PWD');
  });

  test('login gives {token, version, license, role}; the token works until logout, then BAD_TOKEN', async () => {
    const res = await b.post('/login', { username: 'admin', password: 'public' }, { authorization: '' });
    assert.equal(res.status, 200);
    assert.equal(typeof res.body.token, 'string');
    assert.deepEqual(res.body.license, { edition: 'opensource' });
    assert.equal(res.body.role, 'administrator');
    assert.equal(typeof res.body.version, 'string');
    const bearer = { authorization: `Bearer ${res.body.token}` };
    assert.equal((await b.get('/clients', bearer)).status, 200);
    assert.equal((await b.post('/logout', undefined, bearer)).status, 204);
    const after = await b.get('/clients', bearer);
    assert.equal(after.status, 401);
    assert.equal(after.body.code, 'BAD_TOKEN');
  });

  test('401 API_KEY_NOT_ALLOW: API keys cannot manage users, API keys or log out (as in EMQX)', async () => {
    for (const [method, path] of [
      ['GET', '/users'],
      ['GET', '/api_key'],
      ['POST', '/logout'],
    ] as const) {
      const res = await b.request(method, path, undefined, { authorization: BASIC });
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal(res.body.code, 'API_KEY_NOT_ALLOW');
    }
  });

  test('API keys: create (secret once), use, disable, expire, update, delete', async () => {
    const admin = { authorization: `Bearer ${await login('admin', 'public')}` };
    const created = await b.post('/api_key', { name: 'ops', desc: 'for scripts' }, admin);
    assert.equal(created.status, 200, created.text);
    const { api_key: key, api_secret: secret } = created.body;
    assert.equal(typeof secret, 'string');
    assert.equal(created.body.enable, true);
    assert.equal((await b.get('/clients', { authorization: basic(key, secret) })).status, 200);

    const shown = await b.get('/api_key/ops', admin);
    assert.equal(shown.body.api_key, key);
    assert.equal(shown.body.api_secret, undefined, 'the secret is shown only once');
    assert.equal((await b.post('/api_key', { name: 'ops' }, admin)).body.code, 'ALREADY_EXISTS');

    await b.request('PUT', '/api_key/ops', { enable: false }, admin);
    const disabled = await b.get('/clients', { authorization: basic(key, secret) });
    assert.equal(disabled.body.code, 'BAD_API_KEY_OR_SECRET');

    await b.request(
      'PUT',
      '/api_key/ops',
      { enable: true, expired_at: new Date(Date.now() - 1000).toISOString() },
      admin,
    );
    const expired = await b.get('/clients', { authorization: basic(key, secret) });
    assert.equal(expired.status, 401);
    assert.equal(expired.body.code, 'BAD_API_KEY_OR_SECRET');
    assert.equal((await b.get('/api_key/ops', admin)).body.expired, true);

    await b.request('PUT', '/api_key/ops', { expired_at: 'infinity' }, admin);
    assert.equal((await b.get('/clients', { authorization: basic(key, secret) })).status, 200);

    assert.equal((await b.request('DELETE', '/api_key/ops', undefined, admin)).status, 204);
    assert.equal((await b.get('/clients', { authorization: basic(key, secret) })).status, 401);
    assert.equal((await b.get('/api_key/ops', admin)).body.code, 'NOT_FOUND');
  });

  test('users: create, log in, change password (old one refused after), viewer role, delete', async () => {
    const admin = { authorization: `Bearer ${await login('admin', 'public')}` };
    const weak = await b.post('/users', { username: 'alice', password: 'short' }, admin);
    assert.equal(weak.status, 400);
    assert.equal(weak.body.code, 'BAD_REQUEST');
    const made = await b.post(
      '/users',
      { username: 'alice', password: 'alice-pass-1', role: 'viewer' },
      admin,
    );
    assert.deepEqual(made.body, { username: 'alice', description: '', role: 'viewer', backend: 'local' });
    assert.equal(
      (await b.post('/users', { username: 'alice', password: 'alice-pass-1' }, admin)).status,
      409,
    );

    const alice = { authorization: `Bearer ${await login('alice', 'alice-pass-1')}` };
    assert.equal((await b.get('/clients', alice)).status, 200, 'a viewer reads');
    const denied = await b.post('/publish', { topic: 't', payload: 'x' }, alice);
    assert.equal(denied.status, 403, 'a viewer does not publish');
    assert.equal(denied.body.code, 'UNAUTHORIZED_ROLE');

    const changed = await b.request(
      'PUT',
      '/users/alice/change_pwd',
      { old_pwd: 'alice-pass-1', new_pwd: 'alice-pass-2' },
      alice,
    );
    assert.equal(changed.status, 204, changed.text);
    assert.equal((await b.get('/clients', alice)).body.code, 'BAD_TOKEN', 'a password change revokes tokens');
    assert.equal(
      (await b.post('/login', { username: 'alice', password: 'alice-pass-1' }, { authorization: '' })).status,
      401,
    );
    await login('alice', 'alice-pass-2');

    assert.equal((await b.request('DELETE', '/users/alice', undefined, admin)).status, 204);
    assert.equal(
      (await b.post('/login', { username: 'alice', password: 'alice-pass-2' }, { authorization: '' })).status,
      401,
    );
    assert.equal((await b.request('DELETE', '/users/alice', undefined, admin)).status, 404);
  });

  test('/status and /prometheus/stats need no credentials; the OpenAPI document is served', async () => {
    const status = await b.get('/status', { authorization: '' });
    assert.equal(status.status, 200);
    assert.match(status.text, /is started/);
    const root = await fetch(`${b.url}/status`);
    assert.equal(root.status, 200);
    assert.equal((await b.get('/prometheus/stats', { authorization: '' })).status, 200);
    const doc = await fetch(`${b.url}/api-docs/json`);
    assert.equal(doc.status, 200);
    const spec = (await doc.json()) as { openapi: string; paths: Record<string, unknown> };
    assert.match(spec.openapi, /^3\./);
    assert.ok(
      '/api/v5/clients/{clientid}' in spec.paths || '/clients/{clientid}' in spec.paths,
      Object.keys(spec.paths).join(),
    );
  });
});

describe('65 api auth: prometheus.enable_basic_auth', () => {
  let b: ApiBroker;
  before(async () => {
    b = await startApiBroker({
      prometheus: { enable_basic_auth: true },
      dashboard: { default_password: 'from-config-1' },
    });
  });
  after(() => b.close());

  test('the scrape then needs credentials', async () => {
    assert.equal((await b.get('/prometheus/stats', { authorization: '' })).status, 401);
    assert.equal((await b.get('/prometheus/stats')).status, 200);
  });

  test('dashboard.default_password sets the admin password', async () => {
    assert.equal(
      (await b.post('/login', { username: 'admin', password: 'public' }, { authorization: '' })).status,
      401,
    );
    assert.equal(
      (await b.post('/login', { username: 'admin', password: 'from-config-1' }, { authorization: '' }))
        .status,
      200,
    );
  });
});

describe('65 api auth: token expiry', () => {
  let b: ApiBroker;
  before(async () => {
    b = await startApiBroker({ dashboard: { token_expired_time: '1s' } });
  });
  after(() => b.close());

  test('401 TOKEN_TIME_OUT once dashboard.token_expired_time has passed', async () => {
    const res = await b.post('/login', { username: 'admin', password: 'public' }, { authorization: '' });
    const bearer = { authorization: `Bearer ${res.body.token}` };
    assert.equal((await b.get('/clients', bearer)).status, 200);
    // Polls (no fixed sleep) until the token is refused; a generous deadline only turns a hang into a failure.
    let last = await b.get('/clients', bearer);
    const deadline = Date.now() + 10_000;
    while (last.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      last = await b.get('/clients', bearer);
    }
    assert.equal(last.status, 401);
    assert.equal(last.body.code, 'TOKEN_TIME_OUT');
  });
});
