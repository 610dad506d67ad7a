/**
 * The authentication chain (EMQX's emqx_authn_chains): an ordered list of providers, asked in
 * turn until one answers allow or deny.
 *
 *   a provider answers allow        -> the client is in (is_superuser, attributes for the ACL)
 *   a provider answers deny         -> refused: CONNACK 0x86 bad user name or password (or the
 *                                      provider's code, e.g. 0x87 from an HTTP service's deny);
 *                                      3.1.1: 0x04 / 0x05
 *   every provider answers ignore   -> refused: 0x87 not authorized (3.1.1: 0x05), EMQX's rule
 *   a provider throws or rejects    -> logged, and counted as ignore (EMQX does the same)
 *   no provider at all              -> the hook is not consulted: anonymous clients are allowed
 *
 * Each provider counts its answers (total, success, failed, nomatch), as EMQX's authenticator
 * metrics. A chain also routes MQTT 5.0 enhanced authentication steps to the provider that
 * speaks the client's Authentication Method (SCRAM).
 */

import type { AuthResult, EnhancedAuthResult, EnhancedAuthStep } from '../broker/hooks.js';
import type { ClientInfo } from '../broker/types.js';
import type { Logger } from '../observability/logger.js';
import { ReasonCode } from '../protocol/index.js';
import type { AuthAnswer, AuthProvider, Credentials, ProviderMetrics } from './provider.js';

const NOT_AUTHORIZED: AuthResult = Object.freeze({ result: 'deny', reasonCode: ReasonCode.NotAuthorized });

export class AuthChain {
  readonly metrics: ProviderMetrics[];

  constructor(
    /** Where the chain is configured: 'authentication' or 'listeners.tcp.default.authentication'. */
    readonly key: string,
    readonly providers: readonly AuthProvider[],
    private readonly log: Logger,
  ) {
    this.metrics = providers.map(() => ({ total: 0, success: 0, failed: 0, nomatch: 0 }));
  }

  get empty(): boolean {
    return this.providers.length === 0;
  }

  /** Runs the chain for a CONNECT and records the allowing provider's attributes on the client. */
  async authenticate(credentials: Credentials): Promise<AuthResult> {
    const client = credentials.client;
    for (let i = 0; i < this.providers.length; i++) {
      const provider = this.providers[i]!;
      const m = this.metrics[i]!;
      m.total++;
      let answer: AuthAnswer;
      try {
        answer = await provider.authenticate(credentials);
      } catch (error) {
        // Never the password: the error comes from the provider's own work (a store, a service).
        this.log.warn(
          { provider: provider.id, clientid: client.clientId, err: (error as Error).message },
          'authentication provider failed; trying the next',
        );
        m.nomatch++;
        continue;
      }
      if (answer.result === 'ignore') {
        m.nomatch++;
        continue;
      }
      if (answer.result === 'deny') {
        m.failed++;
        this.log.info(
          {
            provider: provider.id,
            clientid: client.clientId,
            username: client.username,
            peerhost: client.peerHost,
          },
          'authentication denied',
        );
        return { result: 'deny', reasonCode: answer.reasonCode ?? ReasonCode.BadUserNameOrPassword };
      }
      m.success++;
      if (answer.clientAttrs !== undefined)
        client.clientAttrs = { ...client.clientAttrs, ...answer.clientAttrs };
      if (answer.jwtClaims !== undefined) client.jwtClaims = answer.jwtClaims;
      if (answer.acl !== undefined) client.authnAcl = answer.acl;
      return { result: 'allow', isSuperuser: answer.isSuperuser };
    }
    this.log.info(
      { clientid: client.clientId, username: client.username, peerhost: client.peerHost },
      'authentication: no provider knows the client',
    );
    return NOT_AUTHORIZED;
  }

  /** The provider for an enhanced authentication method, if the chain has one. */
  providerFor(method: string): { provider: AuthProvider; metrics: ProviderMetrics } | undefined {
    const i = this.providers.findIndex((p) => p.methods?.includes(method) === true);
    return i < 0 ? undefined : { provider: this.providers[i]!, metrics: this.metrics[i]! };
  }

  /** One step of an enhanced authentication, or undefined when no provider speaks the method. */
  enhancedAuth(
    client: ClientInfo,
    step: EnhancedAuthStep,
  ): EnhancedAuthResult | Promise<EnhancedAuthResult> | undefined {
    const found = this.providerFor(step.method);
    if (found === undefined || found.provider.enhancedAuth === undefined) return undefined;
    const count = (r: EnhancedAuthResult): EnhancedAuthResult => {
      if (r.result === 'success') {
        found.metrics.total++;
        found.metrics.success++;
      } else if (r.result === 'failure') {
        found.metrics.total++;
        found.metrics.failed++;
        this.log.info(
          { provider: found.provider.id, clientid: client.clientId, peerhost: client.peerHost },
          'enhanced authentication failed',
        );
      }
      return r;
    };
    const r = found.provider.enhancedAuth(client, step);
    return r instanceof Promise ? r.then(count) : count(r);
  }
}
