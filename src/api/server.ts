/**
 * The HTTP server of the management API: fastify on `dashboard.listeners.http.bind` (18083) and,
 * when enabled, `dashboard.listeners.https.bind` (18084), base path `/api/v5` (EMQX's), with
 * the OpenAPI document its route schemas produce at `/api-docs` (UI), `/api-docs/json` and
 * EMQX's `/api-docs/swagger.json`.
 *
 * Authentication runs in one onRequest hook (authenticate below) before every route except
 * those whose route config says `auth: false` (`/status`, `/login`, the OpenAPI document) or
 * `auth: 'prometheus'` (`/prometheus/stats`: open unless `prometheus.enable_basic_auth`).
 * Errors leave in EMQX's shape `{ code, message }` (errors.ts), from one error handler.
 *
 * Routes live one file per resource (clients.ts, subscriptions.ts, publish.ts, ...), each a
 * function `(app, ctx) => void` registering under the /api/v5 prefix.
 */

import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { adminRoutes } from './admin.js';
import { Role } from './auth.js';
import { bannedRoutes } from './banned.js';
import { clientMessagesRoutes } from './client-messages.js';
import { clientsRoutes } from './clients.js';
import type { ApiContext } from './context.js';
import { ApiError, ApiErrorCode, HttpStatus, unauthorized } from './errors.js';
import { listenersRoutes } from './listeners.js';
import { prometheusRoutes } from './prometheus.js';
import { publishRoutes } from './publish.js';
import { retainerRoutes } from './retainer.js';
import { statsRoutes, statusRoute } from './stats.js';
import { subscriptionsRoutes } from './subscriptions.js';

export const BASE_PATH = '/api/v5';
const DOCS_PATH = '/api-docs';
const ONE_MIB = 1024 * 1024;

/** Per-route authentication, in a route's `config`. */
export interface RouteAuth {
  /** false: no credentials needed; 'prometheus': needed only with prometheus.enable_basic_auth. */
  auth?: false | 'prometheus';
  /** false: a logged-in user only (EMQX refuses API keys on /users, /api_key, /logout). */
  apiKey?: false;
}

/** Who made the request, set by the auth hook. */
export interface Actor {
  kind: 'user' | 'api_key';
  /** The username or the API key's name. */
  name: string;
  role: string;
  /** The Bearer token (users), for /logout. */
  token: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    auth?: false | 'prometheus';
    apiKey?: false;
  }
}

/** Builds one server (HTTP or HTTPS) with every route. */
export async function buildServer(
  ctx: ApiContext,
  tls: { cert: Buffer; key: Buffer } | null,
): Promise<FastifyInstance> {
  const maxPacket = ctx.config.mqtt.max_packet_size;
  const app = Fastify({
    logger: false,
    // A publish body carries a payload up to mqtt.max_packet_size, maybe in base64, maybe many.
    bodyLimit: Math.max(ONE_MIB, 2 * maxPacket) + ONE_MIB,
    ...(tls === null ? {} : { https: tls }),
  }) as unknown as FastifyInstance;
  app.decorateRequest('actor', null);
  app.setErrorHandler((error: FastifyError | ApiError, request, reply) =>
    sendError(ctx, error, request, reply),
  );
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(HttpStatus.NotFound)
      .send({ code: ApiErrorCode.NotFound, message: `Request path not found: ${request.url}` }),
  );
  app.addHook('onRequest', async (request) => authenticate(ctx, request));

  const swaggerOn = ctx.config.dashboard.swagger_support;
  if (swaggerOn) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Aviary API',
          version: ctx.version,
          description:
            'The management API of the Aviary MQTT broker, with EMQX 5 paths and shapes (docs/api.md).',
        },
        servers: [{ url: BASE_PATH }],
        components: {
          securitySchemes: {
            basicAuth: {
              type: 'http',
              scheme: 'basic',
              description: 'An API key and its secret (POST /api_key)',
            },
            bearerAuth: { type: 'http', scheme: 'bearer', description: 'A token from POST /login' },
          },
        },
        security: [{ basicAuth: [] }, { bearerAuth: [] }],
      },
    });
    await app.register(swaggerUi, { routePrefix: DOCS_PATH });
    app.get(`${DOCS_PATH}/swagger.json`, { config: { auth: false }, schema: { hide: true } }, async () =>
      app.swagger(),
    );
  }

  await app.register(
    async (api) => {
      adminRoutes(api, ctx);
      clientsRoutes(api, ctx);
      clientMessagesRoutes(api, ctx);
      subscriptionsRoutes(api, ctx);
      publishRoutes(api, ctx);
      retainerRoutes(api, ctx);
      bannedRoutes(api, ctx);
      statsRoutes(api, ctx);
      listenersRoutes(api, ctx);
      prometheusRoutes(api, ctx);
    },
    { prefix: BASE_PATH },
  );
  // EMQX also answers the load balancers' health check at /status (no prefix).
  statusRoute(app, ctx, '');
  return app;
}

/** Reads the https listener's certificate and key. */
export function readTls(certfile: string, keyfile: string): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(certfile), key: readFileSync(keyfile) };
}

// ---- authentication ----------------------------------------------------------------------

const BASIC = /^Basic\s+(\S+)\s*$/i;
const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** Sets request.actor or throws the 401 EMQX would answer with. */
function authenticate(ctx: ApiContext, request: FastifyRequest): void {
  const auth = (request.routeOptions.config ?? {}) as RouteAuth;
  if (request.url.startsWith(DOCS_PATH)) return; // the OpenAPI document and its UI
  if (auth.auth === false) return;
  if (auth.auth === 'prometheus' && !ctx.config.prometheus.enable_basic_auth) return;
  const header = request.headers.authorization;
  const basic = header === undefined ? null : BASIC.exec(header);
  const bearer = header === undefined ? null : BEARER.exec(header);
  if (basic !== null) {
    if (auth.apiKey === false) {
      throw unauthorized(
        ApiErrorCode.ApiKeyNotAllow,
        'Please use bearer Token instead, using API key/secret in this path is not permitted',
      );
    }
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const verdict =
      colon < 0 ? null : ctx.auth.verifyApiKey(decoded.slice(0, colon), decoded.slice(colon + 1));
    if (verdict === null || 'error' in verdict) {
      throw unauthorized(ApiErrorCode.BadApiKeyOrSecret, 'Check api_key/api_secret');
    }
    request.actor = { kind: 'api_key', name: verdict.ok.name, role: verdict.ok.role, token: null };
  } else if (bearer !== null) {
    const token = bearer[1]!;
    const verdict = ctx.auth.verifyToken(token);
    if ('error' in verdict) {
      if (verdict.error === 'expired') {
        throw unauthorized(ApiErrorCode.TokenTimeOut, 'Token expired, get a new token by POST /api/v5/login');
      }
      throw unauthorized(
        ApiErrorCode.BadToken,
        'Invalid bearer token, get a new token by POST /api/v5/login, or use an API key (Basic auth)',
      );
    }
    request.actor = { kind: 'user', name: verdict.ok.username, role: verdict.ok.role, token };
  } else {
    throw unauthorized(
      ApiErrorCode.AuthorizationHeaderError,
      'Missing authorization header. Use Basic auth with API key/secret, or Bearer token from POST /api/v5/login',
    );
  }
  checkRole(request, request.actor);
}

/** EMQX's roles: a viewer reads only; a publisher (API key) only publishes. */
function checkRole(request: FastifyRequest, actor: Actor): void {
  if (actor.role === Role.Administrator) return;
  const path = request.routeOptions.url ?? '';
  const ownAccount =
    actor.kind === 'user' &&
    (path === `${BASE_PATH}/logout` || path === `${BASE_PATH}/users/:username/change_pwd`);
  if (actor.role === Role.Viewer && (request.method === 'GET' || request.method === 'HEAD' || ownAccount))
    return;
  if (actor.role === Role.Publisher && request.method === 'POST' && path.startsWith(`${BASE_PATH}/publish`))
    return;
  throw new ApiError(
    HttpStatus.Forbidden,
    ApiErrorCode.UnauthorizedRole,
    `the role ${actor.role} may not ${request.method} ${path}`,
  );
}

// ---- errors ------------------------------------------------------------------------------

function sendError(
  ctx: ApiContext,
  error: FastifyError | ApiError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  if (error instanceof ApiError) {
    if (error.statusCode === HttpStatus.Unauthorized)
      reply.header('WWW-Authenticate', 'Basic Realm="aviary-api"');
    void reply.code(error.statusCode).send({ code: error.code, message: error.message });
    return;
  }
  const status = error.statusCode ?? HttpStatus.InternalError;
  if (
    error.validation !== undefined ||
    (status >= HttpStatus.BadRequest && status < HttpStatus.InternalError)
  ) {
    void reply.code(status).send({ code: ApiErrorCode.BadRequest, message: error.message });
    return;
  }
  ctx.log.error({ err: error, url: request.url, method: request.method }, 'management API request failed');
  void reply
    .code(HttpStatus.InternalError)
    .send({ code: ApiErrorCode.InternalError, message: error.message });
}
