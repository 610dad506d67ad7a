/**
 * The composition root: configuration -> logger -> broker core -> listeners. This is the one
 * place that chooses implementations (transports, and later stores and plugins); everything else
 * receives what it needs. `createBroker` is also the library entry point, so an application
 * embedding Aviary gets exactly what `aviary start` runs.
 */

import { readFileSync } from 'node:fs';
import { installApi } from './api/index.js';
import {
  type Authentication,
  installAuthentication,
  StoreUserAdmin,
  type UserDirectoryOptions,
  userDirectory,
} from './auth/index.js';
import { type Authorization, authorizationActive, installAuthorization } from './authz/index.js';
import { Broker } from './broker/broker.js';
import { DelayedPublish } from './broker/delayed.js';
import type { Message } from './broker/message.js';
import type { Hooks } from './broker/hooks.js';
import { Stats } from './broker/stats.js';
import { SysTopics } from './broker/sys.js';
import { KeepaliveSweeper, MqttConnection } from './channel/connection.js';
import type { ChannelSettings } from './channel/settings.js';
import type { SessionLimits } from './session/session.js';
import {
  type AviaryConfig,
  type AviaryConfigInput,
  type ListenerEntry,
  listenersOf,
  type MqttConfig,
  parseConfig,
  type SslListenerConfig,
  zoneMqtt,
} from './config/index.js';
import { NotImplementedError } from './errors.js';
import { createLogger, type Logger } from './observability/logger.js';
import { MemoryAclStore } from './persistence/memory/acl.js';
import { MemoryBannedStore } from './persistence/memory/banned.js';
import { MemoryAdminStore } from './persistence/memory/admin.js';
import { MemoryDelayedStore } from './persistence/memory/delayed.js';
import { MemoryUserStore } from './persistence/memory/users.js';
import { MemoryRetainedStore } from './persistence/memory/retained.js';
import { MemoryStorage } from './persistence/memory/storage.js';
import {
  openSqliteStorage,
  SqliteAclStore,
  SqliteAdminStore,
  SqliteBannedStore,
  SqliteStorage,
  SqliteUserStore,
} from './persistence/sqlite/index.js';
import type { Storage } from './persistence/storage.js';
import { Durability } from './broker/durability.js';
import { holdFlushes, releaseFlushes } from './transport/flush.js';
import { ReasonCode, type QoS } from './protocol/index.js';
import { installSecurity, type Security } from './security/index.js';
import type { Listener, ListenerHandlers, TransportConnection } from './transport/listener.js';
import { netListenerOptions, pskTable, tlsSettings } from './transport/listener-options.js';
import { ListenerRegistry, type ListenerStatus } from './transport/registry.js';
import { TcpListener } from './transport/tcp.js';
import { TlsListener } from './transport/tls.js';
import { WsListener, wsListenerOptions } from './transport/websocket.js';

export type { ListenerStatus } from './transport/registry.js';

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
  /** The store `durable_storage.backend` chose (docs/durability.md). */
  readonly storage: Storage;
  /** Authentication chains (docs/authentication.md); `authn.builtInUsers` administers users. */
  readonly authn: Authentication;
  /** Banned list, flapping detection, rate limits (docs/security.md); `security.banned` is the API's /banned. */
  readonly security: Security;
  /** Authorization (docs/authorization.md): `authz.clearCache()`, `authz.builtIn` (its rules). */
  readonly authz: Authorization;
  /** Starts every enabled listener. Rejects (and starts none) if one cannot listen. */
  listen(): Promise<ListenerAddress[]>;
  /** Bound addresses of the running listeners (ports resolved when configured as 0). */
  addresses(): ListenerAddress[];
  /** Every configured listener: running or not, bind, connections, refusals (docs/listeners.md). */
  listeners(): ListenerStatus[];
  /** Starts a configured listener by id ("ssl:default"); ListenerNotFoundError if unknown. */
  startListener(id: string): Promise<void>;
  /** Stops a listener: no new connections, its clients are disconnected (5.0: 0x8B). */
  stopListener(id: string): Promise<void>;
  /** Stops and starts a listener again, re-reading its certificate files. */
  restartListener(id: string): Promise<void>;
  /**
   * Graceful shutdown: stop accepting, send MQTT 5.0 clients DISCONNECT 0x8B (server shutting
   * down), close every connection, flush. Resolves when all sockets are closed.
   */
  close(): Promise<void>;
}

/** Expired retained messages are swept every this many session sweeps (a scan of them all). */
const RETAINED_SWEEP_EVERY = 12;

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
  // The durable store (docs/durability.md): opened first, so a bad data directory stops the start.
  const storage = openStorage(cfg);
  const durability = storage.durable
    ? new Durability(
        storage,
        { retained: new MemoryRetainedStore<Message>(), delayed: new MemoryDelayedStore<Message>() },
        { hold: holdFlushes, release: releaseFlushes },
        (error) => log.error({ err: error }, 'durable store: a batch could not be committed'),
      )
    : null;
  const broker = new Broker({
    nodeName: cfg.node.name,
    session: sessionLimits(mqtt),
    zoneSessions: new Map(Object.keys(cfg.zones).map((z) => [z, sessionLimits(zoneMqtt(cfg, z))])),
    retainAvailable: mqtt.retain_available && cfg.retainer.enable,
    retainer: {
      maxPayloadSize: cfg.retainer.max_payload_size,
      maxRetainedMessages: cfg.retainer.max_retained_messages,
      msgExpiryInterval: cfg.retainer.msg_expiry_interval,
    },
    retained: durability?.retained ?? new MemoryRetainedStore<Message>(),
    durable: durability?.sessions ?? null,
    groupCommit: durability?.groupCommit ?? null,
    onHookError: (hook, error) => log.error({ hook, err: error }, 'hook callback failed'),
    sharedSubscriptionStrategy: mqtt.shared_subscription_strategy,
  });
  const delayed = new DelayedPublish(broker, {
    store: durability?.delayed ?? new MemoryDelayedStore<Message>(),
    maxDelayedMessages: cfg.delayed.max_delayed_messages,
    log,
  });
  if (durability !== null) {
    const restored = durability.restore(broker);
    log.info({ store: storage.location, ...restored }, 'durable store opened');
  }
  if (cfg.delayed.enable) delayed.start();
  const stores = recordStores(storage);
  const authn = installAuthentication(broker, cfg, { log, users: stores.users });
  const authz = installAuthorization(broker, cfg, { store: stores.acl, log });
  const security = installSecurity({
    broker,
    config: cfg,
    log,
    bannedStore: stores.banned,
    connections: () => connections.values(),
  });
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
    // With an ACL in force, $SYS subscriptions are the ACL's to decide (docs/authorization.md).
    subscribeAllowHosts: authorizationActive(cfg.authorization) ? null : st.subscribe_allow_hosts,
    listenerPort: (id) => listeners.get(id)?.address.port ?? 0,
    onError: (error) => log.error({ err: error }, '$SYS publish failed'),
  });
  const sweeper = new KeepaliveSweeper();
  let expiryTimer: NodeJS.Timeout | null = null;
  let sweeps = 0;
  /** The MQTT connection of each open transport connection, for shutdown and listener stops. */
  const connections = new Map<TransportConnection, MqttConnection>();

  /** The one place that turns a configured listener into a Listener, by type. */
  const createListener = (entry: ListenerEntry): Listener => {
    const settings = channelSettings(zoneMqtt(cfg, entry.config.zone));
    const handlers: ListenerHandlers = {
      onConnection: (link) =>
        connections.set(
          link,
          new MqttConnection(
            link,
            broker,
            settings,
            log,
            sweeper,
            security.limiterFor(entry.id, entry.config.zone),
          ),
        ),
      onClosed: (link) => connections.delete(link),
      onRefused: (peer, reason) =>
        log.warn({ listener: entry.id, peer: peer.host, reason }, 'connection refused'),
      onHandshakeError: (peer, error) =>
        log.warn({ listener: entry.id, peer: peer.host, err: error.message }, 'handshake failed'),
    };
    switch (entry.type) {
      case 'tcp':
        return new TcpListener(netListenerOptions(entry, handlers));
      case 'ssl': {
        const lc = entry.config as SslListenerConfig;
        return new TlsListener({
          ...netListenerOptions(entry, handlers),
          tls: tlsSettings(entry, lc.ssl_options),
          psk: pskTable(cfg.psk_authentication), // read at each start: a restart reloads the file
        });
      }
      case 'ws':
      case 'wss': {
        // WebSocket and secure WebSocket: src/transport/websocket.ts.
        return new WsListener(wsListenerOptions(entry, handlers, settings.maxPacketSize));
      }
      default:
        throw new NotImplementedError(`listener ${entry.id}: unknown listener type`);
    }
  };
  const listeners = new ListenerRegistry(listenersOf(cfg), {
    create: createListener,
    shutdownConnections: (id) => {
      for (const c of [...connections.values()]) {
        if (c.link.listener === id) c.shutdown(ReasonCode.ServerShuttingDown);
      }
    },
    graceMs: SHUTDOWN_GRACE_MS,
    onChange: (id, running, a) =>
      log.info(
        { listener: id, bind: `${a.host}:${a.port}` },
        running ? 'listener started' : 'listener stopped',
      ),
  });

  const addresses = (): ListenerAddress[] => listeners.running().map((l) => ({ id: l.id, ...l.address }));

  const aviary: AviaryBroker = {
    config: cfg,
    broker,
    hooks: broker.hooks,
    log,
    delayed,
    stats,
    storage,
    authn,
    security,
    authz,
    async listen() {
      await listeners.startEnabled();
      expiryTimer = setInterval(() => {
        broker.sweepExpiredSessions(Date.now());
        if (++sweeps % RETAINED_SWEEP_EVERY === 0) broker.sweepExpiredRetained();
      }, cfg.durable_storage.sweep_interval);
      expiryTimer.unref();
      stats.start();
      sys.start();
      // The management API (src/api) after the MQTT listeners; its addresses follow theirs.
      const apiAddresses = await api.start().catch(async (error: unknown) => {
        await listeners.stopAll();
        throw error;
      });
      return [...addresses(), ...apiAddresses];
    },
    addresses,
    listeners: () => listeners.status(),
    startListener: (id) => listeners.start(id),
    stopListener: (id) => listeners.stop(id),
    restartListener: (id) => listeners.restart(id),
    async close() {
      await api.stop();
      delayed.close(); // pending delayed messages stay in the store
      await authn.close();
      await authz.close();
      security.close();
      sys.stop();
      stats.stop();
      await listeners.stopAll(); // DISCONNECT 0x8B to 5.0 clients, a grace period, then destroy
      sweeper.stop();
      broker.wills.clear(); // wills are not published on shutdown (see MqttConnection.onClose)
      if (expiryTimer !== null) clearInterval(expiryTimer);
      if (durability !== null) durability.close();
      else storage.close();
      log.info('broker stopped');
    },
  };
  const api = installApi(aviary, { store: stores.admin, version: packageVersion() });
  return aviary;
}

/** Opens the store `durable_storage.backend` names (the one place a storage backend is chosen). */
function openStorage(cfg: AviaryConfig): Storage {
  const ds = cfg.durable_storage;
  if (ds.backend === 'memory') return new MemoryStorage();
  return openSqliteStorage({
    dir: cfg.node.data_dir,
    file: ds.sqlite.file,
    synchronous: ds.sqlite.synchronous,
  });
}

/**
 * For `aviary users` (src/cli/users.ts): the built-in users in the configured durable store,
 * committed after each change, so a running broker sees them at its next lookup (SQLite lets a
 * second process write; busy_timeout waits for the broker's batch). Null when the store is in
 * memory (nothing outside the broker's process can reach it). Close the admin when done.
 */
export function openUserAdmin(cfg: AviaryConfig, options: UserDirectoryOptions = {}): StoreUserAdmin | null {
  if (cfg.durable_storage.backend === 'memory') return null;
  const directory = userDirectory(cfg, options); // checks the configuration before opening anything
  const storage = openStorage(cfg);
  if (!(storage instanceof SqliteStorage)) {
    storage.close();
    return null;
  }
  return new StoreUserAdmin(directory(new SqliteUserStore(storage)), storage);
}

/** The stores of users, ACL rules, the banned list and API accounts, in the chosen backend. */
function recordStores(storage: Storage) {
  if (storage instanceof SqliteStorage) {
    return {
      users: new SqliteUserStore(storage),
      acl: new SqliteAclStore(storage),
      banned: new SqliteBannedStore(storage),
      admin: new SqliteAdminStore(storage),
    };
  }
  return {
    users: new MemoryUserStore(),
    acl: new MemoryAclStore(),
    banned: new MemoryBannedStore(),
    admin: new MemoryAdminStore(),
  };
}

/** A zone's session limits (`max_inflight`, `max_mqueue_len`: infinity is 0, `mqueue_store_qos0`). */
export function sessionLimits(m: MqttConfig): SessionLimits {
  return {
    maxInflight: m.max_inflight,
    maxMqueueLen: Number.isFinite(m.max_mqueue_len) ? m.max_mqueue_len : 0,
    mqueueStoreQos0: m.mqueue_store_qos0,
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
    peerCertAsUsername: m.peer_cert_as_username,
    peerCertAsClientId: m.peer_cert_as_clientid,
    maxTopicAlias: m.max_topic_alias,
    receiveMaximum: m.receive_maximum,
    retryInterval: m.retry_interval,
    awaitRelTimeout: m.await_rel_timeout,
    upgradeQos: m.upgrade_qos,
    ignoreLoopDeliver: m.ignore_loop_deliver,
    strictMode: m.strict_mode,
  };
}
