/** biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} are authentication placeholders, written as in the configuration. */
/**
 * 52 authentication: the HTTP provider against a real local HTTP service (node:http).
 *
 * The service sees the templated request (POST JSON, POST form, GET query; `${username}`,
 * `${clientid}`, `${password}`, `${peerhost}` and placeholders in the URL path); its answers:
 * 200 allow (+ is_superuser, client_attrs, acl), 200 deny (0x87; 3.1.1 0x05), 200 ignore (the next
 * provider decides), 204 (allow), 500 (ignore), a timeout (ignore), the service down (ignore).
 * Connections to the service are kept alive and reused.
 */

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ClientInfo } from '../../src/broker/types.js';
import type { AviaryConfigInput } from '../../src/config/index.js';
import { closeClients, type StartedBroker, startBroker } from '../helpers/broker.js';
import { type ConnectSpec, rawOpen } from '../helpers/mqtt5.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  socketPort: number;
}

async function connack(port: number, c: ConnectSpec): Promise<number> {
  const { raw, connack } = await rawOpen(port, c);
  await raw.destroy();
  return connack.reasonCode;
}

/** The service: answers by the username it finds in the request (JSON, form or query). */
function authService(requests: Seen[], pending: Set<() => void>): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      requests.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body,
        socketPort: req.socket.remotePort!,
      });
      const url = new URL(req.url!, 'http://x');
      let user = url.searchParams.get('username') ?? '';
      const type = req.headers['content-type'] ?? '';
      if (type.startsWith('application/json'))
        user = (JSON.parse(body) as { username?: string }).username ?? '';
      else if (type.startsWith('application/x-www-form-urlencoded'))
        user = new URLSearchParams(body).get('username') ?? '';
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      switch (user) {
        case 'alice':
          return json(200, {
            result: 'allow',
            is_superuser: true,
            client_attrs: { tenant: 't1' },
            acl: [{ topic: 'a/#' }],
          });
        case 'bob':
          return json(200, { result: 'allow', is_superuser: false });
        case 'eve':
          return json(200, { result: 'deny' });
        case 'nobody':
          return json(200, { result: 'ignore' });
        case 'nocontent':
          res.writeHead(204);
          return res.end();
        case 'broken':
          return json(500, { error: 'boom' });
        case 'text':
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end('allow');
        case 'slow':
          pending.add(() => json(200, { result: 'allow' }));
          return; // answered only when the test ends: the broker's request_timeout fires first
        default:
          return json(200, { result: 'ignore' });
      }
    });
  });
}

describe('52 authentication: HTTP service', () => {
  const requests: Seen[] = [];
  const pending = new Set<() => void>();
  let server: Server;
  let base = '';

  before(async () => {
    server = authService(requests, pending);
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await closeClients();
    for (const answer of pending) answer();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  describe('POST JSON (the default), then a built-in database', () => {
    let b: StartedBroker;
    const seen = new Map<string, ClientInfo>();
    before(async () => {
      b = await startBroker({
        authentication: [
          {
            mechanism: 'password_based',
            backend: 'http',
            url: `${base}/auth/\${clientid}`,
            headers: { 'x-api-key': 'k1' },
            body: {
              username: '${username}',
              password: '${password}',
              clientid: '${clientid}',
              peer: '${peerhost}',
            },
            request_timeout: '300ms',
          },
          { mechanism: 'password_based', backend: 'built_in_database' },
        ],
      } as AviaryConfigInput);
      await b.aviary.authn.builtInUsers!.put('nobody', 'local', false);
      b.aviary.hooks.add('client.connected', (c: ClientInfo) => {
        seen.set(c.clientId, c);
      });
    });
    after(() => b.close());

    test('the service gets the templated request: JSON body, headers, placeholders in the URL path', async () => {
      requests.length = 0;
      assert.equal(await connack(b.port, { clientId: 'dev/1', username: 'alice', password: 'pw' }), 0);
      const r = requests[0]!;
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/auth/dev%2F1');
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['x-api-key'], 'k1');
      assert.deepEqual(JSON.parse(r.body), {
        username: 'alice',
        password: 'pw',
        clientid: 'dev/1',
        peer: '127.0.0.1',
      });
    });

    test('200 allow: is_superuser, client_attrs and acl reach ClientInfo', async () => {
      assert.equal(await connack(b.port, { clientId: 'c-alice', username: 'alice', password: 'pw' }), 0);
      const c = seen.get('c-alice')!;
      assert.equal(c.isSuperuser, true);
      assert.deepEqual(c.clientAttrs, { tenant: 't1' });
      assert.deepEqual(c.authnAcl, [{ topic: 'a/#' }]);
      assert.equal(await connack(b.port, { clientId: 'c-bob', username: 'bob', password: 'pw' }), 0);
      assert.equal(seen.get('c-bob')!.isSuperuser, false);
    });

    test('200 deny: CONNACK 0x87 not authorized (3.1.1: 0x05); the next provider is not asked', async () => {
      assert.equal(await connack(b.port, { clientId: 'c-eve', username: 'eve', password: 'pw' }), 0x87);
      assert.equal(
        await connack(b.port, { version: 4, clientId: 'c-eve', username: 'eve', password: 'pw' }),
        0x05,
      );
    });

    test('200 ignore: the built-in database decides (right password 0, wrong 0x86)', async () => {
      assert.equal(await connack(b.port, { clientId: 'c-n1', username: 'nobody', password: 'local' }), 0);
      assert.equal(await connack(b.port, { clientId: 'c-n2', username: 'nobody', password: 'nope' }), 0x86);
    });

    test('204 No Content: allowed, not a superuser', async () => {
      assert.equal(await connack(b.port, { clientId: 'c-204', username: 'nocontent', password: 'x' }), 0);
      assert.equal(seen.get('c-204')!.isSuperuser, false);
    });

    test('500, or a 200 body that is not JSON: ignored, so with no other match 0x87', async () => {
      assert.equal(await connack(b.port, { clientId: 'c-500', username: 'broken', password: 'x' }), 0x87);
      assert.equal(await connack(b.port, { clientId: 'c-txt', username: 'text', password: 'x' }), 0x87);
    });

    test('no answer within request_timeout: ignored (0x87 here), the broker does not hang', async () => {
      assert.equal(await connack(b.port, { clientId: 'c-slow', username: 'slow', password: 'x' }), 0x87);
    });

    test('connections to the service are kept alive and reused', async () => {
      requests.length = 0;
      for (let i = 0; i < 3; i++)
        await connack(b.port, { clientId: `ka${i}`, username: 'bob', password: 'pw' });
      assert.equal(new Set(requests.map((r) => r.socketPort)).size, 1, 'one socket for three requests');
    });
  });

  describe('GET with a query string, POST as a form', () => {
    let get: StartedBroker;
    test('GET: the body map becomes the query string, no content-type', async () => {
      get = await startBroker({
        authentication: [
          {
            mechanism: 'password_based',
            backend: 'http',
            method: 'get',
            url: `${base}/get?v=1`,
            body: { username: '${username}', c: '${clientid}' },
          },
        ],
      } as AviaryConfigInput);
      try {
        requests.length = 0;
        assert.equal(await connack(get.port, { clientId: 'g 1', username: 'bob', password: 'x' }), 0);
        assert.equal(requests[0]!.method, 'GET');
        assert.equal(requests[0]!.url, '/get?v=1&username=bob&c=g+1');
        assert.equal(requests[0]!.headers['content-type'], undefined);
        assert.equal(await connack(get.port, { clientId: 'g2', username: 'eve', password: 'x' }), 0x87);
      } finally {
        await get.close();
      }
    });

    test('POST with content-type application/x-www-form-urlencoded sends a form', async () => {
      const form = await startBroker({
        authentication: [
          {
            mechanism: 'password_based',
            backend: 'http',
            url: `${base}/form`,
            headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          },
        ],
      } as AviaryConfigInput);
      try {
        requests.length = 0;
        assert.equal(await connack(form.port, { clientId: 'f1', username: 'alice', password: 'p&w=' }), 0);
        assert.equal(requests[0]!.body, 'username=alice&password=p%26w%3D');
      } finally {
        await form.close();
      }
    });
  });

  test('the service down: ignored, so 0x87; the broker keeps serving', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const b = await startBroker({
      authentication: [
        { mechanism: 'password_based', backend: 'http', url: `http://127.0.0.1:${port}/auth` },
      ],
    } as AviaryConfigInput);
    try {
      assert.equal(await connack(b.port, { clientId: 'd1', username: 'alice', password: 'x' }), 0x87);
      assert.equal(await connack(b.port, { clientId: 'd2', username: 'alice', password: 'x' }), 0x87);
    } finally {
      await b.close();
    }
  });
});
