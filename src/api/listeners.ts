/**
 * MQTT listeners (EMQX's emqx_mgmt_api_listeners):
 *
 *   GET  /listeners                      [{id, type, name, bind, running, ...}]
 *   POST /listeners/:id/start|stop|restart
 *
 * The listener registry belongs to the listeners work. When the broker object offers
 * `listeners()` / `startListener(id)` / `stopListener(id)` / `restartListener(id)` the API uses
 * them; until then GET /listeners reports the running listeners from `addresses()` and the
 * start/stop/restart endpoints answer 501, saying so.
 */

import type { FastifyInstance } from 'fastify';
import type { ApiContext, ListenerStatus } from './context.js';
import { HttpStatus, notFound, notImplemented } from './errors.js';

const OPERATIONS = ['start', 'stop', 'restart'] as const;
type Operation = (typeof OPERATIONS)[number];

/** A number, or EMQX's "infinity" for no limit. */
const limit = (n: number): number | string => (Number.isFinite(n) ? n : 'infinity');

/**
 * A listener from the registry (the listeners work's ListenerStatus: id, type, name, enable,
 * running, bind, currentConnections, maxConnections, counters), in EMQX's field names. Read
 * defensively: the shape belongs to another module.
 */
function fromRegistry(item: unknown): ListenerStatus {
  const o = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
  const id = String(o.id ?? '');
  const [type = '', name = ''] = id.split(':');
  const out: ListenerStatus = {
    id,
    type: typeof o.type === 'string' ? o.type : type,
    name: typeof o.name === 'string' ? o.name : name,
    bind: typeof o.bind === 'string' ? o.bind : '',
    running: o.running === true,
  };
  if (typeof o.enable === 'boolean') out.enable = o.enable;
  if (typeof o.currentConnections === 'number') out.current_connections = o.currentConnections;
  if (typeof o.maxConnections === 'number') out.max_connections = limit(o.maxConnections);
  if (typeof o.counters === 'object' && o.counters !== null) out.counters = o.counters;
  return out;
}

export function listenersRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['Listeners'];
  const host = ctx.host;

  const list = (): ListenerStatus[] => {
    if (typeof host.listeners === 'function') return host.listeners().map(fromRegistry);
    const limits = new Map<string, number | string>();
    for (const [type, byName] of Object.entries(ctx.config.listeners)) {
      for (const [name, lc] of Object.entries(byName as Record<string, { max_connections: number }>)) {
        limits.set(`${type}:${name}`, limit(lc.max_connections));
      }
    }
    return host.addresses().map((a) => {
      const [type = '', name = ''] = a.id.split(':');
      const max = limits.get(a.id);
      return {
        id: a.id,
        type,
        name,
        bind: a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`,
        enable: true,
        running: true,
        ...(max === undefined ? {} : { max_connections: max }),
      };
    });
  };

  app.get('/listeners', { schema: { tags, summary: 'MQTT listeners and their state' } }, async () => list());

  const idParams = {
    type: 'object',
    required: ['id', 'operation'],
    properties: { id: { type: 'string' }, operation: { type: 'string', enum: OPERATIONS } },
  } as const;

  app.post<{ Params: { id: string; operation: Operation } }>(
    '/listeners/:id/:operation',
    { schema: { tags, summary: 'Start, stop or restart a listener', params: idParams } },
    async (request, reply) => {
      const { id, operation } = request.params;
      const op =
        operation === 'start'
          ? host.startListener
          : operation === 'stop'
            ? host.stopListener
            : host.restartListener;
      if (typeof op !== 'function') {
        throw notImplemented(
          `listeners ${operation} is not available yet: this build has no listener registry`,
        );
      }
      if (typeof host.listeners === 'function' && !list().some((l) => l.id === id)) {
        throw notFound(`listener ${id} not found`);
      }
      await op.call(host, id); // an unknown id was answered with 404 above
      return reply.code(HttpStatus.NoContent).send();
    },
  );
}
