/**
 * MQTT over secure WebSocket (`listeners.wss.<name>`): mqtt.js over wss:// with a CA made at test
 * time (scripts/gen-certs.sh), a browser-style client with split frames over TLS, client
 * certificates with `verify_peer`, and refusals (plain WebSocket to the TLS port, no client
 * certificate, no certificate configured) that leave the listener serving.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { createBroker } from '../../src/main.js';
import { type CertSet, makeCerts } from '../helpers/certs.js';
import {
  closeClients,
  connectBytes,
  connectClient,
  Inbox,
  openClient,
  publish,
  type StartedBroker,
  startBroker,
  subscribe,
  WAIT_MS,
  waitFor,
  waitUntil,
  within,
} from '../helpers/broker.js';

let certs: CertSet;
let b: StartedBroker;
let wssPort: number;
let mutualPort: number;
const sockets: WebSocket[] = [];

before(async () => {
  certs = makeCerts('ws-device');
  const ssl = { certfile: certs.server, keyfile: certs.serverKey };
  b = await startBroker({
    listeners: {
      wss: {
        default: { bind: '127.0.0.1:0', ssl_options: ssl },
        mutual: {
          bind: '127.0.0.1:0',
          ssl_options: { ...ssl, cacertfile: certs.ca, verify: 'verify_peer', fail_if_no_peer_cert: true },
        },
      },
    },
  });
  const port = (id: string): number => b.aviary.addresses().find((a) => a.id === id)!.port;
  wssPort = port('wss:default');
  mutualPort = port('wss:mutual');
});

after(async () => {
  for (const ws of sockets) ws.terminate();
  await closeClients();
  await b.close();
  certs.remove();
});

/** Resolves on the next 'close' (an 'error' before it is expected here). */
function closeOf(emitter: { once(event: 'close', listener: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => emitter.once('close', () => resolve()));
}

const overWss = (): { protocol: 'wss'; path: string; ca: Buffer } => ({
  protocol: 'wss',
  path: '/mqtt',
  ca: readFileSync(certs.ca),
});

describe('mqtt.js over wss://', () => {
  test('MQTT 5.0 and 3.1.1 clients exchange messages over TLS WebSockets', async () => {
    const sub = await connectClient(wssPort, 5, overWss());
    const inbox = new Inbox(sub);
    await subscribe(sub, 'wss/t', { qos: 1 });
    const pub = await connectClient(wssPort, 4, overWss());
    await publish(pub, 'wss/t', 'secure hello', { qos: 1 });
    const [got] = await inbox.count(1);
    assert.equal(got?.payload.toString(), 'secure hello');
  });

  test('a client that does not trust the server certificate cannot connect', async () => {
    const client = openClient(wssPort, 5, { protocol: 'wss', path: '/mqtt', reconnectPeriod: 0 });
    const error = await within(
      new Promise<Error>((resolve) => client.once('error', resolve)),
      WAIT_MS,
      'the TLS error',
    );
    assert.match(String(error), /self.signed|unable to (get|verify)/i);
  });
});

describe('a browser-style client over TLS', () => {
  test('[MQTT-6.0.0-2] a CONNECT split across two frames gets its CONNACK', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${wssPort}/mqtt`, 'mqtt', { ca: readFileSync(certs.ca) });
    sockets.push(ws);
    await waitFor(ws, 'open');
    const connect = connectBytes({ version: 4, clientId: 'wss-split' });
    const reply = waitFor<[Buffer]>(ws, 'message');
    ws.send(connect.subarray(0, 3), { binary: true });
    ws.send(connect.subarray(3), { binary: true });
    assert.equal((await reply)[0].toString('hex'), '20020000');
  });

  test('plain ws:// to the wss port fails the TLS handshake; counted, and the listener keeps serving', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${wssPort}/mqtt`, 'mqtt');
    sockets.push(ws);
    ws.on('error', () => {});
    await within(closeOf(ws), WAIT_MS, 'the refused connection to close');
    const status = () => b.aviary.listeners().find((l) => l.id === 'wss:default');
    assert.equal(status()?.type, 'wss');
    await waitUntil(() => (status()?.counters.handshakeFailed ?? 0) >= 1, 'the failed handshake is counted');
    const client = await connectClient(wssPort, 5, overWss());
    assert.ok(client.connected);
  });
});

describe('client certificates (verify_peer, fail_if_no_peer_cert)', () => {
  test('a client with a certificate from the CA connects', async () => {
    const client = await connectClient(mutualPort, 5, {
      ...overWss(),
      cert: readFileSync(certs.client),
      key: readFileSync(certs.clientKey),
    });
    assert.ok(client.connected);
  });

  test('a client without a certificate is refused', async () => {
    const before = b.aviary.listeners().find((l) => l.id === 'wss:mutual')!.counters.handshakeFailed;
    const client = openClient(mutualPort, 5, overWss());
    await within(closeOf(client), WAIT_MS, 'the refused client to close');
    assert.equal(client.connected, false);
    const failed = b.aviary.listeners().find((l) => l.id === 'wss:mutual')!.counters.handshakeFailed;
    assert.ok(failed > before, 'the refusal is counted');
  });
});

test('a wss listener without a certificate is a configuration error that names the key', () => {
  assert.throws(
    () =>
      createBroker({
        listeners: { wss: { x: { bind: '127.0.0.1:0' } } },
        log: { console: { enable: false } },
        durable_storage: { backend: 'memory' },
      }),
    { code: 'AVY_ERR_CONFIG', message: /listeners\.wss\.x\.ssl_options\.certfile/ },
  );
});
