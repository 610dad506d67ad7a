/**
 * What an authentication provider is: one link of the chain (EMQX's authenticator). Given a
 * client's credentials it answers
 *
 *   ignore   not mine: the user is unknown here, the token is not one of ours, the service is
 *            down; the next provider is asked
 *   allow    the client is who it says (with is_superuser and attributes for the ACL)
 *   deny     the credentials are wrong: the chain stops and the client is refused
 *
 * Providers answer for password-style credentials (`authenticate`); a provider that speaks an
 * MQTT 5.0 enhanced authentication method (SCRAM) also implements `enhancedAuth`.
 */

import type { EnhancedAuthResult, EnhancedAuthStep } from '../broker/hooks.js';
import type { ClientInfo } from '../broker/types.js';

/** The credentials of a CONNECT. */
export interface Credentials {
  readonly client: ClientInfo;
  /** The CONNECT's password (bytes), null when absent. */
  readonly password: Buffer | null;
}

export type AuthAnswer =
  | { readonly result: 'ignore' }
  | {
      readonly result: 'allow';
      readonly isSuperuser: boolean;
      /** EMQX's client_attrs, copied onto ClientInfo.clientAttrs. */
      readonly clientAttrs?: Record<string, string>;
      /** A JWT's claims, copied onto ClientInfo.jwtClaims. */
      readonly jwtClaims?: Record<string, unknown>;
      /** ACL rules for the client (a JWT's acl claim, an HTTP response's acl), onto ClientInfo.authnAcl. */
      readonly acl?: unknown;
    }
  | {
      readonly result: 'deny';
      /** MQTT 5.0 reason code; default 0x86 bad user name or password (3.1.1: 0x04). */
      readonly reasonCode?: number;
    };

export const IGNORE: AuthAnswer = Object.freeze({ result: 'ignore' });

/** Counters per provider, as EMQX's authenticator metrics. */
export interface ProviderMetrics {
  total: number;
  success: number;
  failed: number;
  nomatch: number;
}

export interface AuthProvider {
  /** EMQX's authenticator id: `password_based:built_in_database`, `jwt`, ... */
  readonly id: string;
  authenticate(credentials: Credentials): AuthAnswer | Promise<AuthAnswer>;
  /** The enhanced authentication methods this provider answers for (e.g. 'SCRAM-SHA-256'). */
  readonly methods?: readonly string[];
  enhancedAuth?(client: ClientInfo, step: EnhancedAuthStep): EnhancedAuthResult | Promise<EnhancedAuthResult>;
  /** Stops timers and closes connection pools. */
  close?(): Promise<void> | void;
}
