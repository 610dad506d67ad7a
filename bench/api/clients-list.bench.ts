/**
 * Event-loop lag while the API lists many clients: does paging through GET /api/v5/clients stall
 * message routing? Opens N MQTT connections (raw sockets, CONNECT only), then reads every page of
 * /clients (LIMIT per page) and a filtered listing (like_clientid, which walks every entry) while
 * `monitorEventLoopDelay` samples the loop; prints the worst and the 99th percentile delay.
 *
 *   node --import tsx bench/api/clients-list.bench.ts [N=20000] [LIMIT=1000]
 *
 * 100k connections need `ulimit -n` above 200000 (both ends are in this process). Not part of
 * `npm test`; results go to docs/benchmarks.md with the machine they ran on.
 */

import { connect } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createBroker } from '../../src/main.js';

const N = Number(process.argv[2] ?? 20_000);
/** Page size: EMQX's default is 100, its maximum 10000 (formatting and JSON of a page is one synchronous step). */
const LIMIT = Number(process.argv[3] ?? 1000);
const KEY = 'bench';
const SECRET = 'bench-secret';

function connectFrame(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([
    Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 60, id.length >> 8, id.length & 0xff]),
    id,
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

const { mkdtempSync, writeFileSync } = await import('node:fs');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const dir = mkdtempSync(join(tmpdir(), 'aviary-bench-'));
writeFileSync(join(dir, 'keys'), `${KEY}:${SECRET}\n`);

const aviary = createBroker({
  listeners: { tcp: { default: { bind: '127.0.0.1:0' } }, ws: { default: { enable: false } } },
  log: { console: { enable: false } },
  dashboard: { listeners: { http: { bind: '127.0.0.1:0' } } },
  api_key: { bootstrap_file: join(dir, 'keys') },
  durable_storage: { backend: 'memory' },
});
const addresses = await aviary.listen();
const mqttPort = addresses.find((a) => a.id === 'tcp:default')!.port;
const apiPort = addresses.find((a) => a.id === 'http:dashboard')!.port;

const sockets: import('node:net').Socket[] = [];
for (let i = 0; i < N; i += 500) {
  await Promise.all(
    Array.from({ length: Math.min(500, N - i) }, (_, k) => {
      return new Promise<void>((resolve, reject) => {
        const s = connect(mqttPort, '127.0.0.1', () => s.write(connectFrame(`bench-${i + k}`)));
        s.once('data', () => resolve());
        s.once('error', reject);
        sockets.push(s);
      });
    }),
  );
}
console.log(`${aviary.broker.connectionCount} clients connected`);

const auth = `Basic ${Buffer.from(`${KEY}:${SECRET}`).toString('base64')}`;
const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
const started = performance.now();
let pages = 0;
for (let page = 1; ; page++) {
  const res = await fetch(`http://127.0.0.1:${apiPort}/api/v5/clients?limit=${LIMIT}&page=${page}`, {
    headers: { authorization: auth },
  });
  const body = (await res.json()) as { meta: { hasnext: boolean } };
  pages++;
  if (!body.meta.hasnext) break;
}
await fetch(`http://127.0.0.1:${apiPort}/api/v5/clients?like_clientid=bench-9&limit=100`, {
  headers: { authorization: auth },
});
h.disable();
const ms = (ns: number): string => (ns / 1e6).toFixed(2);
console.log(
  `listed ${N} clients in ${pages} pages + one filtered walk in ${(performance.now() - started).toFixed(0)} ms; ` +
    `event-loop delay max ${ms(h.max)} ms, p99 ${ms(h.percentile(99))} ms, mean ${ms(h.mean)} ms`,
);
for (const s of sockets) s.destroy();
await aviary.close();
