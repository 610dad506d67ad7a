/**
 * Does listing clients through the API stall message routing? A broker holds TOTAL clients:
 * CONNECTIONS real MQTT connections (raw sockets, opened by a child process) and the rest
 * persistent sessions whose clients have left (made in-process through the broker, as a client
 * that connected and disconnected makes them: open the session, run client.connected, close it,
 * run client.disconnected). Another child pages through `GET /api/v5/clients` with limit 100,
 * 1,000 and 10,000, then walks everything with a filter, while:
 *
 *  - the broker's event-loop delay is sampled (perf_hooks.monitorEventLoopDelay, 1 ms
 *    resolution): max and p99 per phase;
 *  - a QoS 0 stream flows through the broker (a publisher sends one message every millisecond
 *    stamped with its send time, a subscriber in the same child measures how late each one
 *    arrives): max and p99 per phase, so a routing stall shows up as a late message.
 *
 * Three processes, so neither the clients nor the pager's JSON parsing run on the broker's
 * event loop. Each process may hold 20,000 open files here, so CONNECTIONS defaults to 19,000
 * (the broker holds one socket per connection; the child the other end).
 *
 *   node --import tsx bench/api/clients-list.bench.ts [CONNECTIONS=19000] [TOTAL=100000]
 *
 * Not part of `npm test`; results go in docs/api.md ("Performance") with the machine they ran on.
 */

import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const KEY = 'bench';
const SECRET = 'bench-secret-0123456789';
const STREAM_TOPIC = 'bench/stream';
/** The stream: one QoS 0 message per this many ms. */
const STREAM_INTERVAL_MS = 1;
/** Connections opened at once by the clients child. */
const CONNECT_BATCH = 500;
/** How long the idle (baseline) phase lasts. */
const IDLE_MS = 3000;
const NS_PER_MS = 1e6;

type Command = { cmd: 'reset' } | { cmd: 'stats' } | { cmd: 'page'; query: string } | { cmd: 'exit' };

type Reply =
  | { kind: 'ready'; connections: number }
  | { kind: 'stats'; count: number; max: number; p99: number }
  | { kind: 'paged'; pages: number; items: number; ms: number; slowestRequestMs: number; bytes: number };

// ---- helpers ----------------------------------------------------------------------------------

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

function str(s: string): Buffer {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

function packet(first: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([first]), varint(body.length), body]);
}

/** A 3.1.1 CONNECT, clean session, keep alive 0 (idle connections must not time out). */
function connectFrame(clientId: string): Buffer {
  return packet(0x10, str('MQTT'), Buffer.from([4, 0x02, 0, 0]), str(clientId));
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function send(message: Reply): void {
  process.send!(message);
}

// ---- the clients child: idle connections and the QoS 0 stream --------------------------------

async function clientsChild(port: number, count: number): Promise<void> {
  const open = (clientId: string): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write(connectFrame(clientId)));
      s.setNoDelay(true);
      s.once('data', () => resolve(s)); // the CONNACK
      s.once('error', reject);
    });
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i += CONNECT_BATCH) {
    const n = Math.min(CONNECT_BATCH, count - i);
    sockets.push(...(await Promise.all(Array.from({ length: n }, (_, k) => open(`idle-${i + k}`)))));
  }

  // The stream's subscriber: PUBLISH frames whose payload is the send time (float64, ms).
  const subscriber = await open('stream-sub');
  let latencies = new Float64Array(1 << 20);
  let n = 0;
  let pending: Buffer = Buffer.alloc(0);
  const subscribed = new Promise<void>((resolve) => subscriber.once('data', () => resolve()));
  subscriber.write(packet(0x82, Buffer.from([0, 1]), str(STREAM_TOPIC), Buffer.from([0])));
  await subscribed;
  subscriber.on('data', (chunk: Buffer) => {
    const now = performance.now();
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let pos = 0;
    for (;;) {
      // A QoS 0 PUBLISH: 0x30, remaining length (1 byte here: small), topic, 8-byte payload.
      if (pending.length - pos < 2) break;
      const length = pending[pos + 1]!;
      if (pending.length - pos < 2 + length) break;
      const sentAt = pending.readDoubleBE(pos + 2 + length - 8);
      if (n === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[n++] = now - sentAt;
      pos += 2 + length;
    }
    pending = pos === pending.length ? Buffer.alloc(0) : pending.subarray(pos);
  });
  const publisher = await open('stream-pub');
  const topic = str(STREAM_TOPIC);
  setInterval(() => {
    const payload = Buffer.alloc(8);
    payload.writeDoubleBE(performance.now());
    publisher.write(packet(0x30, topic, payload));
  }, STREAM_INTERVAL_MS);

  process.on('message', (m: Command) => {
    if (m.cmd === 'reset') n = 0;
    else if (m.cmd === 'stats') {
      const sorted = latencies.slice(0, n).sort();
      send({ kind: 'stats', count: n, max: sorted[n - 1] ?? 0, p99: percentile(sorted, 99) });
    } else if (m.cmd === 'exit') {
      for (const s of sockets) s.destroy();
      process.exit(0);
    }
  });
  send({ kind: 'ready', connections: sockets.length });
}

// ---- the pager child: reads every page -------------------------------------------------------

function pagerChild(apiPort: number): void {
  const auth = `Basic ${Buffer.from(`${KEY}:${SECRET}`).toString('base64')}`;
  process.on('message', async (m: Command) => {
    if (m.cmd === 'exit') process.exit(0);
    if (m.cmd !== 'page') return;
    const started = performance.now();
    let pages = 0;
    let items = 0;
    let bytes = 0;
    let slowest = 0;
    for (let page = 1; ; page++) {
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/v5/clients?${m.query}&page=${page}`, {
        headers: { authorization: auth },
      });
      const text = await res.text();
      slowest = Math.max(slowest, performance.now() - t);
      if (res.status !== 200) throw new Error(`GET /clients: ${res.status} ${text.slice(0, 200)}`);
      bytes += text.length;
      const body = JSON.parse(text) as { data: unknown[]; meta: { hasnext: boolean } };
      pages++;
      items += body.data.length;
      if (!body.meta.hasnext) break;
    }
    send({ kind: 'paged', pages, items, ms: performance.now() - started, slowestRequestMs: slowest, bytes });
  });
  send({ kind: 'ready', connections: 0 });
}

// ---- the broker process ------------------------------------------------------------------------

function next(child: ChildProcess, kind: Reply['kind']): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`child exited (${code}) waiting for ${kind}`));
    const onMessage = (m: Reply) => {
      if (m.kind !== kind) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function main(): Promise<void> {
  const connections = Number(process.argv[2] ?? 19_000);
  const total = Number(process.argv[3] ?? 100_000);
  const { createBroker } = await import('../../src/main.js');
  const dir = mkdtempSync(join(tmpdir(), 'aviary-bench-'));
  writeFileSync(join(dir, 'keys'), `${KEY}:${SECRET}\n`);
  const aviary = createBroker({
    listeners: { tcp: { default: { bind: '127.0.0.1:0' } }, ws: { default: { enable: false } } },
    log: { console: { enable: false } },
    dashboard: { listeners: { http: { bind: '127.0.0.1:0' } } },
    api_key: { bootstrap_file: join(dir, 'keys') },
    durable_storage: { backend: 'memory' },
    node: { data_dir: join(dir, 'data') },
  });
  const addresses = await aviary.listen();
  const mqttPort = addresses.find((a) => a.id === 'tcp:default')!.port;
  const apiPort = addresses.find((a) => a.id === 'http:dashboard')!.port;

  // Persistent sessions whose clients have left, as a connect and a disconnect leave them.
  const broker = aviary.broker;
  const parked = Math.max(0, total - connections - 2);
  const away = { kick() {} };
  const t0 = performance.now();
  for (let i = 0; i < parked; i++) {
    const client = {
      clientId: `parked-${i}`,
      username: `user-${i % 100}`,
      peerHost: '10.0.0.1',
      peerPort: 10_000 + (i % 50_000),
      listener: 'tcp:default',
      zone: 'default',
      protocolVersion: 5 as const,
      isSuperuser: false,
      connectedAt: Date.now(),
      cleanStart: false,
      keepalive: 60,
      expiryInterval: 7200,
    };
    const { session } = broker.openSession(client, false, away);
    session.expiryInterval = client.expiryInterval;
    broker.hooks.run('client.connected', client);
    broker.closeSession(client, away, session);
    broker.hooks.run('client.disconnected', client, 'normal');
  }
  console.log(`${parked} parked sessions made in ${(performance.now() - t0).toFixed(0)} ms`);

  const self = fileURLToPath(import.meta.url);
  const execArgv = ['--import', 'tsx'];
  const clients = fork(self, ['clients', String(mqttPort), String(connections)], { execArgv });
  const ready = (await next(clients, 'ready')) as { connections: number };
  const pager = fork(self, ['pager', String(apiPort)], { execArgv });
  await next(pager, 'ready');
  const auth = `Basic ${Buffer.from(`${KEY}:${SECRET}`).toString('base64')}`;
  const one = await fetch(`http://127.0.0.1:${apiPort}/api/v5/clients?limit=1`, {
    headers: { authorization: auth },
  });
  const listed = ((await one.json()) as { meta: { count: number } }).meta.count;
  console.log(
    `${ready.connections} idle connections + 2 stream clients; broker: ${broker.connectionCount} ` +
      `connected, ${listed} clients listed by GET /clients`,
  );

  const h = monitorEventLoopDelay({ resolution: 1 });
  const rows: string[] = [];
  const phase = async (name: string, run: () => Promise<string>): Promise<void> => {
    clients.send({ cmd: 'reset' } satisfies Command);
    h.reset();
    h.enable();
    const what = await run();
    h.disable();
    clients.send({ cmd: 'stats' } satisfies Command);
    const s = (await next(clients, 'stats')) as { count: number; max: number; p99: number };
    const ms = (ns: number) => (ns / NS_PER_MS).toFixed(1);
    const row =
      `| ${name} | ${what} | ${ms(h.max)} | ${ms(h.percentile(99))} | ${s.max.toFixed(1)} | ` +
      `${s.p99.toFixed(1)} | ${s.count} |`;
    rows.push(row);
    console.log(row);
  };
  const paging = (query: string) => async () => {
    pager.send({ cmd: 'page', query } satisfies Command);
    const r = (await next(pager, 'paged')) as Extract<Reply, { kind: 'paged' }>;
    return (
      `${r.pages} pages, ${r.items} clients, ${(r.bytes / 1e6).toFixed(0)} MB in ${(r.ms / 1000).toFixed(1)} s ` +
      `(slowest request ${r.slowestRequestMs.toFixed(0)} ms)`
    );
  };

  console.log(
    '| phase | work | loop delay max (ms) | loop delay p99 (ms) | stream latency max (ms) | stream p99 (ms) | stream msgs |',
  );
  console.log('|---|---|---|---|---|---|---|');
  await phase('idle (baseline)', async () => {
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    return `${IDLE_MS / 1000} s, no API requests`;
  });
  await phase('GET /clients?limit=100', paging('limit=100'));
  await phase('GET /clients?limit=1000', paging('limit=1000'));
  await phase('GET /clients?limit=10000', paging('limit=10000'));
  await phase('filter like_clientid (walks all)', paging('like_clientid=parked-9999&limit=100'));

  clients.send({ cmd: 'exit' } satisfies Command);
  pager.send({ cmd: 'exit' } satisfies Command);
  await aviary.close();
  process.exit(0);
}

const role = process.argv[2];
if (role === 'clients') await clientsChild(Number(process.argv[3]), Number(process.argv[4]));
else if (role === 'pager') pagerChild(Number(process.argv[3]));
else await main();
