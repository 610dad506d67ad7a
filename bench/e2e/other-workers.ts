/**
 * The retained scenario, which is not a steady message flow.
 *
 * Retained (one worker): a publisher stores `count` retained QoS 1 messages on
 * `bench/retained/<i>` (100 in flight, waiting for every PUBACK); then, `repeats` times, a
 * fresh subscriber sends one SUBSCRIBE to `bench/retained/#` and the time from sending it to
 * holding all `count` distinct retained messages is taken. Every message must carry the
 * RETAIN flag [MQTT-3.3.1-8], arrive once, and be one of those stored.
 *
 * (The idle scenario runs in processes of its own: idle.ts and idle-proc.ts.)
 */

import type { Packet, PacketType } from '../../src/protocol/index.js';
import { Client, type ClientHandler, nowMicros, PublishTemplate } from './client.js';
import type { RetainedPlan, RetainedReport } from './shared.js';
import { OFFSET_PUBLISHER, OFFSET_SEQ, OFFSET_TIME, PAYLOAD_SIZE, PairTrack } from './track.js';
import { ErrorLog } from './util.js';

const RETAINED_WINDOW = 100;
const RETAINED_TIMEOUT_MS = 60_000;
const MICROS_PER_MS = 1000;
const MAX_PACKET_ID = 0xffff;

function handler(errors: ErrorLog, overrides: Partial<ClientHandler>): ClientHandler {
  return {
    onPublish: (client) => errors.add(`${client.clientId}: unexpected PUBLISH`),
    onAck: (client, packet) => errors.add(`${client.clientId}: unexpected ack type ${packet.type}`),
    onChunkEnd: () => {},
    onError: (_client, error) => errors.add(error.message),
    ...overrides,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function runRetained(plan: RetainedPlan): Promise<RetainedReport> {
  const errors = new ErrorLog();
  const conn = { host: plan.host, port: plan.port, version: plan.version };
  const report: RetainedReport = { millis: [], received: [], duplicates: 0, publishMillis: 0, errors: [] };

  // 1. Store the retained messages, RETAINED_WINDOW at a time.
  let acked = 0;
  let sent = 0;
  let publisher: Client | null = null;
  let allAcked: () => void = () => {};
  const done = new Promise<void>((resolve) => (allAcked = resolve));
  const sendMore = () => {
    while (sent < plan.count && sent - acked < RETAINED_WINDOW) {
      const i = sent++;
      const { frame, payloadOffset, packetIdOffset } = new PublishTemplate(
        `bench/retained/${i}`,
        PAYLOAD_SIZE,
        1,
        true,
        plan.version,
      );
      frame.writeUInt32BE(0, payloadOffset + OFFSET_PUBLISHER);
      frame.writeUInt32BE(i, payloadOffset + OFFSET_SEQ);
      frame.writeDoubleBE(nowMicros(), payloadOffset + OFFSET_TIME);
      frame.writeUInt16BE((i % MAX_PACKET_ID) + 1, packetIdOffset);
      publisher!.socket.write(frame);
    }
  };
  const started = nowMicros();
  publisher = await Client.connect({
    ...conn,
    clientId: 'r-pub',
    handler: handler(errors, {
      onAck: () => {
        acked++;
        if (acked === plan.count) allAcked();
        else sendMore();
      },
    }),
  });
  sendMore();
  await withTimeout(done, RETAINED_TIMEOUT_MS, 'storing retained messages');
  report.publishMillis = (nowMicros() - started) / MICROS_PER_MS;
  await publisher.close();

  // 2. Subscribe with a wildcard, `repeats` times, each with a fresh client.
  for (let r = 0; r < plan.repeats; r++) {
    const track = new PairTrack();
    let finished: () => void = () => {};
    const all = new Promise<void>((resolve) => (finished = resolve));
    let lastAt = 0;
    const sub = await Client.connect({
      ...conn,
      clientId: `r-sub${r}`,
      handler: handler(errors, {
        onPublish: (client, packet: Packet & { type: typeof PacketType.Publish }) => {
          if (!packet.retain)
            errors.add(`${client.clientId}: a stored message arrived without RETAIN [MQTT-3.3.1-8]`);
          const seq = packet.payload.readUInt32BE(OFFSET_SEQ);
          if (seq >= plan.count || packet.topic !== `bench/retained/${seq}`) {
            errors.add(`${client.clientId}: unexpected message ${packet.topic}`);
            return;
          }
          track.see(seq);
          if (track.distinct === plan.count) {
            lastAt = nowMicros();
            finished();
          }
        },
      }),
    });
    const t0 = nowMicros();
    await sub.subscribe(['bench/retained/#'], plan.subscribeQos);
    try {
      await withTimeout(all, RETAINED_TIMEOUT_MS, `retained delivery, repeat ${r + 1}`);
      report.millis.push((lastAt - t0) / MICROS_PER_MS);
    } catch (error) {
      errors.add((error as Error).message);
      report.millis.push(Number.NaN);
    }
    report.received.push(track.distinct);
    report.duplicates += track.duplicates;
    await sub.close();
  }
  report.errors = errors.list();
  return report;
}
