/**
 * The throughput and latency load, one worker thread's share of it: some publishers, some
 * subscribers, maybe some clients that only hold non-matching subscriptions ("noise").
 *
 * Publishers. Each owns a PUBLISH template (client.ts) and writes up to `batchMax` messages
 * per turn in one `write`, numbering them 0, 1, 2, ... and stamping the send time in the
 * payload's header (track.ts; the rest of a --payload is padding). How many it may write:
 *   closed loop (throughput)  at most its `window` of messages not yet received by every
 *                             subscriber of it, counted end to end through shared memory
 *                             (deliveries of publisher p are added to one shared cell by
 *                             whichever worker's subscriber receives them); at QoS 1 and 2
 *                             also at most `window` flows not yet complete (no PUBACK, or no
 *                             PUBCOMP), and never more than the broker's 5.0 Receive Maximum
 *                             [MQTT-3.3.4-9]. So the broker is kept busy without unbounded
 *                             queues, and a QoS 0 message is never lost to an overflowing
 *                             buffer unless the broker drops it. The window is --window, or
 *                             less with big payloads (scenarios.ts, windowFor). A publisher
 *                             refills only when a quarter of its window (at most `batchMax`) is
 *                             free, so that it does not degrade into one message per write
 *                             when deliveries trickle back one by one.
 *   rate (latency)            open loop: what is due at `ratePerPublisher` since the start,
 *                             checked on a 1 ms timer (so messages leave in small bursts).
 * A publisher whose socket reports backpressure waits for 'drain'.
 *
 * QoS 2, publisher side: PUBLISH -> PUBREC, answered with PUBREL [MQTT-4.3.3-4] (one write of a
 * chunk's PUBRELs) -> PUBCOMP, which ends the flow and frees the packet id. Each packet id's
 * state is kept (free / awaiting PUBACK or PUBREC / awaiting PUBCOMP): an ack for an id in
 * another state is an error.
 *
 * Subscribers decode in place, check every delivery (track.ts: loss, duplicates, reordering;
 * payload size; the QoS granted), add to the shared counters once per chunk (per message for
 * the per-publisher cell the publishers read), and answer a chunk's acks with one write:
 * PUBACK for QoS 1; for QoS 2, PUBREC for a PUBLISH and PUBCOMP for a PUBREL [MQTT-4.3.3-8,
 * MQTT-4.3.3-11]. At QoS 2 a duplicate is an error: without a reconnect the broker must never
 * send a message twice [MQTT-4.3.3].
 */

import { type Packet, PacketType, ReasonCode } from '../../src/protocol/index.js';
import {
  AckBatch,
  type AckPacket,
  Client,
  type ClientHandler,
  nowMicros,
  PUBACK_TEMPLATE,
  PUBCOMP_TEMPLATE,
  PUBREC_TEMPLATE,
  PUBREL_TEMPLATE,
  PublishTemplate,
} from './client.js';
import { noiseFilters } from './scenarios.js';
import { type Counters, type LoadPlan, type LoadReport, Phase, WorkerCell } from './shared.js';
import { emptyCheck, OFFSET_PUBLISHER, OFFSET_SEQ, OFFSET_TIME, PairTrack } from './track.js';
import { ErrorLog, mapLimit, SampleBuffer } from './util.js';

const MAX_PACKET_ID = 0xffff;
const CONNECT_CONCURRENCY = 32;
const IDLE_POLL_MS = 1;
const MICROS_PER_SECOND = 1e6;
/** Closed loop: refill when a quarter of the window is free. */
const REFILL_FRACTION = 4;
/** A publisher's packet id states. */
const ID_FREE = 0;
/** Sent; awaiting PUBACK (QoS 1) or PUBREC (QoS 2). */
const ID_SENT = 1;
/** QoS 2: PUBREC received, PUBREL sent; awaiting PUBCOMP. */
const ID_RELEASED = 2;
const QOS_2 = 2;

class Publisher {
  readonly template: PublishTemplate;
  seq = 0;
  inflight = 0;
  nextId = 1;
  /** Packet id states (ID_*), QoS 1 and 2 only. */
  readonly ids: Uint8Array | null;
  /** PUBRELs answering this chunk's PUBRECs. */
  readonly rels = new AckBatch();
  blocked = false;
  /** Incomplete QoS 1/2 flows allowed: the window, and the broker's Receive Maximum. */
  readonly ackWindow: number;
  readonly refill: number;

  constructor(
    readonly index: number,
    readonly client: Client,
    readonly fanout: number,
    readonly window: number,
    topic: string,
    plan: LoadPlan,
  ) {
    this.template = new PublishTemplate(topic, plan.payloadSize, plan.qos, false, plan.version);
    this.ids = plan.qos > 0 ? new Uint8Array(MAX_PACKET_ID + 1) : null;
    this.ackWindow = Math.min(window, client.receiveMaximum);
    this.refill = Math.max(1, Math.min(plan.batchMax, Math.floor(window / REFILL_FRACTION)));
  }
}

class Subscriber {
  /** Indexed by global publisher index; undefined for publishers it does not expect. */
  readonly tracks: (PairTrack | undefined)[];
  /** PUBACKs, or PUBRECs and PUBCOMPs, answering this chunk. */
  readonly acks = new AckBatch();
  /** QoS 2: packet ids received (PUBREC sent) whose PUBREL has not arrived. */
  readonly awaitingRel: Uint8Array | null;

  constructor(
    readonly client: Client,
    expects: number[],
    totalPublishers: number,
    qos: number,
  ) {
    this.tracks = new Array<PairTrack | undefined>(totalPublishers);
    for (const p of expects) this.tracks[p] = new PairTrack();
    this.awaitingRel = qos === QOS_2 ? new Uint8Array(MAX_PACKET_ID + 1) : null;
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
  private reads = 0;
  /** QoS 2 deliveries whose PUBREL has not arrived, over this worker's subscribers. */
  private awaitingRel = 0;
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
      this.subscribers.push(new Subscriber(client, s.expects, plan.totalPublishers, plan.qos));
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
      const publisher = new Publisher(p.index, client, p.fanout, p.window, p.topic, this.plan);
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
    if (this.plan.qos === QOS_2 && check.duplicates > 0)
      this.errors.add(`${check.duplicates} QoS 2 messages delivered more than once [MQTT-4.3.3-10]`);
    if (this.awaitingRel > 0)
      this.errors.add(`${this.awaitingRel} QoS 2 deliveries never released (no PUBREL after PUBREC)`);
    const stuck = this.publishers.reduce((n, p) => n + p.inflight, 0);
    if (stuck > 0)
      this.errors.add(`${stuck} QoS ${this.plan.qos} publishes never completed (no PUBACK/PUBCOMP)`);
    const receiveMaximum = Math.min(...this.publishers.map((p) => p.client.receiveMaximum));
    return {
      deliveryCheck: check,
      latencies: this.latencies.toArray(),
      errors: this.errors.list(),
      receiveMaximum,
    };
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
        n = Math.min(n, Math.floor((pub.window * pub.fanout - outstanding) / pub.fanout));
      } else {
        n = Math.min(n, due - pub.seq);
      }
      if (pub.ids !== null) n = Math.min(n, pub.ackWindow - pub.inflight);
      if (n <= 0 || (closed && n < Math.min(pub.refill, pub.ackWindow))) continue;
      this.send(pub, n, now);
      progressed = true;
    }
    Atomics.store(counters.cells, counters.workerIndex(this.worker, WorkerCell.Published), this.published);
    this.storeInflight();
    this.schedule(closed && progressed);
  }

  private send(pub: Publisher, n: number, now: number): void {
    const { frame, payloadOffset, packetIdOffset } = pub.template;
    const size = frame.length;
    const buf = Buffer.allocUnsafe(n * size);
    let at = 0;
    for (let k = 0; k < n; k++, at += size) {
      frame.copy(buf, at);
      if (pub.ids !== null) {
        const id = pub.nextId;
        if (pub.ids[id] !== ID_FREE)
          this.errors.add(`publisher ${pub.index}: packet id ${id} still unacknowledged`);
        pub.ids[id] = ID_SENT;
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
    if (pub.ids !== null) {
      pub.inflight += n;
      this.inflight += n;
    }
    Atomics.store(this.counters.cells, this.counters.sentIndex(pub.index), pub.seq);
    if (!pub.client.socket.write(buf)) pub.blocked = true;
  }

  /** Publishes whose flow is incomplete, and QoS 2 deliveries awaiting PUBREL (the drain waits for both). */
  private storeInflight(): void {
    const { counters } = this;
    Atomics.store(
      counters.cells,
      counters.workerIndex(this.worker, WorkerCell.Inflight),
      this.inflight + this.awaitingRel,
    );
  }

  /** Ends a publisher's QoS 1 or 2 flow for packet id `id`. */
  private complete(pub: Publisher, id: number): void {
    pub.ids![id] = ID_FREE;
    pub.inflight--;
    this.inflight--;
    this.pubacks++;
  }

  private publisherHandler(): ClientHandler {
    const { plan } = this;
    return {
      onPublish: (client) => this.errors.add(`${client.clientId}: a publisher received a PUBLISH`),
      onAck: (client, packet: AckPacket) => {
        const pub = this.publishers[client.index]!;
        const id = packet.packetId;
        const state = pub.ids === null ? -1 : pub.ids[id];
        const failed = packet.reasonCode >= ReasonCode.UnspecifiedError;
        switch (packet.type) {
          case PacketType.Puback:
            if (plan.qos !== 1 || state !== ID_SENT) break;
            if (failed)
              this.errors.add(`${client.clientId}: PUBACK reason 0x${packet.reasonCode.toString(16)}`);
            return this.complete(pub, id);
          case PacketType.Pubrec:
            if (plan.qos !== QOS_2 || state !== ID_SENT) break;
            if (failed) {
              // A PUBREC >= 0x80 ends the flow: no PUBREL [MQTT-4.3.3-4].
              this.errors.add(`${client.clientId}: PUBREC reason 0x${packet.reasonCode.toString(16)}`);
              return this.complete(pub, id);
            }
            pub.ids![id] = ID_RELEASED;
            pub.rels.add(PUBREL_TEMPLATE, id);
            return;
          case PacketType.Pubcomp:
            if (plan.qos !== QOS_2 || state !== ID_RELEASED) break;
            return this.complete(pub, id);
          default:
            break;
        }
        this.errors.add(
          `${client.clientId}: unexpected ack type ${packet.type} for packet id ${id} (state ${state})`,
        );
      },
      onChunkEnd: (client) => {
        const { counters } = this;
        const pub = this.publishers[client.index];
        if (pub !== undefined && pub.rels.count > 0 && !client.closed) pub.rels.flush(client.socket);
        Atomics.store(counters.cells, counters.workerIndex(this.worker, WorkerCell.Pubacks), this.pubacks);
        this.storeInflight();
        this.schedule(this.plan.mode === 'closed');
      },
      onError: (_client, error) => this.fail(error),
    };
  }

  private subscriberHandler(): ClientHandler {
    const { counters, plan } = this;
    const cells = counters.cells;
    const measuring = (): boolean => counters.phase === Phase.Measuring;
    return {
      onPublish: (client, packet: Packet & { type: typeof PacketType.Publish }) => {
        const sub = this.subscribers[client.index]!;
        const payload = packet.payload;
        this.deliveries++;
        if (packet.qos !== plan.qos) {
          // Both sides use the scenario's QoS: the delivery's is the same [MQTT-3.8.4-8].
          this.errors.add(`${client.clientId}: delivered at QoS ${packet.qos}, expected ${plan.qos}`);
        }
        if (payload.length !== plan.payloadSize) {
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
            this.latencyCountdown = plan.latencyStride;
            if (measuring()) {
              if (this.chunkNow < 0) this.chunkNow = nowMicros();
              this.latencies.push(this.chunkNow - payload.readDoubleBE(OFFSET_TIME));
            }
          }
        }
        if (packet.qos === 1) sub.acks.add(PUBACK_TEMPLATE, packet.packetId);
        else if (packet.qos === QOS_2) {
          const waiting = sub.awaitingRel;
          if (waiting === null) return;
          // A second PUBLISH with an id still awaiting its PUBREL gets PUBREC again
          // [MQTT-4.3.3-10]; the track above counts it as a duplicate (an error at QoS 2).
          if (waiting[packet.packetId] === 0) {
            waiting[packet.packetId] = 1;
            this.awaitingRel++;
          }
          sub.acks.add(PUBREC_TEMPLATE, packet.packetId);
        }
      },
      onAck: (client, packet: AckPacket) => {
        const sub = this.subscribers[client.index];
        const waiting = sub?.awaitingRel ?? null;
        if (packet.type !== PacketType.Pubrel || waiting === null || waiting[packet.packetId] !== 1) {
          this.errors.add(
            `${client.clientId}: a subscriber received ack type ${packet.type} (id ${packet.packetId})`,
          );
          return;
        }
        waiting[packet.packetId] = 0;
        this.awaitingRel--;
        sub!.acks.add(PUBCOMP_TEMPLATE, packet.packetId);
      },
      onChunkEnd: (client) => {
        this.chunkNow = -1;
        this.reads++;
        const sub = this.subscribers[client.index];
        if (sub === undefined) return; // the CONNACK, before the subscriber is registered
        if (sub.acks.count > 0 && !client.closed) sub.acks.flush(client.socket);
        Atomics.store(cells, counters.workerIndex(this.worker, WorkerCell.Deliveries), this.deliveries);
        Atomics.store(cells, counters.workerIndex(this.worker, WorkerCell.Reads), this.reads);
        if (plan.qos === QOS_2) this.storeInflight();
        if (this.publishers.length > 0) this.schedule(plan.mode === 'closed');
      },
      onError: (_client, error) => this.fail(error),
    };
  }

  private noiseHandler(): ClientHandler {
    return {
      onPublish: (client) => this.errors.add(`${client.clientId}: a noise subscriber received a PUBLISH`),
      onAck: (client) => this.errors.add(`${client.clientId}: a noise subscriber received an ack`),
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
