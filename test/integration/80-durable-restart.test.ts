/**
 * Durable storage across a restart (issue 5, docs/durability.md): the default SQLite store in a
 * data directory the test keeps between two brokers. Each test stops a broker (a clean close) and
 * starts another on the same directory; the crash (kill -9) cases are in 81-crash.test.ts.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import type { AviaryConfigInput } from '../../src/config/index.js';
import { type Packet, PacketType, ProtocolVersion, type PublishPacket } from '../../src/protocol/index.js';
import {
  clientId,
  closeClients,
  connectClient,
  connected,
  Inbox,
  openClient,
  publish,
  type RawClient,
  rawClient,
  type StartedBroker,
  startBroker,
  subscribe,
  waitUntil,
} from '../helpers/broker.js';
import { startApiBroker } from '../helpers/api.js';

const dirs: string[] = [];
let brokers: StartedBroker[] = [];

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aviary-restart-'));
  dirs.push(dir);
  return dir;
}

async function start(dir: string, extra: Record<string, unknown> = {}): Promise<StartedBroker> {
  const b = await startBroker({ node: { data_dir: dir }, ...extra } as AviaryConfigInput);
  brokers.push(b);
  return b;
}

interface RawSession {
  clientId: string;
  will?: { topic: string; payload: string; qos: 0 | 1 | 2; delay: number };
}

/** A raw 5.0 client with a persistent session (expiry 1 h), connected. */
async function raw5(port: number, c: RawSession): Promise<RawClient> {
  const raw = await rawClient(port, ProtocolVersion.V5);
  raw.sendPacket({
    type: PacketType.Connect,
    protocolName: 'MQTT',
    protocolVersion: ProtocolVersion.V5,
    bridge: false,
    clean: false,
    keepalive: 60,
    clientId: c.clientId,
    will:
      c.will === undefined
        ? null
        : {
            topic: c.will.topic,
            payload: Buffer.from(c.will.payload),
            qos: c.will.qos,
            retain: false,
            properties: { willDelayInterval: c.will.delay },
          },
    username: null,
    password: null,
    properties: { sessionExpiryInterval: 3600 },
  });
  const connack = await raw.readPacket();
  assert.equal(connack.type, PacketType.Connack);
  return raw;
}

async function next(raw: RawClient, type: number): Promise<Packet> {
  const p = await raw.readPacket();
  assert.equal(p.type, type, `expected packet type ${type}, got ${JSON.stringify(p)}`);
  return p;
}

function publishPacket(
  topic: string,
  payload: string,
  qos: 0 | 1 | 2,
  packetId: number,
  dup = false,
): PublishPacket {
  return {
    type: PacketType.Publish,
    topic,
    payload: Buffer.from(payload),
    qos,
    retain: false,
    dup,
    packetId,
    properties: null,
  };
}

afterEach(async () => {
  await closeClients();
  await Promise.all(brokers.map((b) => b.close()));
  brokers = [];
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('80 durable storage: restart', () => {
  test('retained messages are all there after a restart, with their properties', async () => {
    const dir = dataDir();
    const b1 = await start(dir);
    const pub = await connectClient(b1.port, 5);
    for (let i = 0; i < 20; i++) {
      await publish(pub, `r/${i}`, `v${i}`, {
        qos: 1,
        retain: true,
        properties: { contentType: 'text/plain', userProperties: { k: `${i}` } },
      });
    }
    await publish(pub, 'r/5', '', { qos: 1, retain: true }); // deleted
    await closeClients();
    await b1.close();

    const b2 = await start(dir);
    assert.equal([...b2.aviary.broker.retainedMatching('r/#')].length, 19);
    const sub = await connectClient(b2.port, 5);
    const inbox = new Inbox(sub);
    await subscribe(sub, 'r/#', { qos: 1 });
    const got = await inbox.count(19);
    const byTopic = new Map(got.map((m) => [m.topic, m]));
    assert.equal(byTopic.has('r/5'), false);
    const m7 = byTopic.get('r/7')!;
    assert.equal(m7.payload.toString(), 'v7');
    assert.equal(m7.packet.retain, true);
    assert.equal(m7.packet.properties?.contentType, 'text/plain');
    assert.deepEqual({ ...m7.packet.properties?.userProperties }, { k: '7' });
  });

  for (const version of [4, 5] as const) {
    test(`MQTT ${version === 5 ? '5.0' : '3.1.1'}: a persistent session keeps its subscriptions and queued messages, in order`, async () => {
      const dir = dataDir();
      const id = clientId('durable');
      const b1 = await start(dir);
      const opts =
        version === 5
          ? { clientId: id, clean: false, properties: { sessionExpiryInterval: 3600 } }
          : { clientId: id, clean: false };
      const sub = await connectClient(b1.port, version, opts);
      await subscribe(sub, ['q/1', 'q/2'], { qos: 1 });
      await subscribe(sub, 'q2/#', { qos: 2 });
      await sub.endAsync();
      const pub = await connectClient(b1.port, 5);
      for (let i = 0; i < 10; i++)
        await publish(pub, i % 2 === 0 ? 'q/1' : 'q2/x', `m${i}`, { qos: i % 2 === 0 ? 1 : 2 });
      await waitUntil(() => b1.aviary.broker.session(id)?.queueLength === 10, 'ten messages queued');
      await closeClients();
      await b1.close();

      const b2 = await start(dir);
      const session = b2.aviary.broker.session(id);
      assert.ok(session !== undefined, 'the session came back');
      assert.equal(session.queueLength, 10);
      assert.deepEqual([...session.subscriptions.keys()].sort(), ['q/1', 'q/2', 'q2/#']);
      // The Inbox listens before the CONNACK: the queued messages follow it at once.
      const again = openClient(b2.port, version, { ...opts, clean: false });
      const inbox = new Inbox(again);
      await connected(again);
      const got = await inbox.count(10);
      // In order per QoS (MQTT.js hands a QoS 2 message over only at its PUBREL, so the two
      // interleave differently in the application than on the wire).
      const payloads = (qos: number) =>
        got.filter((m) => m.packet.qos === qos).map((m) => m.payload.toString());
      assert.deepEqual(payloads(1), ['m0', 'm2', 'm4', 'm6', 'm8']);
      assert.deepEqual(payloads(2), ['m1', 'm3', 'm5', 'm7', 'm9']);
      // The subscription is routed again: a new message arrives live.
      const pub2 = await connectClient(b2.port, 5);
      await publish(pub2, 'q/2', 'live', { qos: 1 });
      await inbox.count(11);
      assert.equal(inbox.messages[10]!.payload.toString(), 'live');
    });
  }

  test('a restored session is listed by the HTTP API as a disconnected client, with its queue', async () => {
    const dir = dataDir();
    const id = clientId('listed');
    const b1 = await start(dir);
    const c = await connectClient(b1.port, 5, {
      clientId: id,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
    });
    await subscribe(c, 'listed/#', { qos: 1 });
    await c.endAsync();
    const pub = await connectClient(b1.port, 5);
    await publish(pub, 'listed/1', 'x', { qos: 1 });
    await closeClients();
    await b1.close();

    const api = await startApiBroker({ node: { data_dir: dir } } as AviaryConfigInput);
    try {
      const got = await api.get(`/clients/${id}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.connected, false);
      assert.equal(got.body.mqueue_len, 1);
    } finally {
      await api.close();
    }
  });

  test('in-flight messages come back and are sent again with DUP, in order [MQTT-4.4.0-1]', async () => {
    const dir = dataDir();
    const id = clientId('inflight');
    const b1 = await start(dir);
    // A raw client that subscribes and never acknowledges: the messages stay in flight.
    const raw = await raw5(b1.port, { clientId: id });
    raw.sendPacket({
      type: PacketType.Subscribe,
      packetId: 1,
      subscriptions: [
        { topicFilter: 'inf/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
      ],
      properties: null,
    });
    await next(raw, PacketType.Suback);
    const pub = await connectClient(b1.port, 5);
    for (let i = 0; i < 3; i++) await publish(pub, 'inf/a', `i${i}`, { qos: 1 });
    await waitUntil(() => b1.aviary.broker.session(id)?.inflightCount === 3, 'three in flight');
    await closeClients();
    await b1.close();

    const b2 = await start(dir);
    assert.equal(b2.aviary.broker.session(id)?.inflightCount, 3);
    const again = await raw5(b2.port, { clientId: id });
    const publishes: PublishPacket[] = [];
    for (let i = 0; i < 3; i++) publishes.push((await next(again, PacketType.Publish)) as PublishPacket);
    assert.deepEqual(
      publishes.map((p) => p.payload.toString()),
      ['i0', 'i1', 'i2'],
    );
    assert.ok(
      publishes.every((p) => p.dup),
      'resent with DUP',
    );
  });

  test('a QoS 2 packet id received before the restart is still awaiting release: no second delivery [MQTT-4.3.3-10]', async () => {
    const dir = dataDir();
    const pubId = clientId('q2pub');
    const b1 = await start(dir);
    const sub = await connectClient(b1.port, 5);
    const inbox = new Inbox(sub);
    await subscribe(sub, 'x2', { qos: 2 });
    const raw = await raw5(b1.port, { clientId: pubId });
    raw.sendPacket(publishPacket('x2', 'once', 2, 7)); // PUBLISH, PUBREC back, no PUBREL
    await next(raw, PacketType.Pubrec);
    await inbox.count(1);
    await closeClients();
    await b1.close();

    const b2 = await start(dir);
    assert.equal(b2.aviary.broker.session(pubId)?.isAwaitingRel(7), true);
    const sub2 = await connectClient(b2.port, 5);
    const inbox2 = new Inbox(sub2);
    await subscribe(sub2, 'x2', { qos: 2 });
    const raw2 = await raw5(b2.port, { clientId: pubId });
    raw2.sendPacket(publishPacket('x2', 'once', 2, 7, true)); // the same id again, DUP: not routed
    await next(raw2, PacketType.Pubrec);
    raw2.sendPacket({ type: PacketType.Pubrel, packetId: 7, reasonCode: 0, properties: null });
    const pubcomp = await next(raw2, PacketType.Pubcomp);
    assert.equal((pubcomp as { reasonCode: number }).reasonCode, 0, 'the id was known: PUBCOMP 0x00');
    await publish(sub2, 'x2', 'sentinel', { qos: 1 });
    const got = await inbox2.until('x2', 5000);
    assert.deepEqual(
      got.map((m) => m.payload.toString()),
      ['sentinel'],
      'the resent PUBLISH was not delivered again',
    );
  });

  test('session expiry continues from the stored disconnect time', async () => {
    const dir = dataDir();
    const id = clientId('expiring');
    const b1 = await start(dir);
    const c = await connectClient(b1.port, 5, {
      clientId: id,
      clean: false,
      properties: { sessionExpiryInterval: 1 },
    });
    await subscribe(c, 'e/1', { qos: 1 });
    await c.endAsync();
    await b1.close();
    await new Promise((r) => setTimeout(r, 1200)); // the interval passes while the broker is down

    const b2 = await start(dir, { durable_storage: { sweep_interval: '100ms' } });
    await waitUntil(() => b2.aviary.broker.session(id) === undefined, 'the expired session to be discarded');
    await b2.close();
    const b3 = await start(dir);
    assert.equal(b3.aviary.broker.session(id), undefined, 'and it is gone from the store');
  });

  test('a delayed publish survives a restart and is published when due', async () => {
    const dir = dataDir();
    const b1 = await start(dir);
    const pub = await connectClient(b1.port, 5);
    await publish(pub, '$delayed/2/later/t', 'late', { qos: 1 });
    assert.equal(b1.aviary.delayed.count, 1);
    await closeClients();
    await b1.close();

    const b2 = await start(dir);
    assert.equal(b2.aviary.delayed.count, 1);
    const sub = await connectClient(b2.port, 5);
    const inbox = new Inbox(sub);
    await subscribe(sub, 'later/t', { qos: 1 });
    const [m] = await inbox.count(1, 8000);
    assert.equal(m!.payload.toString(), 'late');
    assert.equal(b2.aviary.delayed.count, 0);
  });

  test('a will waiting for its delay is published after a restart', async () => {
    const dir = dataDir();
    const id = clientId('will');
    const b1 = await start(dir);
    const raw = await raw5(b1.port, {
      clientId: id,
      will: { topic: 'wills/x', payload: 'gone', qos: 1, delay: 2 },
    });
    void raw.destroy(); // no DISCONNECT: the will waits 2 s
    await waitUntil(() => b1.aviary.broker.wills.has(id), 'the will to wait');
    await b1.close();

    const b2 = await start(dir);
    assert.equal(b2.aviary.broker.wills.has(id), true);
    const sub = await connectClient(b2.port, 5);
    const inbox = new Inbox(sub);
    await subscribe(sub, 'wills/#', { qos: 1 });
    const [m] = await inbox.count(1, 8000);
    assert.equal(m!.payload.toString(), 'gone');
  });

  test('a clean session (no expiry) is never stored', async () => {
    const dir = dataDir();
    const b1 = await start(dir);
    const c = await connectClient(b1.port, 5, { clientId: 'clean-one', clean: true });
    await subscribe(c, 'c/1', { qos: 1 });
    await closeClients();
    await b1.close();
    const b2 = await start(dir);
    assert.equal(b2.aviary.broker.sessionCount, 0);
  });

  test('the memory backend keeps nothing across a restart', async () => {
    const dir = dataDir();
    const memory = { durable_storage: { backend: 'memory' } };
    const b1 = await start(dir, memory);
    const pub = await connectClient(b1.port, 5);
    await publish(pub, 'm/1', 'x', { qos: 1, retain: true });
    await closeClients();
    await b1.close();
    const b2 = await start(dir, memory);
    assert.equal([...b2.aviary.broker.retainedMatching('m/#')].length, 0);
  });
});
