/**
 * The banned list (EMQX's emqx_mgmt_api_banned), on the security module's list
 * (src/security/banned.ts, reached through the broker object's `security.banned`):
 *
 *   GET    /banned              paged `{as, who, by, reason, at, until}` (times RFC 3339,
 *                               until "infinity" for a ban without end)
 *   POST   /banned              {as, who, by?, reason?, at?, until?}; 400 ALREADY_EXISTS when
 *                               that (as, who) is banned already
 *   DELETE /banned              lifts every ban
 *   DELETE /banned/:as/:who     lifts one; 404 when there is none
 *
 * `as` is clientid, username, peerhost, clientid_re, username_re or peerhost_net. A broker built
 * without the security module answers 501 ("banned list not available yet"), never a fake list.
 */

import type { FastifyInstance } from 'fastify';
import type { Ban, BanKind } from '../persistence/banned.js';
import { BAN_KINDS } from '../persistence/banned.js';
import { type ApiContext, type BannedList, parseTime, rfc3339 } from './context.js';
import { ApiError, ApiErrorCode, badRequest, HttpStatus, notFound, notImplemented } from './errors.js';
import { pageOf } from './pagination.js';

const NOT_YET = 'banned list not available yet';

function formatBan(b: Ban): Record<string, unknown> {
  return {
    as: b.as,
    who: b.who,
    by: b.by,
    reason: b.reason,
    at: rfc3339(b.at),
    until: b.until === null ? 'infinity' : rfc3339(b.until),
  };
}

interface BanBody {
  as: string;
  who: string;
  by?: string;
  reason?: string;
  at?: string | number;
  until?: string | number;
}

const banBody = {
  type: 'object',
  required: ['as', 'who'],
  properties: {
    as: { type: 'string', enum: BAN_KINDS },
    who: { type: 'string' },
    by: { type: 'string' },
    reason: { type: 'string' },
    at: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
    until: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
  },
} as const;

export function bannedRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['Banned'];
  const list = (): BannedList => {
    const banned = ctx.host.security?.banned;
    if (banned === undefined) throw notImplemented(NOT_YET);
    return banned;
  };

  app.get<{ Querystring: { page?: number; limit?: number } }>(
    '/banned',
    {
      schema: {
        tags,
        summary: 'The banned list (paged)',
        querystring: {
          type: 'object',
          properties: {
            page: { type: 'integer', minimum: 1 },
            limit: { type: 'integer', minimum: 1, maximum: 10000 },
          },
        },
      },
    },
    async (request) => {
      const { page, limit } = pageOf(request.query);
      const result = list().list(page, limit);
      return { data: result.data.map(formatBan), meta: result.meta };
    },
  );

  app.post<{ Body: BanBody }>(
    '/banned',
    { schema: { tags, summary: 'Ban a client id, user name, address, pattern or range', body: banBody } },
    async (request) => {
      const b = request.body;
      const banned = list();
      if (banned.get(b.as as BanKind, b.who) !== undefined) {
        throw new ApiError(
          HttpStatus.BadRequest,
          ApiErrorCode.AlreadyExists,
          `${b.as} ${b.who} is banned already`,
        );
      }
      const at = b.at === undefined ? undefined : parseTime(b.at);
      if (b.at !== undefined && at === undefined)
        throw badRequest('at must be an RFC 3339 time or ms since the epoch');
      const until = b.until === undefined || b.until === 'infinity' ? null : parseTime(b.until);
      if (until === undefined)
        throw badRequest('until must be an RFC 3339 time, ms since the epoch or "infinity"');
      try {
        return formatBan(
          banned.add({
            as: b.as,
            who: b.who,
            ...(b.by === undefined ? {} : { by: b.by }),
            ...(b.reason === undefined ? {} : { reason: b.reason }),
            ...(at === undefined ? {} : { at }),
            until,
          }),
        );
      } catch (error) {
        // InvalidBanError (AVY_ERR_INVALID_BAN): a pattern that does not compile, a bad address...
        if (error instanceof Error && (error as { code?: string }).code === 'AVY_ERR_INVALID_BAN') {
          throw badRequest(error.message);
        }
        throw error;
      }
    },
  );

  app.delete('/banned', { schema: { tags, summary: 'Lift every ban' } }, async (_request, reply) => {
    list().clear();
    return reply.code(HttpStatus.NoContent).send();
  });

  app.delete<{ Params: { as: string; who: string } }>(
    '/banned/:as/:who',
    {
      schema: {
        tags,
        summary: 'Lift one ban',
        params: {
          type: 'object',
          required: ['as', 'who'],
          properties: { as: { type: 'string', enum: BAN_KINDS }, who: { type: 'string' } },
        },
      },
    },
    async (request, reply) => {
      if (!list().delete(request.params.as as BanKind, request.params.who))
        throw notFound('Banned not found');
      return reply.code(HttpStatus.NoContent).send();
    },
  );
}
