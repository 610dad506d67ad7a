/**
 * Authorization (ACL), EMQX 5's `authorization { ... }`: docs/authorization.md.
 *
 *   installAuthorization(broker, config, { store, log })   one call in main.ts
 *
 * builds the configured sources (file, built_in_database, http) behind the implicit client_info
 * source (ACLs from authentication), hooks the check into `client.authorize`, and sets the
 * broker's `deny_action`. With no enabled source, `no_match = allow` and no authenticator that
 * can hand out ACLs (jwt, http), nothing is hooked: a broker without an ACL pays nothing for it.
 */

import type { Broker } from '../broker/broker.js';
import type { AuthorizationConfig, AuthzSourceConfig } from '../config/authz-schema.js';
import type { Logger } from '../observability/logger.js';
import type { AclStore } from '../persistence/acl.js';
import { Authorization } from './authz.js';
import { BuiltInSource } from './sources/built-in.js';
import { ClientInfoSource } from './sources/client-info.js';
import { FileSource } from './sources/file.js';
import { HttpSource } from './sources/http.js';
import type { AuthzSource } from './sources/source.js';

export { EMQX_DEFAULT_ACL, compileAcl } from './acl-file.js';
export { Authorization, AUTHZ_HOOK_PRIORITY, delayedTarget } from './authz.js';
export { AclParseError } from './errors.js';
export type { AuthzSource, SourceAnswer } from './sources/source.js';

export interface AuthorizationDeps {
  /** The built-in database source's rules (chosen by main.ts). */
  store: AclStore;
  log: Logger;
}

/** The parts of the configuration authorization reads. */
export interface AuthorizationInput {
  authorization: AuthorizationConfig;
  /** Authenticators that may give a client ACL rules (jwt, http) bring in the client_info source. */
  authentication?: readonly {
    readonly mechanism: string;
    readonly backend?: string;
    readonly enable?: boolean;
  }[];
}

/** Authenticators whose answers may carry ACL rules (EMQX: JWT `acl` claim, HTTP `acl` field). */
function givesAcls(a: { mechanism: string; backend?: string; enable?: boolean }): boolean {
  return a.enable !== false && (a.mechanism === 'jwt' || a.backend === 'http');
}

/**
 * Builds authorization from the configuration and installs it (unless there is nothing to
 * check). Throws AclParseError for an unreadable or invalid ACL file.
 */
export function installAuthorization(
  broker: Broker,
  config: AuthorizationInput,
  deps: AuthorizationDeps,
): Authorization {
  const a = config.authorization;
  const configured = a.sources.filter((s) => s.enable).map((s) => buildSource(s, deps));
  const clientInfo = (config.authentication ?? []).some(givesAcls);
  const sources: AuthzSource[] = clientInfo ? [new ClientInfoSource(), ...configured] : configured;
  const authz = new Authorization(broker, {
    noMatch: a.no_match,
    cache: {
      enable: a.cache.enable,
      maxSize: a.cache.max_size,
      ttl: a.cache.ttl,
      excludes: a.cache.excludes,
    },
    sources,
    onSourceError: (source, error) => deps.log.error({ source, err: error }, 'authorization source failed'),
  });
  broker.denyAction = a.deny_action;
  if (sources.length > 0 || a.no_match === 'deny') authz.install();
  return authz;
}

/** Whether an ACL is in force (then `$SYS` subscriptions are the ACL's to decide). */
export function authorizationActive(a: AuthorizationConfig): boolean {
  return a.sources.some((s) => s.enable) || a.no_match === 'deny';
}

function buildSource(s: AuthzSourceConfig, deps: AuthorizationDeps): AuthzSource {
  switch (s.type) {
    case 'file':
      return new FileSource({
        path: s.path,
        rules: s.rules,
        onWarning: (message) => deps.log.warn({ source: 'file' }, message),
      });
    case 'built_in_database':
      return new BuiltInSource(deps.store, s.max_rules);
    case 'http':
      return new HttpSource(s, (info) =>
        deps.log.warn({ source: 'http', ...info }, 'authorization request failed'),
      );
  }
}
