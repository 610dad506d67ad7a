/**
 * The broker core: publish -> hooks -> route -> deliver, the session registry with takeover,
 * and retained messages. It knows nothing of sockets, listeners or backends; connections reach
 * it through channels, other layers through hooks (DESIGN.md).
 *
 * Routing. Every subscription is a Subscriber (session, filter, options) stored in the topic
 * trie under its filter. A publish matches the trie once (cached per topic), then hands the
 * message to each subscriber's session with the subscription's QoS (the lower of the message's
 * and the granted one [MQTT-3.8.4-8]) and retain flag (Retain As Published [MQTT-3.3.1-12]).
 *
 * Sessions. One session per client id. A CONNECT with a client id that is live elsewhere
 * takes the session over: the old connection is told to go (5.0: DISCONNECT 0x8E)
 * [MQTT-3.1.4-3]. Clean Start discards an existing session [MQTT-3.1.2-4].
 */

import { type ConnectPacket, type Properties, type QoS, ReasonCode } from '../protocol/index.js';
import type { RetainedStore } from '../persistence/retained.js';
import { TopicTrie } from '../routing/trie.js';
import { type DropReason, type Delivery, Session, type SessionLimits } from '../session/session.js';
import { Hooks } from './hooks.js';
import { Message } from './message.js';
import { Metrics } from './metrics.js';
import type { ClientInfo, SubscriptionOptions } from './types.js';

/** Broker.publish's answer when a message.publish hook took the message (returned null). */
export const CONSUMED = -1;

/** Session Expiry Interval meaning "never" [MQTT-3.1.2-23 (5.0: 3.1.2.11.2)]. */
const NEVER_EXPIRES = 0xffff_ffff;

export interface BrokerOptions {
  /** Node name, e.g. 'aviary@127.0.0.1'. */
  nodeName: string;
  session: SessionLimits;
  /** Entries of the topic match cache (0 disables it). */
  matchCacheSize?: number;
  retainAvailable: boolean;
  /** Where retained messages are kept (chosen by main.ts). */
  retained: RetainedStore<Message>;
  /** Called when a hook callback throws. */
  onHookError?: (hook: string, error: unknown) => void;
}

/** A subscription in the trie. */
export class Subscriber {
  constructor(
    readonly session: Session,
    readonly filter: string,
    public options: SubscriptionOptions,
  ) {}
}

/** What the broker needs from a live connection: a way to make it go. */
export interface LiveChannel {
  /** Ends the connection because another took its session over, or an operator kicked it. */
  kick(reasonCode: number, reason: string): void;
}

export interface OpenedSession {
  session: Session;
  /** An existing session was resumed. */
  present: boolean;
}

export class Broker {
  readonly hooks: Hooks;
  readonly metrics = new Metrics();
  readonly startedAt = Date.now();
  private readonly trie: TopicTrie<Subscriber>;
  private readonly sessions = new Map<string, Session>();
  private readonly live = new Map<string, LiveChannel>();
  /** Subscribers by session and filter, to update or remove a subscription. */
  private readonly subscribers = new WeakMap<Session, Map<string, Subscriber>>();

  private readonly retained: RetainedStore<Message>;

  constructor(readonly options: BrokerOptions) {
    this.retained = options.retained;
    this.hooks = new Hooks(options.onHookError);
    this.trie = new TopicTrie<Subscriber>({ cacheSize: options.matchCacheSize ?? 4096 });
  }

  get connectionCount(): number {
    return this.live.size;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get subscriptionCount(): number {
    return this.trie.size;
  }

  get retainedCount(): number {
    return this.retained.size;
  }

  /**
   * Opens the session for a connecting client, taking it over from a live connection with the
   * same client id. `clean` discards any existing session.
   */
  openSession(client: ClientInfo, clean: boolean, channel: LiveChannel): OpenedSession {
    const id = client.clientId;
    const previous = this.live.get(id);
    if (previous !== undefined && previous !== channel) {
      // Detach first so nothing is written to the old connection while it closes.
      this.sessions.get(id)?.detach(Date.now());
      this.live.delete(id);
      previous.kick(ReasonCode.SessionTakenOver, 'takenover');
    }
    this.live.set(id, channel);
    const existing = this.sessions.get(id);
    if (existing !== undefined && !clean) return { session: existing, present: true };
    if (existing !== undefined) this.discardSession(existing);
    const session = new Session(id, this.options.session, this.onDrop);
    this.sessions.set(id, session);
    return { session, present: false };
  }

  /**
   * A connection ended. Its session stays when it has an expiry interval, and is discarded
   * otherwise (section 4.1). Does nothing if the channel was already replaced by a takeover.
   */
  closeSession(client: ClientInfo, channel: LiveChannel, session: Session | null): void {
    if (this.live.get(client.clientId) !== channel) return;
    this.live.delete(client.clientId);
    if (session === null) return;
    session.detach(Date.now());
    if (session.expiryInterval === 0) this.discardSession(session);
    // Sessions with an interval go in sweepExpiredSessions once it has passed.
  }

  /**
   * Discards detached sessions whose expiry interval has passed [MQTT-3.1.2-23]; an interval of
   * 0xFFFFFFFF never expires. Called periodically by the composition root. Returns how many.
   */
  sweepExpiredSessions(now: number): number {
    let expired = 0;
    for (const session of this.sessions.values()) {
      if (session.connected || session.expiryInterval === NEVER_EXPIRES) continue;
      if (now - session.disconnectedAt >= session.expiryInterval * 1000) {
        this.discardSession(session);
        expired++;
      }
    }
    return expired;
  }

  private discardSession(session: Session): void {
    const subs = this.subscribers.get(session);
    if (subs !== undefined) for (const sub of subs.values()) this.trie.remove(sub.filter, sub);
    this.subscribers.delete(session);
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
  }

  /** Adds or replaces a subscription; returns true if it existed (for Retain Handling 1). */
  subscribe(session: Session, filter: string, options: SubscriptionOptions): boolean {
    let subs = this.subscribers.get(session);
    if (subs === undefined) {
      subs = new Map();
      this.subscribers.set(session, subs);
    }
    const existing = subs.get(filter);
    session.subscribe(filter, options);
    if (existing !== undefined) {
      existing.options = options; // [MQTT-3.8.4-3]: replace, keeping the route
      return true;
    }
    const sub = new Subscriber(session, filter, options);
    subs.set(filter, sub);
    this.trie.add(filter, sub);
    return false;
  }

  unsubscribe(session: Session, filter: string): boolean {
    const subs = this.subscribers.get(session);
    const sub = subs?.get(filter);
    session.unsubscribe(filter);
    if (sub === undefined || subs === undefined) return false;
    subs.delete(filter);
    this.trie.remove(filter, sub);
    return true;
  }

  /**
   * Publishes a message: the message.publish hook may rewrite or take it; a retained message
   * updates the retained store; then every matching subscription gets it. Returns the number
   * of subscriptions it was routed to, or CONSUMED when a hook took the message.
   */
  publish(message: Message, from: ClientInfo | null): number {
    const metrics = this.metrics;
    metrics.messagesReceived++;
    if (this.hooks.has('message.publish')) {
      const rewritten = this.hooks.fold('message.publish', message, from);
      // A hook that takes a message (delayed publish) or drops it counts it itself.
      if (rewritten === null) return CONSUMED;
      message = rewritten;
    }
    if (message.retain && this.options.retainAvailable) this.retain(message);
    const subs = this.trie.match(message.topic);
    if (subs.length === 0) {
      metrics.messagesDropped++;
      metrics.messagesDroppedNoSubscribers++;
      if (this.hooks.has('message.dropped')) this.hooks.run('message.dropped', message, 'no_subscribers');
      return 0;
    }
    let routed = 0;
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i]!;
      const o = sub.options;
      // No Local: not back to the publishing client [MQTT-3.8.3-3].
      if (o.noLocal && sub.session.clientId === message.from) continue;
      const qos = Math.min(o.qos, message.qos) as QoS;
      const retain = o.retainAsPublished ? message.retain : false;
      sub.session.deliver(message, qos, retain, o.subscriptionId === 0 ? null : [o.subscriptionId]);
      routed++;
    }
    return routed;
  }

  /** Stores, replaces or (empty payload) deletes the retained message of a topic [MQTT-3.3.1-5..7]. */
  private retain(message: Message): void {
    if (message.payload.length === 0) this.retained.delete(message.topic);
    else this.retained.set(message.topic, message.own());
    this.metrics.messagesRetained++;
  }

  /** Retained messages matching a filter. */
  retainedMatching(filter: string): Iterable<Message> {
    return this.retained.match(filter);
  }

  /** Messages the broker itself publishes ($SYS, the HTTP API). */
  publishFromBroker(
    topic: string,
    payload: Buffer,
    qos: QoS,
    retain: boolean,
    properties: Properties | null,
  ): number {
    return this.publish(new Message(topic, payload, qos, retain, properties, ''), null);
  }

  /** Builds the CONNECT-time ClientInfo (used by channels). */
  static clientInfo(
    packet: ConnectPacket,
    clientId: string,
    link: { peerHost: string; peerPort: number; listener: string; zone: string },
  ): ClientInfo {
    return {
      clientId,
      username: packet.username,
      peerHost: link.peerHost,
      peerPort: link.peerPort,
      listener: link.listener,
      zone: link.zone,
      protocolVersion: packet.protocolVersion,
      isSuperuser: false,
      connectedAt: Date.now(),
    };
  }

  private readonly onDrop = (session: Session, delivery: Delivery, reason: DropReason): void => {
    this.metrics.messagesDropped++;
    if (this.hooks.has('message.dropped')) this.hooks.run('message.dropped', delivery.message, reason);
    void session;
  };
}
