/**
 * The throughput and latency load, one worker thread's share of it: some publishers, some
 * subscribers, maybe some clients that only hold non-matching subscriptions ("noise").
 *
 * Publishers. Each owns a PUBLISH template (client.ts) and writes up to `batchMax` messages
 * per turn in one `write`, numbering them 0, 1, 2, ... and stamping the send time (track.ts).
 * How many it may write:
 *   closed loop (throughput)  at most `window` of its messages not yet received by every
 *                             subscriber of it, counted end to end through shared memory
 *                             (deliveries of publisher p are added to one shared cell by
 *                             whichever worker's subscriber receives them); at QoS 1 also at
 *                             most `window` PUBLISHes without a PUBACK. So the broker is kept
 *                             busy without unbounded queues, and a QoS 0 message is never lost
 *                             to an overflowing buffer unless the broker drops it. A
 *                             publisher refills only when a quarter of its window (at most
 *                             `batchMax`) is free, so that it does not degrade into one
 *                             message per write when deliveries trickle back one by one.
 *   rate (latency)            open loop: what is due at `ratePerPublisher` since the start,
 *                             checked on a 1 ms timer (so messages leave in small bursts).
 * A publisher whose socket reports backpressure waits for 'drain'.
 *
 * Subscribers decode in place, check every delivery (track.ts), add to the shared counters
 * once per chunk (per message for the per-publisher cell the publishers read), and answer a
 * chunk's QoS 1 messages with one write of PUBACKs.
 */

import type { Packet, PacketType } from '../../src/protocol/index.js';
import {
  Client,
  type ClientHandler,
  nowMicros,
  PUBACK_ID_OFFSET,
  PUBACK_SIZE,
  PUBACK_TEMPLATE,
  PublishTemplate,
} from './client.js';
import { noiseFilters } from './scenarios.js';
import { type Counters, type LoadPlan, type LoadReport, Phase, WorkerCell } from './shared.js';
import { emptyCheck, OFFSET_PUBLISHER, OFFSET_SEQ, OFFSET_TIME, PAYLOAD_SIZE, PairTrack } from './track.js';
import { ErrorLog, mapLimit, SampleBuffer } from './util.js';

const MAX_PACKET_ID = 0xffff;
const CONNECT_CONCURRENCY = 32;
const IDLE_POLL_MS = 1;
const MICROS_PER_SECOND = 1e6;
/** Closed loop: refill when a quarter of the window is free. */
const REFILL_FRACTION = 4;

class Publisher {
  readonly template: PublishTemplate;
  seq = 0;
  inflight = 0;
  nextId = 1;
  readonly inUse: Uint8Array | null;
  blocked = false;

  constructor(
    readonly index: number,
    readonly client: Client,
    readonly fanout: number,
    topic: string,
    plan: LoadPlan,
  ) {
    this.template = new PublishTemplate(topic, PAYLOAD_SIZE, plan.qos, false, plan.version);
    this.inUse = plan.qos > 0 ? new Uint8Array(MAX_PACKET_ID + 1) : null;
  }
}

class Subscriber {
  /** Indexed by global publisher index; undefined for publishers it does not expect. */
  readonly tracks: (PairTrack | undefined)[];
  acks: Buffer = Buffer.allocUnsafe(PUBACK_SIZE * 64);
  ackCount = 0;

  constructor(
    readonly client: Client,
    expects: number[],
    totalPublishers: number,
  ) {
    this.tracks = new Array<PairTrack | undefined>(totalPublishers);
    for (const p of expects) this.tracks[p] = new PairTrack();
  }
}

export class LoadWorker {
  private readonly publishers: Publisher[] = [];
  private readonly subscribers: Subscriber[] = [];
  private readonly noise: Client[] = [];
  private readonly errors = new ErrorLog();
  private readonly latencies = new SampleBuffer();
  private deliveries = 0;
  private published = 0;
  private pubacks = 0;
  private inflight = 0;
  private unexpected = 0;
  private latencyCountdown: number;
  /** Receive time of the chunk being decoded, taken once per chunk when first needed. */
  private chunkNow = -1;
  private running = false;
  /** Closed loop: a publisher waits until it may send at least this many (see the header). */
  private readonly refill: number;
  private reads = 0;
  private startMicros = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly pumpBound = (): void => this.pump();

  constructor(
    private readonly worker: number,
    private readonly plan: LoadPlan,
    private readonly counters: Counters,
  ) {
    this.latencyCountdown = plan.latencyStride;
    this.refill = Math.max(1, Math.min(plan.batchMax, Math.floor(plan.window / REFILL_FRACTION)));
  }

  /** Connects subscribers and noise clients and subscribes them. */
  async setup(): Promise<void> {
    const { plan } = this;
    const subscriberHandler = this.subscriberHandler();
    await mapLimit(plan.subscribers, CONNECT_CONCURRENCY, async (s) => {
      const client = await Client.connect({
        ...this.connection(s.clientId),
        handler: subscriberHandler,
        sessionExpirySeconds: plan.subscriberSessionExpiry,
      });
      client.index = this.subscribers.length;
      this.subscribers.push(new Subscriber(client, s.expects, plan.totalPublishers));
      await client.subscribe(s.filters, plan.qos);
    });
    const noiseHandler = this.noiseHandler();
    await mapLimit(plan.noise, CONNECT_CONCURRENCY, async (n) => {
      const client = await Client.connect({ ...this.connection(n.clientId), handler: noiseHandler });
      this.noise.push(client);
      await client.subscribe(noiseFilters(n.first, n.count), 0);
    });
  }

  async connectPublishers(): Promise<void> {
    const handler = this.publisherHandler();
    await mapLimit(this.plan.publishers, CONNECT_CONCURRENCY, async (p) => {
      const client = await Client.connect({ ...this.connection(p.clientId), handler });
      client.index = this.publishers.length;
      const publisher = new Publisher(p.index, client, p.fanout, p.topic, this.plan);
      client.socket.on('drain', () => {
        publisher.blocked = false;
        this.schedule(true);
      });
      this.publishers.push(publisher);
    });
  }

  start(): void {
    this.running = true;
    this.startMicros = nowMicros();
    this.schedule(true);
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  report(): LoadReport {
    const check = emptyCheck();
    for (const s of this.subscribers) {
      for (let p = 0; p < s.tracks.length; p++) {
        const t = s.tracks[p];
        if (t === undefined) continue;
        const sent = this.counters.sent(p);
        check.expected += sent;
        check.distinct += t.distinct;
        check.duplicates += t.duplicates;
        check.reordered += t.reordered;
        check.lost += Math.max(0, sent - t.distinct);
      }
    }
    check.unexpected = this.unexpected;
    return { deliveryCheck: check, latencies: this.latencies.toArray(), errors: this.errors.list() };
  }

  async close(): Promise<void> {
    this.stop();
    const all = [
      ...this.publishers.map((p) => p.client),
      ...this.subscribers.map((s) => s.client),
      ...this.noise,
    ];
    await mapLimit(all, CONNECT_CONCURRENCY * 4, (c) => c.close());
  }

  private connection(clientId: string) {
    return { host: this.plan.host, port: this.plan.port, version: this.plan.version, clientId };
  }

  private schedule(immediate: boolean): void {
    if (!this.running || this.immediate !== null) return;
    if (immediate) {
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      this.immediate = setImmediate(this.pumpBound);
    } else if (this.timer === null) {
      this.timer = setTimeout(this.pumpBound, IDLE_POLL_MS);
    }
  }

  /** One turn of every publisher of this worker: write what each may send. */
  private pump(): void {
    this.immediate = null;
    this.timer = null;
    if (!this.running) return;
    const { plan, counters } = this;
    const closed = plan.mode === 'closed';
    const now = nowMicros();
    const due = closed
      ? 0
      : Math.floor(((now - this.startMicros) / MICROS_PER_SECOND) * plan.ratePerPublisher);
    let progressed = false;
    for (const pub of this.publishers) {
      if (pub.blocked) continue;
      let n = plan.batchMax;
      if (closed) {
        const outstanding = pub.seq * pub.fanout - counters.delivered(pub.index);
        n = Math.min(n, Math.floor((plan.window * pub.fanout - outstanding) / pub.fanout));
      } else {
        n = Math.min(n, due - pub.seq);
      }
      if (pub.inUse !== null) n = Math.min(n, plan.window - pub.inflight);
      if (n <= 0 || (closed && n < this.refill)) continue;
      this.send(pub, n, now);
      progressed = true;
    }
    Atomics.store(counters.cells, counters.workerIndex(this.worker, WorkerCell.Published), this.published);
    Atomics.store(counters.cells, counters.workerIndex(this.worker, WorkerCell.Inflight), this.inflight);
    this.schedule(closed && progressed);
  }

  private send(pub: Publisher, n: number, now: number): void {
    const { frame, payloadOffset, packetIdOffset } = pub.template;
    const size = frame.length;
    const buf = Buffer.allocUnsafe(n * size);
    let at = 0;
    for (let k = 0; k < n; k++, at += size) {
      frame.copy(buf, at);
      if (pub.inUse !== null) {
        const id = pub.nextId;
        if (pub.inUse[id] === 1)
          this.errors.add(`publisher ${pub.index}: packet id ${id} still unacknowledged`);
        pub.inUse[id] = 1;
        pub.nextId = id === MAX_PACKET_ID ? 1 : id + 1;
        buf[at + packetIdOffset] = id >>> 8;
        buf[at + packetIdOffset + 1] = id & 0xff;
      }
      buf.writeUInt32BE(pub.index, at + payloadOffset + OFFSET_PUBLISHER);
      buf.writeUInt32BE(pub.seq + k, at + payloadOffset + OFFSET_SEQ);
      buf.writeDoubleBE(now, at + payloadOffset + OFFSET_TIME);
    }
    pub.seq += n;
    this.published += n;
    if (pub.inUse !== null) {
      pub.inflight += n;
      this.inflight += n;
    }
    Atomics.store(this.counters.cells, this.counters.sentIndex(pub.index), pub.seq);
    if (!pub.client.socket.write(buf)) pub.blocked = true;
  }

  private publisherHandler(): ClientHandler {
    return {
      onPublish: (client) => this.errors.add(`${client.clientId}: a publisher received a PUBLISH`),
      onPuback: (client, packetId) => {
        const pub = this.publishers[client.index]!;
        if (pub.inUse === null || pub.inUse[packetId] !== 1) {
          this.errors.add(`${client.clientId}: PUBACK for packet id ${packetId} not in flight`);
          return;
        }
        pub.inUse[packetId] = 0;
        pub.inflight--;
        this.inflight--;
        this.pubacks++;
      },
      onChunkEnd: () => {
        const { counters } = this;
        Atomics.store(counters.cells, counters.workerIndex(this.worker, WorkerCell.Pubacks), this.pubacks);
        Atomics.store(counters.cells, counters.workerIndex(this.worker, WorkerCell.Inflight), this.inflight);
        this.schedule(this.plan.mode === 'closed');
      },
      onError: (_client, error) => this.fail(error),
    };
  }

  private subscriberHandler(): ClientHandler {
    const { counters } = this;
    const cells = counters.cells;
    const measuring = (): boolean => counters.phase === Phase.Measuring;
    return {
      onPublish: (client, packet: Packet & { type: typeof PacketType.Publish }) => {
        const sub = this.subscribers[client.index]!;
        const payload = packet.payload;
        this.deliveries++;
        if (payload.length !== PAYLOAD_SIZE) {
          this.unexpected++;
        } else {
          const p = payload.readUInt32BE(OFFSET_PUBLISHER);
          const track = sub.tracks[p];
          if (track === undefined) {
            this.unexpected++;
          } else {
            track.see(payload.readUInt32BE(OFFSET_SEQ));
            Atomics.add(cells, counters.deliveredIndex(p), 1);
          }
          if (--this.latencyCountdown === 0) {
            this.latencyCountdown = this.plan.latencyStride;
            if (measuring()) {
              if (this.chunkNow < 0) this.chunkNow = nowMicros();
              this.latencies.push(this.chunkNow - payload.readDoubleBE(OFFSET_TIME));
            }
          }
        }
        if (packet.qos > 0) {
          if ((sub.ackCount + 1) * PUBACK_SIZE > sub.acks.length) {
            const grown = Buffer.allocUnsafe(sub.acks.length * 2);
            sub.acks.copy(grown, 0, 0, sub.ackCount * PUBACK_SIZE);
            sub.acks = grown;
          }
          const at = sub.ackCount * PUBACK_SIZE;
          PUBACK_TEMPLATE.copy(sub.acks, at);
          sub.acks[at + PUBACK_ID_OFFSET] = packet.packetId >>> 8;
          sub.acks[at + PUBACK_ID_OFFSET + 1] = packet.packetId & 0xff;
          sub.ackCount++;
        }
      },
      onPuback: (client) => this.errors.add(`${client.clientId}: a subscriber received a PUBACK`),
      onChunkEnd: (client) => {
        this.chunkNow = -1;
        this.reads++;
        const sub = this.subscribers[client.index];
        if (sub === undefined) return; // the CONNACK, before the subscriber is registered
        if (sub.ackCount > 0) {
          // A fresh buffer: the socket keeps a reference until it is flushed.
          client.socket.write(Buffer.from(sub.acks.subarray(0, sub.ackCount * PUBACK_SIZE)));
          sub.ackCount = 0;
        }
        Atomics.store(cells, counters.workerIndex(this.worker, WorkerCell.Deliveries), this.deliveries);
        Atomics.store(cells, counters.workerIndex(this.worker, WorkerCell.Reads), this.reads);
        if (this.publishers.length > 0) this.schedule(this.plan.mode === 'closed');
      },
      onError: (_client, error) => this.fail(error),
    };
  }

  private noiseHandler(): ClientHandler {
    return {
      onPublish: (client) => this.errors.add(`${client.clientId}: a noise subscriber received a PUBLISH`),
      onPuback: () => {},
      onChunkEnd: () => {},
      onError: (_client, error) => this.fail(error),
    };
  }

  private fail(error: Error): void {
    this.errors.add(error.message);
    const { counters } = this;
    Atomics.add(counters.cells, counters.workerIndex(this.worker, WorkerCell.Errors), 1);
  }
}
