/**
 * Retained and delayed messages (EMQX's emqx_retainer_api, emqx_delayed_api):
 *
 *   GET    /mqtt/retainer/messages         paged `{msgid, topic, qos, publish_at, from_clientid,
 *                                          from_username}`; `topic` is a filter to match
 *   GET    /mqtt/retainer/message/:topic   the same with `payload` (base64)
 *   DELETE /mqtt/retainer/message/:topic   204; 404 when the topic has none
 *   DELETE /mqtt/retainer/messages         Aviary's: delete them all (`aviary ctl retainer clean`)
 *   GET    /mqtt/delayed/messages          paged `{msgid, node, publish_at, delayed_interval,
 *                                          delayed_remaining, expected_at, topic, qos, from_clientid}`
 *   GET    /mqtt/delayed/messages/:node/:msgid, DELETE the same
 *
 * The topic in a path is URL-encoded (`a%2Fb` for `a/b`). Retained messages under `$SYS/` are
 * listed only when the filter asks for them (a `#` does not match `$` topics [MQTT-4.7.2-1]).
 */

import type { FastifyInstance } from 'fastify';
import { type Message, topicFilterProblem } from './core.js';
import { type ApiContext, rfc3339 } from './context.js';
import { badRequest, HttpStatus, notFound } from './errors.js';
import { mapPage, pageOf, paginate } from './pagination.js';
import { messageId } from './publish.js';

const MS_PER_SECOND = 1000;

function retainedItem(m: Message): Record<string, unknown> {
  return {
    msgid: messageId(m),
    topic: m.topic,
    qos: m.qos,
    publish_at: rfc3339(m.timestamp),
    from_clientid: m.from === '' ? 'http_api' : m.from,
    from_username: null,
  };
}

const pageQuery = {
  page: { type: 'integer', minimum: 1 },
  limit: { type: 'integer', minimum: 1, maximum: 10000 },
} as const;

const topicParams = {
  type: 'object',
  required: ['topic'],
  properties: { topic: { type: 'string' } },
} as const;

export function retainerRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['Retainer'];
  const broker = ctx.broker;

  /** The retained message of exactly this topic. */
  const retainedAt = (topic: string): Message | undefined => {
    if (topicFilterProblem(topic) !== null || topic.includes('+') || topic.includes('#')) return undefined;
    for (const m of broker.retainedMatching(topic)) if (m.topic === topic) return m;
    return undefined;
  };

  app.get<{ Querystring: { page?: number; limit?: number; topic?: string } }>(
    '/mqtt/retainer/messages',
    {
      schema: {
        tags,
        summary: 'Retained messages (paged), without payloads',
        querystring: { type: 'object', properties: { ...pageQuery, topic: { type: 'string' } } },
      },
    },
    async (request) => {
      const filter = request.query.topic ?? '#';
      const problem = topicFilterProblem(filter);
      if (problem !== null) throw badRequest(`invalid topic filter: ${problem}`);
      return mapPage(
        await paginate(broker.retainedMatching(filter), null, pageOf(request.query)),
        retainedItem,
      );
    },
  );

  app.delete(
    '/mqtt/retainer/messages',
    { schema: { tags, summary: "Delete every retained message (Aviary's)" } },
    async (_request, reply) => {
      const topics = [...broker.retainedMatching('#'), ...broker.retainedMatching('$SYS/#')].map(
        (m) => m.topic,
      );
      for (const topic of topics) broker.deleteRetained(topic);
      return reply.code(HttpStatus.NoContent).send();
    },
  );

  app.get<{ Params: { topic: string } }>(
    '/mqtt/retainer/message/:topic',
    { schema: { tags, summary: 'One retained message with its payload (base64)', params: topicParams } },
    async (request) => {
      const m = retainedAt(request.params.topic);
      if (m === undefined) throw notFound("Viewed message doesn't exist");
      return { ...retainedItem(m), payload: m.payload.toString('base64') };
    },
  );

  app.delete<{ Params: { topic: string } }>(
    '/mqtt/retainer/message/:topic',
    { schema: { tags, summary: 'Delete a retained message', params: topicParams } },
    async (request, reply) => {
      const topic = request.params.topic;
      if (retainedAt(topic) === undefined || !broker.deleteRetained(topic)) {
        throw notFound('The specified message does not exist');
      }
      return reply.code(HttpStatus.NoContent).send();
    },
  );

  // ---- delayed publish --------------------------------------------------------------------

  const delayedTags = ['Delayed publish'];
  const delayedItem = (key: number, dueAt: number, m: Message, now: number) => ({
    msgid: String(key),
    node: ctx.node,
    publish_at: rfc3339(m.timestamp),
    delayed_interval: Math.round((dueAt - m.timestamp) / MS_PER_SECOND),
    delayed_remaining: Math.max(0, Math.round((dueAt - now) / MS_PER_SECOND)),
    expected_at: rfc3339(dueAt),
    topic: m.topic,
    qos: m.qos,
    from_clientid: m.from === '' ? 'http_api' : m.from,
    from_username: null,
  });

  app.get<{ Querystring: { page?: number; limit?: number } }>(
    '/mqtt/delayed/messages',
    {
      schema: {
        tags: delayedTags,
        summary: 'Messages waiting for their delay (paged)',
        querystring: { type: 'object', properties: pageQuery },
      },
    },
    async (request) => {
      const now = Date.now();
      return mapPage(await paginate(ctx.host.delayed.pending(), null, pageOf(request.query)), (e) =>
        delayedItem(e.key, e.dueAt, e.message, now),
      );
    },
  );

  const delayedParams = {
    type: 'object',
    required: ['node', 'msgid'],
    properties: { node: { type: 'string' }, msgid: { type: 'string' } },
  } as const;
  const findDelayed = (node: string, msgid: string) => {
    if (node !== ctx.node) throw notFound(`node ${node} not found`);
    const key = Number(msgid);
    for (const e of ctx.host.delayed.pending()) if (e.key === key) return e;
    throw notFound('Message ID not found');
  };

  app.get<{ Params: { node: string; msgid: string } }>(
    '/mqtt/delayed/messages/:node/:msgid',
    {
      schema: {
        tags: delayedTags,
        summary: 'One delayed message with its payload (base64)',
        params: delayedParams,
      },
    },
    async (request) => {
      const e = findDelayed(request.params.node, request.params.msgid);
      return {
        ...delayedItem(e.key, e.dueAt, e.message, Date.now()),
        payload: e.message.payload.toString('base64'),
      };
    },
  );

  app.delete<{ Params: { node: string; msgid: string } }>(
    '/mqtt/delayed/messages/:node/:msgid',
    { schema: { tags: delayedTags, summary: 'Delete a delayed message', params: delayedParams } },
    async (request, reply) => {
      const e = findDelayed(request.params.node, request.params.msgid);
      ctx.host.delayed.remove(e.key);
      return reply.code(HttpStatus.NoContent).send();
    },
  );
}
