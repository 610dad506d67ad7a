/**
 * 41 TLS listener (`listeners.ssl.<name>`): MQTT over TLS with mqtt.js (`mqtts://`) and
 * Mosquitto's clients (`--cafile`), TLS versions and ciphers from `ssl_options`, and clients that
 * must be refused cleanly (wrong CA, plain TCP to the TLS port, a silent client past the
 * handshake timeout) while another client on the same listener keeps working.
 *
 * Certificates are generated for the run by scripts/gen-certs.sh (test/helpers/certs.ts).
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { ConfigError } from '../../src/errors.js';
import { createBroker } from '../../src/main.js';
import {
  closeClients,
  connectBytes,
  connected,
  connectClient,
  Inbox,
  openClient,
  publish,
  rawClient,
  type StartedBroker,
  startBroker,
  subscribe,
  waitUntil,
} from '../helpers/broker.js';
import { type CertSet, makeCerts } from '../helpers/certs.js';
import { describeRun, killChildren, run } from '../helpers/run.js';
import { requireCommand } from '../helpers/services.js';

const HINT = "it installs Debian's mosquitto-clients";

function sslPort(b: StartedBroker, id = 'ssl:default'): number {
  const address = b.aviary.addresses().find((a) => a.id === id);
  assert.ok(address, `listener ${id} is running`);
  return address.port;
}

function sslStatus(b: StartedBroker, id = 'ssl:default') {
  const status = b.aviary.listeners().find((l) => l.id === id);
  assert.ok(status, `listener ${id} is configured`);
  return status;
}

describe('41 TLS listener', () => {
  let certs: CertSet;
  let other: CertSet; // a second CA: its certificates are "wrong CA" here
  let b: StartedBroker;
  let port: number;
  let ca: Buffer;

  before(async () => {
    certs = makeCerts();
    other = makeCerts();
    ca = readFileSync(certs.ca);
    b = await startBroker({
      listeners: {
        ssl: {
          default: {
            bind: '127.0.0.1:0',
            ssl_options: { certfile: certs.server, keyfile: certs.serverKey, handshake_timeout: '300ms' },
          },
          tls12: {
            bind: '127.0.0.1:0',
            ssl_options: {
              certfile: certs.server,
              keyfile: certs.serverKey,
              versions: ['tlsv1.2'],
              ciphers: ['ECDHE-ECDSA-AES128-GCM-SHA256'],
            },
          },
        },
      },
    });
    port = sslPort(b);
  });

  after(async () => {
    killChildren();
    await closeClients();
    await b.close();
    certs.remove();
    other.remove();
  });

  test('mqtt.js over mqtts:// with the CA: subscribe and publish round trip', async () => {
    const sub = await connectClient(port, 5, { protocol: 'mqtts', ca });
    const inbox = new Inbox(sub);
    await subscribe(sub, 'tls/rt');
    const pub = await connectClient(port, 4, { protocol: 'mqtts', ca });
    await publish(pub, 'tls/rt', 'secret', { qos: 1 });
    const [message] = await inbox.count(1);
    assert.equal(message!.payload.toString(), 'secret');
    assert.equal((sub.stream as TLSSocket).getProtocol(), 'TLSv1.3');
  });

  test('mosquitto_sub and mosquitto_pub over TLS with --cafile', async () => {
    const sub = requireCommand('mosquitto_sub', HINT);
    const pub = requireCommand('mosquitto_pub', HINT);
    const tls = ['-h', '127.0.0.1', '-p', String(port), '--cafile', certs.ca];
    const subscribed = new Promise<void>((resolve) => {
      const cb = (_c: unknown, filter: string): void => {
        if (filter !== 'tls/mosq') return;
        b.aviary.hooks.remove('session.subscribed', cb);
        resolve();
      };
      b.aviary.hooks.add('session.subscribed', cb);
    });
    const s = run(sub, [...tls, '-t', 'tls/mosq', '-C', '1', '-W', '10']);
    await subscribed;
    const p = await run(pub, [...tls, '-t', 'tls/mosq', '-m', 'over-tls', '-q', '1']).done;
    assert.equal(p.code, 0, describeRun('mosquitto_pub', p));
    const r = await s.done;
    assert.equal(r.code, 0, describeRun('mosquitto_sub', r));
    assert.equal(r.stdout.trim(), 'over-tls');
  });

  test('a client that trusts another CA is refused and counted; others keep working', async () => {
    const before = sslStatus(b).counters.handshakeFailed;
    const wrong = openClient(port, 5, { protocol: 'mqtts', ca: readFileSync(other.ca) });
    await assert.rejects(connected(wrong), /certificate|self.signed|verify/i);
    await waitUntil(() => sslStatus(b).counters.handshakeFailed > before, 'the failed handshake is counted');
    const ok = await connectClient(port, 5, { protocol: 'mqtts', ca });
    assert.ok(ok.connected);
  });

  test('plain MQTT over TCP to the TLS port gets no CONNACK and is closed, counted', async () => {
    const before = sslStatus(b).counters.handshakeFailed;
    const raw = await rawClient(port);
    raw.send(connectBytes({ version: 4, clientId: 'plain-on-tls' }));
    const rest = await raw.expectClose(undefined, true);
    // Whatever came back is a TLS alert (record type 0x15), never an MQTT CONNACK (0x20).
    assert.notEqual(rest[0], 0x20);
    await waitUntil(() => sslStatus(b).counters.handshakeFailed > before, 'the failed handshake is counted');
    assert.ok((await connectClient(port, 4, { protocol: 'mqtts', ca })).connected);
  });

  test('ssl_options.handshake_timeout: a client that never starts the handshake is closed', async () => {
    const before = sslStatus(b).counters.handshakeFailed;
    const raw = await rawClient(port);
    await raw.expectClose();
    await waitUntil(() => sslStatus(b).counters.handshakeFailed > before, 'the timeout is counted');
  });

  test('ssl_options.versions and ciphers: a TLS 1.2-only listener with one cipher suite', async () => {
    const p12 = sslPort(b, 'ssl:tls12');
    const c = await connectClient(p12, 5, { protocol: 'mqtts', ca });
    const socket = c.stream as TLSSocket;
    assert.equal(socket.getProtocol(), 'TLSv1.2');
    assert.equal(socket.getCipher().name, 'ECDHE-ECDSA-AES128-GCM-SHA256');
    // minVersion is passed through to tls.connect (IClientOptions does not declare it).
    const only13 = openClient(p12, 5, { protocol: 'mqtts', ca, ...({ minVersion: 'TLSv1.3' } as object) });
    await assert.rejects(connected(only13));
  });

  test('an unreadable certfile: listen() rejects with a ConfigError naming the key and the file', async () => {
    const missing = `${certs.dir}/no-such-cert.pem`;
    const aviary = createBroker({
      log: { console: { enable: false } },
      listeners: {
        tcp: { default: { enable: false } },
        ssl: {
          default: { bind: '127.0.0.1:0', ssl_options: { certfile: missing, keyfile: certs.serverKey } },
        },
      },
    });
    try {
      await assert.rejects(aviary.listen(), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.key, 'listeners.ssl.default.ssl_options.certfile');
        assert.match(error.message, /no-such-cert\.pem \(ENOENT\)/);
        return true;
      });
    } finally {
      await aviary.close();
    }
  });

  test('a key that does not match the certificate: a ConfigError naming ssl_options', async () => {
    const aviary = createBroker({
      log: { console: { enable: false } },
      listeners: {
        tcp: { default: { enable: false } },
        ssl: {
          default: { bind: '127.0.0.1:0', ssl_options: { certfile: certs.server, keyfile: other.serverKey } },
        },
      },
    });
    try {
      await assert.rejects(aviary.listen(), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.key, 'listeners.ssl.default.ssl_options');
        return true;
      });
    } finally {
      await aviary.close();
    }
  });
});
