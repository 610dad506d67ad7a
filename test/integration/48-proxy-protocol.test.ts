/**
 * The PROXY protocol on listeners (`proxy_protocol = true`, src/transport/proxy-protocol.ts):
 * a raw TCP socket sends a v1 or v2 header and then CONNECT, and the broker's client info (the
 * `client.connected` hook, what ACL, the banned list, logs and the API see) carries the header's
 * source address. A connection without a valid header, or too slow to send one, is closed; a
 * header on a listener that does not expect it is a malformed CONNECT. The ws and wss listeners
 * read the header before HTTP (and TLS) too.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';
import type { ClientInfo } from '../../src/broker/types.js';
import { type CertSet, makeCerts } from '../helpers/certs.js';
import {
  closeClients,
  connectBytes,
  hex,
  rawClient,
  type StartedBroker,
  startBroker,
  WAIT_MS,
  waitFor,
  within,
} from '../helpers/broker.js';

const CONNACK_OK = '20020000';
const V2_SIG = '0d0a0d0a000d0a515549540a';

/** A v2 header: version/command, family/transport, then the body (hex). */
function v2(verCmd: number, famProto: number, body: string): Buffer {
  const b = hex(body);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([hex(V2_SIG), Buffer.from([verCmd, famProto]), len, b]);
}

let certs: CertSet;
let b: StartedBroker;
const ports: Record<string, number> = {};
const sockets: WebSocket[] = [];

before(async () => {
  certs = makeCerts();
  b = await startBroker({
    listeners: {
      tcp: {
        default: { proxy_protocol: false },
        proxied: { bind: '127.0.0.1:0', proxy_protocol: true },
        quick: { bind: '127.0.0.1:0', proxy_protocol: true, proxy_protocol_timeout: '300ms' },
      },
      ssl: {
        proxied: {
          bind: '127.0.0.1:0',
          proxy_protocol: true,
          ssl_options: { certfile: certs.server, keyfile: certs.serverKey },
        },
      },
      ws: { proxied: { bind: '127.0.0.1:0', proxy_protocol: true } },
      wss: {
        proxied: {
          bind: '127.0.0.1:0',
          proxy_protocol: true,
          ssl_options: { certfile: certs.server, keyfile: certs.serverKey },
        },
      },
    },
  });
  for (const a of b.aviary.addresses()) ports[a.id] = a.port;
});

after(async () => {
  for (const ws of sockets) ws.terminate();
  await closeClients();
  await b.close();
  certs.remove();
});

/** The ClientInfo of the next client.connected hook call for `clientId`. */
function connectedInfo(clientId: string): Promise<ClientInfo> {
  return within(
    new Promise<ClientInfo>((resolve) => {
      const cb = (client: ClientInfo): void => {
        if (client.clientId !== clientId) return;
        b.aviary.hooks.remove('client.connected', cb);
        resolve(client);
      };
      b.aviary.hooks.add('client.connected', cb);
    }),
    WAIT_MS,
    `client.connected for ${clientId}`,
  );
}

/** Sends `header` and a CONNECT in ONE write on the tcp:proxied listener; returns the client info. */
async function viaProxy(header: Buffer, clientId: string): Promise<ClientInfo> {
  const info = connectedInfo(clientId);
  const raw = await rawClient(ports['tcp:proxied']!);
  raw.send(Buffer.concat([header, connectBytes({ version: 4, clientId })]));
  assert.equal(await raw.readHex(4), CONNACK_OK);
  return info;
}

describe('tcp listener with proxy_protocol = true', () => {
  test('v1 TCP4: the client address and port are the header source', async () => {
    const info = await viaProxy(Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.7 56324 1883\r\n'), 'pp-v1-4');
    assert.deepEqual([info.peerHost, info.peerPort, info.listener], ['192.0.2.1', 56324, 'tcp:proxied']);
  });

  test('v1 TCP6', async () => {
    const info = await viaProxy(Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 40000 1883\r\n'), 'pp-v1-6');
    assert.deepEqual([info.peerHost, info.peerPort], ['2001:db8::7', 40000]);
  });

  test('v2 PROXY over IPv4 with TLVs: the TLVs are skipped, the CONNECT after them is read', async () => {
    const header = v2(0x21, 0x11, 'c0000201 c6336407 dc04 075b  01 0004 6d717474  05 0002 abcd');
    const info = await viaProxy(header, 'pp-v2-4');
    assert.deepEqual([info.peerHost, info.peerPort], ['192.0.2.1', 56324]);
  });

  test('v2 PROXY over IPv6', async () => {
    const src = '20010db8000000000000000000000009';
    const dst = '20010db8000000000000000000000001';
    const info = await viaProxy(v2(0x21, 0x21, `${src} ${dst} 1f90 075b`), 'pp-v2-6');
    assert.deepEqual([info.peerHost, info.peerPort], ['2001:db8::9', 8080]);
  });

  test("v2 LOCAL (the proxy's health check): accepted with the socket's own address", async () => {
    const info = await viaProxy(v2(0x20, 0x00, ''), 'pp-v2-local');
    assert.equal(info.peerHost, '127.0.0.1');
    assert.notEqual(info.peerPort, 0);
  });

  test('a header arriving byte by byte, then the CONNECT', async () => {
    const info = connectedInfo('pp-bytes');
    const raw = await rawClient(ports['tcp:proxied']!);
    const header = Buffer.from('PROXY TCP4 203.0.113.5 198.51.100.7 1234 1883\r\n');
    for (let i = 0; i < header.length; i++) raw.send(header.subarray(i, i + 1));
    raw.send(connectBytes({ version: 5, clientId: 'pp-bytes' }));
    const connack = await raw.read(2);
    assert.equal(connack[0], 0x20);
    assert.deepEqual([(await info).peerHost, (await info).peerPort], ['203.0.113.5', 1234]);
  });

  test('no header (a plain CONNECT): closed without a reply, and counted', async () => {
    const failed = (): number =>
      b.aviary.listeners().find((l) => l.id === 'tcp:proxied')!.counters.handshakeFailed;
    const before = failed();
    const raw = await rawClient(ports['tcp:proxied']!);
    raw.send(connectBytes({ version: 4, clientId: 'pp-none' }));
    await raw.expectClose();
    assert.equal(failed(), before + 1);
  });

  test('a malformed header is closed on its first bad byte', async () => {
    const raw = await rawClient(ports['tcp:proxied']!);
    raw.send(Buffer.from('PROXY TCP4 192.0.2.1 not-an-address 1 2\r\n'));
    await raw.expectClose();
  });

  test('no complete header within proxy_protocol_timeout: closed', async () => {
    const raw = await rawClient(ports['tcp:quick']!);
    raw.send(Buffer.from('PROXY TCP4 192.0.2.1')); // and nothing more
    await raw.expectClose();
  });
});

describe('a listener without proxy_protocol', () => {
  // A v2 header starts with 0x0D: packet type 0, reserved [MQTT-2.1.3-1 / 2.2.1]. A v1 line starts
  // "PR": 0x50 is a PUBREC header with remaining length 0x52 (82), and a PUBREC before CONNECT
  // breaks [MQTT-3.1.0-1]; the TCP6 line below is long enough for those 82 bytes to arrive.
  const ffff = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
  const headers: Array<[string, Buffer]> = [
    ['v2', v2(0x21, 0x11, 'c0000201 c6336407 dc04 075b')],
    ['v1', Buffer.from(`PROXY TCP6 ${ffff} ${ffff} 65535 1883\r\n`)],
  ];
  for (const [version, header] of headers) {
    test(`[MQTT-3.1.0-1] a ${version} PROXY header is a malformed CONNECT: closed, and the broker keeps serving`, async () => {
      const raw = await rawClient(b.port);
      raw.send(Buffer.concat([header, connectBytes({ version: 4, clientId: `pp-not-${version}` })]));
      const rest = await raw.expectClose(WAIT_MS, true);
      assert.ok(!rest.toString('hex').startsWith('2002'), 'no CONNACK');
      const ok = await rawClient(b.port);
      ok.sendConnect({ version: 4, clientId: `after-proxy-${version}` });
      assert.equal(await ok.readHex(4), CONNACK_OK);
    });
  }
});

describe('ssl, ws and wss listeners with proxy_protocol = true', () => {
  test('ssl: the header comes before the TLS handshake', async () => {
    const info = connectedInfo('pp-ssl');
    const raw = netConnect({ host: '127.0.0.1', port: ports['ssl:proxied']! });
    raw.write('PROXY TCP4 198.51.100.30 198.51.100.7 7777 8883\r\n');
    const tls = tlsConnect({ socket: raw, ca: readFileSync(certs.ca), servername: 'localhost' });
    tls.on('error', () => {});
    await waitFor(tls, 'secureConnect');
    tls.write(connectBytes({ version: 4, clientId: 'pp-ssl' }));
    const [connack] = await waitFor<[Buffer]>(tls, 'data');
    assert.equal(connack.toString('hex'), CONNACK_OK);
    assert.deepEqual([(await info).peerHost, (await info).peerPort], ['198.51.100.30', 7777]);
    tls.destroy();
  });

  test('ws: the header before the HTTP upgrade names the client', async () => {
    const info = connectedInfo('pp-ws');
    const ws = new WebSocket(`ws://127.0.0.1:${ports['ws:proxied']}/mqtt`, 'mqtt', {
      createConnection: () => {
        const socket = netConnect({ host: '127.0.0.1', port: ports['ws:proxied']! });
        socket.write('PROXY TCP4 198.51.100.20 198.51.100.7 5555 8083\r\n');
        return socket;
      },
    });
    sockets.push(ws);
    await waitFor(ws, 'open');
    ws.send(connectBytes({ version: 4, clientId: 'pp-ws' }));
    assert.deepEqual([(await info).peerHost, (await info).peerPort], ['198.51.100.20', 5555]);
  });

  test('wss: the header comes before the TLS handshake', async () => {
    const info = connectedInfo('pp-wss');
    const ws = new WebSocket(`wss://127.0.0.1:${ports['wss:proxied']}/mqtt`, 'mqtt', {
      createConnection: () => {
        const raw = netConnect({ host: '127.0.0.1', port: ports['wss:proxied']! });
        raw.write(v2(0x21, 0x11, 'cb007114 c6336407 1a0a 1f94')); // 203.0.113.20:6666
        return tlsConnect({ socket: raw, ca: readFileSync(certs.ca), servername: 'localhost' });
      },
    });
    sockets.push(ws);
    await waitFor(ws, 'open');
    ws.send(connectBytes({ version: 4, clientId: 'pp-wss' }));
    assert.deepEqual([(await info).peerHost, (await info).peerPort], ['203.0.113.20', 6666]);
  });

  test('ws: an upgrade without the header is closed', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${ports['ws:proxied']}/mqtt`, 'mqtt');
    sockets.push(ws);
    ws.on('error', () => {});
    await within(new Promise((resolve) => ws.once('close', resolve)), WAIT_MS, 'the connection to close');
    assert.notEqual(ws.readyState, WebSocket.OPEN);
  });
});
