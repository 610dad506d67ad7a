/**
 * Accounts of the API itself (EMQX's emqx_dashboard_api and emqx_mgmt_api_api_keys):
 *
 *   POST   /login                       {username, password} -> {token, version, license, role}
 *   POST   /logout                      revokes the Bearer token used (users only)
 *   GET    /users                       [{username, description, role, backend}]
 *   POST   /users                       {username, password, description?, role?}
 *   PUT    /users/:username             {description?, role?}
 *   DELETE /users/:username
 *   POST|PUT /users/:username/change_pwd {old_pwd, new_pwd}
 *   GET    /api_key                     [{name, api_key, enable, expired_at, expired, desc, role, created_at}]
 *   POST   /api_key                     {name, expired_at?, desc?, enable?, role?} -> + api_secret (once)
 *   GET/PUT/DELETE /api_key/:name
 *
 * As in EMQX, /users, /api_key and /logout take a logged-in user's token, not an API key.
 */

import type { FastifyInstance } from 'fastify';
import type { AdminUser, ApiKeyRecord } from '../persistence/admin.js';
import { Role } from './auth.js';
import { type ApiContext, parseTime, rfc3339 } from './context.js';
import { ApiErrorCode, badRequest, HttpStatus, notFound, unauthorized } from './errors.js';
import type { RouteAuth } from './server.js';

const USER_ONLY: RouteAuth = { apiKey: false };
const OPEN: RouteAuth = { auth: false };

const userBody = {
  type: 'object',
  required: ['username', 'password'],
  properties: {
    username: { type: 'string' },
    password: { type: 'string' },
    description: { type: 'string' },
    role: { type: 'string', enum: [Role.Administrator, Role.Viewer] },
  },
} as const;

const apiKeyFields = {
  name: { type: 'string' },
  expired_at: {
    anyOf: [{ type: 'string' }, { type: 'integer' }],
    description: 'RFC 3339 time, ms since the epoch, or "infinity"',
  },
  desc: { type: 'string' },
  enable: { type: 'boolean' },
  role: { type: 'string', enum: [Role.Administrator, Role.Viewer, Role.Publisher] },
} as const;

function formatUser(u: AdminUser): Record<string, unknown> {
  return { username: u.username, description: u.description, role: u.role, backend: 'local' };
}

function formatApiKey(k: ApiKeyRecord, now = Date.now()): Record<string, unknown> {
  return {
    name: k.name,
    api_key: k.apiKey,
    enable: k.enable,
    expired_at: k.expiredAt === null ? 'infinity' : rfc3339(k.expiredAt),
    expired: k.expiredAt !== null && now >= k.expiredAt,
    desc: k.description,
    role: k.role,
    created_at: rfc3339(k.createdAt),
  };
}

/** `expired_at` as given: undefined (absent), null ("infinity"), or ms. */
function expiry(value: unknown): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'infinity' || value === null || value === '') return null;
  const ms = parseTime(value);
  if (ms === undefined)
    throw badRequest('expired_at must be an RFC 3339 time, ms since the epoch or "infinity"');
  return ms;
}

export function adminRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const auth = ctx.auth;
  const tags = ['Dashboard'];

  app.post<{ Body: { username: string; password: string } }>(
    '/login',
    {
      config: OPEN,
      schema: {
        tags,
        summary: 'Log in: a Bearer token for the other endpoints',
        security: [],
        body: {
          type: 'object',
          required: ['username', 'password'],
          properties: { username: { type: 'string' }, password: { type: 'string' } },
        },
      },
    },
    async (request) => {
      const { username, password } = request.body;
      const session = await auth.login(username, password);
      if (session === null) throw unauthorized(ApiErrorCode.BadUsernameOrPwd, 'Auth failed');
      return {
        token: session.token,
        version: ctx.version,
        license: { edition: 'opensource' },
        role: session.role,
      };
    },
  );

  app.post(
    '/logout',
    { config: USER_ONLY, schema: { tags, summary: 'Log out: revoke this token' } },
    async (request, reply) => {
      const token = request.actor?.token;
      if (token) auth.logout(token);
      return reply.code(HttpStatus.NoContent).send();
    },
  );

  app.get('/users', { config: USER_ONLY, schema: { tags, summary: 'Dashboard users' } }, async () =>
    auth.store.listUsers().map(formatUser),
  );

  app.post<{ Body: { username: string; password: string; description?: string; role?: string } }>(
    '/users',
    { config: USER_ONLY, schema: { tags, summary: 'Create a dashboard user', body: userBody } },
    async (request) => {
      const b = request.body;
      return formatUser(
        await auth.addUser(b.username, b.password, b.role ?? Role.Administrator, b.description ?? ''),
      );
    },
  );

  const usernameParams = {
    type: 'object',
    required: ['username'],
    properties: { username: { type: 'string' } },
  } as const;

  app.put<{ Params: { username: string }; Body: { description?: string; role?: string } }>(
    '/users/:username',
    {
      config: USER_ONLY,
      schema: {
        tags,
        summary: 'Update a user',
        params: usernameParams,
        body: {
          type: 'object',
          properties: { description: { type: 'string' }, role: userBody.properties.role },
        },
      },
    },
    async (request) => formatUser(auth.updateUser(request.params.username, request.body ?? {})),
  );

  app.delete<{ Params: { username: string } }>(
    '/users/:username',
    { config: USER_ONLY, schema: { tags, summary: 'Delete a user', params: usernameParams } },
    async (request, reply) => {
      if (request.actor?.name === request.params.username) throw badRequest('Cannot delete yourself');
      auth.deleteUser(request.params.username);
      return reply.code(HttpStatus.NoContent).send();
    },
  );

  const changePwd = {
    config: USER_ONLY,
    schema: {
      tags,
      summary: "Change a user's password (an administrator may reset another's without old_pwd)",
      params: usernameParams,
      body: {
        type: 'object',
        required: ['new_pwd'],
        properties: { old_pwd: { type: 'string' }, new_pwd: { type: 'string' } },
      },
    },
  };
  const changePwdHandler = async (
    request: {
      params: { username: string };
      body: { old_pwd?: string; new_pwd: string };
      actor: { name: string; role: string } | null;
    },
    reply: { code(n: number): { send(): unknown } },
  ): Promise<unknown> => {
    const { username } = request.params;
    const self = request.actor?.name === username;
    const admin = request.actor?.role === Role.Administrator;
    if (!self && !admin) throw badRequest('only an administrator may change the password of another user');
    const old = request.body.old_pwd;
    if (self && old === undefined) throw badRequest('old_pwd is required to change your own password');
    await auth.changePassword(username, self ? (old ?? null) : null, request.body.new_pwd);
    return reply.code(HttpStatus.NoContent).send();
  };
  app.post<{ Params: { username: string }; Body: { old_pwd?: string; new_pwd: string } }>(
    '/users/:username/change_pwd',
    changePwd,
    changePwdHandler,
  );
  app.put<{ Params: { username: string }; Body: { old_pwd?: string; new_pwd: string } }>(
    '/users/:username/change_pwd',
    changePwd,
    changePwdHandler,
  );

  // ---- API keys ---------------------------------------------------------------------------

  const keyTags = ['API Keys'];
  const nameParams = {
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string' } },
  } as const;

  app.get('/api_key', { config: USER_ONLY, schema: { tags: keyTags, summary: 'API keys' } }, async () =>
    auth.store.listApiKeys().map((k) => formatApiKey(k)),
  );

  app.post<{
    Body: { name: string; expired_at?: string | number; desc?: string; enable?: boolean; role?: string };
  }>(
    '/api_key',
    {
      config: USER_ONLY,
      schema: {
        tags: keyTags,
        summary: 'Create an API key; the answer holds api_secret, shown this once',
        body: { type: 'object', required: ['name'], properties: apiKeyFields },
      },
    },
    async (request) => {
      const b = request.body;
      const expiredAt = expiry(b.expired_at);
      const { record, secret } = auth.createApiKey({
        name: b.name,
        enable: b.enable ?? true,
        expiredAt: expiredAt ?? null,
        description: b.desc ?? '',
        role: b.role ?? Role.Administrator,
      });
      return { ...formatApiKey(record), api_secret: secret };
    },
  );

  app.get<{ Params: { name: string } }>(
    '/api_key/:name',
    { config: USER_ONLY, schema: { tags: keyTags, summary: 'One API key', params: nameParams } },
    async (request) => {
      const record = auth.store.getApiKey(request.params.name);
      if (record === undefined) throw notFound(`API key ${request.params.name} not found`);
      return formatApiKey(record);
    },
  );

  app.put<{
    Params: { name: string };
    Body: { expired_at?: string | number; desc?: string; enable?: boolean; role?: string };
  }>(
    '/api_key/:name',
    {
      config: USER_ONLY,
      schema: {
        tags: keyTags,
        summary: 'Update an API key (enable, expiry, description, role)',
        params: nameParams,
        body: { type: 'object', properties: apiKeyFields },
      },
    },
    async (request) => {
      const b = request.body ?? {};
      const expiredAt = expiry(b.expired_at);
      return formatApiKey(
        auth.updateApiKey(request.params.name, {
          ...(b.enable === undefined ? {} : { enable: b.enable }),
          ...(expiredAt === undefined ? {} : { expiredAt }),
          ...(b.desc === undefined ? {} : { description: b.desc }),
          ...(b.role === undefined ? {} : { role: b.role }),
        }),
      );
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/api_key/:name',
    { config: USER_ONLY, schema: { tags: keyTags, summary: 'Delete an API key', params: nameParams } },
    async (request, reply) => {
      auth.deleteApiKey(request.params.name);
      return reply.code(HttpStatus.NoContent).send();
    },
  );
}
