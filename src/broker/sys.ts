/**
 * The `$SYS` topics, as EMQX publishes them (apps/emqx/src/emqx_sys.erl), built on the broker's
 * hooks and `Broker.publishFromBroker`. Every message is QoS 0 from the broker itself.
 *
 * Periodic messages, under `$SYS/brokers/<node>/`:
 *  - every `sys_msg_interval` (default 1 minute): `version` and `sysdescr` (retained), the node
 *    list on `$SYS/brokers` (retained, comma-separated), one message per statistic on
 *    `stats/<name>` and per counter on `metrics/<name>`, the name's dots turned into slashes
 *    (`connections.count` -> `stats/connections/count`, `packets.publish.received` ->
 *    `metrics/packets/publish/received`);
 *  - every `sys_heartbeat_interval` (default 30 s): `uptime` (milliseconds, as a decimal
 *    number) and `datetime` (RFC 3339, local time with its offset).
 * An interval of 0 or `disabled` turns that group off. Unlike EMQX, the retained three are also
 * published once at start, so a subscriber sees the broker's version at once.
 *
 * Event messages, each switched by `sys_topics.sys_event_messages.*`, on
 * `$SYS/brokers/<node>/clients/<clientid>/<event>` with a JSON payload:
 *  - `connected` (default on): clientid, username, ipaddress, sockport, protocol, proto_name,
 *    proto_ver, connected_at, ts, keepalive, clean_start, expiry_interval;
 *  - `disconnected` (default on): the same common fields, reason, disconnected_at;
 *  - `subscribed` / `unsubscribed` (default off): clientid, username, protocol, topic,
 *    subopts (subscribed only), ts.
 * Times are milliseconds since the epoch; `expiry_interval` is in milliseconds, as EMQX 5 sends
 * it. A client id containing `+` or `#` cannot be a topic level: no event is published for it.
 *
 * Who may subscribe. EMQX's default ACL lets only local clients subscribe to `$SYS/#`. Until
 * Aviary has ACLs, `sys_topics.subscribe_allow_hosts` lists the peer addresses that may; a
 * `client.subscribe` callback (a subscription-only check, so PUBLISH pays nothing for it) denies a
 * SUBSCRIBE to a `$SYS` filter from any other host (SUBACK
 * 0x87 in 5.0, 0x80 before). `#` and `+` at the first level never match `$SYS` topics
 * [MQTT-4.7.2-1], so only filters that start with `$SYS` are checked.
 *
 * The broker's own `$SYS` messages are not client traffic and are left out of the message and
 * packet counters (see metrics.ts).
 */

import { parseSubscriptionFilter, ProtocolVersion } from '../protocol/index.js';
import type { Broker } from './broker.js';
import type { AuthzRequest, FoldResult } from './hooks.js';
import type { Stats } from './stats.js';
import type { ClientInfo, SubscriptionOptions } from './types.js';

/** `$SYS/brokers`: where the node list goes, and the prefix of every node's topics. */
export const SYS_BROKERS = '$SYS/brokers';

/** Peer addresses of the local host, the default of `sys_topics.subscribe_allow_hosts`. */
export const LOCAL_HOSTS: readonly string[] = ['127.0.0.1', '::1', '::ffff:127.0.0.1'];

/** In `subscribe_allow_hosts`: every host may subscribe to `$SYS`. */
export const ALL_HOSTS = 'all';

/** EMQX's `protocol` field for MQTT clients (gateways name theirs). */
const PROTOCOL = 'mqtt';

/** Protocol names by version, as the CONNECT packet carries them. */
function protoName(version: ProtocolVersion): string {
  return version === ProtocolVersion.V3 ? 'MQIsdp' : 'MQTT';
}

const MS_PER_SECOND = 1000;
const MINUTES_PER_HOUR = 60;

export interface SysEventSwitches {
  clientConnected: boolean;
  clientDisconnected: boolean;
  clientSubscribed: boolean;
  clientUnsubscribed: boolean;
}

export interface SysTopicsOptions {
  /** The node name, e.g. 'aviary@127.0.0.1'. */
  nodeName: string;
  /** Release string published on `version`. */
  version: string;
  /** Description published on `sysdescr`. */
  sysdescr: string;
  /** Milliseconds between version/sysdescr/brokers/stats/metrics; 0 or Infinity: never. */
  msgInterval: number;
  /** Milliseconds between uptime/datetime; 0 or Infinity: never. */
  heartbeatInterval: number;
  events: SysEventSwitches;
  /**
   * Peer hosts allowed to subscribe to `$SYS` filters; `null` (or a list containing 'all'):
   * every host.
   */
  subscribeAllowHosts: readonly string[] | null;
  /** The local port of a listener by its id (EMQX's `sockport`); 0 when unknown. */
  listenerPort?: (listener: string) => number;
  /** Called when publishing a periodic message fails (it never throws out of a timer). */
  onError?: (error: unknown) => void;
}

export class SysTopics {
  /** `$SYS/brokers/<node>/` */
  readonly prefix: string;
  private msgTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private readonly allowHosts: ReadonlySet<string> | null;
  private started = false;

  constructor(
    private readonly broker: Broker,
    private readonly stats: Stats,
    private readonly options: SysTopicsOptions,
  ) {
    this.prefix = `${SYS_BROKERS}/${options.nodeName}/`;
    const hosts = options.subscribeAllowHosts;
    this.allowHosts = hosts === null || hosts.includes(ALL_HOSTS) ? null : new Set(hosts);
  }

  /** Registers the hooks, starts the timers and publishes the retained node information. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const { hooks } = this.broker;
    const { events } = this.options;
    if (events.clientConnected) hooks.add('client.connected', this.onConnected);
    if (events.clientDisconnected) hooks.add('client.disconnected', this.onDisconnected);
    if (events.clientSubscribed) hooks.add('session.subscribed', this.onSubscribed);
    if (events.clientUnsubscribed) hooks.add('session.unsubscribed', this.onUnsubscribed);
    if (this.allowHosts !== null) hooks.add('client.subscribe', this.authorize);
    if (enabled(this.options.msgInterval)) {
      this.publishInfo();
      this.msgTimer = setInterval(() => this.guard(() => this.tick()), timerMs(this.options.msgInterval));
      this.msgTimer.unref();
    }
    if (enabled(this.options.heartbeatInterval)) {
      this.heartbeatTimer = setInterval(
        () => this.guard(() => this.heartbeat()),
        timerMs(this.options.heartbeatInterval),
      );
      this.heartbeatTimer.unref();
    }
  }

  /** Stops the timers and removes the hooks. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    if (this.msgTimer !== null) clearInterval(this.msgTimer);
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.msgTimer = this.heartbeatTimer = null;
    const { hooks } = this.broker;
    hooks.remove('client.connected', this.onConnected);
    hooks.remove('client.disconnected', this.onDisconnected);
    hooks.remove('session.subscribed', this.onSubscribed);
    hooks.remove('session.unsubscribed', this.onUnsubscribed);
    hooks.remove('client.subscribe', this.authorize);
  }

  /** The `sys_msg_interval` messages: node information, statistics, metrics. */
  tick(): void {
    this.publishInfo();
    for (const [name, value] of Object.entries(this.stats.toJSON())) {
      this.publish(`stats/${slashes(name)}`, String(value), false);
    }
    for (const [name, value] of Object.entries(this.broker.metrics.toJSON())) {
      this.publish(`metrics/${slashes(name)}`, String(value), false);
    }
  }

  /** The `sys_heartbeat_interval` messages: uptime (ms) and datetime (RFC 3339). */
  heartbeat(now = Date.now()): void {
    this.publish('uptime', String(now - this.broker.startedAt), false);
    this.publish('datetime', rfc3339(new Date(now)), false);
  }

  private publishInfo(): void {
    this.publish('version', this.options.version, true);
    this.publish('sysdescr', this.options.sysdescr, true);
    // One node until the cluster issue: EMQX's mria:running_nodes(), comma-separated.
    this.publishTopic(SYS_BROKERS, this.options.nodeName, true);
  }

  private publish(subtopic: string, payload: string, retain: boolean): void {
    this.publishTopic(this.prefix + subtopic, payload, retain);
  }

  private publishTopic(topic: string, payload: string, retain: boolean): void {
    this.broker.publishFromBroker(topic, Buffer.from(payload, 'utf8'), 0, retain, null);
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  // ---- events --------------------------------------------------------------------------------

  private publishEvent(client: ClientInfo, event: string, payload: Record<string, unknown>): void {
    const id = client.clientId;
    if (id.includes('+') || id.includes('#')) return; // not a valid topic level
    this.publish(`clients/${id}/${event}`, JSON.stringify(payload), false);
  }

  /** EMQX's common_infos/2: the fields of both connected and disconnected. */
  private commonInfo(client: ClientInfo, ts: number): Record<string, unknown> {
    return {
      clientid: client.clientId,
      username: client.username,
      ipaddress: client.peerHost,
      sockport: this.options.listenerPort?.(client.listener) ?? 0,
      protocol: PROTOCOL,
      proto_name: client.protoName ?? protoName(client.protocolVersion),
      proto_ver: client.protocolVersion,
      connected_at: client.connectedAt,
      ts,
    };
  }

  private readonly onConnected = (client: ClientInfo): void => {
    const info = this.commonInfo(client, Date.now());
    info.keepalive = client.keepalive ?? 0;
    info.clean_start = client.cleanStart ?? true;
    info.expiry_interval = (client.expiryInterval ?? 0) * MS_PER_SECOND;
    this.publishEvent(client, 'connected', info);
  };

  private readonly onDisconnected = (client: ClientInfo, reason: string): void => {
    const now = Date.now();
    const info = this.commonInfo(client, now);
    info.reason = reason;
    info.disconnected_at = now;
    this.publishEvent(client, 'disconnected', info);
  };

  private readonly onSubscribed = (
    client: ClientInfo,
    filter: string,
    options: SubscriptionOptions,
  ): void => {
    const subopts: Record<string, unknown> = {
      qos: options.qos,
      nl: options.noLocal ? 1 : 0,
      rap: options.retainAsPublished ? 1 : 0,
      rh: options.retainHandling,
    };
    if (options.subscriptionId !== 0) subopts.subid = options.subscriptionId;
    if (options.shareGroup !== null) subopts.share = options.shareGroup;
    this.publishEvent(client, 'subscribed', {
      clientid: client.clientId,
      username: client.username,
      protocol: PROTOCOL,
      topic: filter,
      subopts,
      ts: Date.now(),
    });
  };

  private readonly onUnsubscribed = (client: ClientInfo, filter: string): void => {
    this.publishEvent(client, 'unsubscribed', {
      clientid: client.clientId,
      username: client.username,
      protocol: PROTOCOL,
      topic: filter,
      ts: Date.now(),
    });
  };

  // ---- who may subscribe ----------------------------------------------------------------------

  /** Denies a SUBSCRIBE to a `$SYS` filter from a host not in `subscribe_allow_hosts`. */
  private readonly authorize = (
    acc: 'allow' | 'deny',
    client: ClientInfo,
    request: AuthzRequest,
  ): FoldResult<'allow' | 'deny'> => {
    if (request.action !== 'subscribe' || acc === 'deny') return undefined;
    if (!isSysFilter(request.topic)) return undefined;
    if (this.allowHosts === null || this.allowHosts.has(client.peerHost)) return undefined;
    return { stop: 'deny' };
  };
}

/** A filter (possibly `$share/<group>/...` or `$queue/...`) whose first level is `$SYS`. */
export function isSysFilter(raw: string): boolean {
  const parsed = parseSubscriptionFilter(raw);
  const filter = typeof parsed === 'string' ? raw : parsed.filter;
  return filter === '$SYS' || filter.startsWith('$SYS/');
}

function enabled(intervalMs: number): boolean {
  return intervalMs > 0 && Number.isFinite(intervalMs);
}

/** Node's timers take at most 2^31 - 1 ms (a longer one would fire after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function timerMs(intervalMs: number): number {
  return Math.min(intervalMs, MAX_TIMER_MS);
}

/** `connections.count` -> `connections/count` (EMQX's translate_topic). */
function slashes(name: string): string {
  return name.replaceAll('.', '/');
}

/** RFC 3339 in local time with its offset, milliseconds included: 2024-05-01T12:00:00.123+02:00. */
export function rfc3339(date: Date): string {
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}${sign}${pad(Math.floor(abs / MINUTES_PER_HOUR))}:${pad(abs % MINUTES_PER_HOUR)}`
  );
}
