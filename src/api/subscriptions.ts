/**
 * Subscriptions and topics (EMQX's emqx_mgmt_api_subscriptions, emqx_mgmt_api_topics):
 *
 *   GET /subscriptions   paged; filters clientid, topic (the filter as subscribed), match_topic
 *                        (subscriptions whose filter matches this topic), qos, share_group
 *   GET /topics          paged routes `{topic, node}`; filter topic
 *   GET /topics/:topic   one route, 404 if nobody subscribes to it
 *
 * Items: `{node, clientid, topic, qos, nl, rap, rh, durable}`; a shared subscription's topic is
 * written as subscribed (`$share/<group>/<filter>`) and `share_group` is set.
 */

import type { FastifyInstance } from 'fastify';
import { filterMatches, parseSubscriptionFilter, type Session, type SubscriptionOptions } from './core.js';
import type { ApiContext } from './context.js';
import { notFound } from './errors.js';
import { mapPage, pageOf, paginate } from './pagination.js';

interface SubscriptionsQuery {
  page?: number;
  limit?: number;
  clientid?: string;
  topic?: string;
  match_topic?: string;
  qos?: number;
  share_group?: string;
}

/** One subscription of one session. */
class SubscriptionRow {
  constructor(
    readonly clientId: string,
    readonly filter: string,
    readonly options: SubscriptionOptions,
  ) {}
}

function* rowsOf(sessions: Iterable<Session>): Generator<SubscriptionRow> {
  for (const session of sessions) {
    for (const [filter, options] of session.subscriptions)
      yield new SubscriptionRow(session.clientId, filter, options);
  }
}

/** The filter without its `$share/<group>/` or `$queue/` prefix. */
function plainFilter(filter: string): string {
  const parsed = parseSubscriptionFilter(filter);
  return typeof parsed === 'string' ? filter : parsed.filter;
}

export function subscriptionsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: SubscriptionsQuery }>(
    '/subscriptions',
    {
      schema: {
        tags: ['Subscriptions'],
        summary: 'Subscriptions of every session (paged, filtered)',
        querystring: {
          type: 'object',
          properties: {
            page: { type: 'integer', minimum: 1 },
            limit: { type: 'integer', minimum: 1, maximum: 10000 },
            clientid: { type: 'string' },
            topic: { type: 'string' },
            match_topic: { type: 'string' },
            qos: { type: 'integer', enum: [0, 1, 2] },
            share_group: { type: 'string' },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const page = pageOf(q);
      let sessions: Iterable<Session> = ctx.broker.allSessions();
      if (q.clientid !== undefined) {
        const one = ctx.broker.session(q.clientid);
        sessions = one === undefined ? [] : [one];
      }
      const checks: Array<(r: SubscriptionRow) => boolean> = [];
      if (q.topic !== undefined) checks.push((r) => r.filter === q.topic);
      if (q.qos !== undefined) checks.push((r) => r.options.qos === q.qos);
      if (q.share_group !== undefined) checks.push((r) => r.options.shareGroup === q.share_group);
      if (q.match_topic !== undefined) {
        const topic = q.match_topic;
        checks.push((r) => filterMatches(plainFilter(r.filter), topic));
      }
      const matches = checks.length === 0 ? null : (r: SubscriptionRow) => checks.every((c) => c(r));
      return mapPage(await paginate(rowsOf(sessions), matches, page), (r) => ({
        node: ctx.node,
        clientid: r.clientId,
        topic: r.filter,
        qos: r.options.qos,
        nl: r.options.noLocal ? 1 : 0,
        rap: r.options.retainAsPublished ? 1 : 0,
        rh: r.options.retainHandling,
        ...(r.options.shareGroup === null ? {} : { share_group: r.options.shareGroup }),
        durable: false,
      }));
    },
  );

  app.get<{ Querystring: { page?: number; limit?: number; topic?: string } }>(
    '/topics',
    {
      schema: {
        tags: ['Topics'],
        summary: 'Routes: the distinct subscribed filters (paged)',
        querystring: {
          type: 'object',
          properties: {
            page: { type: 'integer', minimum: 1 },
            limit: { type: 'integer', minimum: 1, maximum: 10000 },
            topic: { type: 'string' },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const want = q.topic;
      const matches = want === undefined ? null : (t: string) => t === want;
      return mapPage(await paginate(ctx.broker.routeFilters(), matches, pageOf(q)), (topic) => ({
        topic,
        node: ctx.node,
      }));
    },
  );

  app.get<{ Params: { topic: string } }>(
    '/topics/:topic',
    {
      schema: {
        tags: ['Topics'],
        summary: 'One route',
        params: { type: 'object', required: ['topic'], properties: { topic: { type: 'string' } } },
      },
    },
    async (request) => {
      const topic = request.params.topic;
      for (const t of ctx.broker.routeFilters()) if (t === topic) return [{ topic, node: ctx.node }];
      throw notFound('Topic not found');
    },
  );
}
