/**
 * A client's queued and in-flight messages (EMQX 5.x's emqx_mgmt_api_clients):
 *
 *   GET /clients/:clientid/mqueue_messages    messages waiting in the session's queue (for the
 *                                             flight window, or for the client to come back)
 *   GET /clients/:clientid/inflight_messages  QoS 1/2 messages sent and not yet acknowledged
 *
 * Each message: `{msgid, topic, qos, publish_at, from_clientid, from_username, payload}`, qos
 * being the delivery's (after the subscription's maximum), publish_at milliseconds since the
 * epoch (an integer, as EMQX writes it here).
 *
 * Query (EMQX's): `payload` = base64 (default) | plain | none; `max_payload_bytes` (default 1MB,
 * `1048576`, `512KB`, ...) caps the payload bytes of one answer, but the first message is always
 * included; `limit` (default 100, at most 10000); `position`.
 *
 * Pagination by position, as EMQX: the answer's `meta` is `{start, position}`: `start` is the
 * position of the first message the session holds now, `position` that of the last message of
 * this answer, to send as `position` for the next page ("none" when there is nothing). A
 * position here is a message's broker id (its msgid as a decimal number): the next page starts
 * after that message; if it has left meanwhile (acknowledged, sent, dropped) the next page starts
 * at the first message with a larger id (messages reach a session in about the order the broker
 * received them, so little is skipped or repeated). EMQX's `<number>_<priority>` form is read
 * too (the priority is ignored: Aviary's queue has none).
 *
 * Cost: the session's deliveries are copied once per request (bounded by mqueue_max plus
 * inflight_max); nothing is done on the publish path.
 */

import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { clientIdParams } from './clients.js';
import type { Session } from './core.js';
import type { ApiContext } from './context.js';
import { ApiErrorCode, badRequest, notFound } from './errors.js';
import { DEFAULT_LIMIT, MAX_LIMIT } from './pagination.js';
import { messageId } from './publish.js';

/** One delivery the session holds (Session's Delivery: the message and its QoS for this client). */
type Held = ReturnType<Session['deliveries']>[number];

const PAYLOAD_FORMATS = ['base64', 'plain', 'none'] as const;
type PayloadFormat = (typeof PAYLOAD_FORMATS)[number];

/** EMQX's default max_payload_bytes: 1MB. */
const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024, gb: 1024 * 1024 * 1024 };
/** The position of nothing (EMQX's `none`). */
const NONE = 'none';

interface MessagesQuery {
  payload?: PayloadFormat;
  max_payload_bytes?: string;
  position?: string;
  limit?: number;
}

const messagesQuery = {
  type: 'object',
  properties: {
    payload: { type: 'string', enum: PAYLOAD_FORMATS },
    max_payload_bytes: { type: 'string' },
    position: { type: 'string' },
    limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT },
  },
} as const;

/** `1048576`, `512KB`, `1MB` (EMQX's bytesize); 400 on anything else or 0. */
export function parseByteSize(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_MAX_PAYLOAD_BYTES;
  const m = /^(\d+)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  const n = m === null ? 0 : Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]!;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw badRequest('max_payload_bytes must be a size above 0 (bytes, or with KB, MB, GB)');
  }
  return n;
}

/** A position as sent back by a client: `<id>` or EMQX's `<id>_<priority>`; null for none. */
export function parsePosition(text: string | undefined): number | null {
  if (text === undefined || text === '' || text === NONE) return null;
  const m = /^(\d+)(?:_[0-9a-z]+)?$/i.exec(text);
  const n = m === null ? Number.NaN : Number(m[1]);
  if (!Number.isSafeInteger(n)) throw badRequest(`position must be "none" or one an earlier answer gave`);
  return n;
}

/** Where the page after `position` starts in `items`. */
function startAfter(items: readonly Held[], position: number | null): number {
  if (position === null) return 0;
  for (let i = 0; i < items.length; i++) if (items[i]!.message.id === position) return i + 1;
  // It left meanwhile: continue with the first newer message.
  for (let i = 0; i < items.length; i++) if (items[i]!.message.id > position) return i;
  return items.length;
}

function formatMessage(d: Held, payload: PayloadFormat): { item: Record<string, unknown>; bytes: number } {
  const m = d.message;
  const item: Record<string, unknown> = {
    msgid: messageId(m),
    topic: m.topic,
    qos: d.qos,
    publish_at: m.timestamp,
    from_clientid: m.from === '' ? 'http_api' : m.from,
    from_username: null,
  };
  if (payload === 'none') return { item, bytes: 0 };
  if (payload === 'plain') {
    if (!isUtf8(m.payload)) throw badRequest('Some message payloads are not JSON serializable');
    item.payload = m.payload.toString('utf8');
    return { item, bytes: m.payload.length };
  }
  const text = m.payload.toString('base64');
  item.payload = text;
  return { item, bytes: text.length };
}

/** One page of `items` after `q.position`, EMQX's shape. */
export function messagesPage(items: readonly Held[], q: MessagesQuery) {
  const format = q.payload ?? 'base64';
  const maxBytes = parseByteSize(q.max_payload_bytes);
  const limit = q.limit ?? DEFAULT_LIMIT;
  const first = startAfter(items, parsePosition(q.position));
  const data: Array<Record<string, unknown>> = [];
  let bytes = 0;
  let last: Held | null = null;
  for (let i = first; i < items.length && data.length < limit; i++) {
    const { item, bytes: size } = formatMessage(items[i]!, format);
    // The payload budget: the first message always goes, the rest while they fit.
    if (data.length > 0 && bytes + size > maxBytes) break;
    bytes += size;
    data.push(item);
    last = items[i]!;
  }
  const start = items.length > 0 ? String(items[0]!.message.id) : NONE;
  const position = last !== null ? String(last.message.id) : (q.position ?? NONE);
  return { data, meta: { start, position } };
}

/** The session's in-flight deliveries (send order) and queued ones (FIFO). */
function held(session: Session): { inflight: Held[]; queued: Held[] } {
  const all = session.deliveries(); // in flight first, then queued
  const n = session.inflightCount;
  return { inflight: all.slice(0, n), queued: all.slice(n) };
}

export function clientMessagesRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['Clients'];
  const sessionOf = (clientId: string): Session => {
    const session = ctx.registry.get(clientId) !== undefined ? ctx.broker.session(clientId) : undefined;
    if (session === undefined) throw notFound('Client ID not found', ApiErrorCode.ClientIdNotFound);
    return session;
  };

  app.get<{ Params: { clientid: string }; Querystring: MessagesQuery }>(
    '/clients/:clientid/mqueue_messages',
    {
      schema: {
        tags,
        summary: "Messages in a client's session queue (paged by position)",
        params: clientIdParams,
        querystring: messagesQuery,
      },
    },
    async (request) => messagesPage(held(sessionOf(request.params.clientid)).queued, request.query),
  );

  app.get<{ Params: { clientid: string }; Querystring: MessagesQuery }>(
    '/clients/:clientid/inflight_messages',
    {
      schema: {
        tags,
        summary: "A client's QoS 1/2 messages sent and not yet acknowledged (paged by position)",
        params: clientIdParams,
        querystring: messagesQuery,
      },
    },
    async (request) => messagesPage(held(sessionOf(request.params.clientid)).inflight, request.query),
  );
}
