/**
 * MQTT over WebSocket (`listeners.ws.<name>`, src/transport/websocket.ts): mqtt.js over ws:// for
 * 3.1, 3.1.1 and 5.0; a browser-style client (the `ws` library, binary frames built by hand)
 * sending one packet split across two frames and two packets in one frame [MQTT-6.0.0-2]; a text
 * frame closed with 1003 [MQTT-6.0.0-1]; subprotocol negotiation [MQTT-6.0.0-3] [MQTT-6.0.0-4];
 * wrong paths, plain HTTP and garbage refused with the broker still serving; the upgrade request
 * and X-Forwarded-For reaching the client's info.
 */

import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { ClientInfo } from '../../src/broker/types.js';
import {
  closeClients,
  connectBytes,
  connectClient,
  frame,
  hex,
  Inbox,
  publish,
  type StartedBroker,
  startBroker,
  subscribe,
  VERSION_NAME,
  VERSIONS,
  WAIT_MS,
  waitFor,
  within,
} from '../helpers/broker.js';

/** A browser-style WebSocket client: binary messages in, kept in order. */
class WsClient {
  readonly messages: Buffer[] = [];
  private waiter: (() => void) | null = null;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.messages.push(data);
      const w = this.waiter;
      this.waiter = null;
      w?.();
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
  }

  /** The next binary message received. */
  async next(ms = WAIT_MS): Promise<Buffer> {
    while (this.messages.length === 0) {
      await within(
        new Promise<void>((resolve) => {
          this.waiter = resolve;
        }),
        ms,
        'a WebSocket message',
      );
    }
    return this.messages.shift()!;
  }

  send(bytes: Buffer): void {
    this.ws.send(bytes, { binary: true });
  }
}

const clients: WebSocket[] = [];

/** Opens a WebSocket to the broker; resolves once open. */
async function openWs(
  port: number,
  path = '/mqtt',
  protocols: string | string[] = 'mqtt',
  headers: Record<string, string> = {},
): Promise<WsClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols, { headers });
  clients.push(ws);
  const client = new WsClient(ws);
  await waitFor(ws, 'open');
  return client;
}

/** The HTTP status a refused upgrade gets. */
async function refusedStatus(port: number, path: string, protocols: string[] = ['mqtt']): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols);
  clients.push(ws);
  ws.on('error', () => {});
  const [, res] = await waitFor<[unknown, { statusCode: number }]>(ws, 'unexpected-response');
  ws.terminate();
  return res.statusCode;
}

/** Sends raw bytes over TCP and resolves with everything received until the server closes. */
async function rawHttp(port: number, bytes: string | Buffer): Promise<string> {
  const socket = netConnect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  await waitFor(socket, 'connect');
  socket.write(bytes);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await waitFor(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

/** The ClientInfo of the next client.connected hook call. */
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
    'client.connected',
  );
}

const CONNACK_OK = '20020000';
const PINGREQ = 'c000';
const PINGRESP = 'd000';

let b: StartedBroker;
let wsPort: number;
let loosePort: number;

before(async () => {
  b = await startBroker({
    listeners: {
      ws: {
        default: { enable: true },
        loose: { bind: '127.0.0.1:0', websocket: { mqtt_path: '/custom', fail_if_no_subprotocol: false } },
      },
    },
  });
  const port = (id: string): number => b.aviary.addresses().find((a) => a.id === id)!.port;
  wsPort = port('ws:default');
  loosePort = port('ws:loose');
});

after(async () => {
  for (const ws of clients) ws.terminate();
  await closeClients();
  await b.close();
});

describe('mqtt.js over ws://', () => {
  for (const version of VERSIONS) {
    test(`MQTT ${VERSION_NAME[version]}: publish over WebSocket reaches a TCP subscriber and back`, async () => {
      const overWs = { protocol: 'ws' as const, path: '/mqtt' };
      const wsClient = await connectClient(wsPort, version, overWs);
      const tcpClient = await connectClient(b.port, version);
      const wsInbox = new Inbox(wsClient);
      const tcpInbox = new Inbox(tcpClient);
      await subscribe(wsClient, `ws/${version}/down`, { qos: 1 });
      await subscribe(tcpClient, `ws/${version}/up`, { qos: 1 });
      await publish(wsClient, `ws/${version}/up`, 'from ws', { qos: 1 });
      await publish(tcpClient, `ws/${version}/down`, Buffer.alloc(100_000, 7), { qos: 2 });
      const [up] = await tcpInbox.count(1);
      const [down] = await wsInbox.count(1);
      assert.equal(up?.payload.toString(), 'from ws');
      assert.deepEqual(down?.payload, Buffer.alloc(100_000, 7));
    });
  }
});

describe('a browser-style client: frames and packets', () => {
  test('[MQTT-6.0.0-2] one CONNECT split across two binary frames is one packet', async () => {
    const c = await openWs(wsPort);
    const connect = connectBytes({ version: 4, clientId: 'ws-split' });
    c.send(connect.subarray(0, 5));
    c.send(connect.subarray(5));
    assert.equal((await c.next()).toString('hex'), CONNACK_OK);
  });

  test('[MQTT-6.0.0-2] two packets in one frame are both handled; the replies of one turn leave in one frame', async () => {
    const c = await openWs(wsPort);
    c.send(connectBytes({ version: 4, clientId: 'ws-two' }));
    assert.equal((await c.next()).toString('hex'), CONNACK_OK);
    // SUBSCRIBE (packet id 1, "t/ws", QoS 0) and PINGREQ in a single WebSocket message
    const sub = frame(0x82, '0001', '0004', Buffer.from('t/ws'), '00');
    c.send(Buffer.concat([sub, hex(PINGREQ)]));
    // SUBACK and PINGRESP were written in the same turn: one WebSocket message carries both.
    assert.equal((await c.next()).toString('hex'), `90030001 00${PINGRESP}`.replace(/ /g, ''));
  });

  test('[MQTT-6.0.0-1] a text frame closes the connection with code 1003', async () => {
    const c = await openWs(wsPort);
    c.send(connectBytes({ version: 4, clientId: 'ws-text' }));
    assert.equal((await c.next()).toString('hex'), CONNACK_OK);
    c.ws.send('hello', { binary: false });
    const { code } = await within(c.closed, WAIT_MS, 'the broker to close');
    assert.equal(code, 1003);
  });

  test('a malformed MQTT packet over WebSocket closes that connection only', async () => {
    const c = await openWs(wsPort);
    c.send(hex('00 00')); // packet type 0 is reserved [MQTT-2.2.1]
    await within(c.closed, WAIT_MS, 'the broker to close');
    const ok = await openWs(wsPort);
    ok.send(connectBytes({ version: 4, clientId: 'ws-after-bad' }));
    assert.equal((await ok.next()).toString('hex'), CONNACK_OK);
  });
});

describe('the upgrade', () => {
  test('[MQTT-6.0.0-3] [MQTT-6.0.0-4] the first supported subprotocol the client offers is selected', async () => {
    const c = await openWs(wsPort, '/mqtt', ['chat', 'mqtt', 'mqttv3.1']);
    assert.equal(c.ws.protocol, 'mqtt');
    const v31 = await openWs(wsPort, '/mqtt', ['mqttv3.1']);
    assert.equal(v31.ws.protocol, 'mqttv3.1');
  });

  test('an offer without a supported subprotocol is refused with 400', async () => {
    assert.equal(await refusedStatus(wsPort, '/mqtt', ['chat', 'soap']), 400);
  });

  test('no subprotocol at all: 400 by default (fail_if_no_subprotocol), accepted when it is false', async () => {
    assert.equal(await refusedStatus(wsPort, '/mqtt', []), 400);
    const c = await openWs(loosePort, '/custom', []);
    assert.equal(c.ws.protocol, '');
    c.send(connectBytes({ version: 5, clientId: 'ws-loose' }));
    const connack = await c.next();
    assert.deepEqual([connack[0], connack[3]], [0x20, 0x00], 'CONNACK, reason code 0 (success)');
  });

  test('another path: 404 (websocket.mqtt_path sets the path)', async () => {
    assert.equal(await refusedStatus(wsPort, '/other'), 404);
    assert.equal(await refusedStatus(loosePort, '/mqtt'), 404);
    const c = await openWs(wsPort, '/mqtt?token=abc');
    assert.equal(c.ws.readyState, WebSocket.OPEN, 'a query string does not change the path');
  });

  test('plain HTTP: 426 on the MQTT path, 404 elsewhere', async () => {
    const onPath = await rawHttp(wsPort, 'GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(onPath, /^HTTP\/1\.1 426 /);
    assert.match(onPath, /\r\nUpgrade: websocket\r\n/i);
    assert.match(await rawHttp(wsPort, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 404 /);
  });

  test('garbage and malformed upgrades are refused with 400, and the listener keeps serving', async () => {
    const before = b.aviary.listeners().find((l) => l.id === 'ws:default')!.counters.handshakeFailed;
    assert.match(await rawHttp(wsPort, hex('10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00')), /^HTTP\/1\.1 400 /);
    assert.match(await rawHttp(wsPort, '\x00\x01\x02garbage\r\n\r\n'), /^HTTP\/1\.1 400 /);
    // An upgrade without Sec-WebSocket-Key
    const noKey =
      'GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n';
    assert.match(await rawHttp(wsPort, noKey), /^HTTP\/1\.1 400 /);
    const after = b.aviary.listeners().find((l) => l.id === 'ws:default')!.counters.handshakeFailed;
    assert.equal(after - before, 3, 'each refusal is counted as a failed handshake');
    const client = await connectClient(wsPort, 5, { protocol: 'ws', path: '/mqtt' });
    assert.ok(client.connected);
  });
});

describe('what the MQTT side learns from the upgrade', () => {
  test('the upgrade headers (cookies) reach the client info; the peer is the socket without proxy headers', async () => {
    const connected = nextConnected(b);
    const c = await openWs(wsPort, '/mqtt', 'mqtt', { Cookie: 'session=abc123' });
    c.send(connectBytes({ version: 4, clientId: 'ws-cookie' }));
    const info = await connected;
    assert.equal(info.clientId, 'ws-cookie');
    assert.equal(info.listener, 'ws:default');
    assert.equal(info.peerHost, '127.0.0.1');
    assert.ok(info.peerPort > 0);
    assert.equal(info.upgradeHeaders?.cookie, 'session=abc123');
  });

  test('X-Forwarded-For / X-Forwarded-Port: the first address and port are the client', async () => {
    const connected = nextConnected(b);
    const c = await openWs(wsPort, '/mqtt', 'mqtt', {
      'X-Forwarded-For': '203.0.113.9, 10.0.0.1',
      'X-Forwarded-Port': '4242',
    });
    c.send(connectBytes({ version: 4, clientId: 'ws-xff' }));
    const info = await connected;
    assert.equal(info.peerHost, '203.0.113.9');
    assert.equal(info.peerPort, 4242);
  });

  test('a forwarded value that is not an address or port is ignored', async () => {
    const connected = nextConnected(b);
    const c = await openWs(wsPort, '/mqtt', 'mqtt', {
      'X-Forwarded-For': 'unknown',
      'X-Forwarded-Port': 'x',
    });
    c.send(connectBytes({ version: 4, clientId: 'ws-xff-bad' }));
    const info = await connected;
    assert.equal(info.peerHost, '127.0.0.1');
    assert.notEqual(info.peerPort, 0);
  });
});

describe('the listener', () => {
  test('reports itself running with its open WebSocket connections', async () => {
    const status = b.aviary.listeners().find((l) => l.id === 'ws:default');
    assert.equal(status?.type, 'ws');
    assert.equal(status?.running, true);
    assert.ok((status?.currentConnections ?? 0) > 0);
  });
});
