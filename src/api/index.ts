/**
 * The management API (docs/api.md): `installApi(host, options)` is the one call main.ts makes.
 * It starts following client connections at once (the registry's hooks, so no client is
 * missed), and `start()` / `stop()` run the HTTP server(s) with the broker's listen() / close();
 * `stop()` also removes the registry's hooks.
 *
 * fastify and the route modules are loaded by `start()` only when a dashboard listener is
 * enabled, so an embedding application that never listens, or turns the API off, does not pay
 * for them.
 */

import { ConfigError, ListenError } from '../errors.js';
import type { AdminStore } from '../persistence/admin.js';
import { AdminAuth } from './auth.js';
import type { ApiContext, ApiHost } from './context.js';
import { Monitor } from './monitor.js';
import { ClientRegistry } from './registry.js';

export type { ApiHost } from './context.js';

export interface ApiOptions {
  /** Where users and API keys are kept (chosen by main.ts). */
  store: AdminStore;
  /** Aviary's release, for /login, /nodes and the OpenAPI document. */
  version: string;
}

export interface ApiAddress {
  /** EMQX's names: 'http:dashboard', 'https:dashboard'. */
  id: string;
  host: string;
  port: number;
}

export interface ManagementApi {
  /** Starts the enabled dashboard listeners; resolves with their bound addresses. */
  start(): Promise<ApiAddress[]>;
  /** Stops answering (in-flight requests finish) and closes the servers. */
  stop(): Promise<void>;
  addresses(): ApiAddress[];
  readonly registry: ClientRegistry;
  readonly auth: AdminAuth;
  readonly monitor: Monitor;
}

interface Server {
  id: string;
  close(): Promise<void>;
  address: { host: string; port: number };
}

export function installApi(host: ApiHost, options: ApiOptions): ManagementApi {
  const cfg = host.config;
  const dashboard = cfg.dashboard;
  const registry = new ClientRegistry(host.broker);
  registry.start();
  const auth = new AdminAuth(options.store, dashboard.token_expired_time);
  const monitor = new Monitor(host.broker, host.stats, registry, dashboard.sample_interval);
  let running = false;
  let servers: Server[] = [];
  const ctx: ApiContext = {
    host,
    broker: host.broker,
    config: cfg,
    log: host.log,
    registry,
    auth,
    monitor,
    node: cfg.node.name,
    version: options.version,
    running: () => running,
  };

  const addresses = (): ApiAddress[] => servers.map((s) => ({ id: s.id, ...s.address }));

  return {
    registry,
    auth,
    monitor,
    addresses,
    async start() {
      const { http, https } = dashboard.listeners;
      running = true;
      monitor.start();
      if (!http.enable && !https.enable) return [];
      await auth.ensureDefaultUser(dashboard.default_username, dashboard.default_password);
      if (cfg.api_key.bootstrap_file !== '') {
        try {
          const n = auth.loadBootstrapFile(cfg.api_key.bootstrap_file);
          host.log.info(
            { file: cfg.api_key.bootstrap_file, keys: n },
            'API keys loaded from the bootstrap file',
          );
        } catch (error) {
          throw new ConfigError(
            `api_key.bootstrap_file: ${error instanceof Error ? error.message : String(error)}`,
            'api_key.bootstrap_file',
            { cause: error },
          );
        }
      }
      const { buildServer, readTls } = await import('./server.js');
      const wanted: Array<{
        id: string;
        bind: { host: string; port: number };
        tls: ReturnType<typeof readTls> | null;
      }> = [];
      if (http.enable) wanted.push({ id: 'http:dashboard', bind: http.bind, tls: null });
      if (https.enable) {
        const { certfile, keyfile } = https.ssl_options;
        wanted.push({ id: 'https:dashboard', bind: https.bind, tls: readTls(certfile ?? '', keyfile ?? '') });
      }
      try {
        for (const w of wanted) {
          const app = await buildServer(ctx, w.tls);
          const key = `dashboard.listeners.${w.id.split(':')[0]}.bind`;
          await app.listen({ host: w.bind.host, port: w.bind.port }).catch(async (error: unknown) => {
            await app.close();
            const why = error instanceof Error ? error.message : String(error);
            throw new ListenError(`${w.id} (${key} = ${w.bind.host}:${w.bind.port}): ${why}`, {
              cause: error,
            });
          });
          const a = app.server.address();
          const port = typeof a === 'object' && a !== null ? a.port : w.bind.port;
          servers.push({ id: w.id, close: () => app.close(), address: { host: w.bind.host, port } });
          host.log.info({ listener: w.id, bind: `${w.bind.host}:${port}` }, 'management API listening');
        }
      } catch (error) {
        await Promise.all(servers.map((s) => s.close()));
        servers = [];
        running = false;
        monitor.stop();
        throw error;
      }
      return addresses();
    },
    async stop() {
      running = false;
      monitor.stop();
      registry.stop(); // the broker is closing: its hooks go with it
      const closing = servers;
      servers = [];
      await Promise.all(closing.map((s) => s.close()));
    },
  };
}
