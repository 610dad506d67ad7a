/** biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} are authentication placeholders, written as in the configuration. */
/**
 * 51 authentication: JWT (HMAC secret, RSA public key, JWKS from a real local HTTP server), over
 * real sockets with mqtt.js and raw CONNECTs.
 *
 * Valid tokens connect and their claims reach ClientInfo (jwtClaims, authnAcl, is_superuser);
 * `exp` passed or `nbf` ahead: 0x86; a token signed with another key is not ours (ignore), so
 * with nothing else in the chain 0x87; verify_claims with `${clientid}`; from = username; a JWKS
 * endpoint serving the key, fetched once and cached, a rotated key picked up after
 * refresh_interval, and the endpoint down (ignore).
 */

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportJWK, type JWK, SignJWT } from 'jose';
import type { ClientInfo } from '../../src/broker/types.js';
import type { AviaryConfigInput } from '../../src/config/index.js';
import { closeClients, connectClient, type StartedBroker, startBroker, WAIT_MS } from '../helpers/broker.js';
import { type ConnectSpec, rawOpen } from '../helpers/mqtt5.js';

const SECRET = 'a-very-secret-hmac-key-of-32-bytes!!';
const now = () => Math.floor(Date.now() / 1000);

async function hs256(claims: Record<string, unknown>, secret = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(secret));
}

async function connack(port: number, c: ConnectSpec): Promise<number> {
  const { raw, connack } = await rawOpen(port, c);
  await raw.destroy();
  return connack.reasonCode;
}

describe('51 authentication: JWT', () => {
  after(closeClients);

  describe('HMAC secret, from = password, verify_claims sub = ${clientid}', () => {
    let b: StartedBroker;
    const seen = new Map<string, ClientInfo>();
    before(async () => {
      b = await startBroker({
        authentication: [
          { mechanism: 'jwt', secret: SECRET, verify_claims: { sub: '${clientid}' }, acl_claim_name: 'acl' },
        ],
      } as AviaryConfigInput);
      b.aviary.hooks.add('client.connected', (c: ClientInfo) => {
        seen.set(c.clientId, c);
      });
    });
    after(() => b.close());

    test('a valid token connects (mqtt.js, 5.0 and 3.1.1); claims, acl and is_superuser reach ClientInfo', async () => {
      const acl = [{ permission: 'allow', action: 'publish', topic: 'dev/1/#' }];
      const token = await hs256({ sub: 'dev-1', exp: now() + 60, acl, is_superuser: true });
      await connectClient(b.port, 5, { clientId: 'dev-1', username: 'u', password: token });
      const c = seen.get('dev-1')!;
      assert.equal(c.isSuperuser, true);
      assert.deepEqual(c.authnAcl, acl);
      assert.equal(c.jwtClaims?.sub, 'dev-1');
      const plain = await hs256({ sub: 'dev-2' });
      await connectClient(b.port, 4, { clientId: 'dev-2', username: 'u', password: plain });
      assert.equal(seen.get('dev-2')!.isSuperuser, false);
    });

    test('exp in the past: 0x86 bad username or password (3.1.1: 0x04)', async () => {
      const token = await hs256({ sub: 'dev-3', exp: now() - 10 });
      assert.equal(await connack(b.port, { clientId: 'dev-3', username: 'u', password: token }), 0x86);
      assert.equal(
        await connack(b.port, { version: 4, clientId: 'dev-3', username: 'u', password: token }),
        0x04,
      );
    });

    test('nbf in the future: 0x86', async () => {
      const token = await hs256({ sub: 'dev-4', nbf: now() + 3600 });
      assert.equal(await connack(b.port, { clientId: 'dev-4', username: 'u', password: token }), 0x86);
    });

    test('verify_claims: sub other than the client id, or missing: 0x86', async () => {
      assert.equal(
        await connack(b.port, { clientId: 'dev-5', username: 'u', password: await hs256({ sub: 'dev-6' }) }),
        0x86,
      );
      assert.equal(
        await connack(b.port, { clientId: 'dev-5', username: 'u', password: await hs256({}) }),
        0x86,
      );
    });

    test('a token signed with another secret, or not a JWT, is not ours: ignored, so 0x87 (all ignore)', async () => {
      const forged = await hs256({ sub: 'dev-7' }, 'another-secret-another-secret-12345');
      assert.equal(await connack(b.port, { clientId: 'dev-7', username: 'u', password: forged }), 0x87);
      assert.equal(await connack(b.port, { clientId: 'dev-7', username: 'u', password: 'hunter2' }), 0x87);
      assert.equal(await connack(b.port, { clientId: 'dev-7' }), 0x87);
    });
  });

  describe('RSA public key (PEM), from = username, chained before a built-in database', () => {
    let b: StartedBroker;
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    before(async () => {
      b = await startBroker({
        authentication: [
          {
            mechanism: 'jwt',
            from: 'username',
            algorithm: 'public-key',
            public_key: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          },
          { mechanism: 'password_based', backend: 'built_in_database' },
        ],
      } as AviaryConfigInput);
      await b.aviary.authn.builtInUsers!.put('legacy', 'pw', false);
    });
    after(() => b.close());

    test('an RS256 token in the username connects', async () => {
      const token = await new SignJWT({ sub: 'x' })
        .setProtectedHeader({ alg: 'RS256' })
        .sign(keys.privateKey);
      assert.equal(await connack(b.port, { clientId: 'rsa-1', username: token }), 0);
    });

    test('a username that is not a token goes on to the next provider', async () => {
      assert.equal(await connack(b.port, { clientId: 'rsa-2', username: 'legacy', password: 'pw' }), 0);
      assert.equal(await connack(b.port, { clientId: 'rsa-3', username: 'legacy', password: 'no' }), 0x86);
    });

    test('an HS256 token made with the public key as secret (algorithm confusion) is refused', async () => {
      const pem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const token = await new SignJWT({ sub: 'x' })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(Buffer.from(pem));
      assert.equal(await connack(b.port, { clientId: 'rsa-4', username: token }), 0x87);
    });
  });

  describe('JWKS endpoint (a real local HTTP server)', () => {
    let b: StartedBroker;
    let server: Server;
    let fetches = 0;
    const first = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const second = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let published: JWK[] = [];

    before(async () => {
      published = [{ ...(await exportJWK(first.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }];
      server = createServer((_req, res) => {
        fetches++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: published }));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      b = await startBroker({
        authentication: [
          {
            mechanism: 'jwt',
            use_jwks: true,
            endpoint: `http://127.0.0.1:${port}/jwks.json`,
            refresh_interval: '5m',
          },
        ],
      } as AviaryConfigInput);
    });
    after(async () => {
      await b.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });

    const es256 = (key: typeof first.privateKey, kid: string, claims: Record<string, unknown> = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).sign(key);

    test('a token signed by a published key connects; the key set is fetched once and cached', async () => {
      assert.equal(
        await connack(b.port, { clientId: 'j1', password: await es256(first.privateKey, 'k1') }),
        0,
      );
      assert.equal(
        await connack(b.port, { clientId: 'j2', password: await es256(first.privateKey, 'k1') }),
        0,
      );
      assert.equal(fetches, 1);
    });

    test('an expired token from the endpoint key: 0x86; a key not published: 0x87', async () => {
      const expired = await es256(first.privateKey, 'k1', { exp: now() - 5 });
      assert.equal(await connack(b.port, { clientId: 'j3', password: expired }), 0x86);
      assert.equal(
        await connack(b.port, { clientId: 'j4', password: await es256(second.privateKey, 'k1') }),
        0x87,
      );
    });

    test('a rotated key (new kid) is picked up once refresh_interval has passed', async () => {
      // A second broker refreshing every 100 ms: it retries until the refreshed set has k2.
      const port = (server.address() as AddressInfo).port;
      const quick = await startBroker({
        authentication: [
          {
            mechanism: 'jwt',
            use_jwks: true,
            endpoint: `http://127.0.0.1:${port}/`,
            refresh_interval: '100ms',
          },
        ],
      } as AviaryConfigInput);
      try {
        assert.equal(
          await connack(quick.port, { clientId: 'r1', password: await es256(first.privateKey, 'k1') }),
          0,
        );
        published = [
          ...published,
          { ...(await exportJWK(second.publicKey)), kid: 'k2', alg: 'ES256', use: 'sig' },
        ];
        const token = await es256(second.privateKey, 'k2');
        const deadline = Date.now() + WAIT_MS;
        let code = -1;
        while (code !== 0 && Date.now() < deadline) {
          code = await connack(quick.port, { clientId: 'r2', password: token });
          if (code !== 0) await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(code, 0);
      } finally {
        await quick.close();
      }
    });
  });

  test('the JWKS endpoint down: ignored (0x87 with nothing else), not an error', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise((r) => server.close(r)); // nothing listens there now
    const b = await startBroker({
      authentication: [{ mechanism: 'jwt', use_jwks: true, endpoint: `http://127.0.0.1:${port}/jwks` }],
    } as AviaryConfigInput);
    try {
      const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'a' }).sign(k.privateKey);
      assert.equal(await connack(b.port, { clientId: 'down', password: token }), 0x87);
    } finally {
      await b.close();
    }
  });
});
