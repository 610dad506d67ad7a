/**
 * A session: the state of a client id that outlives its connections (section 4.1).
 *
 * It holds the client's subscriptions, the outgoing QoS 1/2 messages in flight (sent, awaiting
 * PUBACK / PUBREC / PUBCOMP), the queue of messages waiting for the flight window or for the
 * client to come back, the packet identifiers in use, and the QoS 2 identifiers received but not
 * yet released. While a connection is attached the session pushes deliveries to it through the
 * `Outlet` interface; detached, it queues them (QoS 0 only if `mqueueStoreQos0`).
 *
 * Flow control: at most `window` messages are in flight (the smaller of the client's Receive
 * Maximum and the broker's max_inflight) [MQTT-3.3.4-7]; the rest wait in the queue, which holds
 * at most `maxMqueueLen` entries and drops the oldest on overflow (EMQX's policy), reporting each
 * drop. On reconnect, inflight messages are sent again with DUP set, in their original order
 * [MQTT-4.4.0-1], before queued ones. While connected, `retry` resends the deliveries that have
 * waited longer than the retry interval (the channel calls it for MQTT 3.x clients only: 5.0
 * forbids resending except on reconnect).
 *
 * Incoming QoS 2: `awaitingRel` holds the packet ids received (PUBREC sent) and not yet
 * released, with the time each arrived and the connection (attach generation) it arrived on, so
 * the channel can enforce its Receive Maximum per network connection (`receiving`) and
 * `expireAwaitingRel` can forget ids whose PUBREL never came (await_rel_timeout).
 *
 * Per-session delivery options set by the channel at CONNECT: `ignoreLoop` (EMQX's
 * ignore_loop_deliver: a 3.x client's own messages are not delivered back to it) and
 * `upgradeQos` (consulted by the broker's routing: deliver at the subscription's QoS).
 *
 * Durability. A session that persists has a `journal` (journal.ts): every change to what it
 * holds (a delivery added, sent, released or removed; an awaiting-release id; a subscription;
 * its expiry and connected state) is told to it, and it writes the change to the durable store.
 * `restore*` rebuild a session from the store at start, without journaling.
 */

import type { QoS } from '../protocol/index.js';
import type { Message } from '../broker/message.js';
import type { SubscriptionOptions } from '../broker/types.js';
import type { SessionJournal } from './journal.js';

/** What a session needs from the connection it is attached to. */
export interface Outlet {
  /** Sends one PUBLISH for `message` with these per-delivery fields. */
  sendPublish(
    message: Message,
    qos: QoS,
    retain: boolean,
    packetId: number,
    dup: boolean,
    subIds: number[] | null,
  ): void;
  /** Sends a PUBREL (the QoS 2 second half, on resend after reconnect). */
  sendPubrel(packetId: number): void;
}

export interface SessionLimits {
  maxInflight: number;
  maxMqueueLen: number;
  mqueueStoreQos0: boolean;
}

/**
 * The shared subscription group a delivery was dispatched by (`$share/<name>/<filter>`), so the
 * broker can hand it to another member when this session leaves before acknowledging it
 * (MQTT 5.0 section 4.8.2).
 */
export interface ShareGroupRef {
  readonly name: string;
  readonly filter: string;
}

/** One delivery of a message to this session: the message and the subscription's terms. */
export class Delivery {
  constructor(
    readonly message: Message,
    readonly qos: QoS,
    readonly retain: boolean,
    readonly subIds: number[] | null,
    /** The share group that chose this session for a QoS 1/2 message; null otherwise. */
    readonly group: ShareGroupRef | null = null,
  ) {}

  /** Its place in the session's durable entries (journal); 0 when not stored. */
  seq = 0;
}

enum InflightState {
  /** PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2). */
  AwaitAck = 0,
  /** PUBREL sent, waiting for PUBCOMP (QoS 2). */
  AwaitComp = 1,
}

class Inflight {
  constructor(
    readonly delivery: Delivery,
    public state: InflightState,
    /** When the PUBLISH (or, in AwaitComp, the PUBREL) was last sent (ms), for retries. */
    public sentAt: number,
  ) {}
}

/** An incoming QoS 2 packet id awaiting PUBREL. */
class AwaitingRel {
  constructor(
    /** When the PUBLISH arrived (ms), for await_rel_timeout. */
    readonly at: number,
    /** The attach generation (network connection) it arrived on, for the Receive Maximum. */
    readonly generation: number,
  ) {}
}

export type DropReason = 'queue_full' | 'qos0_offline';

// Shared by every session that has none of its own; never written (Session.own*()).
const NONE_SUBSCRIPTIONS: ReadonlyMap<string, SubscriptionOptions> = new Map();
const NONE_INFLIGHT: ReadonlyMap<number, Inflight> = new Map();
const NONE_AWAITING_REL: ReadonlyMap<number, AwaitingRel> = new Map();
const NONE_QUEUED: Delivery[] = [];

export class Session {
  // The three maps and the queue start as shared empty ones (NONE_*) and a session gets its own
  // at its first write (own*()): an idle client holds no empty collections.
  private subs: ReadonlyMap<string, SubscriptionOptions> = NONE_SUBSCRIPTIONS;
  /** Outgoing QoS 1/2 deliveries in flight, by packet id, in send order (Map keeps it). */
  private inflight: ReadonlyMap<number, Inflight> = NONE_INFLIGHT;
  private queue: Delivery[] = NONE_QUEUED;
  private queueHead = 0;
  /** Incoming QoS 2 packet ids received (PUBREC sent) and not yet released, in arrival order. */
  private awaitingRel: ReadonlyMap<number, AwaitingRel> = NONE_AWAITING_REL;
  /** Counts attaches: which network connection an awaiting-release id arrived on. */
  private generation = 0;
  /** Awaiting-release ids that arrived on the current connection (its Receive Maximum count). */
  private receivingCount = 0;
  /** Do not deliver messages this client published itself (ignore_loop_deliver, 3.x). */
  ignoreLoop = false;
  /** Deliver at the subscription's QoS rather than the lower of the two (upgrade_qos). */
  upgradeQos = false;
  private nextPacketId = 1;
  private outlet: Outlet | null = null;
  /**
   * Set while the queue is drained or in-flight messages are resent. The outlet may complete a
   * delivery from inside sendPublish (an expired or too large message); that must not start a
   * second, nested drain (which would resend, reorder or read a reset queue), only free the slot
   * for the running one.
   */
  private draining = false;
  /** Flight window for the attached connection. */
  private window: number;
  /** Session Expiry Interval in seconds (0: ends with the connection; 0xFFFFFFFF: never). */
  expiryInterval = 0;
  /** When the last connection went away (ms), for expiry. */
  disconnectedAt = 0;
  droppedCount = 0;
  /** Where changes go when the session persists (journal.ts); null otherwise. */
  journal: SessionJournal | null = null;
  /** The next durable entry's `seq` (journal). */
  nextSeq = 1;

  constructor(
    readonly clientId: string,
    private readonly limits: SessionLimits,
    private readonly onDrop: (session: Session, delivery: Delivery, reason: DropReason) => void,
  ) {
    this.window = limits.maxInflight;
  }

  get connected(): boolean {
    return this.outlet !== null;
  }

  /** Filter -> options of the session's subscriptions. */
  get subscriptions(): ReadonlyMap<string, SubscriptionOptions> {
    return this.subs;
  }

  private ownSubscriptions(): Map<string, SubscriptionOptions> {
    if (this.subs === NONE_SUBSCRIPTIONS) this.subs = new Map();
    return this.subs as Map<string, SubscriptionOptions>;
  }

  private ownInflight(): Map<number, Inflight> {
    if (this.inflight === NONE_INFLIGHT) this.inflight = new Map();
    return this.inflight as Map<number, Inflight>;
  }

  private ownAwaitingRel(): Map<number, AwaitingRel> {
    if (this.awaitingRel === NONE_AWAITING_REL) this.awaitingRel = new Map();
    return this.awaitingRel as Map<number, AwaitingRel>;
  }

  private ownQueue(): Delivery[] {
    if (this.queue === NONE_QUEUED) this.queue = [];
    return this.queue;
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  get queueLength(): number {
    return this.queue.length - this.queueHead;
  }

  /**
   * The QoS of a delivery under a subscription granted `granted`: the lower of the two
   * [MQTT-3.8.4-8], or with upgrade_qos the subscription's (EMQX's non-standard option).
   */
  deliveryQos(granted: QoS, published: QoS): QoS {
    return this.upgradeQos || granted < published ? granted : published;
  }

  /** Incoming QoS 2 packet ids awaiting PUBREL, from any connection. */
  get awaitingRelCount(): number {
    return this.awaitingRel.size;
  }

  /**
   * Incoming QoS 1/2 publications of the current connection not yet acknowledged (PUBCOMP):
   * what the broker's Receive Maximum limits [MQTT-3.3.4-7]. QoS 1 is acknowledged at once, so
   * these are the QoS 2 ids awaiting PUBREL that arrived since the last attach.
   */
  get receiving(): number {
    return this.receivingCount;
  }

  /** Is this incoming QoS 2 packet id received and not yet released? */
  isAwaitingRel(packetId: number): boolean {
    return this.awaitingRel.has(packetId);
  }

  /** An incoming QoS 2 PUBLISH was received and PUBREC sent: remember its id until PUBREL. */
  addAwaitingRel(packetId: number, now: number): void {
    this.ownAwaitingRel().set(packetId, new AwaitingRel(now, this.generation));
    this.receivingCount++;
    this.journal?.awaitingRel(this, packetId, now);
  }

  /** PUBREL from the client: forgets the id; false if it was not awaiting release. */
  release(packetId: number): boolean {
    const entry = this.awaitingRel.get(packetId);
    if (entry === undefined) return false;
    this.ownAwaitingRel().delete(packetId);
    if (entry.generation === this.generation) this.receivingCount--;
    this.journal?.relReleased(this, packetId);
    return true;
  }

  /**
   * Forgets the awaiting-release ids older than `timeoutMs` (await_rel_timeout). The message
   * was routed when it arrived, so nothing is lost; a later PUBREL for the id gets PUBCOMP
   * 0x92 and a resent PUBLISH with it is taken as new. Returns how many were dropped.
   */
  expireAwaitingRel(now: number, timeoutMs: number): number {
    let dropped = 0;
    // Map order is arrival order (an id is only ever added once while present).
    for (const [packetId, entry] of this.awaitingRel) {
      if (now - entry.at < timeoutMs) break;
      this.ownAwaitingRel().delete(packetId);
      if (entry.generation === this.generation) this.receivingCount--;
      this.journal?.relReleased(this, packetId);
      dropped++;
    }
    return dropped;
  }

  /**
   * Attaches a connection. `receiveMaximum` is the client's (65535 when it sent none).
   * Resends what was in flight (DUP), then drains the queue into the window.
   */
  attach(outlet: Outlet, receiveMaximum: number): void {
    this.outlet = outlet;
    this.window = Math.max(1, Math.min(receiveMaximum, this.limits.maxInflight));
    // A new network connection: its Receive Maximum count starts from zero (section 3.3.4).
    this.generation++;
    this.receivingCount = 0;
    this.journal?.updated(this);
    this.resend(outlet, Date.now(), Number.NEGATIVE_INFINITY); // all of them, whatever the clock says
    this.drain();
  }

  /**
   * Resends (DUP) the in-flight deliveries last sent `intervalMs` or more ago, in their original
   * order: PUBLISH for those awaiting PUBACK / PUBREC, PUBREL for those awaiting PUBCOMP. The
   * channel calls it periodically for MQTT 3.x clients (retry_interval). Returns how many.
   */
  retry(now: number, intervalMs: number): number {
    const outlet = this.outlet;
    if (outlet === null || this.inflight.size === 0) return 0;
    const resent = this.resend(outlet, now, intervalMs);
    this.drain(); // a resend may have completed deliveries (expired, too large)
    return resent;
  }

  private resend(outlet: Outlet, now: number, intervalMs: number): number {
    let resent = 0;
    this.draining = true;
    try {
      for (const [packetId, entry] of this.inflight) {
        if (now - entry.sentAt < intervalMs) continue;
        entry.sentAt = now;
        resent++;
        if (entry.state === InflightState.AwaitComp) outlet.sendPubrel(packetId);
        else {
          const d = entry.delivery;
          outlet.sendPublish(d.message, d.qos, d.retain, packetId, true, d.subIds);
        }
      }
    } finally {
      this.draining = false;
    }
    return resent;
  }

  detach(now: number): void {
    this.outlet = null;
    this.disconnectedAt = now;
    this.journal?.updated(this);
  }

  /**
   * Delivers (or queues) one message under a subscription's granted QoS and retain flag. A
   * Delivery object is made only when the message has to wait or stay in flight.
   */
  deliver(
    message: Message,
    qos: QoS,
    retain: boolean,
    subIds: number[] | null,
    group: ShareGroupRef | null = null,
  ): void {
    // ignore_loop_deliver: No Local for every subscription of a 3.x client.
    if (this.ignoreLoop && message.from === this.clientId) return;
    const outlet = this.outlet;
    if (outlet === null) {
      if (qos === 0 && !this.limits.mqueueStoreQos0) {
        this.onDrop(this, new Delivery(message, qos, retain, subIds), 'qos0_offline');
      } else {
        this.enqueue(new Delivery(message.own(), qos, retain, subIds, group));
      }
      return;
    }
    if (qos === 0) {
      outlet.sendPublish(message, 0, retain, 0, false, subIds);
      return;
    }
    const delivery = new Delivery(message.own(), qos, retain, subIds, group);
    // While resending or draining (`draining`), a delivery made from inside sendPublish (a
    // message.delivered hook that publishes) waits in the queue: sending it now would add to the
    // in-flight map being walked, and it would go out twice.
    if (this.inflight.size >= this.window || this.queueLength > 0 || this.draining) this.enqueue(delivery);
    else this.send(outlet, delivery);
  }

  /**
   * Ends an in-flight delivery; returns it (null if there is none with this id). With `ack`,
   * the client's acknowledgement must fit the delivery, else it is ignored (null): a PUBACK
   * ends only a QoS 1 delivery, a PUBCOMP only a QoS 2 one whose PUBREL went out, a PUBREC
   * with a failure code only a QoS 2 one still awaiting PUBREC (sections 4.3.2, 4.3.3). Without
   * `ack` the broker itself ends it (an expired or too large message).
   */
  complete(packetId: number, ack?: 'puback' | 'pubcomp' | 'pubrec_failed'): Delivery | null {
    const entry = this.inflight.get(packetId);
    if (entry === undefined) return null;
    if (ack !== undefined) {
      const qos = entry.delivery.qos;
      const fits =
        ack === 'puback'
          ? qos === 1
          : ack === 'pubcomp'
            ? qos === 2 && entry.state === InflightState.AwaitComp
            : qos === 2 && entry.state === InflightState.AwaitAck;
      if (!fits) return null;
    }
    this.ownInflight().delete(packetId);
    this.journal?.removed(this, entry.delivery);
    this.drain();
    return entry.delivery;
  }

  /** PUBREC from the client: the QoS 2 message is received; PUBREL goes next. */
  received(packetId: number): boolean {
    const entry = this.inflight.get(packetId);
    if (entry === undefined || entry.delivery.qos !== 2) return false;
    entry.state = InflightState.AwaitComp;
    entry.sentAt = Date.now(); // the PUBREL goes now; a retry resends it from here
    this.journal?.released(this, entry.delivery, packetId);
    return true;
  }

  /**
   * Takes out the deliveries a share group may give to another member (MQTT 5.0 section 4.8.2):
   * QoS 1 messages sent and not acknowledged, and QoS 1/2 messages still queued, when `movable`
   * says their group can take them. A QoS 2 message already sent stays: its delivery is
   * completed with this session when it reconnects, and goes to no one else if the session
   * ends [MQTT-4.8.2-4] [MQTT-4.8.2-5]. Called by the broker once the session is detached.
   */
  takeShared(movable: (group: ShareGroupRef) => boolean): Delivery[] {
    const taken: Delivery[] = [];
    for (const [packetId, entry] of this.inflight) {
      const d = entry.delivery;
      if (d.group === null || d.qos !== 1 || !movable(d.group)) continue;
      this.ownInflight().delete(packetId);
      this.journal?.removed(this, d);
      taken.push(d);
    }
    // The queue is copied only if something leaves it.
    let kept: Delivery[] | null = null;
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const d = this.queue[i]!;
      if (d.group !== null && movable(d.group)) {
        kept ??= this.queue.slice(this.queueHead, i);
        this.journal?.removed(this, d);
        taken.push(d);
      } else if (kept !== null) kept.push(d);
    }
    if (kept !== null) {
      this.queue = kept;
      this.queueHead = 0;
    }
    return taken;
  }

  subscribe(filter: string, options: SubscriptionOptions): boolean {
    const subs = this.ownSubscriptions();
    const existed = subs.has(filter);
    subs.set(filter, options);
    this.journal?.subscribed(this, filter);
    return existed;
  }

  unsubscribe(filter: string): boolean {
    const existed = this.subs.size > 0 && this.ownSubscriptions().delete(filter);
    if (existed) this.journal?.unsubscribed(this, filter);
    return existed;
  }

  private send(outlet: Outlet, delivery: Delivery): void {
    const packetId = this.allocatePacketId();
    this.ownInflight().set(packetId, new Inflight(delivery, InflightState.AwaitAck, Date.now()));
    const journal = this.journal;
    if (journal !== null) {
      if (delivery.seq === 0) journal.added(this, delivery, packetId);
      else journal.sent(this, delivery, packetId);
    }
    outlet.sendPublish(delivery.message, delivery.qos, delivery.retain, packetId, false, delivery.subIds);
  }

  /** Sends queued deliveries in order while the window has room (QoS 0 needs none). */
  private drain(): void {
    const outlet = this.outlet;
    if (outlet === null || this.draining) return;
    this.draining = true;
    try {
      // this.queue and this.queueHead are read afresh each turn: a send may enqueue (a hook that
      // publishes) or complete (see `draining`) on the way.
      while (this.queueHead < this.queue.length && this.outlet === outlet) {
        const d = this.queue[this.queueHead]!;
        if (d.qos > 0 && this.inflight.size >= this.window) break;
        this.queue[this.queueHead++] = undefined as unknown as Delivery;
        if (d.qos === 0) {
          if (d.seq !== 0) this.journal?.removed(this, d);
          outlet.sendPublish(d.message, 0, d.retain, 0, false, d.subIds);
        } else this.send(outlet, d);
      }
    } finally {
      this.draining = false;
    }
    this.compact();
  }

  /** Lets go of the consumed head of the queue array, so it does not grow without bound. */
  private compact(): void {
    const queue = this.queue;
    if (this.queueHead === queue.length) {
      if (queue.length === 0) return;
      this.queue = NONE_QUEUED;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > queue.length) {
      this.queue = queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private enqueue(delivery: Delivery): void {
    const max = this.limits.maxMqueueLen;
    if (max > 0 && this.queueLength >= max) {
      const oldest = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as unknown as Delivery;
      this.droppedCount++;
      if (oldest.seq !== 0) this.journal?.removed(this, oldest);
      this.onDrop(this, oldest, 'queue_full');
    }
    this.ownQueue().push(delivery);
    if (delivery.seq === 0) this.journal?.added(this, delivery, 0);
    this.compact();
  }

  /** Every delivery the session holds: in flight (in send order), then queued. */
  deliveries(): Delivery[] {
    const all: Delivery[] = [];
    for (const entry of this.inflight.values()) all.push(entry.delivery);
    for (let i = this.queueHead; i < this.queue.length; i++) all.push(this.queue[i]!);
    return all;
  }

  /**
   * Drops the queued deliveries whose message has expired (Message Expiry Interval, 5.0 section
   * 3.3.2.3.3) so an offline session's queue does not keep them; in-flight ones stay (they went
   * out already). Returns how many were dropped.
   */
  dropExpired(now: number): number {
    let kept: Delivery[] | null = null;
    let dropped = 0;
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const d = this.queue[i]!;
      const ttl = d.message.properties?.messageExpiryInterval;
      if (ttl !== undefined && now - d.message.timestamp >= ttl * 1000) {
        kept ??= this.queue.slice(this.queueHead, i);
        if (d.seq !== 0) this.journal?.removed(this, d);
        dropped++;
      } else if (kept !== null) kept.push(d);
    }
    if (kept !== null) {
      this.queue = kept;
      this.queueHead = 0;
    }
    return dropped;
  }

  // Restoring from the durable store at start (the journal is attached afterwards).

  /** A delivery that was in flight: resent with DUP (or its PUBREL again) on attach. */
  restoreInflight(delivery: Delivery, packetId: number, released: boolean): void {
    const state = released ? InflightState.AwaitComp : InflightState.AwaitAck;
    this.ownInflight().set(packetId, new Inflight(delivery, state, 0));
    this.nextPacketId = packetId === 65_535 ? 1 : packetId + 1;
    if (delivery.seq >= this.nextSeq) this.nextSeq = delivery.seq + 1;
  }

  /** A delivery that was queued. */
  restoreQueued(delivery: Delivery): void {
    this.ownQueue().push(delivery);
    if (delivery.seq >= this.nextSeq) this.nextSeq = delivery.seq + 1;
  }

  /** An incoming QoS 2 packet id that awaited PUBREL (not counted against a new connection). */
  restoreAwaitingRel(packetId: number, at: number): void {
    this.ownAwaitingRel().set(packetId, new AwaitingRel(at, this.generation));
  }

  /** Packet ids 1..65535, skipping those still in flight [MQTT-2.2.1-2]. */
  private allocatePacketId(): number {
    for (let tries = 0; tries < 65_535; tries++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65_535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
    throw new Error('no free packet identifier'); // impossible: the window is at most 65535
  }
}
