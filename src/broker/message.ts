/**
 * A message as the broker routes it: one object per published message, shared by every
 * subscriber it goes to (fixed shape, every field set in the constructor).
 *
 * `frames` caches the encoded PUBLISH for each distinct wire form (protocol family, QoS,
 * retain flag) so a message fanned out to N subscribers that take the same form is encoded once
 * and the same Buffer is written N times (DESIGN.md, "encode once, write many"). A subscriber
 * whose form is unique (a subscription identifier, a topic alias) gets its own encoding.
 */

import type { Properties, QoS } from '../protocol/index.js';

let nextId = 1;

export class Message {
  /** Broker-unique id (per process), for logs, the API and the store. */
  readonly id: number;
  /** Cached frames by wire form; see frameKey(). */
  frames: Array<Buffer | undefined> | null = null;
  /** Its id in the durable session store (durable.ts); 0 while not stored. */
  storeId = 0;
  /** How many stored session entries refer to it. */
  storeRefs = 0;

  constructor(
    public topic: string,
    public payload: Buffer,
    public qos: QoS,
    public retain: boolean,
    /** MQTT 5.0 properties that travel with the message (expiry, content type, user properties, ...). */
    public properties: Properties | null,
    /** Publisher's client id, or '' for messages the broker makes ($SYS, HTTP API). */
    public from: string,
    /** Milliseconds since the epoch when the broker received it. */
    public readonly timestamp: number = Date.now(),
  ) {
    this.id = nextId++;
  }

  /**
   * Makes the message own its bytes. Decoded payloads are views into the socket's read buffer;
   * that is fine while the message is routed within the turn, but a message kept for later (a
   * queue, the inflight window, the retained store) copies them once so it does not pin the
   * whole read buffer. Returns this.
   */
  own(): this {
    if (this.owned) return this;
    this.owned = true;
    this.payload = Buffer.from(this.payload);
    const p = this.properties;
    if (p !== null && p.correlationData !== undefined) p.correlationData = Buffer.from(p.correlationData);
    return this;
  }

  private owned = false;
}

/** Index into Message.frames: v5 or not, QoS, retain. 12 forms. */
export function frameKey(v5: boolean, qos: QoS, retain: boolean): number {
  return (v5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
}
