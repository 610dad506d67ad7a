/**
 * HTTP publishing (EMQX's emqx_mgmt_api_publish), the seed's "HTTP message publishing interface":
 *
 *   POST /publish       {topic, payload, payload_encoding?, qos?, retain?, properties?}
 *   POST /publish/bulk  [the same, ...]
 *
 * `payload_encoding` is `plain` (default; the payload is UTF-8 text) or `base64`. `properties`
 * are MQTT 5.0 PUBLISH properties that subscribers receive: payload_format_indicator,
 * message_expiry_interval, response_topic, correlation_data, user_properties (an object),
 * content_type. The message is published by the broker itself (no client id), through the same
 * path as a client's PUBLISH: message.publish hooks, retained store, routing.
 *
 * Answers, as EMQX's: 200 `{id}` when at least one subscription got it (or a hook took it, as
 * delayed publish does); 202 `{reason_code: 16, message: "no_matching_subscribers"}`; 400
 * `{reason_code: 144, message: "topic_name_invalid"}`, `{reason_code: 151, message:
 * "packet_too_large"}` (over mqtt.max_packet_size), `{reason_code: 131, message:
 * "decode_base64_payload_failed"}`, or `{code: "BAD_REQUEST", ...}` for a body of the wrong shape; 503 `{reason_code: 131, message: "failed_to_dispatch"}` while the broker is not running.
 * Bulk: an array of those bodies, 200 when all were delivered, 202 when some matched nobody,
 * 400 (nothing published) when one is invalid.
 */

import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Message, type Properties, type QoS, ReasonCode, topicNameProblem } from './core.js';
import type { ApiContext } from './context.js';
import { badRequest, HttpStatus } from './errors.js';

interface PublishBody {
  topic: string;
  payload: string;
  payload_encoding?: 'plain' | 'base64';
  qos?: QoS;
  retain?: boolean;
  properties?: {
    payload_format_indicator?: 0 | 1;
    message_expiry_interval?: number;
    response_topic?: string;
    correlation_data?: string;
    user_properties?: Record<string, string>;
    content_type?: string;
  };
}

const MAX_U32 = 0xffff_ffff;

const publishBody = {
  type: 'object',
  required: ['topic', 'payload'],
  properties: {
    topic: { type: 'string' },
    payload: { type: 'string' },
    payload_encoding: { type: 'string', enum: ['plain', 'base64'] },
    qos: { type: 'integer', enum: [0, 1, 2] },
    retain: { type: 'boolean' },
    properties: {
      type: 'object',
      additionalProperties: false,
      properties: {
        payload_format_indicator: { type: 'integer', enum: [0, 1] },
        message_expiry_interval: { type: 'integer', minimum: 0, maximum: MAX_U32 },
        response_topic: { type: 'string' },
        correlation_data: { type: 'string' },
        user_properties: { type: 'object', additionalProperties: { type: 'string' } },
        content_type: { type: 'string' },
      },
    },
  },
} as const;

/** A per-process prefix so message ids look like EMQX's 128-bit GUIDs and differ across restarts. */
const ID_PREFIX = randomBytes(8).toString('hex');
const ID_HEX_DIGITS = 16;

export function messageId(message: Message): string {
  return ID_PREFIX + message.id.toString(16).padStart(ID_HEX_DIGITS, '0');
}

type Outcome =
  | { status: typeof HttpStatus.Ok; body: { id: string } }
  | { status: number; body: { reason_code: number; message: string } };

const NO_SUBSCRIBERS = { reason_code: ReasonCode.NoMatchingSubscribers, message: 'no_matching_subscribers' };
const TOPIC_INVALID = { reason_code: ReasonCode.TopicNameInvalid, message: 'topic_name_invalid' };
// 0x95 Packet Too Large is not a PUBACK reason code, so EMQX answers 0x97 Quota Exceeded (151).
const TOO_LARGE = { reason_code: ReasonCode.QuotaExceeded, message: 'packet_too_large' };
const BAD_BASE64 = {
  reason_code: ReasonCode.ImplementationSpecificError,
  message: 'decode_base64_payload_failed',
};
const NOT_DISPATCHED = { reason_code: ReasonCode.ImplementationSpecificError, message: 'failed_to_dispatch' };

/** Turns a body into a Message, or the 400 answer. */
function toMessage(ctx: ApiContext, b: PublishBody): Message | { reason_code: number; message: string } {
  if (topicNameProblem(b.topic) !== null) return TOPIC_INVALID;
  let payload: Buffer;
  if (b.payload_encoding === 'base64') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b.payload)) return BAD_BASE64;
    payload = Buffer.from(b.payload, 'base64');
  } else {
    payload = Buffer.from(b.payload, 'utf8');
  }
  let properties: Properties | null = null;
  const p = b.properties;
  if (p !== undefined) {
    properties = {};
    if (p.payload_format_indicator !== undefined)
      properties.payloadFormatIndicator = p.payload_format_indicator;
    if (p.message_expiry_interval !== undefined) properties.messageExpiryInterval = p.message_expiry_interval;
    if (p.response_topic !== undefined) {
      // A Response Topic is a topic name [MQTT-3.3.2-13].
      if (topicNameProblem(p.response_topic) !== null)
        throw badRequest('properties.response_topic is not a valid topic name');
      properties.responseTopic = p.response_topic;
    }
    if (p.correlation_data !== undefined)
      properties.correlationData = Buffer.from(p.correlation_data, 'utf8');
    if (p.user_properties !== undefined) properties.userProperties = Object.entries(p.user_properties);
    if (p.content_type !== undefined) properties.contentType = p.content_type;
  }
  if (Buffer.byteLength(b.topic) + payload.length > ctx.config.mqtt.max_packet_size) return TOO_LARGE;
  return new Message(b.topic, payload, b.qos ?? 0, b.retain ?? false, properties, '');
}

function publishOne(ctx: ApiContext, message: Message): Outcome {
  const routed = ctx.broker.publish(message, null);
  if (routed === 0) return { status: HttpStatus.Accepted, body: NO_SUBSCRIBERS };
  // routed > 0, or CONSUMED: a message.publish hook took it (delayed publish keeps it for later).
  return { status: HttpStatus.Ok, body: { id: messageId(message) } };
}

export function publishRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['Publish'];

  app.post<{ Body: PublishBody }>(
    '/publish',
    { schema: { tags, summary: 'Publish a message', body: publishBody } },
    async (request, reply) => {
      if (!ctx.running()) return reply.code(HttpStatus.ServiceUnavailable).send(NOT_DISPATCHED);
      const message = toMessage(ctx, request.body);
      if (!(message instanceof Message)) return reply.code(HttpStatus.BadRequest).send(message);
      const outcome = publishOne(ctx, message);
      return reply.code(outcome.status).send(outcome.body);
    },
  );

  app.post<{ Body: PublishBody[] }>(
    '/publish/bulk',
    {
      schema: {
        tags,
        summary: 'Publish several messages, in order',
        body: { type: 'array', items: publishBody },
      },
    },
    async (request, reply) => {
      if (!ctx.running())
        return reply.code(HttpStatus.ServiceUnavailable).send(request.body.map(() => NOT_DISPATCHED));
      const messages = request.body.map((b) => toMessage(ctx, b));
      const invalid = messages.find((m) => !(m instanceof Message));
      if (invalid !== undefined) return reply.code(HttpStatus.BadRequest).send(invalid);
      if (messages.length === 0) throw badRequest('empty_batch');
      const outcomes = (messages as Message[]).map((m) => publishOne(ctx, m));
      const status = outcomes.every((o) => o.status === HttpStatus.Ok) ? HttpStatus.Ok : HttpStatus.Accepted;
      return reply.code(status).send(outcomes.map((o) => o.body));
    },
  );
}
