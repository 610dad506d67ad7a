/**
 * The broker core: publish -> hooks -> route -> deliver, the session registry with takeover,
 * and retained messages. It knows nothing of sockets, listeners or backends; connections reach
 * it through channels, other layers through hooks (DESIGN.md).
 *
 * Routing. Every subscription is a Subscriber (session, filter, options). A non-shared one is
 * stored in the topic trie under its filter; a shared one (`$share/<group>/<filter>`,
 * `$queue/<filter>`) is a member of a SharedGroup (routing/shared.ts), and the group is the one
 * value in the trie for all its members. A publish matches the trie once (cached per topic),
 * then hands the message to each subscriber's session with the subscription's QoS (the lower of
 * the message's and the granted one [MQTT-3.8.4-8]) and retain flag (Retain As Published
 * [MQTT-3.3.1-12]), and to one member picked by each matching group.
 *
 * Overlapping subscriptions. A client whose subscriptions overlap gets one copy, at the highest
 * QoS of the matching subscriptions [MQTT-3.3.5-1 (3.1.1)] [MQTT-3.3.4-2], carrying every
 * matching Subscription Identifier [MQTT-3.3.4-3] [MQTT-3.3.4-4]. A subscription with No Local
 * does not match its own client's messages, so it takes no part; the copy keeps the retain flag
 * if any matching subscription has Retain As Published. The check costs nothing for a session
 * with one non-shared subscription; the others are set aside during the walk and merged in one
 * pass by a per-publish stamp on each session's routes (no maps, no allocation unless two
 * subscriptions of one session really match). Shared subscriptions are apart: a client gets its
 * own copy and, if a group picks it, the group's copy too (MQTT 5.0 section 4.8.2).
 *
 * Shared subscriptions and disconnects. When a member's connection ends, the QoS 1 messages it
 * had not acknowledged and the QoS 1/2 messages still queued for it go to another member that
 * is online (5.0 section 4.8.2 lets a server do so as soon as the connection is lost); with none
 * online, a session that persists keeps them. A session that ends gives them to another member
 * at all (online preferred). A QoS 2 message already sent stays with its session
 * [MQTT-4.8.2-4] [MQTT-4.8.2-5].
 *
 * Sessions. One session per client id. A CONNECT with a client id that is live elsewhere
 * takes the session over: the old connection is told to go (5.0: DISCONNECT 0x8E)
 * [MQTT-3.1.4-3]. Clean Start discards an existing session [MQTT-3.1.2-4].
 */

import {
  type ConnectPacket,
  parseSubscriptionFilter,
  type Properties,
  type QoS,
  ReasonCode,
} from '../protocol/index.js';
import type { RetainedStore } from '../persistence/retained.js';
import { type ShareMember, SharedGroup, type SharedStrategy } from '../routing/shared.js';
import { TopicTrie } from '../routing/trie.js';
import {
  type DropReason,
  type Delivery,
  Session,
  type SessionLimits,
  type ShareGroupRef,
} from '../session/session.js';
import type { DurableSessions } from './durable.js';
import type { GroupCommit } from './group-commit.js';
import { Hooks } from './hooks.js';
import { Message } from './message.js';
import { isSysTopic, Metrics } from './metrics.js';
import type { ClientInfo, SubscriptionOptions } from './types.js';
import { PendingWills, publishWill } from './wills.js';

export interface RetainerLimits {
  /** Larger payloads are delivered but not retained (`retainer.max_payload_size`). */
  maxPayloadSize: number;
  /** A new retained topic beyond this many is not retained (`retainer.max_retained_messages`). */
  maxRetainedMessages: number;
  /**
   * Milliseconds a retained message without its own Message Expiry Interval is kept
   * (`retainer.msg_expiry_interval`); Infinity for ever.
   */
  msgExpiryInterval: number;
}

const SYS_PREFIX = '$SYS/';

const NO_RETAINER_LIMITS: RetainerLimits = {
  maxPayloadSize: Number.POSITIVE_INFINITY,
  maxRetainedMessages: Number.POSITIVE_INFINITY,
  msgExpiryInterval: Number.POSITIVE_INFINITY,
};

/** Broker.publish's answer when a message.publish hook took the message (returned null). */
export const CONSUMED = -1;

/** Session Expiry Interval meaning "never" [MQTT-3.1.2-23 (5.0: 3.1.2.11.2)]. */
const NEVER_EXPIRES = 0xffff_ffff;

export interface BrokerOptions {
  /** Node name, e.g. 'aviary@127.0.0.1'. */
  nodeName: string;
  session: SessionLimits;
  /**
   * Session limits by zone name (`zones.<z>.mqtt.max_inflight`, ... over the global ones); a new
   * session takes its client's zone's (ClientInfo.zone), else `session`.
   */
  zoneSessions?: ReadonlyMap<string, SessionLimits>;
  /** Entries of the topic match cache (0 disables it). */
  matchCacheSize?: number;
  retainAvailable: boolean;
  /** Limits of the retained store (EMQX's `retainer.*`); all optional, Infinity/0 = none. */
  retainer?: RetainerLimits;
  /** Where retained messages are kept (chosen by main.ts). */
  retained: RetainedStore<Message>;
  /** Called when a hook callback throws. */
  onHookError?: (hook: string, error: unknown) => void;
  /** How share groups pick a member (`mqtt.shared_subscription_strategy`); round_robin. */
  sharedSubscriptionStrategy?: SharedStrategy;
  /** The journal of persistent sessions when the store is durable (durable.ts); else none. */
  durable?: DurableSessions | null;
  /** Group commit of the durable store (group-commit.ts); else none. */
  groupCommit?: GroupCommit | null;
}

/** One session's subscriptions as the broker routes them. */
class SessionRoutes {
  /** By filter as subscribed (with its `$share/<group>/` or `$queue/` prefix). */
  readonly byFilter = new Map<string, Subscriber>();
  /** Non-shared subscriptions: only with two or more can one topic match several (overlap). */
  plain = 0;
  /** The publish that last saw this session among overlapping matches, and its copy's slot. */
  stamp = 0;
  slot = 0;
}

/** A subscription: a value of the trie itself (non-shared), or a member of a share group. */
export class Subscriber implements ShareMember {
  /** Tells a subscription from a SharedGroup among the values of the trie. */
  readonly shared = false;

  constructor(
    readonly session: Session,
    /** The filter as subscribed, e.g. `a/#` or `$share/g/a/#`. */
    readonly filter: string,
    public options: SubscriptionOptions,
    /** The share group it is a member of; null for a non-shared subscription. */
    readonly group: SharedGroup<Subscriber> | null,
    readonly routes: SessionRoutes,
  ) {}

  get connected(): boolean {
    return this.session.connected;
  }
}

/** A value of the topic trie. */
type Route = Subscriber | SharedGroup<Subscriber>;

/**
 * The one copy for a session whose subscriptions overlap: the highest QoS, whether any keeps
 * the retain flag, and every Subscription Identifier [MQTT-3.3.4-2..4].
 */
class MergedCopy {
  qos: QoS;
  retainAsPublished: boolean;
  subIds: number[] | null;

  constructor(
    readonly session: Session,
    first: SubscriptionOptions,
  ) {
    this.qos = first.qos;
    this.retainAsPublished = first.retainAsPublished;
    this.subIds = first.subscriptionId === 0 ? null : [first.subscriptionId];
  }

  add(o: SubscriptionOptions): void {
    if (o.qos > this.qos) this.qos = o.qos;
    if (o.retainAsPublished) this.retainAsPublished = true;
    const id = o.subscriptionId;
    if (id === 0) return;
    if (this.subIds === null) this.subIds = [id];
    else if (!this.subIds.includes(id)) this.subIds.push(id); // one SUBSCRIBE, one id, many filters
  }
}

/** The key of a share group: its name and its filter (the name holds no '/'). */
function groupKey(name: string, filter: string): string {
  return `${name}/${filter}`;
}

/** `$share/$queue/f` is `$queue/f`: one group, one spelling, so a session is a member once. */
function canonicalFilter(filter: string): string {
  return filter.startsWith(SHARE_QUEUE) ? `$queue/${filter.slice(SHARE_QUEUE.length)}` : filter;
}
const SHARE_QUEUE = '$share/$queue/';

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
  /** Wills waiting for their Will Delay Interval (5.0), published by one timer (wills.ts). */
  readonly wills = new PendingWills((pending) => publishWill(this, pending.client, pending.will));
  /**
   * EMQX's `authorization.deny_action` (set by src/authz): `disconnect` ends the connection of a
   * client whose PUBLISH or SUBSCRIBE `client.authorize` denied (DISCONNECT 0x87 in 5.0).
   */
  denyAction: 'ignore' | 'disconnect' = 'ignore';
  private readonly trie: TopicTrie<Route>;
  private readonly sessions = new Map<string, Session>();
  private readonly live = new Map<string, LiveChannel>();
  /** Each session's subscriptions, to update or remove one and to merge overlaps. */
  private readonly routesOf = new WeakMap<Session, SessionRoutes>();
  /** Share groups by groupKey(name, filter). */
  private readonly groups = new Map<string, SharedGroup<Subscriber>>();
  /**
   * Exclusive subscriptions (EMQX's `$exclusive/<filter>`): the session holding each filter.
   * Freed by the holder's unsubscribe or the end of its session (discarded or expired), not by
   * a mere disconnect of a session that persists.
   */
  private readonly exclusive = new Map<string, Session>();
  private readonly sharedStrategy: SharedStrategy;
  private subscriptions = 0;
  private sharedSubscriptions = 0;
  /** Counts publishes that merge overlapping subscriptions (see SessionRoutes.stamp). */
  private stamp = 0;
  /** A reusable array for the overlapping matches of one publish; null while in use. */
  private scratch: Array<Subscriber | MergedCopy> | null = [];

  private readonly retained: RetainedStore<Message>;
  /** Retained topics that count toward retainer.max_retained_messages (all but $SYS). */
  private limitedRetained = 0;

  /** The journal of persistent sessions (null without a durable store). */
  readonly durable: DurableSessions | null;
  /** Acknowledgements wait for it while a batch is open (null without a durable store). */
  readonly groupCommit: GroupCommit | null;

  constructor(readonly options: BrokerOptions) {
    this.durable = options.durable ?? null;
    this.groupCommit = options.groupCommit ?? null;
    this.retained = options.retained;
    // A durable store comes with retained messages: count those held to the limits (not $SYS).
    for (const _ of options.retained.match('#')) this.limitedRetained++;
    this.hooks = new Hooks(options.onHookError);
    this.trie = new TopicTrie<Route>({ cacheSize: options.matchCacheSize ?? 4096 });
    this.sharedStrategy = options.sharedSubscriptionStrategy ?? 'round_robin';
  }

  get connectionCount(): number {
    return this.live.size;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Subscriptions of every session, shared ones included. */
  get subscriptionCount(): number {
    return this.subscriptions;
  }

  /** Shared subscriptions (memberships of share groups). */
  get sharedSubscriptionCount(): number {
    return this.sharedSubscriptions;
  }

  /** Share groups (each a `$share/<name>/<filter>` with at least one member). */
  get sharedGroupCount(): number {
    return this.groups.size;
  }

  /** Distinct subscribed filters (EMQX's topics.count: routes). */
  get topicCount(): number {
    return this.trie.filterCount;
  }

  get retainedCount(): number {
    return this.retained.size;
  }

  // ---- read-only views and operator actions for the management API (src/api) ----------------

  /** The session of a client id, connected or not. */
  session(clientId: string): Session | undefined {
    return this.sessions.get(clientId);
  }

  /** The live connection of a client id, or undefined (the API reads its counters). */
  liveChannel(clientId: string): LiveChannel | undefined {
    return this.live.get(clientId);
  }

  /** Every session held, in the order they were created (a live iterator: no copy). */
  allSessions(): IterableIterator<Session> {
    return this.sessions.values();
  }

  /** Distinct subscribed filters (the routes; share groups under their filter). */
  routeFilters(): Iterable<string> {
    return this.trie.filterNames();
  }

  /**
   * An operator kicks a client (EMQX's `DELETE /clients/:clientid`): a live connection is told to
   * go (5.0: DISCONNECT 0x98 Administrative action) and closed, and its session is discarded
   * whatever its expiry interval. False if the client id has neither.
   */
  kick(clientId: string): boolean {
    const channel = this.live.get(clientId);
    const had = channel !== undefined || this.sessions.has(clientId);
    channel?.kick(ReasonCode.AdministrativeAction, 'kicked');
    const session = this.sessions.get(clientId);
    if (session !== undefined) {
      if (this.live.get(clientId) !== undefined) this.live.delete(clientId);
      session.detach(Date.now());
      this.discardSession(session);
    }
    return had;
  }

  /** Deletes the retained message of a topic (the API's retainer delete); false if none. */
  deleteRetained(topic: string): boolean {
    const had = this.retained.get(topic) !== undefined;
    this.dropRetained(topic);
    return had;
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
      const taken = this.sessions.get(id);
      taken?.detach(Date.now());
      this.live.delete(id);
      previous.kick(ReasonCode.SessionTakenOver, 'takenover');
      if (taken !== undefined) this.metrics.sessionTakenover++;
      // A session that was to end with its connection (expiry 0) ends with the one just closed:
      // the new connection does not inherit it, whatever its Clean Start (section 4.1).
      if (taken !== undefined && taken.expiryInterval === 0 && this.sessions.get(id) === taken) {
        this.discardSession(taken);
      }
    }
    this.live.set(id, channel);
    const existing = this.sessions.get(id);
    if (existing !== undefined && !clean) {
      this.metrics.sessionResumed++;
      return { session: existing, present: true };
    }
    if (existing !== undefined) {
      this.metrics.sessionDiscarded++;
      this.discardSession(existing);
    }
    this.metrics.sessionCreated++;
    // The zone's limits when it has its own; a resumed session keeps those it was created with.
    const limits = this.options.zoneSessions?.get(client.zone) ?? this.options.session;
    const session = new Session(id, limits, this.onDrop);
    this.sessions.set(id, session);
    return { session, present: false };
  }

  /**
   * The channel has set a session's expiry interval and delivery flags (at CONNECT, or a
   * DISCONNECT that changes the expiry): a session with an interval persists in the durable
   * store from now on; one without does not.
   */
  sessionConfigured(session: Session): void {
    const durable = this.durable;
    if (durable === null) return;
    if (session.expiryInterval > 0) durable.track(session);
    else durable.forget(session);
  }

  /** Registers a session restored from the durable store (durable.ts), detached. */
  adoptSession(clientId: string): Session {
    const session = new Session(clientId, this.options.session, this.onDrop);
    this.sessions.set(clientId, session);
    return session;
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
    // What share groups gave it may go to a member that is online (MQTT 5.0 section 4.8.2).
    else this.redispatch(session, true);
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
      } else if (session.queueLength > 0) {
        session.dropExpired(now); // expired messages do not wait in an offline queue
      }
    }
    return expired;
  }

  private discardSession(session: Session): void {
    this.durable?.forget(session);
    if (this.exclusive.size > 0) {
      for (const [filter, holder] of this.exclusive) if (holder === session) this.exclusive.delete(filter);
    }
    const routes = this.routesOf.get(session);
    if (routes !== undefined) for (const sub of routes.byFilter.values()) this.removeRoute(routes, sub);
    this.routesOf.delete(session);
    if (this.sessions.get(session.clientId) === session) {
      this.sessions.delete(session.clientId);
      this.metrics.sessionTerminated++;
    }
    // No longer a member anywhere: its share groups' messages go to the other members.
    this.redispatch(session, false);
  }

  /**
   * Adds or replaces a subscription; returns true if it existed (for Retain Handling 1). The
   * filter is as the client sent it: `$share/<group>/<filter>` and `$queue/<filter>` join (or
   * make) that share group. Throws a TypeError for an invalid filter (the channel checks first).
   */
  subscribe(session: Session, filter: string, options: SubscriptionOptions): boolean {
    filter = canonicalFilter(filter);
    const parsed = parseSubscriptionFilter(filter);
    if (typeof parsed === 'string') throw new TypeError(`invalid topic filter '${filter}': ${parsed}`);
    let routes = this.routesOf.get(session);
    if (routes === undefined) {
      routes = new SessionRoutes();
      this.routesOf.set(session, routes);
    }
    const existing = routes.byFilter.get(filter);
    session.subscribe(filter, options);
    if (existing !== undefined) {
      existing.options = options; // [MQTT-3.8.4-3]: replace, keeping the route
      return true;
    }
    this.subscriptions++;
    if (parsed.group === null) {
      const sub = new Subscriber(session, filter, options, null, routes);
      routes.byFilter.set(filter, sub);
      routes.plain++;
      this.trie.add(filter, sub);
      return false;
    }
    // A member joining an existing group leaves the trie (and its match cache) as it is.
    const key = groupKey(parsed.group, parsed.filter);
    let group = this.groups.get(key);
    if (group === undefined) {
      group = new SharedGroup<Subscriber>(parsed.group, parsed.filter, this.sharedStrategy);
      this.groups.set(key, group);
      this.trie.add(parsed.filter, group);
    }
    const sub = new Subscriber(session, filter, options, group, routes);
    routes.byFilter.set(filter, sub);
    group.add(sub);
    this.sharedSubscriptions++;
    return false;
  }

  /**
   * Claims the exclusive subscription of `filter` (without its `$exclusive/` prefix) for
   * `session`: true if it was free or is already this session's, false if another holds it.
   * The caller then subscribes the session to `filter` as usual.
   */
  claimExclusive(session: Session, filter: string): boolean {
    const holder = this.exclusive.get(filter);
    if (holder !== undefined) return holder === session;
    this.exclusive.set(filter, session);
    return true;
  }

  /** The client id holding the exclusive subscription of `filter`, or null. */
  exclusiveHolder(filter: string): string | null {
    return this.exclusive.get(filter)?.clientId ?? null;
  }

  unsubscribe(session: Session, filter: string): boolean {
    filter = canonicalFilter(filter);
    // Unsubscribing the filter frees its exclusive subscription if this session holds it.
    if (this.exclusive.size > 0 && this.exclusive.get(filter) === session) this.exclusive.delete(filter);
    const routes = this.routesOf.get(session);
    const sub = routes?.byFilter.get(filter);
    session.unsubscribe(filter);
    if (sub === undefined || routes === undefined) return false;
    this.removeRoute(routes, sub);
    return true;
  }

  /** Removes one subscription; a share group goes with its last member. */
  private removeRoute(routes: SessionRoutes, sub: Subscriber): void {
    routes.byFilter.delete(sub.filter);
    this.subscriptions--;
    const group = sub.group;
    if (group === null) {
      routes.plain--;
      this.trie.remove(sub.filter, sub);
      return;
    }
    this.sharedSubscriptions--;
    group.remove(sub);
    if (group.size === 0) {
      this.trie.remove(group.filter, group);
      this.groups.delete(groupKey(group.name, group.filter));
    }
  }

  /**
   * Hands the QoS 1/2 messages share groups gave to a session that has gone (or is going) to
   * other members. `onlineOnly`: only to a group with a member online, else the session keeps
   * them (it persists and may come back). A message whose group has gone with its last member
   * is dropped with the session.
   */
  private redispatch(session: Session, onlineOnly: boolean): void {
    if (this.groups.size === 0) return;
    const movable = (ref: ShareGroupRef): boolean => {
      const group = this.groups.get(groupKey(ref.name, ref.filter));
      return group !== undefined && (!onlineOnly || group.anyOnline);
    };
    for (const d of session.takeShared(movable)) {
      const ref = d.group!;
      // Looked up again: a delivery may have changed the groups (a hook that unsubscribes).
      const group = this.groups.get(groupKey(ref.name, ref.filter));
      if (group === undefined || !this.dispatchShared(group, d.message)) this.dropped(d.message);
    }
  }

  /** Gives a message to the member a share group picks; false when the group is empty. */
  private dispatchShared(group: SharedGroup<Subscriber>, message: Message): boolean {
    const member = group.pick(message.from, message.topic);
    if (member === null) return false;
    const o = member.options;
    const qos = member.session.deliveryQos(o.qos, message.qos);
    const subIds = o.subscriptionId === 0 ? null : [o.subscriptionId];
    // Retained messages are not sent on subscribing to a share (the channel sees to that); a
    // live one keeps or loses its flag by Retain As Published like any other.
    const retain = o.retainAsPublished ? message.retain : false;
    // Only QoS 1/2 deliveries may move to another member later, so only they carry the group.
    member.session.deliver(message, qos, retain, subIds, qos === 0 ? null : group);
    return true;
  }

  private dropped(message: Message): void {
    this.metrics.droppedNoSubscribers();
    if (this.hooks.has('message.dropped')) this.hooks.run('message.dropped', message, 'no_subscribers');
  }

  /**
   * Publishes a message: the message.publish hook may rewrite or take it; a retained message
   * updates the retained store; then every matching subscription gets it. Returns the number
   * of subscriptions it was routed to, or CONSUMED when a hook took the message.
   */
  publish(message: Message, from: ClientInfo | null): number {
    const metrics = this.metrics;
    // The broker's own $SYS messages are not client traffic: not counted (EMQX's is_sys).
    const counted = from !== null || !isSysTopic(message.topic);
    if (counted) metrics.messageReceived(message.qos);
    if (this.hooks.has('message.publish')) {
      const rewritten = this.hooks.foldPublish(message, from);
      // A hook that takes a message (delayed publish) or drops it counts it itself.
      if (rewritten === null) return CONSUMED;
      message = rewritten;
    }
    if (message.retain && this.options.retainAvailable) this.retain(message, counted);
    const subs = this.trie.match(message.topic);
    if (subs.length === 0) {
      if (counted) metrics.droppedNoSubscribers();
      if (this.hooks.has('message.dropped')) this.hooks.run('message.dropped', message, 'no_subscribers');
      return 0;
    }
    let routed = 0;
    let overlapping: Array<Subscriber | MergedCopy> | null = null;
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i]!;
      if (sub.shared) {
        // One member of the group gets it [MQTT 5.0 4.8.2].
        if (this.dispatchShared(sub, message)) routed++;
        continue;
      }
      if (sub.routes.plain > 1) {
        // The session may match more than once: set aside, merged below.
        if (overlapping === null) {
          overlapping = this.scratch ?? []; // a publish from within a delivery makes its own
          this.scratch = null;
        }
        overlapping.push(sub);
        continue;
      }
      const o = sub.options;
      // No Local: not back to the publishing client [MQTT-3.8.3-3].
      if (o.noLocal && sub.session.clientId === message.from) continue;
      const qos = sub.session.deliveryQos(o.qos, message.qos);
      const retain = o.retainAsPublished ? message.retain : false;
      sub.session.deliver(message, qos, retain, o.subscriptionId === 0 ? null : [o.subscriptionId]);
      routed++;
    }
    if (overlapping !== null) routed += this.deliverOverlapping(message, overlapping);
    return routed;
  }

  /**
   * Delivers to sessions that may have several matching subscriptions: one copy per session,
   * merged [MQTT-3.3.4-2..4]. First pass (no delivery, so no re-entrant publish can disturb the
   * stamps): compact `list` in place to one entry per session, the first subscription or a
   * MergedCopy. Second pass: deliver. Returns the number of copies.
   */
  private deliverOverlapping(message: Message, list: Array<Subscriber | MergedCopy>): number {
    const stamp = ++this.stamp;
    const from = message.from;
    let n = 0;
    for (let i = 0; i < list.length; i++) {
      const sub = list[i] as Subscriber;
      const o = sub.options;
      // A No Local subscription does not match its own client's message [MQTT-3.8.3-3].
      if (o.noLocal && sub.session.clientId === from) continue;
      const routes = sub.routes;
      if (routes.stamp !== stamp) {
        routes.stamp = stamp;
        routes.slot = n;
        list[n++] = sub;
        continue;
      }
      const first = list[routes.slot]!;
      if (first instanceof MergedCopy) first.add(o);
      else {
        const merged = new MergedCopy(first.session, first.options);
        merged.add(o);
        list[routes.slot] = merged;
      }
    }
    for (let i = 0; i < n; i++) {
      const entry = list[i]!;
      if (entry instanceof MergedCopy) {
        const qos = entry.session.deliveryQos(entry.qos, message.qos);
        const retain = entry.retainAsPublished ? message.retain : false;
        entry.session.deliver(message, qos, retain, entry.subIds);
      } else {
        const o = entry.options;
        const qos = entry.session.deliveryQos(o.qos, message.qos);
        const retain = o.retainAsPublished ? message.retain : false;
        entry.session.deliver(message, qos, retain, o.subscriptionId === 0 ? null : [o.subscriptionId]);
      }
    }
    list.length = 0;
    this.scratch = list;
    return n;
  }

  /** Stores, replaces or (empty payload) deletes the retained message of a topic [MQTT-3.3.1-5..7]. */
  private retain(message: Message, counted: boolean): void {
    const limits = this.options.retainer ?? NO_RETAINER_LIMITS;
    const topic = message.topic;
    const sys = topic.startsWith(SYS_PREFIX); // the broker's $SYS topics are not held to the limits
    if (message.payload.length === 0) {
      this.dropRetained(topic);
    } else if (!sys && message.payload.length > limits.maxPayloadSize) {
      // Too large to keep: delivered to current subscribers, not retained (EMQX's retainer).
      this.metrics.retainedDroppedTooLarge++;
      return;
    } else {
      const isNew = this.retained.get(topic) === undefined;
      if (isNew && !sys) {
        if (this.limitedRetained >= limits.maxRetainedMessages) {
          this.metrics.retainedDroppedFull++;
          return;
        }
        this.limitedRetained++;
      }
      this.retained.set(topic, message.own());
    }
    if (counted) this.metrics.messagesRetained++;
  }

  private dropRetained(topic: string): void {
    if (this.retained.delete(topic) && !topic.startsWith(SYS_PREFIX)) this.limitedRetained--;
  }

  /**
   * Retained messages matching a filter, leaving out (and removing) those past their Message
   * Expiry Interval or `retainer.msg_expiry_interval` [MQTT-3.3.2-5].
   */
  *retainedMatching(filter: string): Iterable<Message> {
    const now = Date.now();
    const defaultExpiry = (this.options.retainer ?? NO_RETAINER_LIMITS).msgExpiryInterval;
    let expired: Message[] | null = null;
    for (const message of this.retained.match(filter)) {
      const own = message.properties?.messageExpiryInterval;
      const ttl = own !== undefined ? own * 1000 : defaultExpiry;
      if (now - message.timestamp >= ttl) (expired ??= []).push(message);
      else yield message;
    }
    if (expired !== null) {
      for (const m of expired) if (this.retained.get(m.topic) === m) this.dropRetained(m.topic);
    }
  }

  /**
   * Removes the retained messages past their Message Expiry Interval or
   * `retainer.msg_expiry_interval` (they are also skipped when a subscription matches them), so
   * they neither count toward `max_retained_messages` nor stay in the store. Called periodically
   * by the composition root. Returns how many are left.
   */
  sweepExpiredRetained(): number {
    let kept = 0;
    for (const _ of this.retainedMatching('#')) kept++;
    return kept;
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
      protoName: packet.protocolName,
      cleanStart: packet.clean,
      keepalive: packet.keepalive,
      expiryInterval: packet.properties?.sessionExpiryInterval ?? 0,
    };
  }

  private readonly onDrop = (session: Session, delivery: Delivery, reason: DropReason): void => {
    this.metrics.sessionDropped(reason);
    if (this.hooks.has('message.dropped')) this.hooks.run('message.dropped', delivery.message, reason);
    void session;
  };
}
