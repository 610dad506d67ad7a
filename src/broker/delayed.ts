/**
 * Delayed publish (EMQX's emqx_delayed): a message published to `$delayed/<seconds>/<topic>` (or
 * `$delay/<seconds>/<topic>`) is held and published to `<topic>` once the delay has passed.
 *
 * How it works:
 *  - A `message.publish` fold callback (priority DELAYED_HOOK_PRIORITY) looks at each published
 *    topic. One that does not start with `$delay` passes on untouched: the whole cost for normal
 *    traffic is one character comparison.
 *  - A delayed topic is parsed (`parseDelayedTopic`: whole seconds, at most 4,294,967, and a
 *    valid target topic name). A new Message for the target topic, keeping QoS, retain flag,
 *    properties, publisher id and the original timestamp, copies its bytes out of the socket's
 *    read buffer (`Message.own()`, so a retained release does not copy them again) and goes
 *    into the DelayedStore with its due time. The callback answers `{ stop: null }`: the chain ends, Broker.publish returns
 *    CONSUMED, and the publisher gets a successful PUBACK / PUBREC. Nothing is routed to
 *    subscribers of the `$delayed/...` topic itself.
 *  - A malformed delayed topic (`$delayed/abc/t`, `$delayed/10/a/+`) or a message beyond
 *    `delayed.max_delayed_messages` is dropped: it counts in `messages.dropped`, runs the
 *    `message.dropped` hook (reason `delayed_invalid` / `delayed_full`) and logs a warning, as
 *    EMQX logs and drops. The publisher still gets a success: a hook cannot choose the PUBACK's
 *    reason code.
 *  - ONE timer, set for the earliest due time in the store (not a timer per message). When it
 *    fires, every due message is taken from the store in order and published with
 *    `broker.publish(message, null)`: at most RELEASE_BATCH per turn, so a burst of messages due
 *    together does not hold up the sockets; then the timer is set for the next one. The target
 *    topic has no prefix, so the hook lets it through; a target that is itself delayed
 *    (`$delayed/1/$delayed/2/t`) is delayed again, as in EMQX.
 *  - The Message Expiry Interval keeps counting from the original publish (the message keeps
 *    its timestamp), as in EMQX: a message whose expiry is shorter than its delay is never
 *    delivered, and subscribers get the interval that is left [MQTT-3.3.2-6].
 *  - `close()` stops the timer; messages still pending stay in the store (a memory store loses
 *    them with the process; a durable store releases them after a restart, when `start()` sets
 *    the timer for the earliest stored message).
 *
 * Time comes from a DelayedClock so that tests can drive it; the default is Date.now and an
 * unref'd setTimeout.
 */

import { parseDelayedTopic } from '../protocol/index.js';
import type { DelayedEntry, DelayedStore } from '../persistence/delayed.js';
import type { Broker } from './broker.js';
import type { FoldResult } from './hooks.js';
import { Message } from './message.js';

/**
 * The hook priority, EMQX's HP_DELAY_PUB: below authorization, retainer, rule engine and bridges
 * (which see the `$delayed/...` message first), above exhook.
 */
export const DELAYED_HOOK_PRIORITY = 860;

/** Why a delayed message was dropped (the `message.dropped` hook's reason). */
export const DelayedDropReason = {
  /** The topic starts with `$delayed/` or `$delay/` but is not `<prefix>/<seconds>/<valid topic>`. */
  Invalid: 'delayed_invalid',
  /** `delayed.max_delayed_messages` messages are already waiting. */
  Full: 'delayed_full',
} as const;
export type DelayedDropReason = (typeof DelayedDropReason)[keyof typeof DelayedDropReason];

const MS_PER_SECOND = 1000;
/** setTimeout's longest wait (2^31 - 1 ms, ~24.8 days); a longer one is waited in steps. */
const MAX_TIMER_MS = 0x7fff_ffff;
/** Messages released per timer callback; the rest follow on the next turn of the event loop. */
export const RELEASE_BATCH = 1000;
const DOLLAR = 0x24;
/** The answer that ends the chain: the message is taken. One shared object, no allocation. */
const TAKEN: FoldResult<Message | null> = { stop: null };

/** Where DelayedPublish gets the time and its one timer. */
export interface DelayedClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` after `ms`; returns a handle for clearTimer. */
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/** Date.now and setTimeout; the timer is unref'd, so it never keeps the process alive alone. */
export const systemClock: DelayedClock = {
  now: Date.now,
  setTimer(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimer(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** The part of a (pino) logger DelayedPublish uses. */
export interface DelayedLog {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface DelayedPublishOptions {
  /** Where pending messages are kept (chosen by main.ts). */
  store: DelayedStore<Message>;
  /** Most messages pending at once (`delayed.max_delayed_messages`); Infinity for no limit. */
  maxDelayedMessages: number;
  clock?: DelayedClock;
  log?: DelayedLog;
}

/** `delayed.count` and `delayed.max` under EMQX's stats names. */
export interface DelayedStats {
  'delayed.count': number;
  'delayed.max': number;
}

export class DelayedPublish {
  /** Messages dropped because their delayed topic was malformed. */
  droppedInvalid = 0;
  /** Messages dropped because max_delayed_messages were already pending. */
  droppedFull = 0;

  private readonly store: DelayedStore<Message>;
  private readonly clock: DelayedClock;
  private readonly log: DelayedLog | null;
  private readonly maxDelayed: number;
  private timer: unknown = null;
  /** The due time the timer is set for (Infinity: no timer). */
  private timerAt = Number.POSITIVE_INFINITY;
  private peak = 0;
  private started = false;
  private closed = false;

  constructor(
    private readonly broker: Broker,
    options: DelayedPublishOptions,
  ) {
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? null;
    this.maxDelayed = options.maxDelayedMessages;
  }

  /**
   * Starts intercepting delayed topics (registers the hook) and sets the timer for what the
   * store already holds (a durable store after a restart). `delayed.enable = false` means this
   * is never called: `$delayed/...` topics are then ordinary topics.
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.closed = false;
    this.broker.hooks.add('message.publish', this.onPublish, DELAYED_HOOK_PRIORITY);
    this.peak = Math.max(this.peak, this.store.size);
    this.arm();
  }

  /**
   * Stops the timer (broker shutdown). The hook stays, so a delayed message that arrives while
   * the broker closes is still stored rather than routed to a `$delayed/...` topic; pending
   * messages stay in the store.
   */
  close(): void {
    this.closed = true;
    this.disarm();
  }

  /** Messages waiting (EMQX's `delayed.count`). */
  get count(): number {
    return this.store.size;
  }

  /** The most messages that were waiting at once since start (EMQX's `delayed.max`). */
  get max(): number {
    return this.peak;
  }

  stats(): DelayedStats {
    return { 'delayed.count': this.count, 'delayed.max': this.max };
  }

  /** The pending messages, in no particular order (for the HTTP API). */
  pending(): Iterable<DelayedEntry<Message>> {
    return this.store.entries();
  }

  /** Deletes a pending message by its store key; false if there is none. */
  remove(key: number): boolean {
    if (!this.store.remove(key)) return false;
    this.arm();
    return true;
  }

  /** The message.publish callback. An instance field, so no closure is made per message. */
  private readonly onPublish = (message: Message | null): FoldResult<Message | null> => {
    if (message === null) return undefined;
    const topic = message.topic;
    if (topic.charCodeAt(0) !== DOLLAR) return undefined;
    const parsed = parseDelayedTopic(topic);
    if (parsed === null) return undefined;
    if (typeof parsed === 'string') {
      this.drop(message, DelayedDropReason.Invalid, parsed);
      return TAKEN;
    }
    if (this.store.size >= this.maxDelayed) {
      this.drop(message, DelayedDropReason.Full, `${this.store.size} delayed messages are pending`);
      return TAKEN;
    }
    const target = new Message(
      parsed.topic,
      message.payload,
      message.qos,
      message.retain,
      message.properties,
      message.from,
      message.timestamp, // expiry counts from the original publish
    ).own(); // copy the bytes out of the socket's read buffer, once, into the kept message
    const dueAt = this.clock.now() + parsed.delaySeconds * MS_PER_SECOND;
    this.store.add(dueAt, target);
    this.broker.metrics.messagesDelayed++;
    if (this.store.size > this.peak) this.peak = this.store.size;
    if (dueAt < this.timerAt) this.arm();
    return TAKEN;
  };

  private drop(message: Message, reason: DelayedDropReason, why: string): void {
    this.broker.metrics.messagesDropped++;
    if (reason === DelayedDropReason.Full) this.droppedFull++;
    else this.droppedInvalid++;
    const hooks = this.broker.hooks;
    if (hooks.has('message.dropped')) hooks.run('message.dropped', message, reason);
    this.log?.warn({ clientId: message.from, topic: message.topic, reason, why }, 'delayed message dropped');
  }

  /** Sets the one timer for the earliest pending message (or clears it when there is none). */
  private arm(): void {
    if (this.closed) return;
    const first = this.store.first();
    const at = first === undefined ? Number.POSITIVE_INFINITY : first.dueAt;
    if (this.timer !== null && at === this.timerAt) return;
    this.disarm();
    if (first === undefined) return;
    this.timerAt = at;
    const wait = Math.min(Math.max(0, at - this.clock.now()), MAX_TIMER_MS);
    this.timer = this.clock.setTimer(this.onTimer, wait);
  }

  private disarm(): void {
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  /**
   * Publishes what is due, in due order, at most RELEASE_BATCH at a time. A timer that fires a
   * little early (or a wait longer than setTimeout allows) finds nothing due and is set again.
   */
  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    for (let released = 0; released < RELEASE_BATCH && !this.closed; released++) {
      const entry = this.store.takeDue(now);
      if (entry === undefined) break;
      this.release(entry.message);
    }
    this.arm();
  };

  private release(message: Message): void {
    try {
      this.broker.publish(message, null);
    } catch (error) {
      // A throwing hook callback must not stop the release of the rest.
      this.log?.error({ err: error, topic: message.topic }, 'publishing a delayed message failed');
    }
  }
}
