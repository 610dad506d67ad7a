/**
 * 30 $SYS topics: the real broker publishing EMQX's $SYS tree at a 1 s interval to MQTT.js and
 * mosquitto_sub clients over sockets; client events with their JSON payloads; `#` never
 * receiving $SYS [MQTT-4.7.2-1]; the subscribe allow-list; metrics that leave $SYS out.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import {
  clientId,
  closeClients,
  connectClient,
  frame,
  Inbox,
  publish,
  rawConnected,
  type Received,
  type StartedBroker,
  startBroker,
  str,
  subscribe,
  WAIT_MS,
  within,
} from '../helpers/broker.js';
import { requireCommand } from '../helpers/services.js';

const NODE = 'aviary@127.0.0.1';
const PREFIX = `$SYS/brokers/${NODE}/`;
const FAST = { sys_topics: { sys_msg_interval: '1s', sys_heartbeat_interval: '1s' } };
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Waits until the inbox has a message on `topic` (whose payload satisfies `ok`); returns it. */
async function waitMessage(
  inbox: Inbox,
  topic: string,
  ok: (payload: string) => boolean = () => true,
  ms = WAIT_MS,
): Promise<Received> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = inbox.messages.find((m) => m.topic === topic && ok(m.payload.toString()));
    if (found !== undefined) return found;
    if (Date.now() > deadline) {
      const seen = [...new Set(inbox.messages.map((m) => m.topic))].join(', ');
      throw new Error(`timed out after ${ms} ms waiting for ${topic}; seen: ${seen}`);
    }
    await within(
      new Promise<void>((resolve) => inbox.client.once('message', () => resolve())),
      deadline - Date.now() + 1,
      `a message on ${topic}`,
    ).catch(() => {});
  }
}

/** `text` as a literal in a regular expression. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function json(m: Received): Record<string, unknown> {
  return JSON.parse(m.payload.toString()) as Record<string, unknown>;
}

describe('30 $SYS topics', () => {
  let b: StartedBroker;
  let watcher: MqttClient;
  let inbox: Inbox;

  before(async () => {
    b = await startBroker(FAST);
    watcher = await connectClient(b.port, 5, { clientId: 'sys-watcher' });
    inbox = new Inbox(watcher);
    assert.deepEqual(await subscribe(watcher, '$SYS/#'), [0], 'a localhost client may subscribe');
  });

  after(async () => {
    await closeClients();
    await b.close();
  });

  test('version, sysdescr and the node list are retained: a new subscriber gets them at once', async () => {
    const late = await connectClient(b.port, 4);
    const lateInbox = new Inbox(late);
    await subscribe(late, `${PREFIX}+`);
    await subscribe(late, '$SYS/brokers');
    const version = await waitMessage(lateInbox, `${PREFIX}version`);
    assert.equal(version.packet.retain, true, 'sent as retained [MQTT-3.3.1-8]');
    assert.equal(version.payload.toString(), VERSION, "package.json's version");
    assert.equal((await waitMessage(lateInbox, `${PREFIX}sysdescr`)).payload.toString(), 'Aviary');
    assert.equal((await waitMessage(lateInbox, '$SYS/brokers')).payload.toString(), NODE);
    late.end(true);
  });

  test('uptime (ms) and datetime (RFC 3339) every sys_heartbeat_interval', async () => {
    const uptime = await waitMessage(inbox, `${PREFIX}uptime`);
    assert.match(uptime.payload.toString(), /^\d+$/);
    assert.equal(uptime.packet.qos, 0);
    assert.equal(uptime.packet.retain, false);
    const datetime = await waitMessage(inbox, `${PREFIX}datetime`);
    assert.ok(!Number.isNaN(Date.parse(datetime.payload.toString())), datetime.payload.toString());
  });

  test('stats/connections/count follows the connections; stats/connections/max keeps the peak', async () => {
    const others = [
      await connectClient(b.port, 5),
      await connectClient(b.port, 4),
      await connectClient(b.port, 3),
    ];
    // The watcher and the three: a tick after they connected says 4.
    await waitMessage(inbox, `${PREFIX}stats/connections/count`, (p) => p === '4');
    for (const c of others) await within(c.endAsync(), WAIT_MS, 'closing a client');
    inbox.messages.length = 0;
    await waitMessage(inbox, `${PREFIX}stats/connections/count`, (p) => p === '1');
    const max = await waitMessage(inbox, `${PREFIX}stats/connections/max`);
    assert.ok(Number(max.payload.toString()) >= 4, `connections.max ${max.payload.toString()}`);
    await waitMessage(inbox, `${PREFIX}stats/live_connections/count`, (p) => p === '1');
    await waitMessage(inbox, `${PREFIX}stats/subscriptions/count`, (p) => p === '1');
    await waitMessage(inbox, `${PREFIX}stats/topics/count`, (p) => p === '1');
    await waitMessage(inbox, `${PREFIX}stats/retained/count`);
  });

  test('metrics: client traffic counts, the $SYS messages themselves do not', async () => {
    const pub = await connectClient(b.port, 5);
    await publish(pub, 'plain/topic', 'x', { qos: 1 });
    await publish(pub, 'plain/topic', 'y', { qos: 0 });
    const received = await waitMessage(inbox, `${PREFIX}metrics/messages/received`, (p) => p === '2');
    assert.equal(received.payload.toString(), '2', 'only the two client messages');
    await waitMessage(inbox, `${PREFIX}metrics/messages/qos1/received`, (p) => p === '1');
    await waitMessage(inbox, `${PREFIX}metrics/packets/publish/received`, (p) => p === '2');
    await waitMessage(inbox, `${PREFIX}metrics/messages/dropped/no_subscribers`, (p) => p === '2');
    // The watcher has received many $SYS messages; none of them is a message or packet sent.
    const m = b.aviary.broker.metrics.toJSON();
    assert.equal(m['messages.sent'], 0);
    assert.equal(m['packets.publish.sent'], 0);
    assert.ok((m['bytes.sent'] ?? 0) > 0, 'their bytes count');
    assert.ok((m['packets.connack.sent'] ?? 0) >= 2);
    assert.ok((m['packets.puback.sent'] ?? 0) >= 1);
    pub.end(true);
  });

  test('clients/<id>/connected and /disconnected with EMQX JSON payloads', async () => {
    const id = clientId('ev');
    const client = await connectClient(b.port, 5, {
      clientId: id,
      username: 'alice',
      keepalive: 30,
      clean: true,
      properties: { sessionExpiryInterval: 60 },
    });
    const connected = json(await waitMessage(inbox, `${PREFIX}clients/${id}/connected`));
    assert.deepEqual(Object.keys(connected).sort(), [
      'clean_start',
      'clientid',
      'connected_at',
      'expiry_interval',
      'ipaddress',
      'keepalive',
      'proto_name',
      'proto_ver',
      'protocol',
      'sockport',
      'ts',
      'username',
    ]);
    assert.equal(connected.clientid, id);
    assert.equal(connected.username, 'alice');
    assert.match(String(connected.ipaddress), /127\.0\.0\.1$/);
    assert.equal(connected.sockport, b.port);
    assert.equal(connected.protocol, 'mqtt');
    assert.equal(connected.proto_name, 'MQTT');
    assert.equal(connected.proto_ver, 5);
    assert.equal(connected.keepalive, 30);
    assert.equal(connected.clean_start, true);
    assert.equal(connected.expiry_interval, 60_000);
    assert.equal(typeof connected.connected_at, 'number');
    assert.equal(typeof connected.ts, 'number');

    await within(client.endAsync(), WAIT_MS, 'closing the client');
    const gone = json(await waitMessage(inbox, `${PREFIX}clients/${id}/disconnected`));
    assert.equal(gone.reason, 'normal', 'a DISCONNECT from the client');
    assert.equal(gone.clientid, id);
    assert.equal(gone.connected_at, connected.connected_at);
    assert.equal(typeof gone.disconnected_at, 'number');
    assert.ok((gone.disconnected_at as number) >= (connected.connected_at as number));
  });

  test('a 3.1 client: proto_name MQIsdp, proto_ver 3; a dropped socket says sock_closed', async () => {
    const id = clientId('v31');
    const client = await connectClient(b.port, 3, { clientId: id, clean: false });
    const connected = json(await waitMessage(inbox, `${PREFIX}clients/${id}/connected`));
    assert.equal(connected.proto_name, 'MQIsdp');
    assert.equal(connected.proto_ver, 3);
    assert.equal(connected.clean_start, false);
    assert.equal(connected.expiry_interval, 7_200_000, 'mqtt.session_expiry_interval (2h) in ms');
    client.stream.destroy();
    const gone = json(await waitMessage(inbox, `${PREFIX}clients/${id}/disconnected`));
    assert.equal(gone.reason, 'sock_closed');
  });

  test('[MQTT-4.7.2-1] "#" and "+/..." do not receive $SYS topics', async () => {
    const all = await connectClient(b.port, 5);
    const allInbox = new Inbox(all);
    await subscribe(all, ['#', '+/+/+/+']);
    // Wait until a $SYS tick has happened since the subscription, then send a sentinel.
    inbox.messages.length = 0;
    await waitMessage(inbox, `${PREFIX}uptime`);
    await waitMessage(inbox, `${PREFIX}stats/connections/count`);
    await publish(all, 'sentinel', 'end');
    const got = await allInbox.until('sentinel');
    assert.deepEqual(
      got.map((m) => m.topic),
      ['sentinel'],
    );
  });

  test('mosquitto_sub on $SYS/# sees the stats (the README promise)', async () => {
    const sub = requireCommand('mosquitto_sub', "it installs Debian's mosquitto-clients");
    const child = spawn(sub, ['-h', '127.0.0.1', '-p', String(b.port), '-t', '$SYS/#', '-v'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    const line = new RegExp(`^${literal(`${PREFIX}stats/connections/count`)} (\\d+)$`, 'm');
    try {
      await within(
        new Promise<void>((resolve, reject) => {
          child.once('error', reject);
          child.once('close', (code) => reject(new Error(`mosquitto_sub exited with ${code}: ${stdout}`)));
          child.stdout.on('data', (d: Buffer) => {
            stdout += d.toString('utf8');
            if (line.test(stdout)) resolve();
          });
        }),
        WAIT_MS,
        'mosquitto_sub to print stats/connections/count',
      );
    } finally {
      child.kill('SIGKILL');
    }
    // The retained node information came first, then the periodic messages.
    assert.match(stdout, new RegExp(`^${literal(`${PREFIX}version ${VERSION}`)}$`, 'm'));
    assert.match(stdout, new RegExp(`^${literal(`$SYS/brokers ${NODE}`)}$`, 'm'));
    assert.ok(Number(line.exec(stdout)![1]) >= 2, 'the watcher and mosquitto_sub at least');
  });
});

describe('30 $SYS topics: configuration', () => {
  let b: StartedBroker;

  after(async () => {
    await closeClients();
    await b?.close();
  });

  test('subscribe_allow_hosts without this host: SUBACK 0x87 (5.0) / 0x80 (3.1.1) for $SYS only', async () => {
    b = await startBroker({ sys_topics: { subscribe_allow_hosts: ['10.9.9.9'] } });
    const v5 = await rawConnected(b.port, { version: 5, clientId: 'deny5' });
    // SUBSCRIBE id 1: $SYS/#, a/b, $share/g/$SYS/brokers/+/uptime, each QoS 0.
    v5.send(
      frame(
        0x82,
        '0001 00',
        str('$SYS/#'),
        '00',
        str('a/b'),
        '00',
        str('$share/g/$SYS/brokers/+/uptime'),
        '00',
      ),
    );
    assert.equal(await v5.readHex(8), '9006000100870087', 'SUBACK: 0x87, granted 0, 0x87');
    const v4 = await rawConnected(b.port, { version: 4, clientId: 'deny4' });
    v4.send(frame(0x82, '0001', str('$SYS/brokers/#'), '00', str('c'), '00'));
    assert.equal(await v4.readHex(6), '900400018000', 'SUBACK: 0x80, granted 0');
    // Once per SUBACK, as EMQX counts: 0x87 only exists in 5.0.
    assert.equal(b.aviary.broker.metrics.toJSON()['packets.subscribe.auth_error'], 1);
    assert.equal(b.aviary.broker.metrics.toJSON()['packets.subscribe.error'], 2);
    await b.close();
  });

  test('sys_msg_interval disabled: heartbeats go on, stats and version do not', async () => {
    b = await startBroker({ sys_topics: { sys_msg_interval: 'disabled', sys_heartbeat_interval: '1s' } });
    const c = await connectClient(b.port, 5);
    const inbox = new Inbox(c);
    await subscribe(c, '$SYS/#');
    await waitMessage(inbox, `${PREFIX}uptime`);
    inbox.messages.length = 0;
    await waitMessage(inbox, `${PREFIX}uptime`); // a whole heartbeat interval later
    const others = inbox.messages.map((m) => m.topic).filter((t) => !/\/(uptime|datetime)$/.test(t));
    assert.deepEqual(others, []);
    assert.equal([...b.aviary.broker.retainedMatching('$SYS/#')].length, 0, 'no version retained');
    await b.close();
  });

  test('close() stops the publisher: its hooks are gone', async () => {
    b = await startBroker(FAST);
    assert.equal(b.aviary.hooks.has('client.subscribe'), true);
    await b.close();
    assert.equal(b.aviary.hooks.has('client.connected'), false);
    assert.equal(b.aviary.hooks.has('client.subscribe'), false);
  });
});
