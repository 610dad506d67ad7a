/**
 * The composition root: configuration -> logger -> broker core -> listeners. This is the one
 * place that chooses implementations (transports, and later stores and plugins); everything else
 * receives what it needs. `createBroker` is also the library entry point, so an application
 * embedding Aviary gets exactly what `aviary start` runs.
 */

import { readFileSync } from 'node:fs';
import { Broker } from './broker/broker.js';
import { DelayedPublish } from './broker/delayed.js';
import type { Message } from './broker/message.js';
import type { Hooks } from './broker/hooks.js';
import { Stats } from './broker/stats.js';
import { SysTopics } from './broker/sys.js';
import { KeepaliveSweeper, MqttConnection } from './channel/connection.js';
import type { ChannelSettings } from './channel/settings.js';
import {
  type AviaryConfig,
  type AviaryConfigInput,
  type ListenerEntry,
  listenersOf,
  type MqttConfig,
  parseConfig,
  zoneMqtt,
} from './config/index.js';
import { NotImplementedError } from './errors.js';
import { createLogger, type Logger } from './observability/logger.js';
import { MemoryDelayedStore } from './persistence/memory/delayed.js';
import { MemoryRetainedStore } from './persistence/memory/retained.js';
import { ReasonCode, type QoS } from './protocol/index.js';
import { TcpListener } from './transport/tcp.js';

export interface CreateBrokerOptions {
  /** A pino logger to use instead of the one `log.*` configures. */
  logger?: Logger;
}

export interface ListenerAddress {
  /** 'tcp:default' */
  id: string;
  host: string;
  port: number;
}

export interface AviaryBroker {
  readonly config: AviaryConfig;
  readonly broker: Broker;
  readonly hooks: Hooks;
  readonly log: Logger;
  /** Delayed publish: `count`, `max` and `stats()` give `delayed.count` / `delayed.max`. */
  readonly delayed: DelayedPublish;
  /** Gauges with high-water marks (`connections.count`, ...); counters are `broker.metrics`. */
  readonly stats: Stats;
  /** Starts every enabled listener. Rejects (and starts none) if one cannot listen. */
  listen(): Promise<ListenerAddress[]>;
  /** Bound addresses of the running listeners (ports resolved when configured as 0). */
  addresses(): ListenerAddress[];
  /**
   * Graceful shutdown: stop accepting, send MQTT 5.0 clients DISCONNECT 0x8B (server shutting
   * down), close every connection, flush. Resolves when all sockets are closed.
   */
  close(): Promise<void>;
}

/** How often detached sessions are checked for expiry. */
const SESSION_SWEEP_MS = 5000;

/** Grace period for clients to read their DISCONNECT before their sockets are destroyed. */
const SHUTDOWN_GRACE_MS = 2000;

/** What `$SYS/brokers/<node>/sysdescr` says (EMQX's says "EMQX"). */
const SYSDESCR = 'Aviary';

/** The release, for `$SYS/brokers/<node>/version` (package.json is one level above src/ and dist/). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export function createBroker(
  config: AviaryConfigInput | AviaryConfig = {},
  options: CreateBrokerOptions = {},
): AviaryBroker {
  const cfg = parseConfig(config);
  const log =
    options.logger ??
    createLogger({
      enable: cfg.log.console.enable || cfg.log.file.enable,
      level: cfg.log.file.enable ? cfg.log.file.level : cfg.log.console.level,
      file: cfg.log.file.enable ? cfg.log.file.path : null,
    });
  const mqtt = cfg.mqtt;
  const broker = new Broker({
    nodeName: cfg.node.name,
    session: {
      maxInflight: mqtt.max_inflight,
      maxMqueueLen: Number.isFinite(mqtt.max_mqueue_len) ? mqtt.max_mqueue_len : 0,
      mqueueStoreQos0: mqtt.mqueue_store_qos0,
    },
    retainAvailable: mqtt.retain_available && cfg.retainer.enable,
    retainer: {
      maxPayloadSize: cfg.retainer.max_payload_size,
      maxRetainedMessages: cfg.retainer.max_retained_messages,
      msgExpiryInterval: cfg.retainer.msg_expiry_interval,
    },
    retained: new MemoryRetainedStore<Message>(),
    onHookError: (hook, error) => log.error({ hook, err: error }, 'hook callback failed'),
    sharedSubscriptionStrategy: mqtt.shared_subscription_strategy,
  });
  const delayed = new DelayedPublish(broker, {
    store: new MemoryDelayedStore<Message>(),
    maxDelayedMessages: cfg.delayed.max_delayed_messages,
    log,
  });
  if (cfg.delayed.enable) delayed.start();
  const stats = new Stats(broker);
  stats.addSource(() => ({ ...delayed.stats() }));
  const st = cfg.sys_topics;
  const sys = new SysTopics(broker, stats, {
    nodeName: cfg.node.name,
    version: packageVersion(),
    sysdescr: SYSDESCR,
    msgInterval: st.sys_msg_interval,
    heartbeatInterval: st.sys_heartbeat_interval,
    events: {
      clientConnected: st.sys_event_messages.client_connected,
      clientDisconnected: st.sys_event_messages.client_disconnected,
      clientSubscribed: st.sys_event_messages.client_subscribed,
      clientUnsubscribed: st.sys_event_messages.client_unsubscribed,
    },
    subscribeAllowHosts: st.subscribe_allow_hosts,
    listenerPort: (id) => listeners.find((l) => l.id === id)?.address.port ?? 0,
    onError: (error) => log.error({ err: error }, '$SYS publish failed'),
  });
  const sweeper = new KeepaliveSweeper();
  let expiryTimer: NodeJS.Timeout | null = null;
  const listeners: TcpListener[] = [];
  const connections = new Set<MqttConnection>();

  const startListener = async (entry: ListenerEntry): Promise<TcpListener> => {
    if (entry.type !== 'tcp') {
      throw new NotImplementedError(
        `listener ${entry.id}: ${entry.type} listeners are not implemented yet; disable it with ` +
          `listeners.${entry.type}.${entry.name}.enable = false`,
      );
    }
    const lc = entry.config;
    const settings = channelSettings(zoneMqtt(cfg, lc.zone));
    const listener = new TcpListener({
      id: entry.id,
      host: lc.bind.host,
      port: lc.bind.port,
      maxConnections: lc.max_connections,
      zone: lc.zone,
      onConnection: (link) => {
        const c = new MqttConnection(link, broker, settings, log, sweeper);
        connections.add(c);
        link.socket.once('close', () => connections.delete(c));
      },
      onRefused: (socket, reason) =>
        log.warn({ listener: entry.id, peer: socket.remoteAddress, reason }, 'connection refused'),
    });
    await listener.listen();
    return listener;
  };

  const addresses = (): ListenerAddress[] => listeners.map((l) => ({ id: l.id, ...l.address }));

  return {
    config: cfg,
    broker,
    hooks: broker.hooks,
    log,
    delayed,
    stats,
    async listen() {
      const enabled = listenersOf(cfg).filter((e) => e.config.enable);
      try {
        for (const entry of enabled) listeners.push(await startListener(entry));
      } catch (error) {
        await Promise.all(listeners.map((l) => l.stopAccepting()));
        listeners.length = 0;
        throw error;
      }
      expiryTimer = setInterval(() => broker.sweepExpiredSessions(Date.now()), SESSION_SWEEP_MS);
      expiryTimer.unref();
      stats.start();
      sys.start();
      for (const a of addresses()) {
        log.info({ listener: a.id, bind: `${a.host}:${a.port}` }, 'listener started');
      }
      return addresses();
    },
    addresses,
    async close() {
      delayed.close(); // pending delayed messages stay in the store
      sys.stop();
      stats.stop();
      await Promise.all(listeners.map((l) => l.stopAccepting()));
      for (const c of [...connections]) c.shutdown(ReasonCode.ServerShuttingDown);
      const deadline = Date.now() + SHUTDOWN_GRACE_MS;
      while (listeners.some((l) => l.connections > 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const l of listeners) l.destroyAll();
      listeners.length = 0;
      sweeper.stop();
      broker.wills.clear(); // wills are not published on shutdown (see MqttConnection.onClose)
      if (expiryTimer !== null) clearInterval(expiryTimer);
      log.info('broker stopped');
    },
  };
}

/** The channel's view of a zone's `mqtt` settings. */
export function channelSettings(m: MqttConfig): ChannelSettings {
  return {
    maxPacketSize: m.max_packet_size,
    maxClientIdLen: m.max_clientid_len,
    maxQosAllowed: m.max_qos_allowed as QoS,
    retainAvailable: m.retain_available,
    wildcardSubscription: m.wildcard_subscription,
    sharedSubscription: m.shared_subscription,
    exclusiveSubscription: m.exclusive_subscription,
    maxTopicLevels: m.max_topic_levels,
    keepaliveMultiplier: m.keepalive_multiplier,
    serverKeepalive: Number.isFinite(m.server_keepalive) ? m.server_keepalive : null,
    idleTimeout: m.idle_timeout,
    sessionExpiryInterval: Number.isFinite(m.session_expiry_interval)
      ? Math.floor(m.session_expiry_interval / 1000)
      : 0xffff_ffff,
    maxAwaitingRel: m.max_awaiting_rel,
    maxSubscriptions: m.max_subscriptions,
    responseInformation: m.response_information,
    useUsernameAsClientId: m.use_username_as_clientid,
    maxTopicAlias: m.max_topic_alias,
    receiveMaximum: m.receive_maximum,
    retryInterval: m.retry_interval,
    awaitRelTimeout: m.await_rel_timeout,
    upgradeQos: m.upgrade_qos,
    ignoreLoopDeliver: m.ignore_loop_deliver,
    strictMode: m.strict_mode,
  };
}
