/**
 * `authentication = [ ... ]`: the authentication chain, after EMQX 5 (emqx_authn_schema.erl and
 * the schemas of apps/emqx_auth_{mnesia,jwt,http}). An ordered list of authenticators, each an
 * object whose `mechanism` (and, for password_based, `backend`) says which one it is:
 *
 *   {mechanism = password_based, backend = built_in_database, ...}   users in the user store
 *   {mechanism = password_based, backend = http, ...}                an HTTP service decides
 *   {mechanism = jwt, ...}                                           a signed token
 *   {mechanism = scram, backend = built_in_database, ...}            MQTT 5.0 enhanced auth
 *   {mechanism = cert, ...}                                          TLS client certificate (Aviary's)
 *   {mechanism = client_rules, rules = [...]}                        client id / IP address rules (Aviary's)
 *
 * The same list may be given per listener (`listeners.<type>.<name>.authentication`), which
 * then replaces the global chain for that listener's clients. What each key means is in
 * docs/authentication.md; the chain itself is src/auth.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { bool, describeInput, duration, int, leaf, oneOf, section, str } from './fields.js';
import { isPlainObject } from './merge.js';

/** The simple hashes, EMQX's `hash_type_simple()`. */
export const SIMPLE_HASHES = ['plain', 'md5', 'sha', 'sha256', 'sha512'] as const;
/** Every password hash algorithm of the built-in database. */
export const HASH_ALGORITHMS = [...SIMPLE_HASHES, 'bcrypt', 'pbkdf2'] as const;
/** The HMAC digests PBKDF2 may use (EMQX 5.8.3 removed md4, md5 and ripemd160). */
export const PBKDF2_MAC_FUNS = ['sha', 'sha224', 'sha256', 'sha384', 'sha512'] as const;

/** EMQX's bcrypt `salt_rounds` range (5..10 writable; we allow up to 31 as bcrypt does). */
const BCRYPT_MIN_ROUNDS = 5;
const BCRYPT_MAX_ROUNDS = 31;

const passwordHashAlgorithm = section({
  name: oneOf(HASH_ALGORITHMS).prefault('sha256'),
  /** Simple hashes: where the salt goes. */
  salt_position: oneOf(['disable', 'prefix', 'suffix']).prefault('prefix'),
  /** bcrypt: the cost of new hashes. */
  salt_rounds: int(BCRYPT_MIN_ROUNDS, BCRYPT_MAX_ROUNDS).prefault(10),
  /** pbkdf2: the HMAC digest, iterations and derived key length (bytes; absent: the digest's). */
  mac_fun: oneOf(PBKDF2_MAC_FUNS).prefault('sha256'),
  iterations: int(1, Number.MAX_SAFE_INTEGER).prefault(4096),
  dk_length: int(1, Number.MAX_SAFE_INTEGER).optional(),
}).prefault({});

/** A map of strings (headers, body templates, verify_claims). */
function stringMap() {
  return z.record(z.string(), str('a string'), {
    error: (issue) =>
      issue.code === 'invalid_type'
        ? `expected an object of strings, got ${describeInput(issue.input)}`
        : undefined,
  });
}

const common = { enable: bool().prefault(true) };
const path = () => str('a file path', (p) => p !== '');

const builtInDatabase = section({
  ...common,
  mechanism: z.literal('password_based'),
  backend: z.literal('built_in_database'),
  user_id_type: oneOf(['username', 'clientid']).prefault('username'),
  password_hash_algorithm: passwordHashAlgorithm,
  bootstrap_file: path().optional(),
  bootstrap_type: oneOf(['plain', 'hash']).prefault('plain'),
});

// biome-ignore lint/suspicious/noTemplateCurlyInString: authentication placeholders, not JS templates.
const DEFAULT_HTTP_BODY = { username: '${username}', password: '${password}' };

const http = section({
  ...common,
  mechanism: z.literal('password_based'),
  backend: z.literal('http'),
  method: oneOf(['post', 'get']).prefault('post'),
  url: str('an http:// or https:// URL', (u) => /^https?:\/\/[^/]/i.test(u)),
  headers: stringMap().prefault({}),
  body: stringMap().prefault(DEFAULT_HTTP_BODY),
  request_timeout: duration().prefault('5s'),
  pool_size: int(1, 1024).prefault(8),
});

const jwt = section({
  ...common,
  mechanism: z.literal('jwt'),
  /** Where the token is: the password, the username, or (Aviary) a cookie of a WebSocket upgrade. */
  from: oneOf(['password', 'username', 'cookie']).prefault('password'),
  /** from = cookie: the cookie's name. */
  cookie_name: str('a cookie name', (n) => n !== '').prefault('token'),
  use_jwks: bool().prefault(false),
  algorithm: oneOf(['hmac-based', 'public-key']).prefault('hmac-based'),
  secret: str().optional(),
  secret_base64_encoded: bool().prefault(false),
  /** A PEM public key, or the path of a PEM file. */
  public_key: str().optional(),
  endpoint: str('an http:// or https:// URL', (u) => /^https?:\/\/[^/]/i.test(u)).optional(),
  refresh_interval: duration().prefault('300s'),
  verify_claims: stringMap().prefault({}),
  acl_claim_name: str().prefault('acl'),
});

const scram = section({
  ...common,
  mechanism: z.literal('scram'),
  backend: z.literal('built_in_database'),
  algorithm: oneOf(['sha256', 'sha512']).prefault('sha256'),
  iteration_count: int(1, Number.MAX_SAFE_INTEGER).prefault(4096),
});

const cert = section({
  ...common,
  mechanism: z.literal('cert'),
  /** What identity the certificate gives: its subject's common name or its whole subject. */
  identity: oneOf(['cn', 'dn']).prefault('cn'),
  /** What the identity must equal: the username, the client id, or nothing (any verified certificate). */
  match: oneOf(['username', 'clientid', 'none']).prefault('username'),
});

/** `10.0.0.0/8`, `2001:db8::/32`, or a lone IPv4 / IPv6 address. */
function isAddressOrCidr(text: string): boolean {
  const slash = text.indexOf('/');
  const family = isIP(slash < 0 ? text : text.slice(0, slash));
  if (family === 0) return false;
  if (slash < 0) return true;
  const digits = text.slice(slash + 1);
  return /^\d{1,3}$/.test(digits) && Number(digits) <= (family === 4 ? 32 : 128);
}

function isRegExp(text: string): boolean {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}

/** One string or a list of them, each accepted by `accept` (a list keeps commas inside items). */
function oneOrMany(expected: string, accept: (text: string) => boolean) {
  return leaf(`${expected} or a list of them`, (input): string[] | undefined => {
    const items = typeof input === 'string' ? [input] : input;
    if (!Array.isArray(items) || items.length === 0) return undefined;
    return items.every((i) => typeof i === 'string' && accept(i)) ? (items as string[]) : undefined;
  });
}

/** One rule of `client_rules`: every condition given must hold; none given matches every client. */
const clientRule = section({
  /** Client ids, exact or with `*` wildcards (`sensor-*`). */
  clientid: oneOrMany('a client id pattern', (t) => t !== '').optional(),
  /** A regular expression (JavaScript syntax) the whole client id must match. */
  clientid_re: str('a regular expression', isRegExp).optional(),
  /** Peer addresses: IPv4 / IPv6 addresses or CIDR ranges. */
  ipaddr: oneOrMany('an IP address or CIDR range', isAddressOrCidr).optional(),
  action: oneOf(['allow', 'deny']),
  is_superuser: bool().prefault(false),
});

const clientRules = section({
  ...common,
  mechanism: z.literal('client_rules'),
  rules: z.array(clientRule, {
    error: (issue) =>
      issue.code === 'invalid_type'
        ? `expected a list of rules ([ {...}, ... ]), got ${describeInput(issue.input)}`
        : undefined,
  }),
});

/** The schema of each `mechanism` / `mechanism:backend`. */
const KINDS = {
  'password_based:built_in_database': builtInDatabase,
  'password_based:http': http,
  jwt,
  'scram:built_in_database': scram,
  cert,
  client_rules: clientRules,
} as const;

/** The parsed authenticators. */
export type BuiltInDatabaseAuthnConfig = z.output<typeof builtInDatabase>;
export type HttpAuthnConfig = z.output<typeof http>;
export type JwtAuthnConfig = z.output<typeof jwt>;
export type ScramAuthnConfig = z.output<typeof scram>;
export type CertAuthnConfig = z.output<typeof cert>;
export type ClientRulesAuthnConfig = z.output<typeof clientRules>;
export type ClientRuleConfig = ClientRulesAuthnConfig['rules'][number];
export type PasswordHashConfig = BuiltInDatabaseAuthnConfig['password_hash_algorithm'];
export type AuthenticatorConfig =
  | BuiltInDatabaseAuthnConfig
  | HttpAuthnConfig
  | JwtAuthnConfig
  | ScramAuthnConfig
  | CertAuthnConfig
  | ClientRulesAuthnConfig;

const MECHANISMS = ['password_based', 'jwt', 'scram', 'cert', 'client_rules'];
const BACKENDS: Record<string, string[]> = {
  password_based: ['built_in_database', 'http'],
  scram: ['built_in_database'],
};

/**
 * One authenticator: dispatched on `mechanism` (and `backend`) to its strict section, so an
 * error names the key of that kind ("authentication.2.url: expected an http:// ... URL").
 */
const authenticator = z.unknown().transform((input, ctx): AuthenticatorConfig => {
  const fail = (message: string, at: string[] = []): never => {
    ctx.issues.push({ code: 'custom', message, input, path: at });
    return z.NEVER;
  };
  if (!isPlainObject(input)) return fail(`expected an object (a { ... } block), got ${describeInput(input)}`);
  const mechanism = input.mechanism;
  if (typeof mechanism !== 'string' || !MECHANISMS.includes(mechanism)) {
    return fail(`expected one of ${MECHANISMS.join(', ')}, got ${describeInput(mechanism)}`, ['mechanism']);
  }
  const backends = BACKENDS[mechanism];
  let kind = mechanism;
  if (backends !== undefined) {
    const backend = input.backend;
    if (typeof backend !== 'string' || !backends.includes(backend)) {
      return fail(`expected one of ${backends.join(', ')}, got ${describeInput(backend)}`, ['backend']);
    }
    kind = `${mechanism}:${backend}`;
  }
  const schema = KINDS[kind as keyof typeof KINDS];
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.issues.push({ ...issue, input: undefined });
    return z.NEVER;
  }
  const value = parsed.data;
  const missing = requiredByChoice(value);
  if (missing !== null) return fail(missing.message, [missing.key]);
  return value;
});

/** Keys that only some choices need (a JWT secret for hmac-based, ...). */
function requiredByChoice(a: AuthenticatorConfig): { key: string; message: string } | null {
  if (a.mechanism !== 'jwt') return null;
  if (a.use_jwks) {
    return a.endpoint === undefined ? { key: 'endpoint', message: 'required when use_jwks = true' } : null;
  }
  if (a.algorithm === 'hmac-based' && a.secret === undefined) {
    return { key: 'secret', message: 'required when algorithm = hmac-based' };
  }
  if (a.algorithm === 'public-key' && a.public_key === undefined) {
    return { key: 'public_key', message: 'required when algorithm = public-key' };
  }
  return null;
}

/** `authentication`: the ordered chain (empty: clients are allowed anonymously). */
export const authenticationSchema = z.array(authenticator, {
  error: (issue) =>
    issue.code === 'invalid_type'
      ? `expected a list of authenticators ([ {...}, ... ]), got ${describeInput(issue.input)}`
      : undefined,
});

/** A parsed chain. */
export type AuthenticationConfig = z.output<typeof authenticationSchema>;
