/**
 * The JWT provider (EMQX's `mechanism = jwt`, emqx_authn_jwt.erl), on the `jose` library. The
 * token comes from the CONNECT's password (default) or username, or, for WebSocket clients, from
 * a cookie of the upgrade request (`from = cookie`, `cookie_name`: Aviary's browser-cookie
 * authentication). It is verified with
 *
 *   algorithm = hmac-based   a shared `secret` (base64 if `secret_base64_encoded`): HS256/384/512
 *   algorithm = public-key   a PEM `public_key` (or its file): RS*, PS*, ES*, EdDSA
 *   use_jwks = true          the keys published at `endpoint` (a JWKS), fetched when first needed,
 *                            kept for `refresh_interval` and fetched again for an unknown `kid`
 *
 * Answers, as EMQX's:
 *   no token; not a JWT; a bad signature; no key (JWKS down)   -> ignore (another provider may know it)
 *   `exp` passed, `nbf` not reached, a `verify_claims` claim missing or different -> deny (0x86)
 *   valid                                                    -> allow; `is_superuser` claim; the
 *                     claims go to ClientInfo.jwtClaims, the `acl_claim_name` claim to
 *                     ClientInfo.authnAcl, a `client_attrs` object claim to ClientInfo.clientAttrs
 *
 * `verify_claims` values are templates with `${clientid}` and `${username}` (e.g. `sub =
 * "${clientid}"`); a claim matches when its value (a string, number or boolean, as text) equals
 * the rendered value; an `aud` array matches when it contains it. Tokens are never logged.
 */

import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { ClientInfo } from '../broker/types.js';
import type { JwtAuthnConfig } from '../config/authn-schema.js';
import { ConfigError } from '../errors.js';
import { cookiesOf } from './client-extras.js';
import { type AuthAnswer, type AuthProvider, type Credentials, IGNORE } from './provider.js';
import { clientVariable, Template } from './template.js';

const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
const PUBLIC_KEY_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];
/** How long a JWKS fetch may take before the provider answers ignore. */
const JWKS_TIMEOUT_MS = 5000;
/** At most one JWKS refetch for an unknown key id in this time. */
const JWKS_COOLDOWN_MS = 30_000;

const DENY: AuthAnswer = Object.freeze({ result: 'deny' });

function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    const t = textOf(v);
    if (t !== undefined) out[k] = t;
  }
  return out;
}

export class JwtProvider implements AuthProvider {
  readonly id = 'jwt';
  private readonly key: Uint8Array | KeyObject | JWTVerifyGetKey;
  private readonly algorithms: string[];
  private readonly claims: [name: string, expected: Template][];

  constructor(
    private readonly config: JwtAuthnConfig,
    key: string,
  ) {
    this.claims = Object.entries(config.verify_claims).map(([name, t]) => [name, new Template(t)]);
    if (config.use_jwks) {
      this.key = createRemoteJWKSet(new URL(config.endpoint!), {
        cacheMaxAge: config.refresh_interval,
        cooldownDuration: Math.min(JWKS_COOLDOWN_MS, config.refresh_interval),
        timeoutDuration: JWKS_TIMEOUT_MS,
      });
      this.algorithms = PUBLIC_KEY_ALGORITHMS;
    } else if (config.algorithm === 'hmac-based') {
      const secret = config.secret!;
      this.key = config.secret_base64_encoded ? Buffer.from(secret, 'base64') : Buffer.from(secret, 'utf8');
      this.algorithms = HMAC_ALGORITHMS;
    } else {
      const source = config.public_key!;
      const pem =
        source.includes('-----BEGIN') || !existsSync(source) ? source : readFileSync(source, 'utf8');
      try {
        this.key = createPublicKey(pem);
      } catch (error) {
        throw new ConfigError(
          `${key}.public_key: not a PEM public key (or a readable PEM file)`,
          `${key}.public_key`,
          {
            cause: error,
          },
        );
      }
      this.algorithms = PUBLIC_KEY_ALGORITHMS;
    }
  }

  private tokenOf(client: ClientInfo, password: Buffer | null): string | undefined {
    switch (this.config.from) {
      case 'password':
        return password === null || password.length === 0 ? undefined : password.toString('utf8');
      case 'username':
        return client.username === null || client.username === '' ? undefined : client.username;
      default:
        return cookiesOf(client).get(this.config.cookie_name);
    }
  }

  async authenticate({ client, password }: Credentials): Promise<AuthAnswer> {
    const token = this.tokenOf(client, password);
    if (token === undefined) return IGNORE;
    let payload: JWTPayload;
    try {
      const options = { algorithms: this.algorithms };
      const key = this.key;
      payload = (
        typeof key === 'function'
          ? await jwtVerify(token, key, options)
          : await jwtVerify(token, key, options)
      ).payload;
    } catch (error) {
      // exp / nbf (and malformed time claims): the token is ours but not valid now.
      if (error instanceof errors.JWTExpired || error instanceof errors.JWTClaimValidationFailed) return DENY;
      return IGNORE; // not a JWT, a bad signature, no key for it, the JWKS endpoint down
    }
    for (const [name, template] of this.claims) {
      const expected = template.render((v) => clientVariable(client, password, v));
      const value = payload[name];
      if (value === undefined) return DENY;
      const ok = Array.isArray(value)
        ? value.some((v) => textOf(v) === expected)
        : textOf(value) === expected;
      if (!ok) return DENY;
    }
    const superuser = payload.is_superuser;
    const answer: AuthAnswer = {
      result: 'allow',
      isSuperuser: superuser === true || superuser === 'true',
      jwtClaims: payload as Record<string, unknown>,
      ...(payload[this.config.acl_claim_name] !== undefined
        ? { acl: payload[this.config.acl_claim_name] }
        : {}),
    };
    const attrs = stringRecord(payload.client_attrs);
    return attrs === undefined ? answer : { ...answer, clientAttrs: attrs };
  }
}
