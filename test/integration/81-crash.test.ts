/**
 * The durability promise under a crash (issue 5, DESIGN.md "Durability promise"): a broker
 * process killed with SIGKILL at a random moment of a QoS 1 / QoS 2 stream and restarted on the
 * same data directory delivers every message it acknowledged (PUBACK, PUBREC) to the persistent
 * sessions it was routed to; a QoS 2 message reaches the application once; a QoS 1 message
 * arrives twice only as a DUP redelivery. Run for several kill points.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import {
  closeClients,
  connectClient,
  connected,
  Inbox,
  openClient,
  publish,
  subscribe,
  waitUntil,
  within,
} from '../helpers/broker.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PROCESS_MS = 30_000;
const STREAM = 4000; // messages offered per run (the kill comes first, usually)
// Publishes in flight at once: within the broker's Receive Maximum (32), which MQTT.js does not enforce.
const WINDOW = 30;
const dirs: string[] = [];
const children = new Set<ChildProcess>();

after(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Starts a broker process on `dir`; resolves with it and its port. */
async function brokerProcess(dir: string): Promise<{ child: ChildProcess; port: number }> {
  const config = {
    node: { data_dir: dir },
    // Room for the whole stream in each offline queue: the default (1000, dropping the oldest)
    // is a policy, and its drops are not what this test looks for.
    mqtt: { max_mqueue_len: STREAM },
    listeners: { tcp: { default: { bind: '127.0.0.1:0' } } },
    log: { console: { enable: false } },
    dashboard: { listeners: { http: { enable: false } } },
  };
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/helpers/broker-process.ts', JSON.stringify(config)],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const port = await within(
    new Promise<number>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /ready (\d+)/.exec(out);
        if (m !== null) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`broker exited (${code}) before ready: ${err}`)));
    }),
    PROCESS_MS,
    'the broker process to listen',
  );
  return { child, port };
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const SESSION = { clean: false, properties: { sessionExpiryInterval: 3600 } } as const;

/** Publishes numbered messages, WINDOW at a time, until the connection dies; returns the acked numbers. */
function stream(pub: MqttClient, acked: Set<number>): Promise<void> {
  return new Promise((resolve) => {
    let next = 0;
    let outstanding = 0;
    let done = false;
    const finish = (): void => {
      if (!done) {
        done = true;
        resolve();
      }
    };
    pub.once('close', finish);
    const fill = (): void => {
      while (!done && outstanding < WINDOW && next < STREAM) {
        const n = next++;
        const qos = n % 2 === 0 ? 1 : 2;
        outstanding++;
        pub.publish(`crash/${qos}`, String(n), { qos }, (error) => {
          outstanding--;
          if (error === undefined || error === null) acked.add(n);
          if (next >= STREAM && outstanding === 0) finish();
          else setImmediate(fill);
        });
      }
    };
    fill();
  });
}

describe('81 durable storage: kill -9 during a QoS 1 / QoS 2 stream', () => {
  for (let run = 1; run <= 3; run++) {
    test(`run ${run}: every acknowledged message arrives after the restart; QoS 2 exactly once`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'aviary-crash-'));
      dirs.push(dir);
      const first = await brokerProcess(dir);
      const id1 = `crash-q1-${run}`;
      const id2 = `crash-q2-${run}`;
      const s1 = await connectClient(first.port, 5, { clientId: id1, ...SESSION });
      await subscribe(s1, 'crash/1', { qos: 1 });
      const s2 = await connectClient(first.port, 5, { clientId: id2, ...SESSION });
      await subscribe(s2, 'crash/2', { qos: 2 });
      await s1.endAsync();
      await s2.endAsync();

      // The publisher streams; the broker is killed at a random moment of it.
      const pub = await connectClient(first.port, 5, { reconnectPeriod: 0 });
      const acked = new Set<number>();
      const streaming = stream(pub, acked);
      const killAt = 20 + Math.floor(Math.random() * 300);
      await new Promise((r) => setTimeout(r, killAt));
      await kill(first.child);
      await streaming;
      pub.end(true);
      assert.ok(acked.size > 0, `some messages were acknowledged before the kill (at ${killAt} ms)`);

      const second = await brokerProcess(dir);
      const c1 = openClient(second.port, 5, { clientId: id1, ...SESSION });
      const in1 = new Inbox(c1);
      const c2 = openClient(second.port, 5, { clientId: id2, ...SESSION });
      const in2 = new Inbox(c2);
      await connected(c1);
      await connected(c2);
      // A sentinel after the stream: everything the broker kept for a session arrives before it.
      const sentinel = await connectClient(second.port, 5);
      await publish(sentinel, 'crash/1', 'end', { qos: 1 });
      await publish(sentinel, 'crash/2', 'end', { qos: 2 });
      const ended = (inbox: Inbox) => inbox.messages.some((m) => m.payload.toString() === 'end');
      await waitUntil(() => ended(in1) && ended(in2), 'both sessions to receive the sentinel', PROCESS_MS);
      const got1 = in1.messages;
      const got2 = in2.messages;
      const numbers = (list: typeof got1) => list.map((m) => m.payload.toString()).filter((p) => p !== 'end');

      const q1 = numbers(got1).map(Number);
      const q2 = numbers(got2).map(Number);
      const lost = [...acked].filter((n) => (n % 2 === 0 ? !q1.includes(n) : !q2.includes(n)));
      assert.deepEqual(lost, [], `acknowledged messages lost (acked ${acked.size}, killed at ${killAt} ms)`);
      assert.equal(new Set(q2).size, q2.length, 'a QoS 2 message was delivered twice');
      const seen = new Set<number>();
      for (const m of got1) {
        const n = Number(m.payload.toString());
        if (seen.has(n)) assert.equal(m.packet.dup, true, `QoS 1 message ${n} repeated without DUP`);
        seen.add(n);
      }
      // In order: each session's messages are in publish order.
      assert.deepEqual(
        q1,
        [...q1].sort((a, b) => a - b),
        'QoS 1 messages out of order',
      );
      assert.deepEqual(
        q2,
        [...q2].sort((a, b) => a - b),
        'QoS 2 messages out of order',
      );
      await closeClients();
      second.child.kill('SIGTERM');
    });
  }
});
