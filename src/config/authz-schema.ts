/**
 * `authorization { ... }`: ACL settings and sources, after EMQX 5 (emqx_schema.erl
 * `authz_fields/0`, `fields("authz_cache")`, and the source schemas of apps/emqx_auth*):
 *
 *   authorization {
 *     no_match = allow                 # allow | deny: when no source has a matching rule
 *     deny_action = ignore             # ignore | disconnect: what a denied publish/subscribe does
 *     cache { enable = true, max_size = 32, ttl = 1m, excludes = [] }
 *     sources = [
 *       {type = file, enable = true, path = "etc/acl.conf"}
 *       {type = built_in_database, enable = true, max_rules = 100}
 *       {type = http, enable = true, method = post, url = "http://127.0.0.1:8080/acl", ...}
 *     ]
 *   }
 *
 * One difference from EMQX: `sources` defaults to an empty list (EMQX's default is the file
 * source with its default acl.conf), so a broker configured with nothing has no ACL at all and
 * its publishes pay nothing for one. What each key means is in docs/authorization.md.
 */
import { z } from 'zod';
import { bool, describeInput, duration, int, oneOf, section, str, stringList } from './fields.js';
import { isPlainObject } from './merge.js';

/** EMQX's bounds of `authorization.cache.max_size`. */
export const AUTHZ_CACHE_MAX_SIZE = 1_048_576;
/** EMQX's bound of `max_rules` of the built-in database source. */
const MAX_RULES_LIMIT = 65_535;

const common = { enable: bool().prefault(true) };

const fileSource = section({
  ...common,
  type: z.literal('file'),
  /** The acl.conf to read (relative paths: from the working directory). */
  path: str('a file path', (p) => p !== '').prefault('etc/acl.conf'),
  /** The rules themselves, in acl.conf syntax, instead of a file (what EMQX's API sends). */
  rules: str().optional(),
});

const builtInSource = section({
  ...common,
  type: z.literal('built_in_database'),
  /** Most rules one username, client id or `all` may have. */
  max_rules: int(1, MAX_RULES_LIMIT).prefault(100),
});

/** A map of strings (headers). */
function stringMap() {
  return z.record(z.string(), str('a string'), {
    error: (issue) =>
      issue.code === 'invalid_type'
        ? `expected an object of strings, got ${describeInput(issue.input)}`
        : undefined,
  });
}

const httpSource = section({
  ...common,
  type: z.literal('http'),
  method: oneOf(['post', 'get']).prefault('post'),
  url: str('an http:// or https:// URL', (u) => /^https?:\/\/[^/]/i.test(u)),
  headers: stringMap().prefault({}),
  /** Templates of the request's JSON body (post) or query parameters (get). */
  body: z.record(z.string(), z.unknown()).prefault({}),
  request_timeout: duration().prefault('30s'),
  pool_size: int(1, 1024).prefault(8),
});

export type FileSourceConfig = z.output<typeof fileSource>;
export type BuiltInSourceConfig = z.output<typeof builtInSource>;
export type HttpSourceConfig = z.output<typeof httpSource>;
export type AuthzSourceConfig = FileSourceConfig | BuiltInSourceConfig | HttpSourceConfig;

const SOURCE_TYPES = { file: fileSource, built_in_database: builtInSource, http: httpSource } as const;

/** One source, dispatched on `type` so that an error names the key of that type. */
const source = z.unknown().transform((input, ctx): AuthzSourceConfig => {
  const fail = (message: string, at: string[] = []): never => {
    ctx.issues.push({ code: 'custom', message, input, path: at });
    return z.NEVER;
  };
  if (!isPlainObject(input)) return fail(`expected an object (a { ... } block), got ${describeInput(input)}`);
  const type = input.type;
  if (typeof type !== 'string' || !Object.hasOwn(SOURCE_TYPES, type)) {
    return fail(`expected one of ${Object.keys(SOURCE_TYPES).join(', ')}, got ${describeInput(type)}`, [
      'type',
    ]);
  }
  const parsed = SOURCE_TYPES[type as keyof typeof SOURCE_TYPES].safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.issues.push({ ...issue, input: undefined });
    return z.NEVER;
  }
  return parsed.data;
});

const sourcesSchema = z
  .array(source, {
    error: (issue) =>
      issue.code === 'invalid_type'
        ? `expected a list of sources ([ {type = file, ...}, ... ]), got ${describeInput(issue.input)}`
        : undefined,
  })
  .superRefine((sources, ctx) => {
    // EMQX refuses two sources of one type (duplicated_authz_source_type).
    const seen = new Set<string>();
    sources.forEach((s, i) => {
      if (seen.has(s.type))
        ctx.addIssue({ code: 'custom', message: `a second source of type ${s.type}`, path: [i, 'type'] });
      seen.add(s.type);
    });
  });

export const authorizationSchema = section({
  no_match: oneOf(['allow', 'deny']).prefault('allow'),
  deny_action: oneOf(['ignore', 'disconnect']).prefault('ignore'),
  cache: section({
    enable: bool().prefault(true),
    max_size: int(1, AUTHZ_CACHE_MAX_SIZE).prefault(32),
    ttl: duration().prefault('1m'),
    /** Topics (filters) whose answers are never cached. */
    excludes: stringList().prefault([]),
  }).prefault({}),
  sources: sourcesSchema.prefault([]),
});

/** The parsed `authorization` section. */
export type AuthorizationConfig = z.output<typeof authorizationSchema>;
