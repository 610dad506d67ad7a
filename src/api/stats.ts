/**
 * Node, statistics and health (EMQX's emqx_mgmt_api_stats, _metrics, _nodes, emqx_dashboard_monitor_api,
 * emqx_mgmt_api_status):
 *
 *   GET /stats[?aggregate=true]     gauges ('connections.count', ...): per node `[{node, ...}]`,
 *                                   or one object with aggregate=true
 *   GET /metrics[?aggregate=true]   counters ('messages.received', ...), the same way
 *   GET /nodes, /nodes/:node        node objects; /nodes/:node/stats, /nodes/:node/metrics
 *   GET /monitor?latest=<seconds>   samples every dashboard.sample_interval (monitor.ts)
 *   GET /monitor_current            gauges now and rates per second
 *   GET /status (also /api/v5/status, no auth)  200 "Node ... is started / aviary is running",
 *                                   503 when the broker is not running; ?format=json for JSON
 */

import { cpus, freemem, loadavg, totalmem } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import { HttpStatus, notFound } from './errors.js';
import type { RouteAuth } from './server.js';

const MS_PER_SECOND = 1000;
const OPEN: RouteAuth = { auth: false };

function nodeInfo(ctx: ApiContext): Record<string, unknown> {
  const mem = process.memoryUsage();
  const [load1, load5, load15] = loadavg();
  return {
    node: ctx.node,
    node_status: ctx.running() ? 'running' : 'stopped',
    version: ctx.version,
    edition: 'Opensource',
    role: 'core',
    uptime: Date.now() - ctx.broker.startedAt,
    connections: ctx.broker.sessionCount,
    live_connections: ctx.broker.connectionCount,
    memory_total: totalmem(),
    memory_used: totalmem() - freemem(),
    process_rss: mem.rss,
    heap_used: mem.heapUsed,
    load1,
    load5,
    load15,
    cpus: cpus().length,
    node_version: process.version,
    sys_path: process.cwd(),
  };
}

const aggregateQuery = {
  type: 'object',
  properties: { aggregate: { type: 'boolean' } },
} as const;

export function statsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['Metrics'];
  const stats = (): Record<string, number> => ctx.host.stats.toJSON();
  const metrics = (): Record<string, number> => ctx.broker.metrics.toJSON();

  app.get<{ Querystring: { aggregate?: boolean } }>(
    '/stats',
    {
      schema: {
        tags,
        summary: 'Gauges: connections, sessions, topics, subscriptions, retained',
        querystring: aggregateQuery,
      },
    },
    async (request) => (request.query.aggregate ? stats() : [{ node: ctx.node, ...stats() }]),
  );
  app.get<{ Querystring: { aggregate?: boolean } }>(
    '/metrics',
    {
      schema: {
        tags,
        summary: 'Counters: bytes, packets, messages, deliveries, sessions',
        querystring: aggregateQuery,
      },
    },
    async (request) => (request.query.aggregate ? metrics() : [{ node: ctx.node, ...metrics() }]),
  );

  const nodeParams = {
    type: 'object',
    required: ['node'],
    properties: { node: { type: 'string' } },
  } as const;
  const thisNode = (node: string): void => {
    if (node !== ctx.node) throw notFound(`node ${node} not found`);
  };
  const nodeTags = ['Nodes'];
  app.get('/nodes', { schema: { tags: nodeTags, summary: 'The nodes (this one)' } }, async () => [
    nodeInfo(ctx),
  ]);
  app.get<{ Params: { node: string } }>(
    '/nodes/:node',
    { schema: { tags: nodeTags, summary: 'One node', params: nodeParams } },
    async (request) => {
      thisNode(request.params.node);
      return nodeInfo(ctx);
    },
  );
  app.get<{ Params: { node: string } }>(
    '/nodes/:node/stats',
    { schema: { tags: nodeTags, summary: "A node's gauges", params: nodeParams } },
    async (request) => {
      thisNode(request.params.node);
      return { node: ctx.node, ...stats() };
    },
  );
  app.get<{ Params: { node: string } }>(
    '/nodes/:node/metrics',
    { schema: { tags: nodeTags, summary: "A node's counters", params: nodeParams } },
    async (request) => {
      thisNode(request.params.node);
      return { node: ctx.node, ...metrics() };
    },
  );

  const monitorTags = ['Monitor'];
  app.get<{ Querystring: { latest?: number } }>(
    '/monitor',
    {
      schema: {
        tags: monitorTags,
        summary: 'Samples taken every dashboard.sample_interval, oldest first',
        querystring: {
          type: 'object',
          properties: { latest: { type: 'integer', minimum: 1, description: 'the last N seconds' } },
        },
      },
    },
    async (request) => ctx.monitor.latest(request.query.latest),
  );
  app.get(
    '/monitor_current',
    { schema: { tags: monitorTags, summary: 'Gauges now and rates per second' } },
    async () => ctx.monitor.current(),
  );

  statusRoute(app, ctx, '');
}

/** GET <prefix>/status for load balancers: no credentials, 200 up / 503 down. */
export function statusRoute(app: FastifyInstance, ctx: ApiContext, prefix: string): void {
  app.get<{ Querystring: { format?: 'text' | 'json' } }>(
    `${prefix}/status`,
    {
      config: OPEN,
      schema: {
        tags: ['Status'],
        summary: 'Health check: 200 when the broker runs, 503 otherwise (no credentials)',
        security: [],
        querystring: { type: 'object', properties: { format: { type: 'string', enum: ['text', 'json'] } } },
      },
    },
    async (request, reply) => {
      const up = ctx.running();
      reply.code(up ? HttpStatus.Ok : HttpStatus.ServiceUnavailable);
      if (request.query.format === 'json') {
        return {
          node_name: ctx.node,
          rel_vsn: ctx.version,
          broker_status: up ? 'started' : 'stopped',
          app_status: up ? 'running' : 'not_running',
          uptime: Math.floor((Date.now() - ctx.broker.startedAt) / MS_PER_SECOND),
        };
      }
      reply.type('text/plain; charset=utf-8');
      return `Node ${ctx.node} is ${up ? 'started' : 'stopped'}\naviary is ${up ? 'running' : 'not_running'}\n`;
    },
  );
}
