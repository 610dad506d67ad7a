/**
 * 67 api clients: GET /clients lists, filters and pages 1,000 real connections (raw sockets, so
 * they open fast); a client that reconnects is one entry with the newest connection's data; a
 * persistent session whose client left is listed with connected: false; DELETE kicks (a 5.0
 * client gets DISCONNECT 0x98 Administrative action); subscribe and unsubscribe on a client's
 * behalf; per-connection counters (recv_oct, send_msg, ...) move as a client publishes and
 * receives, and stay after it leaves; a session's queued and in-flight messages, paged by
 * position.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IDisconnectPacket } from 'mqtt';
import { ReasonCode } from '../../src/protocol/index.js';
import { type ApiBroker, startApiBroker } from '../helpers/api.js';
import {
  closeClients,
  connectBytes,
  connectClient,
  frame,
  Inbox,
  publish,
  type RawClient,
  rawClient,
  str,
  waitUntil,
  within,
} from '../helpers/broker.js';

const MANY = 1000;
/** CONNECT flags: Clean Session (0x02) and User Name (0x80). */
const CLEAN = 0x02;
const USERNAME = 0x80;

/** A 3.1.1 CONNECT with a user name, byte by byte. */
function connectWithUser(clientId: string, username: string): Buffer {
  return frame(0x10, str('MQTT'), Buffer.from([4, CLEAN | USERNAME, 0, 60]), str(clientId), str(username));
}

const id = (i: number): string => `load-${String(i).padStart(4, '0')}`;

describe('67 api clients', () => {
  let b: ApiBroker;
  const raws: RawClient[] = [];

  before(async () => {
    b = await startApiBroker();
    // Open them in batches of 100: fast, without a thundering herd on a shared machine.
    for (let start = 0; start < MANY; start += 100) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, async (_, k) => {
          const i = start + k;
          const raw = await rawClient(b.port);
          raw.send(connectWithUser(id(i), i % 2 === 0 ? 'even' : 'odd'));
          assert.equal((await raw.read(4)).toString('hex'), '20020000');
          return raw;
        }),
      );
      raws.push(...batch);
    }
  });
  after(async () => {
    await closeClients();
    await b.close();
  });

  test('pages through 1,000 clients: each exactly once, meta.count and hasnext exact', async () => {
    const seen: string[] = [];
    for (let page = 1; ; page++) {
      const res = await b.get(`/clients?limit=300&page=${page}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.meta.count, MANY);
      assert.equal(res.body.meta.limit, 300);
      seen.push(...res.body.data.map((c: { clientid: string }) => c.clientid));
      if (!res.body.meta.hasnext) {
        assert.equal(page, 4);
        assert.equal(res.body.data.length, 100);
        break;
      }
    }
    assert.equal(seen.length, MANY);
    assert.equal(new Set(seen).size, MANY);
  });

  test('a client object carries EMQX fields', async () => {
    const res = await b.get(`/clients/${id(7)}`);
    assert.equal(res.status, 200);
    const c = res.body;
    assert.equal(c.clientid, id(7));
    assert.equal(c.username, 'odd');
    assert.equal(c.connected, true);
    assert.equal(c.conn_state, 'connected');
    assert.equal(c.ip_address, '127.0.0.1');
    assert.equal(typeof c.port, 'number');
    assert.equal(c.proto_name, 'MQTT');
    assert.equal(c.proto_ver, 4);
    assert.equal(c.keepalive, 60);
    assert.equal(c.clean_start, true);
    assert.equal(c.expiry_interval, 0);
    assert.equal(c.subscriptions_cnt, 0);
    assert.equal(c.inflight_cnt, 0);
    assert.equal(c.mqueue_len, 0);
    assert.equal(c.mqueue_dropped, 0);
    assert.equal(c.node, 'aviary@127.0.0.1');
    // CONNECT in, CONNACK out (3.1.1 CONNACK: 4 bytes).
    assert.equal(c.recv_pkt, 1);
    assert.equal(c.recv_msg, 0);
    assert.equal(c.recv_oct, connectWithUser(id(7), 'odd').length);
    assert.equal(c.send_pkt, 1);
    assert.equal(c.send_oct, 4);
    assert.ok(!Number.isNaN(Date.parse(c.connected_at)));
    assert.ok(!Number.isNaN(Date.parse(c.created_at)));
  });

  test('filters: username, like_clientid, clientid (repeated), ip_address, proto_ver, conn_state, connected_at', async () => {
    const count = async (q: string): Promise<number> => {
      const res = await b.get(`/clients?${q}`);
      assert.equal(res.status, 200, res.text);
      return res.body.meta.count;
    };
    assert.equal(await count('username=even'), MANY / 2);
    assert.equal(await count('like_username=dd'), MANY / 2);
    assert.equal(await count('like_clientid=load-00'), 100);
    assert.equal(await count('like_clientid=load-00&username=odd'), 50);
    assert.equal(await count(`clientid=${id(1)}&clientid=${id(2)}&clientid=nobody`), 2);
    assert.equal(await count('ip_address=127.0.0.1'), MANY);
    assert.equal(await count('ip_address=10.0.0.1'), 0);
    assert.equal(await count('proto_ver=4'), MANY);
    assert.equal(await count('proto_ver=5'), 0);
    assert.equal(await count('conn_state=connected'), MANY);
    assert.equal(await count('conn_state=disconnected'), 0);
    const future = new Date(Date.now() + 60_000).toISOString();
    assert.equal(await count(`gte_connected_at=${encodeURIComponent(future)}`), 0);
    assert.equal(await count(`lte_connected_at=${encodeURIComponent(future)}`), MANY);
    assert.equal((await b.get('/clients?conn_state=sleepy')).body.code, 'BAD_REQUEST');
    assert.equal((await b.get('/clients?limit=0')).body.code, 'BAD_REQUEST');
  });

  test('404 CLIENTID_NOT_FOUND for an unknown client', async () => {
    for (const [method, path] of [
      ['GET', '/clients/nobody'],
      ['DELETE', '/clients/nobody'],
      ['GET', '/clients/nobody/subscriptions'],
    ] as const) {
      const res = await b.request(method, path);
      assert.equal(res.status, 404);
      assert.equal(res.body.code, 'CLIENTID_NOT_FOUND');
    }
  });

  test('a client that reconnects (takeover) is one entry, with the newest connection', async () => {
    const first = await connectClient(b.port, 5, {
      clientId: 'again',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    const firstPort = (first.stream as unknown as { localPort: number }).localPort;
    const second = await connectClient(b.port, 5, {
      clientId: 'again',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    const secondPort = (second.stream as unknown as { localPort: number }).localPort;
    assert.notEqual(firstPort, secondPort);
    const res = await b.get('/clients?clientid=again');
    assert.equal(res.body.meta.count, 1);
    assert.equal(res.body.data[0].port, secondPort);
    assert.equal(res.body.data[0].connected, true);
    assert.equal(res.body.data[0].expiry_interval, 60);
    assert.equal((await b.get('/clients?like_clientid=again')).body.meta.count, 1);
    await second.endAsync();
  });

  test('a persistent session whose client left is listed with connected: false', async () => {
    const c = await connectClient(b.port, 5, {
      clientId: 'gone-for-now',
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    });
    await c.subscribeAsync('keep/#', { qos: 1 });
    await c.endAsync();
    await waitUntil(() => b.aviary.broker.connectionCount === MANY, 'the client to be gone');
    const res = await b.get('/clients/gone-for-now');
    assert.equal(res.status, 200);
    assert.equal(res.body.connected, false);
    assert.equal(res.body.conn_state, 'disconnected');
    assert.equal(res.body.subscriptions_cnt, 1);
    assert.ok(!Number.isNaN(Date.parse(res.body.disconnected_at)));
    const disconnected = await b.get('/clients?conn_state=disconnected');
    assert.ok(disconnected.body.data.some((x: { clientid: string }) => x.clientid === 'gone-for-now'));
    // A clean 3.1.1 client that leaves is gone from the list at once.
    const clean = await connectClient(b.port, 4, { clientId: 'clean-leaver' });
    assert.equal((await b.get('/clients/clean-leaver')).status, 200);
    await clean.endAsync();
    await waitUntil(() => b.aviary.broker.session('clean-leaver') === undefined, 'the session to end');
    assert.equal((await b.get('/clients/clean-leaver')).status, 404);
  });

  test('DELETE kicks: a 5.0 client gets DISCONNECT 0x98 (administrative action) and its session ends', async () => {
    const c = await connectClient(b.port, 5, {
      clientId: 'kick-me',
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    });
    const disconnect = within(
      new Promise<IDisconnectPacket>((resolve) => c.once('disconnect', resolve)),
      5000,
      'DISCONNECT from the broker',
    );
    const res = await b.request('DELETE', '/clients/kick-me');
    assert.equal(res.status, 204);
    assert.equal((await disconnect).reasonCode, ReasonCode.AdministrativeAction);
    assert.equal(
      b.aviary.broker.session('kick-me'),
      undefined,
      'the session ends even with an expiry interval',
    );
    assert.equal((await b.get('/clients/kick-me')).status, 404);
    assert.equal(b.aviary.broker.metrics.toJSON()['session.terminated']! > 0, true);
  });

  test('a raw 3.1.1 client is closed by a kick (no DISCONNECT in 3.1.1)', async () => {
    const raw = raws[0]!;
    assert.equal((await b.request('DELETE', `/clients/${id(0)}`)).status, 204);
    await within(raw.closed, 5000, 'the socket to close');
    assert.equal((await b.get('/clients?like_clientid=load-')).body.meta.count, MANY - 1);
  });

  test('subscribe, list and unsubscribe on behalf of a client', async () => {
    const c = await connectClient(b.port, 5, { clientId: 'managed' });
    const inbox = new Inbox(c);
    const sub = await b.post('/clients/managed/subscribe', { topic: 'managed/+', qos: 1, nl: 1 });
    assert.equal(sub.status, 200, sub.text);
    assert.deepEqual(
      { topic: sub.body.topic, qos: sub.body.qos, nl: sub.body.nl },
      { topic: 'managed/+', qos: 1, nl: 1 },
    );
    const subs = await b.get('/clients/managed/subscriptions');
    assert.deepEqual(
      subs.body.map((s: { topic: string; qos: number }) => [s.topic, s.qos]),
      [['managed/+', 1]],
    );
    const other = await connectClient(b.port, 4);
    await publish(other, 'managed/x', 'for you', { qos: 1 });
    const [m] = await inbox.count(1);
    assert.equal(m!.topic, 'managed/x');
    assert.equal(m!.packet.qos, 1);
    assert.equal((await b.get('/clients/managed')).body.subscriptions_cnt, 1);
    const bulk = await b.post('/clients/managed/subscribe/bulk', [{ topic: 'a' }, { topic: 'b', qos: 2 }]);
    assert.equal(bulk.body.length, 2);
    assert.equal((await b.post('/clients/managed/unsubscribe', { topic: 'managed/+' })).status, 204);
    assert.equal(
      (await b.post('/clients/managed/unsubscribe/bulk', [{ topic: 'a' }, { topic: 'b' }])).status,
      204,
    );
    assert.deepEqual((await b.get('/clients/managed/subscriptions')).body, []);
    const bad = await b.post('/clients/managed/subscribe', { topic: 'a/#/b' });
    assert.equal(bad.status, 400);
  });

  test('counters: recv_/send_ oct, cnt, pkt, msg move as a client publishes and receives, and stay after it leaves', async () => {
    const counters = async (clientId: string) => {
      const res = await b.get(`/clients/${clientId}`);
      assert.equal(res.status, 200, res.text);
      return res.body;
    };
    const raw = await rawClient(b.port);
    const connect = connectBytes({ version: 4, clientId: 'counted', clean: false });
    raw.send(connect);
    assert.equal(await raw.readHex(4), '20020000');
    let c = await counters('counted');
    assert.deepEqual(
      [c.recv_oct, c.recv_pkt, c.recv_msg, c.send_oct, c.send_pkt, c.send_msg, c.send_cnt],
      [connect.length, 1, 0, 4, 1, 0, 1],
    );
    assert.ok(c.recv_cnt >= 1, 'at least one socket read');
    const readsAfterConnect = c.recv_cnt;

    const subscribePacket = frame(0x82, '0001', str('count/me'), '00');
    raw.send(subscribePacket);
    assert.equal(await raw.readHex(5), '9003000100');
    // Two QoS 1 PUBLISHes to a topic without subscribers, each acknowledged [MQTT-3.3.4-1].
    const published = [1, 2].map((packetId) =>
      frame(0x32, str('count/other'), Buffer.from([0, packetId]), Buffer.from(`hi ${packetId}`)),
    );
    for (const p of published) raw.send(p);
    assert.equal(await raw.readHex(8), '4002000140020002');
    // Three messages to it from another client.
    const other = await connectClient(b.port, 5, { clientId: 'count-feeder' });
    const payloads = ['one', 'two', 'three'];
    for (const p of payloads) await publish(other, 'count/me', p, { qos: 0 });
    const frames: Buffer[] = [];
    for (let i = 0; i < payloads.length; i++) frames.push(await raw.readFrame());
    c = await counters('counted');
    const bytesIn = connect.length + subscribePacket.length + published[0]!.length + published[1]!.length;
    const bytesOut = 4 + 5 + 8 + frames.reduce((n, f) => n + f.length, 0);
    assert.equal(c.recv_oct, bytesIn);
    assert.equal(c.recv_pkt, 4, 'CONNECT, SUBSCRIBE, 2 PUBLISH');
    assert.equal(c.recv_msg, 2);
    assert.ok(c.recv_cnt > readsAfterConnect && c.recv_cnt <= c.recv_pkt, `recv_cnt ${c.recv_cnt}`);
    assert.equal(c.send_oct, bytesOut);
    assert.equal(c.send_pkt, 7, 'CONNACK, SUBACK, 2 PUBACK, 3 PUBLISH');
    assert.equal(c.send_msg, 3);
    assert.equal(c.send_cnt, 7, 'one write per frame');
    // The publisher's side counts the other way round.
    const feeder = await counters('count-feeder');
    assert.equal(feeder.recv_msg, 3);
    assert.equal(feeder.send_msg, 0);

    // DISCONNECT: the persistent session stays, with its last connection's counters.
    raw.send('e000');
    await within(raw.closed, 5000, 'the broker to close the connection');
    await waitUntil(() => b.aviary.broker.liveChannel('counted') === undefined, 'the connection to end');
    const after = await counters('counted');
    assert.equal(after.connected, false);
    assert.equal(after.recv_pkt, 5);
    assert.equal(after.recv_oct, bytesIn + 2);
    assert.equal(after.send_msg, 3);
    assert.equal(after.send_oct, bytesOut);
    b.aviary.broker.kick('counted');
  });

  test('mqueue_messages and inflight_messages: what the session holds, paged by position', async () => {
    // A 5.0 client with Receive Maximum 2 (0x21) and a Session Expiry Interval of 300 s (0x11)
    // that never acknowledges: two messages go in flight [MQTT-3.3.4-9], the rest wait in its queue.
    const raw = await rawClient(b.port, 5);
    raw.sendConnect({
      version: 5,
      clientId: 'holder',
      clean: false,
      properties: Buffer.from([0x21, 0, 2, 0x11, 0, 0, 1, 44]),
    });
    assert.equal((await raw.readPacket()).type, 2);
    raw.send(frame(0x82, '0001', '00', str('hold/#'), '01'));
    assert.equal((await raw.readPacket()).type, 9);
    const feeder = await connectClient(b.port, 5, { clientId: 'hold-feeder' });
    for (let i = 0; i < 6; i++) await publish(feeder, `hold/${i}`, `m${i}`, { qos: 1 });
    const session = b.aviary.broker.session('holder')!;
    await waitUntil(() => session.inflightCount === 2 && session.queueLength === 4, '2 in flight, 4 queued');

    const inflight = await b.get('/clients/holder/inflight_messages');
    assert.equal(inflight.status, 200, inflight.text);
    assert.deepEqual(
      inflight.body.data.map((m: { topic: string; payload: string }) => [m.topic, m.payload]),
      [
        ['hold/0', Buffer.from('m0').toString('base64')],
        ['hold/1', Buffer.from('m1').toString('base64')],
      ],
    );
    const m0 = inflight.body.data[0];
    assert.equal(m0.qos, 1);
    assert.equal(m0.from_clientid, 'hold-feeder');
    assert.match(m0.msgid, /^[0-9a-f]{32}$/);
    assert.equal(typeof m0.publish_at, 'number');
    assert.ok(Math.abs(m0.publish_at - Date.now()) < 60_000);

    // Page through the queue two at a time, in FIFO order, with plain payloads.
    const seen: string[] = [];
    let position: string | undefined;
    for (let page = 0; page < 5; page++) {
      const q = `payload=plain&limit=2${position === undefined ? '' : `&position=${position}`}`;
      const res = await b.get(`/clients/holder/mqueue_messages?${q}`);
      assert.equal(res.status, 200, res.text);
      assert.equal(typeof res.body.meta.start, 'string');
      if (res.body.data.length === 0) {
        assert.equal(res.body.meta.position, position, 'an empty page keeps the position');
        break;
      }
      seen.push(...res.body.data.map((m: { payload: string }) => m.payload));
      position = res.body.meta.position;
    }
    assert.deepEqual(seen, ['m2', 'm3', 'm4', 'm5']);

    const none = await b.get('/clients/holder/mqueue_messages?payload=none');
    assert.equal(none.body.data.length, 4);
    assert.ok(none.body.data.every((m: object) => !('payload' in m)));
    // A payload budget of 1 byte still answers one message (EMQX's rule).
    const capped = await b.get('/clients/holder/mqueue_messages?max_payload_bytes=1');
    assert.equal(capped.body.data.length, 1);
    assert.equal((await b.get('/clients/holder/mqueue_messages?max_payload_bytes=1KB')).body.data.length, 4);

    // The client acknowledges hold/0: hold/2 goes in flight. A position that left the queue
    // continues with the next newer message.
    const firstPage = await b.get('/clients/holder/mqueue_messages?limit=1');
    const hold2 = firstPage.body.meta.position;
    const [publish0] = [await raw.readPacket()];
    assert.equal(publish0!.type, 3);
    raw.send(frame(0x40, Buffer.from([0, (publish0 as { packetId: number }).packetId])));
    await waitUntil(() => session.inflightCount === 2 && session.queueLength === 3, 'hold/2 to go in flight');
    const afterAck = await b.get(`/clients/holder/mqueue_messages?payload=plain&position=${hold2}`);
    assert.deepEqual(
      afterAck.body.data.map((m: { payload: string }) => m.payload),
      ['m3', 'm4', 'm5'],
    );
    assert.deepEqual(
      (await b.get('/clients/holder/inflight_messages?payload=plain')).body.data.map(
        (m: { payload: string }) => m.payload,
      ),
      ['m1', 'm2'],
    );

    // Errors: an unknown client, a nonsense position or size.
    const unknown = await b.get('/clients/nobody/mqueue_messages');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'CLIENTID_NOT_FOUND');
    assert.equal((await b.get('/clients/nobody/inflight_messages')).status, 404);
    assert.equal((await b.get('/clients/holder/mqueue_messages?position=abc')).status, 400);
    assert.equal((await b.get('/clients/holder/mqueue_messages?max_payload_bytes=0')).status, 400);
    assert.equal((await b.get('/clients/holder/mqueue_messages?payload=hex')).status, 400);
    b.aviary.broker.kick('holder');
  });
});
