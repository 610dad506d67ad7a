/**
 * 42 mutual TLS: `ssl_options.verify = verify_peer` with `fail_if_no_peer_cert`, client
 * certificates with mosquitto_pub (`--cert/--key`) and mqtt.js, the certificate's CN / DN as
 * client id and username (`mqtt.peer_cert_as_clientid` / `peer_cert_as_username`), and the
 * clients that must be refused: no certificate, a self-signed one, an expired one, one from
 * another CA, each while a good client on the same listener keeps working.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { ClientInfo } from '../../src/broker/types.js';
import {
  closeClients,
  connected,
  connectClient,
  openClient,
  type StartedBroker,
  startBroker,
  waitUntil,
  within,
  WAIT_MS,
} from '../helpers/broker.js';
import { type CertSet, expiredClient, makeCerts, selfSigned } from '../helpers/certs.js';
import { describeRun, killChildren, run } from '../helpers/run.js';
import { requireCommand } from '../helpers/services.js';

const HINT = "it installs Debian's mosquitto-clients";
const CLIENT_CN = 'device-42';

/** Resolves with the client info of the next client.connected hook call. */
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

describe('42 mutual TLS', () => {
  let certs: CertSet;
  let other: CertSet;
  let b: StartedBroker;
  let strict: number; // verify_peer + fail_if_no_peer_cert, peer_cert_as_* in zone "certs"
  let optional: number; // verify_peer without fail_if_no_peer_cert
  let ca: Buffer;

  const status = (id: string) => b.aviary.listeners().find((l) => l.id === id)!;
  const portOf = (id: string) => b.aviary.addresses().find((a) => a.id === id)!.port;

  before(async () => {
    certs = makeCerts(CLIENT_CN);
    other = makeCerts();
    ca = readFileSync(certs.ca);
    const ssl = (extra: object) => ({
      certfile: certs.server,
      keyfile: certs.serverKey,
      cacertfile: certs.ca,
      verify: 'verify_peer' as const,
      ...extra,
    });
    b = await startBroker({
      zones: { certs: { mqtt: { peer_cert_as_clientid: 'cn', peer_cert_as_username: 'dn' } } },
      listeners: {
        ssl: {
          strict: { bind: '127.0.0.1:0', zone: 'certs', ssl_options: ssl({ fail_if_no_peer_cert: true }) },
          optional: { bind: '127.0.0.1:0', ssl_options: ssl({}) },
        },
      },
    });
    strict = portOf('ssl:strict');
    optional = portOf('ssl:optional');
  });

  after(async () => {
    killChildren();
    await closeClients();
    await b.close();
    certs.remove();
    other.remove();
  });

  test('mosquitto_pub with --cert/--key: the CN becomes the client id and the DN the username', async () => {
    const pub = requireCommand('mosquitto_pub', HINT);
    const info = nextConnected(b);
    const r = await run(pub, [
      ...['-h', '127.0.0.1', '-p', String(strict), '--cafile', certs.ca],
      ...['--cert', certs.client, '--key', certs.clientKey],
      ...['-i', 'ignored-id', '-u', 'ignored-user', '-t', 'mtls/a', '-m', 'x', '-q', '1'],
    ]).done;
    assert.equal(r.code, 0, describeRun('mosquitto_pub', r));
    const client = await info;
    assert.equal(client.clientId, CLIENT_CN);
    assert.equal(client.username, `O=Aviary,CN=${CLIENT_CN}`);
    assert.deepEqual(client.peerCert, { cn: CLIENT_CN, dn: `O=Aviary,CN=${CLIENT_CN}` });
  });

  test('mqtt.js with a client certificate; MQTT 5.0 is told its client id (Assigned Client Identifier)', async () => {
    const c = openClient(strict, 5, {
      protocol: 'mqtts',
      ca,
      cert: readFileSync(certs.client),
      key: readFileSync(certs.clientKey),
      clientId: 'from-connect',
    });
    const connack = await connected(c);
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties?.assignedClientIdentifier, CLIENT_CN);
  });

  test('no client certificate with fail_if_no_peer_cert: refused and counted', async () => {
    const before = status('ssl:strict').counters.handshakeFailed;
    const c = openClient(strict, 5, { protocol: 'mqtts', ca });
    await assert.rejects(connected(c));
    await waitUntil(() => status('ssl:strict').counters.handshakeFailed > before, 'the refusal is counted');
  });

  test('a self-signed client certificate is refused', async () => {
    const pair = selfSigned(certs, 'self-signed');
    const before = status('ssl:strict').counters.handshakeFailed;
    const c = openClient(strict, 5, {
      protocol: 'mqtts',
      ca,
      cert: readFileSync(pair.cert),
      key: readFileSync(pair.key),
    });
    await assert.rejects(connected(c));
    await waitUntil(() => status('ssl:strict').counters.handshakeFailed > before, 'the refusal is counted');
  });

  test('an expired client certificate is refused', async () => {
    const pair = expiredClient(certs, 'expired');
    const before = status('ssl:strict').counters.handshakeFailed;
    const pub = requireCommand('mosquitto_pub', HINT);
    const r = await run(pub, [
      ...['-h', '127.0.0.1', '-p', String(strict), '--cafile', certs.ca],
      ...['--cert', pair.cert, '--key', pair.key, '-t', 'mtls/x', '-m', 'x'],
    ]).done;
    assert.notEqual(r.code, 0, describeRun('mosquitto_pub', r));
    await waitUntil(() => status('ssl:strict').counters.handshakeFailed > before, 'the refusal is counted');
  });

  test('a client certificate from another CA is refused; a good client still connects', async () => {
    const before = status('ssl:strict').counters.handshakeFailed;
    const c = openClient(strict, 5, {
      protocol: 'mqtts',
      ca,
      cert: readFileSync(other.client),
      key: readFileSync(other.clientKey),
    });
    await assert.rejects(connected(c));
    await waitUntil(() => status('ssl:strict').counters.handshakeFailed > before, 'the refusal is counted');
    const good = await connectClient(strict, 4, {
      protocol: 'mqtts',
      ca,
      cert: readFileSync(certs.client),
      key: readFileSync(certs.clientKey),
    });
    assert.ok(good.connected);
  });

  test('verify_peer without fail_if_no_peer_cert: no certificate is allowed, a bad one is not', async () => {
    const info = nextConnected(b);
    const anonymous = await connectClient(optional, 5, { protocol: 'mqtts', ca });
    assert.ok(anonymous.connected);
    assert.equal((await info).peerCert, undefined);
    const pair = selfSigned(certs, 'self-signed-2');
    const bad = openClient(optional, 5, {
      protocol: 'mqtts',
      ca,
      cert: readFileSync(pair.cert),
      key: readFileSync(pair.key),
    });
    await assert.rejects(connected(bad));
  });
});
