/**
 * Prometheus (EMQX's emqx_prometheus): `GET /api/v5/prometheus/stats` in the text exposition
 * format, with EMQX's metric names so existing Grafana dashboards (e.g. 17446) work:
 * every counter of `/metrics` and gauge of `/stats` as `emqx_` + its name with dots turned
 * into underscores (`messages.received` -> `emqx_messages_received`, `connections.count` ->
 * `emqx_connections_count`), plus `emqx_cluster_nodes_running` / `_stopped`, plus Node.js's
 * process metrics from prom-client's default collectors (event-loop lag, heap, RSS, GC, CPU,
 * handles), under their usual names (`nodejs_eventloop_lag_seconds`, ...).
 *
 * Cost: the broker's numbers are plain fields read in one pass and written as text (a few
 * hundred lines, no per-client work); the process collectors are prom-client's, registered once
 * per process. A scrape takes well under a millisecond of the event loop.
 *
 * No credentials are needed unless `prometheus.enable_basic_auth = true` (EMQX's key); then an
 * API key (Basic) or a token, as for the rest of the API.
 */

import type { FastifyInstance } from 'fastify';
import promClient from 'prom-client';
import type { ApiContext } from './context.js';
import type { RouteAuth } from './server.js';

const PROMETHEUS: RouteAuth = { auth: 'prometheus' };
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Process metrics are process-wide: one registry however many brokers the process runs. */
let processRegistry: promClient.Registry | null = null;

/**
 * prom-client's default metrics that cost O(open connections) per scrape: `process_open_fds`
 * lists /proc/self/fd and the `nodejs_active_*` ones build an array of every handle. With
 * 19,500 connections one scrape held the event loop for about 90 ms (docs/benchmarks.md), so
 * they are left out; `emqx_connections_count` and `emqx_live_connections_count` say the same.
 */
const PER_CONNECTION_METRICS = [
  'process_open_fds',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
];

function processMetrics(): promClient.Registry {
  if (processRegistry === null) {
    processRegistry = new promClient.Registry();
    promClient.collectDefaultMetrics({ register: processRegistry });
    for (const name of PER_CONNECTION_METRICS) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

/** `messages.received` -> `emqx_messages_received`. */
export function promName(name: string): string {
  return `emqx_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

function render(lines: string[], values: Record<string, number>, type: 'counter' | 'gauge'): void {
  for (const [name, value] of Object.entries(values)) {
    const metric = promName(name);
    lines.push(`# TYPE ${metric} ${type}`, `${metric} ${Number.isFinite(value) ? value : 0}`);
  }
}

/** The broker's part of a scrape. */
export function brokerMetricsText(ctx: ApiContext): string {
  const lines: string[] = [];
  render(lines, ctx.host.stats.toJSON(), 'gauge');
  render(lines, ctx.broker.metrics.toJSON(), 'counter');
  render(
    lines,
    { 'cluster.nodes.running': ctx.running() ? 1 : 0, 'cluster.nodes.stopped': ctx.running() ? 0 : 1 },
    'gauge',
  );
  lines.push('');
  return lines.join('\n');
}

export function prometheusRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const registry = processMetrics();
  app.get(
    '/prometheus/stats',
    {
      config: PROMETHEUS,
      schema: {
        tags: ['Monitor'],
        summary: 'Prometheus text format: EMQX metric names and Node.js process metrics',
        security: [],
      },
    },
    async (_request, reply) => {
      const text = brokerMetricsText(ctx) + (await registry.metrics());
      return reply.type(PROMETHEUS_CONTENT_TYPE).send(text);
    },
  );
}
