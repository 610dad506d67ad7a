/**
 * Will messages (MQTT 3.1.2.5 and, for 5.0, the Will Delay Interval of 3.1.3.2.2).
 *
 * A will is published when its client's network connection closes without a normal DISCONNECT
 * [MQTT-3.1.2-8]. An MQTT 5.0 will may ask to wait: it is then published when the Will Delay
 * Interval has passed or the session ends, whichever comes first, and not at all if the client
 * connects again to the same session before that [MQTT-3.1.3-9]. A session "ends" when its Session
 * Expiry Interval passes after the disconnect, or when a new connection with Clean Start discards
 * it; so at disconnect a will is due after min(will delay, session expiry), and a reconnect either
 * cancels it (the session goes on) or publishes it at once (Clean Start: the session ends).
 *
 * Waiting wills live in one `PendingWills` per broker: a binary min-heap ordered by due time,
 * indexed by client id for cancellation, and one timer armed for the earliest due will. There is
 * no timer per client: 100k clients dropping at once cost 100k heap entries and one timer.
 *
 * Publishing a will is a publish by the client: it goes through the same authorization as a
 * PUBLISH (the `client.authorize` fold hook with action 'publish'; a denied will is not
 * published), carries the will's QoS, retain flag and properties (5.0: payload format, message
 * expiry, content type, response topic, correlation data, user properties; not the Will Delay
 * Interval, which is not a message property), and comes from the client's id (No Local applies).
 */

import type { Properties, Will } from '../protocol/index.js';
import { authorize } from './authorize.js';
import type { Broker } from './broker.js';
import { Message } from './message.js';
import type { ClientInfo } from './types.js';

/**
 * The longest delay setTimeout takes (2^31 - 1 ms, about 24.8 days); longer ones fire at once,
 * so a will due later is re-armed from the first firing.
 */
const MAX_TIMER_MS = 2_147_483_647;

/** A will waiting for its delay (fixed shape; `index` is its place in the heap). */
export class PendingWill {
  index = -1;

  constructor(
    readonly client: ClientInfo,
    readonly will: Will,
    /** When it is due, in ms since the epoch. */
    readonly due: number,
  ) {}
}

/**
 * Publishes a will now: authorizes it like a PUBLISH from `client`, then routes it. An
 * authorization callback that answers asynchronously delays only this will; one that fails
 * denies it (authorize.ts).
 */
export function publishWill(broker: Broker, client: ClientInfo, will: Will): void {
  if (broker.hooks.has('client.authorize')) {
    const verdict = authorize(broker, client, {
      action: 'publish',
      topic: will.topic,
      qos: will.qos,
      retain: will.retain,
    });
    if (verdict instanceof Promise) {
      verdict
        .then((v) => {
          if (v === 'allow') routeWill(broker, client, will);
        })
        .catch((error: unknown) => broker.options.onHookError?.('message.publish', error));
      return;
    }
    if (verdict !== 'allow') return;
  }
  routeWill(broker, client, will);
}

function routeWill(broker: Broker, client: ClientInfo, will: Will): void {
  const message = new Message(
    will.topic,
    will.payload,
    will.qos,
    will.retain,
    willMessageProperties(will.properties),
    client.clientId,
  );
  broker.publish(message, client);
}

/** The will properties that travel with the message: all but the Will Delay Interval. */
export function willMessageProperties(p: Properties | null): Properties | null {
  if (p === null) return null;
  if (p.willDelayInterval === undefined) return Object.keys(p).length === 0 ? null : p;
  const { willDelayInterval: _delay, ...rest } = p;
  return Object.keys(rest).length === 0 ? null : rest;
}

/**
 * Copies a will's buffers out of the received CONNECT packet, whose bytes are a view into the
 * socket's read buffer: a will is kept for the whole connection (and its delay), and must not pin
 * that buffer.
 */
export function ownWill(will: Will): Will {
  let properties = will.properties;
  if (properties?.correlationData !== undefined) {
    properties = { ...properties, correlationData: Buffer.from(properties.correlationData) };
  }
  return { ...will, payload: Buffer.from(will.payload), properties };
}

/** The wills waiting for their Will Delay Interval, with one timer for all of them. */
/** Where waiting wills are written when the store is durable (durable-wills.ts). */
export interface WillJournal {
  scheduled(pending: PendingWill): void;
  removed(clientId: string): void;
}

export class PendingWills {
  /** Set by main.ts when the store is durable: waiting wills survive a restart. */
  journal: WillJournal | null = null;
  private readonly heap: PendingWill[] = [];
  private readonly byClient = new Map<string, PendingWill>();
  private timer: NodeJS.Timeout | null = null;
  /** Due time the timer is armed for (Infinity: not armed). */
  private armedFor = Number.POSITIVE_INFINITY;

  constructor(
    /** Publishes a will whose time has come. */
    private readonly fire: (pending: PendingWill) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  /** Is a will waiting for this client id? */
  has(clientId: string): boolean {
    return this.byClient.has(clientId);
  }

  /** Schedules `will` for `due` (ms since the epoch), replacing a will already waiting for the id. */
  schedule(client: ClientInfo, will: Will, due: number): void {
    this.take(client.clientId);
    const pending = new PendingWill(client, will, due);
    this.byClient.set(client.clientId, pending);
    pending.index = this.heap.length;
    this.heap.push(pending);
    this.up(pending.index);
    this.journal?.scheduled(pending);
    this.arm();
  }

  /**
   * Removes and returns the will waiting for a client id (null if none): the caller cancels it
   * (the client came back to its session) or publishes it now (the session ended).
   */
  take(clientId: string): PendingWill | null {
    const pending = this.byClient.get(clientId);
    if (pending === undefined) return null;
    this.byClient.delete(clientId);
    this.removeAt(pending.index);
    this.journal?.removed(clientId);
    this.arm();
    return pending;
  }

  /**
   * Forgets every waiting will (server shutdown: wills are not published; a durable store keeps
   * them for the restart) and stops the timer.
   */
  clear(): void {
    this.heap.length = 0;
    this.byClient.clear();
    this.disarm();
  }

  /** Publishes every will that is due at `now`; the timer calls it. Returns how many. */
  runDue(now = this.now()): number {
    let fired = 0;
    for (;;) {
      const first = this.heap[0];
      if (first === undefined || first.due > now) break;
      this.byClient.delete(first.client.clientId);
      this.removeAt(0);
      this.journal?.removed(first.client.clientId);
      fired++;
      this.fire(first);
    }
    this.arm();
    return fired;
  }

  private arm(): void {
    const first = this.heap[0];
    if (first === undefined) {
      this.disarm();
      return;
    }
    if (first.due === this.armedFor && this.timer !== null) return;
    this.disarm();
    const delay = Math.min(Math.max(0, first.due - this.now()), MAX_TIMER_MS);
    this.armedFor = first.due;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.armedFor = Number.POSITIVE_INFINITY;
      this.runDue();
    }, delay);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  // ---- the binary min-heap on `due` -----------------------------------------------------------

  private removeAt(i: number): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (i === heap.length) return; // it was the last one
    heap[i] = last;
    last.index = i;
    this.down(i);
    this.up(last.index);
  }

  private up(i: number): void {
    const heap = this.heap;
    const item = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.due <= item.due) break;
      heap[i] = p;
      p.index = i;
      i = parent;
    }
    heap[i] = item;
    item.index = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && heap[right]!.due < heap[left]!.due ? right : left;
      const c = heap[child]!;
      if (c.due >= item.due) break;
      heap[i] = c;
      c.index = i;
      i = child;
    }
    heap[i] = item;
    item.index = i;
  }
}
