/**
 * 43 TLS-PSK (`psk_authentication`): identities and keys from `init_file`, ssl listeners that
 * accept `mosquitto_pub --psk-identity ID --psk HEXKEY`, the identity in the client's info (for
 * authentication), and the refusals: a wrong key, an unknown identity.
 *
 * What works with Node and mosquitto_pub (docs/listeners.md):
 *   - a PSK-only listener (no certfile): TLS 1.3 (mosquitto's default) and TLS 1.2 PSK suites;
 *   - a listener with a certificate and PSK: PSK over TLS 1.2 PSK suites (versions = [tlsv1.2]);
 *     under TLS 1.3 OpenSSL may fall back to the certificate, so there only TLS 1.2 PSK counts.
 */

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ClientInfo } from '../../src/broker/types.js';
import { ConfigError } from '../../src/errors.js';
import { createBroker } from '../../src/main.js';
import {
  closeClients,
  connectClient,
  Inbox,
  type StartedBroker,
  startBroker,
  subscribe,
  WAIT_MS,
  waitUntil,
  within,
} from '../helpers/broker.js';
import { type CertSet, makeCerts } from '../helpers/certs.js';
import { describeRun, killChildren, run } from '../helpers/run.js';
import { requireCommand } from '../helpers/services.js';

const HINT = "it installs Debian's mosquitto-clients";
const IDENTITY = 'sensor-7';
const KEY = '5e1f2a3b4c5d6e7f8091a2b3c4d5e6f7';

function nextConnected(b: StartedBroker): Promise<ClientInfo> {
  return within(
    new Promise<ClientInfo>((resolve) => {
      const cb = (client: ClientInfo): void => {
        b.aviary.hooks.remove('client.connected', cb);
        resolve(client);
      };
      b.aviary.hooks.add('client.connected', cb);
    }),
    WAIT_MS,
    'a client to connect',
  );
}

describe('43 TLS-PSK', () => {
  let certs: CertSet;
  let b: StartedBroker;
  let pub: string;

  const status = (id: string) => b.aviary.listeners().find((l) => l.id === id)!;
  const portOf = (id: string) => b.aviary.addresses().find((a) => a.id === id)!.port;

  /** mosquitto_pub to listener `id` with extra arguments; resolves with how it ended. */
  const mosquittoPub = (id: string, args: string[]) =>
    run(pub, [
      '-h',
      '127.0.0.1',
      '-p',
      String(portOf(id)),
      ...args,
      '-t',
      'psk/t',
      '-m',
      `via-${id}`,
      '-q',
      '1',
    ]).done;

  before(async () => {
    pub = requireCommand('mosquitto_pub', HINT);
    certs = makeCerts();
    const file = join(certs.dir, 'psk.txt');
    writeFileSync(file, `# test identities\n${IDENTITY}:${KEY}\nother:00112233\n`);
    b = await startBroker({
      psk_authentication: { enable: true, init_file: file },
      listeners: {
        ssl: {
          psk: { bind: '127.0.0.1:0' },
          psk12: { bind: '127.0.0.1:0', ssl_options: { versions: ['tlsv1.2'] } },
          mixed: {
            bind: '127.0.0.1:0',
            ssl_options: { certfile: certs.server, keyfile: certs.serverKey, versions: ['tlsv1.2'] },
          },
        },
      },
    });
  });

  after(async () => {
    killChildren();
    await closeClients();
    await b.close();
    certs.remove();
  });

  test('mosquitto_pub --psk on a PSK-only listener (TLS 1.3): published, identity in the client info', async () => {
    const sub = await connectClient(b.port, 5);
    const inbox = new Inbox(sub);
    await subscribe(sub, 'psk/t');
    const info = nextConnected(b);
    const r = await mosquittoPub('ssl:psk', ['--psk-identity', IDENTITY, '--psk', KEY]);
    assert.equal(r.code, 0, describeRun('mosquitto_pub', r));
    assert.equal((await info).pskIdentity, IDENTITY);
    const [message] = await inbox.count(1);
    assert.equal(message!.payload.toString(), 'via-ssl:psk');
  });

  test('mosquitto_pub --psk with TLS 1.2 PSK cipher suites (versions = [tlsv1.2])', async () => {
    const info = nextConnected(b);
    const r = await mosquittoPub('ssl:psk12', ['--psk-identity', IDENTITY, '--psk', KEY]);
    assert.equal(r.code, 0, describeRun('mosquitto_pub', r));
    assert.equal((await info).pskIdentity, IDENTITY);
  });

  test('a wrong key is refused and counted (TLS 1.3 and TLS 1.2)', async () => {
    for (const id of ['ssl:psk', 'ssl:psk12']) {
      const before = status(id).counters.handshakeFailed;
      const r = await mosquittoPub(id, [
        '--psk-identity',
        IDENTITY,
        '--psk',
        '00112233445566778899aabbccddeeff',
      ]);
      assert.notEqual(r.code, 0, describeRun(`mosquitto_pub to ${id}`, r));
      await waitUntil(() => status(id).counters.handshakeFailed > before, `the refusal on ${id} is counted`);
    }
  });

  test('an unknown identity is refused; a good client still connects', async () => {
    const before = status('ssl:psk').counters.handshakeFailed;
    const r = await mosquittoPub('ssl:psk', ['--psk-identity', 'nobody', '--psk', KEY]);
    assert.notEqual(r.code, 0, describeRun('mosquitto_pub', r));
    await waitUntil(() => status('ssl:psk').counters.handshakeFailed > before, 'the refusal is counted');
    const ok = await mosquittoPub('ssl:psk', ['--psk-identity', 'other', '--psk', '00112233']);
    assert.equal(ok.code, 0, describeRun('mosquitto_pub', ok));
  });

  test('a listener with a certificate and PSK: PSK clients have an identity, certificate clients none', async () => {
    let info = nextConnected(b);
    const psk = await mosquittoPub('ssl:mixed', ['--psk-identity', IDENTITY, '--psk', KEY]);
    assert.equal(psk.code, 0, describeRun('mosquitto_pub --psk', psk));
    assert.equal((await info).pskIdentity, IDENTITY);
    info = nextConnected(b);
    const cert = await mosquittoPub('ssl:mixed', ['--cafile', certs.ca]);
    assert.equal(cert.code, 0, describeRun('mosquitto_pub --cafile', cert));
    assert.equal((await info).pskIdentity, undefined);
  });

  test('psk_authentication.enable without init_file, or with an unreadable one: a ConfigError at start', async () => {
    for (const [psk, pattern] of [
      [{ enable: true }, /required/],
      [{ enable: true, init_file: join(certs.dir, 'missing.txt') }, /missing\.txt \(ENOENT\)/],
    ] as const) {
      const aviary = createBroker({
        log: { console: { enable: false } },
        psk_authentication: psk,
        listeners: { tcp: { default: { enable: false } }, ssl: { default: { bind: '127.0.0.1:0' } } },
      });
      try {
        await assert.rejects(aviary.listen(), (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.key, 'psk_authentication.init_file');
          assert.match(error.message, pattern);
          return true;
        });
      } finally {
        await aviary.close();
      }
    }
  });
});
