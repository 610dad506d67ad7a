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
 * [MQTT-4.4.0-1], before queued ones.
 *
 * This is the memory variant; the durable one (issue 5) keeps the same interface and writes
 * through the persistence layer.
 */

import type { QoS } from '../protocol/index.js';
import type { Message } from '../broker/message.js';
import type { SubscriptionOptions } from '../broker/types.js';

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

/** One delivery of a message to this session: the message and the subscription's terms. */
export class Delivery {
  constructor(
    readonly message: Message,
    readonly qos: QoS,
    readonly retain: boolean,
    readonly subIds: number[] | null,
  ) {}
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
  ) {}
}

export type DropReason = 'queue_full' | 'qos0_offline';

export class Session {
  readonly subscriptions = new Map<string, SubscriptionOptions>();
  /** Outgoing QoS 1/2 deliveries in flight, by packet id, in send order (Map keeps it). */
  private readonly inflight = new Map<number, Inflight>();
  private queue: Delivery[] = [];
  private queueHead = 0;
  /** Incoming QoS 2 packet ids received (PUBREC sent) and not yet released. */
  readonly awaitingRel = new Set<number>();
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

  get inflightCount(): number {
    return this.inflight.size;
  }

  get queueLength(): number {
    return this.queue.length - this.queueHead;
  }

  /**
   * Attaches a connection. `receiveMaximum` is the client's (65535 when it sent none).
   * Resends what was in flight (DUP), then drains the queue into the window.
   */
  attach(outlet: Outlet, receiveMaximum: number): void {
    this.outlet = outlet;
    this.window = Math.max(1, Math.min(receiveMaximum, this.limits.maxInflight));
    this.draining = true;
    try {
      for (const [packetId, entry] of this.inflight) {
        if (entry.state === InflightState.AwaitComp) outlet.sendPubrel(packetId);
        else {
          const d = entry.delivery;
          outlet.sendPublish(d.message, d.qos, d.retain, packetId, true, d.subIds);
        }
      }
    } finally {
      this.draining = false;
    }
    this.drain();
  }

  detach(now: number): void {
    this.outlet = null;
    this.disconnectedAt = now;
  }

  /**
   * Delivers (or queues) one message under a subscription's granted QoS and retain flag. A
   * Delivery object is made only when the message has to wait or stay in flight.
   */
  deliver(message: Message, qos: QoS, retain: boolean, subIds: number[] | null): void {
    const outlet = this.outlet;
    if (outlet === null) {
      if (qos === 0 && !this.limits.mqueueStoreQos0) {
        this.onDrop(this, new Delivery(message, qos, retain, subIds), 'qos0_offline');
      } else {
        this.enqueue(new Delivery(message.own(), qos, retain, subIds));
      }
      return;
    }
    if (qos === 0) {
      outlet.sendPublish(message, 0, retain, 0, false, subIds);
      return;
    }
    const delivery = new Delivery(message.own(), qos, retain, subIds);
    if (this.inflight.size >= this.window || this.queueLength > 0) this.enqueue(delivery);
    else this.send(outlet, delivery);
  }

  /** PUBACK (QoS 1) or PUBCOMP (QoS 2) from the client; returns the delivery it completes. */
  complete(packetId: number): Delivery | null {
    const entry = this.inflight.get(packetId);
    if (entry === undefined) return null;
    this.inflight.delete(packetId);
    this.drain();
    return entry.delivery;
  }

  /** PUBREC from the client: the QoS 2 message is received; PUBREL goes next. */
  received(packetId: number): boolean {
    const entry = this.inflight.get(packetId);
    if (entry === undefined || entry.delivery.qos !== 2) return false;
    entry.state = InflightState.AwaitComp;
    return true;
  }

  subscribe(filter: string, options: SubscriptionOptions): boolean {
    const existed = this.subscriptions.has(filter);
    this.subscriptions.set(filter, options);
    return existed;
  }

  unsubscribe(filter: string): boolean {
    return this.subscriptions.delete(filter);
  }

  private send(outlet: Outlet, delivery: Delivery): void {
    const packetId = this.allocatePacketId();
    this.inflight.set(packetId, new Inflight(delivery, InflightState.AwaitAck));
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
        if (d.qos === 0) outlet.sendPublish(d.message, 0, d.retain, 0, false, d.subIds);
        else this.send(outlet, d);
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
      this.queue = [];
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
      this.onDrop(this, oldest, 'queue_full');
    }
    this.queue.push(delivery);
    this.compact();
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
