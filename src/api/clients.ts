/**
 * Clients (EMQX's emqx_mgmt_api_clients):
 *
 *   GET    /clients                          paged; filters below
 *   GET    /clients/:clientid                one client object
 *   DELETE /clients/:clientid                kick: 5.0 clients get DISCONNECT 0x98, the session ends
 *   GET    /clients/:clientid/subscriptions  [{topic, qos, nl, rap, rh, clientid, node}]
 *   POST   /clients/:clientid/subscribe      {topic, qos?, nl?, rap?, rh?}
 *   POST   /clients/:clientid/subscribe/bulk [{topic, qos?, ...}]
 *   POST   /clients/:clientid/unsubscribe    {topic}
 *   POST   /clients/:clientid/unsubscribe/bulk [{topic}]
 *
 * Filters of GET /clients: clientid and username (exact, repeatable), ip_address, conn_state
 * (connected | idle | disconnected), proto_ver, clean_start, like_clientid and like_username
 * (substring), gte_/lte_created_at and gte_/lte_connected_at (RFC 3339 or ms since the epoch).
 * A clientid filter is a lookup; the rest walk the registry in slices (pagination.ts).
 *
 * The client objects carry EMQX's fields where Aviary has the data, with the connection's
 * counters (recv_oct, recv_cnt, recv_pkt, recv_msg, send_*: registry.ts); Erlang-process fields
 * (heap_size, mailbox_len, reductions) are not reported. A page is streamed in slices
 * (pagination.ts: pageStream), so a page of 10,000 does not stall message routing.
 *
 * Queued and in-flight messages: client-messages.ts.
 */

import type { FastifyInstance } from 'fastify';
import {
  type ClientInfo,
  parseSubscriptionFilter,
  type QoS,
  type Session,
  type SubscriptionOptions,
} from './core.js';
import { type ApiContext, parseTime, rfc3339 } from './context.js';
import { ApiErrorCode, badRequest, HttpStatus, notFound } from './errors.js';
import { pageOf, pageStream, paginate } from './pagination.js';
import type { ClientEntry } from './registry.js';

const CONN_STATES = ['connected', 'idle', 'disconnected'] as const;
const JSON_TYPE = 'application/json; charset=utf-8';

interface ClientsQuery {
  page?: number;
  limit?: number;
  clientid?: string[];
  username?: string[];
  ip_address?: string;
  conn_state?: (typeof CONN_STATES)[number];
  proto_ver?: number;
  clean_start?: boolean;
  like_clientid?: string;
  like_username?: string;
  gte_created_at?: string;
  lte_created_at?: string;
  gte_connected_at?: string;
  lte_connected_at?: string;
}

const clientsQuery = {
  type: 'object',
  properties: {
    page: { type: 'integer', minimum: 1 },
    limit: { type: 'integer', minimum: 1, maximum: 10000 },
    clientid: { type: 'array', items: { type: 'string' } },
    username: { type: 'array', items: { type: 'string' } },
    ip_address: { type: 'string' },
    conn_state: { type: 'string', enum: CONN_STATES },
    proto_ver: { type: 'integer', enum: [3, 4, 5] },
    clean_start: { type: 'boolean' },
    like_clientid: { type: 'string' },
    like_username: { type: 'string' },
    gte_created_at: { type: 'string' },
    lte_created_at: { type: 'string' },
    gte_connected_at: { type: 'string' },
    lte_connected_at: { type: 'string' },
  },
} as const;

export const clientIdParams = {
  type: 'object',
  required: ['clientid'],
  properties: { clientid: { type: 'string' } },
} as const;

const subscribeBody = {
  type: 'object',
  required: ['topic'],
  properties: {
    topic: { type: 'string' },
    qos: { type: 'integer', enum: [0, 1, 2] },
    nl: { type: 'integer', enum: [0, 1] },
    rap: { type: 'integer', enum: [0, 1] },
    rh: { type: 'integer', enum: [0, 1, 2] },
  },
} as const;

interface SubscribeBody {
  topic: string;
  qos?: QoS;
  nl?: 0 | 1;
  rap?: 0 | 1;
  rh?: 0 | 1 | 2;
}

function time(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseTime(value);
  if (ms === undefined) throw badRequest(`${name} must be an RFC 3339 time or ms since the epoch`);
  return ms;
}

/** The predicate for a query's filters; null when there is none. */
function clientFilter(q: ClientsQuery): ((e: ClientEntry) => boolean) | null {
  const checks: Array<(e: ClientEntry) => boolean> = [];
  if (q.username !== undefined) {
    const names = new Set(q.username);
    checks.push((e) => e.info.username !== null && names.has(e.info.username));
  }
  if (q.ip_address !== undefined) checks.push((e) => e.info.peerHost === q.ip_address);
  if (q.conn_state !== undefined) {
    const want = q.conn_state;
    checks.push((e) => (want === 'connected' ? e.connected : want === 'disconnected' ? !e.connected : false));
  }
  if (q.proto_ver !== undefined) checks.push((e) => e.info.protocolVersion === q.proto_ver);
  if (q.clean_start !== undefined) checks.push((e) => (e.info.cleanStart ?? false) === q.clean_start);
  if (q.like_clientid !== undefined) {
    const part = q.like_clientid;
    checks.push((e) => e.info.clientId.includes(part));
  }
  if (q.like_username !== undefined) {
    const part = q.like_username;
    checks.push((e) => e.info.username?.includes(part) === true);
  }
  const gteCreated = time(q.gte_created_at, 'gte_created_at');
  const lteCreated = time(q.lte_created_at, 'lte_created_at');
  const gteConnected = time(q.gte_connected_at, 'gte_connected_at');
  const lteConnected = time(q.lte_connected_at, 'lte_connected_at');
  if (gteCreated !== undefined) checks.push((e) => e.createdAt >= gteCreated);
  if (lteCreated !== undefined) checks.push((e) => e.createdAt <= lteCreated);
  if (gteConnected !== undefined) checks.push((e) => e.info.connectedAt >= gteConnected);
  if (lteConnected !== undefined) checks.push((e) => e.info.connectedAt <= lteConnected);
  if (checks.length === 0) return null;
  return (e) => {
    for (let i = 0; i < checks.length; i++) if (!checks[i]!(e)) return false;
    return true;
  };
}

/** EMQX's client object. */
export function formatClient(ctx: ApiContext, e: ClientEntry): Record<string, unknown> {
  const info = e.info;
  const counters = e.counters;
  const session = ctx.broker.session(info.clientId);
  const mqtt = ctx.config.mqtt;
  const limit = (n: number): number | string => (Number.isFinite(n) ? n : 'infinity');
  const out: Record<string, unknown> = {
    clientid: info.clientId,
    username: info.username,
    node: ctx.node,
    connected: e.connected,
    conn_state: e.connected ? 'connected' : 'disconnected',
    ip_address: info.peerHost,
    port: info.peerPort,
    listener: info.listener,
    zone: info.zone,
    proto_name: info.protoName ?? 'MQTT',
    proto_ver: info.protocolVersion,
    keepalive: info.keepalive ?? 0,
    clean_start: info.cleanStart ?? true,
    expiry_interval: session?.expiryInterval ?? info.expiryInterval ?? 0,
    is_bridge: false,
    is_superuser: info.isSuperuser,
    created_at: rfc3339(e.createdAt),
    connected_at: rfc3339(info.connectedAt),
    subscriptions_cnt: session?.subscriptions.size ?? 0,
    subscriptions_max: limit(mqtt.max_subscriptions),
    inflight_cnt: session?.inflightCount ?? 0,
    inflight_max: mqtt.max_inflight,
    mqueue_len: session?.queueLength ?? 0,
    mqueue_max: limit(mqtt.max_mqueue_len),
    mqueue_dropped: session?.droppedCount ?? 0,
    awaiting_rel_cnt: session?.awaitingRelCount ?? 0,
    awaiting_rel_max: limit(mqtt.max_awaiting_rel),
    recv_oct: counters.recvOct,
    recv_cnt: counters.recvCnt,
    recv_pkt: counters.recvPkt,
    recv_msg: counters.recvMsg,
    send_oct: counters.sendOct,
    send_cnt: counters.sendCnt,
    send_pkt: counters.sendPkt,
    send_msg: counters.sendMsg,
  };
  if (!e.connected) out.disconnected_at = rfc3339(e.disconnectedAt);
  return out;
}

function subscriptionItem(ctx: ApiContext, clientId: string, filter: string, o: SubscriptionOptions) {
  return {
    clientid: clientId,
    topic: filter,
    qos: o.qos,
    nl: o.noLocal ? 1 : 0,
    rap: o.retainAsPublished ? 1 : 0,
    rh: o.retainHandling,
    node: ctx.node,
    durable: false,
  };
}

export function clientsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['Clients'];
  const registry = ctx.registry;

  app.get<{ Querystring: ClientsQuery }>(
    '/clients',
    {
      schema: {
        tags,
        summary: 'Clients, connected and with persistent sessions (paged, filtered)',
        querystring: clientsQuery,
      },
    },
    async (request, reply) => {
      const q = request.query;
      const page = pageOf(q);
      const matches = clientFilter(q);
      let source: Iterable<ClientEntry> = registry.all();
      if (q.clientid !== undefined) {
        // Exact client ids: lookups, not a walk.
        source = q.clientid.map((id) => registry.get(id)).filter((e): e is ClientEntry => e !== undefined);
      }
      // Streamed in slices: a page of 10,000 client objects must not hold the event loop.
      const paged = await paginate(source, matches, page);
      return reply.type(JSON_TYPE).send(pageStream(paged, (e) => formatClient(ctx, e)));
    },
  );

  const lookup = (clientId: string): ClientEntry => {
    const entry = registry.get(clientId);
    if (entry === undefined) throw notFound('Client ID not found', ApiErrorCode.ClientIdNotFound);
    return entry;
  };
  const sessionOf = (clientId: string): { client: ClientInfo; session: Session } => {
    const entry = lookup(clientId);
    const session = ctx.broker.session(clientId);
    if (session === undefined) throw notFound('Client ID not found', ApiErrorCode.ClientIdNotFound);
    return { client: entry.info, session };
  };

  app.get<{ Params: { clientid: string } }>(
    '/clients/:clientid',
    { schema: { tags, summary: 'One client', params: clientIdParams } },
    async (request) => formatClient(ctx, lookup(request.params.clientid)),
  );

  app.delete<{ Params: { clientid: string } }>(
    '/clients/:clientid',
    { schema: { tags, summary: 'Kick a client out and end its session', params: clientIdParams } },
    async (request, reply) => {
      const id = request.params.clientid;
      lookup(id);
      ctx.broker.kick(id);
      registry.delete(id);
      return reply.code(HttpStatus.NoContent).send();
    },
  );

  app.get<{ Params: { clientid: string } }>(
    '/clients/:clientid/subscriptions',
    { schema: { tags, summary: "A client's subscriptions", params: clientIdParams } },
    async (request) => {
      const { client, session } = sessionOf(request.params.clientid);
      return [...session.subscriptions].map(([filter, o]) =>
        subscriptionItem(ctx, client.clientId, filter, o),
      );
    },
  );

  const subscribe = (clientId: string, b: SubscribeBody) => {
    const { client, session } = sessionOf(clientId);
    const parsed = parseSubscriptionFilter(b.topic);
    if (typeof parsed === 'string') throw badRequest(`invalid topic filter: ${parsed}`);
    const maxQos = ctx.config.mqtt.max_qos_allowed as QoS;
    const options: SubscriptionOptions = {
      qos: Math.min(b.qos ?? 0, maxQos) as QoS,
      noLocal: b.nl === 1,
      retainAsPublished: b.rap === 1,
      retainHandling: b.rh ?? 0,
      subscriptionId: 0,
      shareGroup: parsed.group,
    };
    const broker = ctx.broker;
    const existed = broker.subscribe(session, b.topic, options);
    // Retained messages as for a SUBSCRIBE: not for shares, by Retain Handling [MQTT-3.3.1-9..11].
    if (
      parsed.group === null &&
      (options.retainHandling === 0 || (options.retainHandling === 1 && !existed))
    ) {
      for (const m of broker.retainedMatching(parsed.filter)) {
        session.deliver(m, session.deliveryQos(options.qos, m.qos), true, null);
      }
    }
    if (broker.hooks.has('session.subscribed'))
      broker.hooks.run('session.subscribed', client, b.topic, options);
    return subscriptionItem(ctx, clientId, b.topic, options);
  };

  const unsubscribe = (clientId: string, topic: string): void => {
    const { client, session } = sessionOf(clientId);
    const broker = ctx.broker;
    if (broker.unsubscribe(session, topic) && broker.hooks.has('session.unsubscribed')) {
      broker.hooks.run('session.unsubscribed', client, topic);
    }
  };

  app.post<{ Params: { clientid: string }; Body: SubscribeBody }>(
    '/clients/:clientid/subscribe',
    { schema: { tags, summary: 'Subscribe a client', params: clientIdParams, body: subscribeBody } },
    async (request) => subscribe(request.params.clientid, request.body),
  );

  app.post<{ Params: { clientid: string }; Body: SubscribeBody[] }>(
    '/clients/:clientid/subscribe/bulk',
    {
      schema: {
        tags,
        summary: 'Subscribe a client to several filters',
        params: clientIdParams,
        body: { type: 'array', items: subscribeBody },
      },
    },
    async (request) => request.body.map((b) => subscribe(request.params.clientid, b)),
  );

  const topicBody = {
    type: 'object',
    required: ['topic'],
    properties: { topic: { type: 'string' } },
  } as const;

  app.post<{ Params: { clientid: string }; Body: { topic: string } }>(
    '/clients/:clientid/unsubscribe',
    { schema: { tags, summary: 'Unsubscribe a client', params: clientIdParams, body: topicBody } },
    async (request, reply) => {
      unsubscribe(request.params.clientid, request.body.topic);
      return reply.code(HttpStatus.NoContent).send();
    },
  );

  app.post<{ Params: { clientid: string }; Body: Array<{ topic: string }> }>(
    '/clients/:clientid/unsubscribe/bulk',
    {
      schema: {
        tags,
        summary: 'Unsubscribe a client from several filters',
        params: clientIdParams,
        body: { type: 'array', items: topicBody },
      },
    },
    async (request, reply) => {
      for (const b of request.body) unsubscribe(request.params.clientid, b.topic);
      return reply.code(HttpStatus.NoContent).send();
    },
  );
}
