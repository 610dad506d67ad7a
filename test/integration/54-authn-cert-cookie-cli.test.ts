/** biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} are authentication placeholders, written as in the configuration. */
/**
 * 54 authentication: TLS client certificates, browser cookies over WebSocket, and the `aviary
 * users` command.
 *
 *  - `mechanism = cert` on an ssl listener with verify_peer: a client whose certificate CN is its
 *    username is allowed, another username is not (0x87), and `${cert_common_name}` reaches an
 *    HTTP service.
 *  - WebSocket clients (mqtt.js over ws with a Cookie header): a JWT in a cookie (`from = cookie`),
 *    and `${cookie.NAME}` sent to an HTTP service.
 *  - `aviary users add|passwd|del|list` on the durable store (SQLite, the default) while a broker
 *    runs: the broker sees a change at the next CONNECT; `--scram` adds SCRAM users; and with
 *    `--file`, editing a bootstrap file that a broker then loads at start.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import mqtt from 'mqtt';
import { BootstrapFileAdmin, StoreUserAdmin } from '../../src/auth/index.js';
import { adminFor } from '../../src/cli/users.js';
import type { AviaryConfigInput } from '../../src/config/index.js';
import { type AuthPacket, type ConnackPacket, PacketType, ReasonCode } from '../../src/protocol/index.js';
import {
  closeClients,
  connectClient,
  rawClient,
  type StartedBroker,
  startBroker,
  WAIT_MS,
  within,
} from '../helpers/broker.js';
import { authFrame, type ConnectSpec, connectFrame, prop, rawOpen } from '../helpers/mqtt5.js';
import { ScramClient } from '../helpers/scram-client.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'aviary-authn54-'));

async function connack(port: number, c: ConnectSpec): Promise<number> {
  const { raw, connack } = await rawOpen(port, c);
  await raw.destroy();
  return connack.reasonCode;
}

/** The CONNACK reason code of a SCRAM-SHA-256 exchange (CONNECT, AUTH 0x18, AUTH 0x18, CONNACK). */
async function scramConnack(port: number, user: string, password: string): Promise<number> {
  const method = 'SCRAM-SHA-256';
  const scram = new ScramClient('sha256', user, password);
  const raw = await rawClient(port, 5);
  try {
    raw.send(
      connectFrame({
        clientId: `scram-${user}`,
        props: [prop.authenticationMethod(method), prop.authenticationData(scram.first())],
      }),
    );
    const challenge = await raw.readPacket();
    assert.equal(challenge.type, PacketType.Auth);
    const serverFirst = (challenge as AuthPacket).properties!.authenticationData!.toString();
    raw.send(
      authFrame(
        ReasonCode.ContinueAuthentication,
        prop.authenticationMethod(method),
        prop.authenticationData(scram.final(serverFirst)),
      ),
    );
    const connack = await raw.readPacket();
    assert.equal(connack.type, PacketType.Connack);
    return (connack as ConnackPacket).reasonCode;
  } finally {
    await raw.destroy();
  }
}

/** The CONNACK reason code an mqtt.js client over `url` gets (0 when it connects). */
async function wsConnack(url: string, options: mqtt.IClientOptions): Promise<number> {
  const client = mqtt.connect(url, {
    reconnectPeriod: 0,
    connectTimeout: WAIT_MS,
    protocolVersion: 5,
    ...options,
  });
  try {
    return await within(
      new Promise<number>((resolve) => {
        client.once('connect', () => resolve(0));
        client.once('error', (e: Error & { code?: number }) => resolve(e.code ?? -1));
      }),
      WAIT_MS,
      'a CONNACK over WebSocket',
    );
  } finally {
    client.end(true);
  }
}

/** An HTTP auth service that records the JSON bodies it gets and allows `allowed` usernames. */
async function service(
  bodies: Record<string, string>[],
  allow: (b: Record<string, string>) => boolean,
): Promise<Server> {
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c;
    });
    req.on('end', () => {
      const body = JSON.parse(text) as Record<string, string>;
      bodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ result: allow(body) ? 'allow' : 'deny' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

const urlOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

describe('54 authentication: certificates, cookies, the users command', () => {
  after(closeClients);

  describe('TLS client certificate (mechanism = cert, verify_peer)', () => {
    const certs = join(dir, 'certs');
    let b: StartedBroker;
    let sslPort = 0;
    const bodies: Record<string, string>[] = [];
    let http: Server;
    before(async () => {
      const gen = spawnSync('bash', [join(ROOT, 'scripts', 'gen-certs.sh'), certs], {
        env: { ...process.env, AVIARY_CLIENT_CN: 'dev-42' },
        encoding: 'utf8',
      });
      assert.equal(gen.status, 0, gen.stderr);
      http = await service(bodies, (body) => body.cn === 'dev-42');
      b = await startBroker({
        listeners: {
          ssl: {
            mtls: {
              bind: '127.0.0.1:0',
              ssl_options: {
                certfile: join(certs, 'server.pem'),
                keyfile: join(certs, 'server.key'),
                cacertfile: join(certs, 'ca.pem'),
                verify: 'verify_peer',
              },
            },
          },
        },
        authentication: [
          { mechanism: 'cert', identity: 'cn', match: 'username' },
          {
            mechanism: 'password_based',
            backend: 'http',
            url: `${urlOf(http)}/`,
            body: { cn: '${cert_common_name}', dn: '${cert_subject}' },
          },
        ],
      } as AviaryConfigInput);
      sslPort = b.aviary.addresses().find((a) => a.id === 'ssl:mtls')!.port;
    });
    after(async () => {
      await b?.close();
      http?.closeAllConnections();
      await new Promise((r) => http?.close(r));
    });

    const tls = () => ({
      protocol: 'mqtts' as const,
      ca: readFileSync(join(certs, 'ca.pem')),
      cert: readFileSync(join(certs, 'client.pem')),
      key: readFileSync(join(certs, 'client.key')),
      rejectUnauthorized: true,
      servername: 'localhost',
    });

    test('a client whose certificate CN is its username connects without a password', async () => {
      await connectClient(sslPort, 5, { ...tls(), username: 'dev-42' });
    });

    test('another username: the cert provider ignores it and the HTTP service gets ${cert_common_name}', async () => {
      bodies.length = 0;
      // The service allows by CN: the certificate still identifies the client to it.
      await connectClient(sslPort, 5, { ...tls(), username: 'someone-else' });
      assert.equal(bodies[0]!.cn, 'dev-42');
      assert.match(bodies[0]!.dn ?? '', /CN=dev-42/);
    });

    test('no certificate on the plain TCP listener: neither provider allows (0x87)', async () => {
      assert.equal(await connack(b.port, { clientId: 'nocert', username: 'dev-42' }), 0x87);
    });
  });

  describe('WebSocket cookies', () => {
    const SECRET = 'cookie-secret-cookie-secret-cookie!';
    let b: StartedBroker;
    let wsUrl = '';
    const bodies: Record<string, string>[] = [];
    let http: Server;
    before(async () => {
      http = await service(bodies, (body) => body.session === 's3ss10n');
      b = await startBroker({
        listeners: { ws: { web: { bind: '127.0.0.1:0' } } },
        authentication: [
          { mechanism: 'jwt', from: 'cookie', cookie_name: 'access_token', secret: SECRET },
          {
            mechanism: 'password_based',
            backend: 'http',
            url: `${urlOf(http)}/`,
            body: { session: '${cookie.sid}' },
          },
        ],
      } as AviaryConfigInput);
      const port = b.aviary.addresses().find((a) => a.id === 'ws:web')!.port;
      wsUrl = `ws://127.0.0.1:${port}/mqtt`;
    });
    after(async () => {
      await b?.close();
      http?.closeAllConnections();
      await new Promise((r) => http?.close(r));
    });

    test('a JWT in the access_token cookie of the upgrade request authenticates (from = cookie)', async () => {
      const token = await new SignJWT({ sub: 'browser' })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(Buffer.from(SECRET));
      const code = await wsConnack(wsUrl, {
        wsOptions: { headers: { Cookie: `theme=dark; access_token=${token}` } },
      });
      assert.equal(code, 0);
    });

    test('${cookie.sid} reaches the HTTP service, which decides', async () => {
      bodies.length = 0;
      assert.equal(await wsConnack(wsUrl, { wsOptions: { headers: { Cookie: 'sid=s3ss10n' } } }), 0);
      assert.equal(bodies[0]!.session, 's3ss10n');
      assert.equal(await wsConnack(wsUrl, { wsOptions: { headers: { Cookie: 'sid=stolen' } } }), 0x87);
    });

    test('no cookie at all: the JWT provider ignores, the service denies', async () => {
      assert.equal(await wsConnack(wsUrl, {}), 0x87);
    });
  });

  describe('aviary users', () => {
    const conf = join(dir, 'aviary.conf');
    const csv = join(dir, 'users.csv');

    /** Runs the command from the sources (no build needed). */
    function aviary(
      args: string[],
      input?: string,
    ): { status: number | null; stdout: string; stderr: string } {
      const script = `const { main } = await import(${JSON.stringify(join(ROOT, 'src', 'cli', 'aviary.ts'))}); await main(['node', 'aviary', ...process.argv.slice(1)]);`;
      const env: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AVIARY_')) env[k] = v;
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script, ...args],
        {
          cwd: ROOT,
          env,
          input,
          encoding: 'utf8',
        },
      );
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    before(() => {
      spawnSync('bash', [
        '-c',
        `cat > ${JSON.stringify(conf)} <<'EOF'
node.data_dir = ${JSON.stringify(join(dir, 'data-file-mode'))}
authentication = [
  {
    mechanism = password_based
    backend = built_in_database
    bootstrap_file = ${JSON.stringify(csv)}
    bootstrap_type = hash
    password_hash_algorithm { name = pbkdf2, mac_fun = sha256, iterations = 1000 }
  }
]
EOF`,
      ]);
    });

    const pbkdf2 = { name: 'pbkdf2', mac_fun: 'sha256', iterations: 1000 };
    const brokerOnCsv = () =>
      startBroker({
        authentication: [
          {
            mechanism: 'password_based',
            backend: 'built_in_database',
            bootstrap_file: csv,
            bootstrap_type: 'hash',
            password_hash_algorithm: pbkdf2,
          },
        ],
      } as AviaryConfigInput);

    test('--file: add (password from stdin), passwd, del, list: the file a broker loads at start', async () => {
      // The command itself, as users run it (twice: each start of a TypeScript process is slow).
      const added = aviary(['users', 'add', 'alice', '-c', conf, '--file', csv], 'in-wonderland\n');
      assert.equal(added.status, 0, added.stderr);
      assert.equal(added.stdout, `added alice to ${csv}\n`);
      // The same administration in-process for the rest (what the command's actions call).
      const admin = adminFor({ config: conf, file: csv });
      assert.ok(admin instanceof BootstrapFileAdmin);
      await admin.add('root', 'toor', true);
      await assert.rejects(admin.add('alice', 'x', false), {
        code: 'AVY_ERR_USER_ADMIN',
        message: /user alice already exists/,
      });
      const listed = aviary(['users', 'list', '-c', conf, '-f', csv]);
      assert.equal(listed.stdout, 'alice\nroot (superuser)\n', listed.stderr);
      const text = readFileSync(csv, 'utf8');
      assert.match(text, /^user_id,password_hash,salt,is_superuser\nalice,[0-9a-f]{64},[0-9a-f]{32},false\n/);
      assert.doesNotMatch(text, /in-wonderland/);
      assert.equal(statSync(csv).mode & 0o777, 0o600, 'the file is readable by its owner only');

      const b = await brokerOnCsv();
      try {
        await b.aviary.authn.ready;
        assert.equal(
          await connack(b.port, { clientId: 'cli1', username: 'alice', password: 'in-wonderland' }),
          0,
        );
      } finally {
        await b.close();
      }

      await admin.passwd('alice', 'new-pass');
      await admin.delete('root');
      await assert.rejects(admin.delete('nobody'), /no user nobody/);
      assert.deepEqual(await admin.list(), [{ userId: 'alice', isSuperuser: false }]);
      const b2 = await brokerOnCsv();
      try {
        await b2.aviary.authn.ready;
        assert.equal(
          await connack(b2.port, { clientId: 'cli2', username: 'alice', password: 'new-pass' }),
          0,
        );
        assert.equal(
          await connack(b2.port, { clientId: 'cli3', username: 'alice', password: 'in-wonderland' }),
          0x86,
        );
      } finally {
        await b2.close();
      }
    });

    test('the durable store (default): a running broker sees users the command adds, changes and deletes', async () => {
      const dataDir = join(dir, 'data-store-mode');
      const storeConf = join(dir, 'store.conf');
      const authentication = [
        {
          mechanism: 'password_based',
          backend: 'built_in_database',
          password_hash_algorithm: pbkdf2,
        },
        { mechanism: 'scram', backend: 'built_in_database', algorithm: 'sha256', iteration_count: 1000 },
      ];
      writeFileSync(storeConf, JSON.stringify({ node: { data_dir: dataDir }, authentication }));
      const b = await startBroker({ node: { data_dir: dataDir }, authentication } as AviaryConfigInput);
      try {
        // A second process writes the broker's SQLite file while the broker runs.
        const added = aviary(['users', 'add', 'bob', '-c', storeConf], 'builder\n');
        assert.equal(added.status, 0, added.stderr);
        assert.equal(added.stdout, `added bob to ${join(dataDir, 'aviary.db')}\n`);
        assert.equal(
          await connack(b.port, { clientId: 's1', username: 'bob', password: 'builder' }),
          0,
          'no restart: the broker reads the store at each CONNECT',
        );
        assert.equal(await connack(b.port, { clientId: 's2', username: 'bob', password: 'x' }), 0x86);

        // The same administration in-process: passwd and del reach the running broker too.
        const admin = adminFor({ config: storeConf });
        try {
          assert.ok(admin instanceof StoreUserAdmin);
          await admin.passwd('bob', 'rebuilt');
          await admin.add('root', 'toor', true);
          assert.equal(await connack(b.port, { clientId: 's3', username: 'bob', password: 'rebuilt' }), 0);
          assert.equal(await connack(b.port, { clientId: 's4', username: 'bob', password: 'builder' }), 0x86);
          await admin.delete('root');
          await assert.rejects(admin.delete('root'), /no user root/);
        } finally {
          admin.close();
        }
        assert.equal(
          await connack(b.port, { clientId: 's5', username: 'root', password: 'toor' }),
          0x87,
          'deleted: no provider knows root',
        );

        // SCRAM users: their own database (EMQX's), the configured algorithm and iteration count.
        const scram = aviary(['users', 'add', 'carol', '--scram', '-p', 'sesame', '-c', storeConf]);
        assert.equal(scram.status, 0, scram.stderr);
        assert.equal(await scramConnack(b.port, 'carol', 'sesame'), 0);
        assert.equal(await scramConnack(b.port, 'carol', 'wrong'), 0x87);
        const wrongAlg = aviary(['users', 'add', 'dave', '--scram', 'sha512', '-p', 'x', '-c', storeConf]);
        assert.equal(wrongAlg.status, 1);
        assert.match(wrongAlg.stderr, /the configured scram authenticator uses sha256/);

        const listed = aviary(['users', 'list', '-c', storeConf]);
        assert.equal(listed.stdout, 'bob\n', listed.stderr);
        assert.equal(b.aviary.authn.scramUsers!.get('carol')?.userId, 'carol');
        assert.equal(
          b.aviary.authn.builtInUsers!.get('carol'),
          undefined,
          'a SCRAM user is not a password user',
        );
      } finally {
        await b.close();
      }
      // The users outlive the broker (the store is durable).
      const again = await startBroker({ node: { data_dir: dataDir }, authentication } as AviaryConfigInput);
      try {
        assert.equal(await connack(again.port, { clientId: 's6', username: 'bob', password: 'rebuilt' }), 0);
      } finally {
        await again.close();
      }
    });

    test('without a built-in database authenticator or a file, the command says what it needs', () => {
      assert.throws(() => adminFor({}), /no password_based \/ built_in_database authenticator/);
      assert.equal(
        adminFor({ file: join(dir, 'other.csv'), type: 'plain' }) instanceof BootstrapFileAdmin,
        true,
      );
    });
  });
});
