/**
 * Authentication: the `authentication` chains of the configuration, built into providers and
 * hooked into the broker (docs/authentication.md).
 *
 *   installAuthentication(broker, config, { log, users })   one call in main.ts
 *
 * Which chain a client meets: its listener's own (`listeners.<type>.<name>.authentication`) if
 * that key is set, even to `[]` (anonymous on that listener); otherwise the global
 * `authentication`. A chain with no enabled provider lets clients in anonymously, EMQX's
 * default; the broker then pays nothing for authentication (no hook is added when every chain is
 * empty).
 *
 * Hooks: `client.authenticate` runs the client's chain for a CONNECT (async: a bcrypt check, an
 * HTTP call); `client.enhanced_auth` hands a 5.0 Authentication Method (SCRAM-SHA-256/512) to the
 * chain's provider for it; a method no provider speaks gets CONNACK 0x8C bad authentication
 * method.
 */

import type { Broker } from '../broker/broker.js';
import type { ClientInfo } from '../broker/types.js';
import type { HookCallback } from '../broker/hooks.js';
import type { AuthenticationConfig, AuthenticatorConfig } from '../config/authn-schema.js';
import { type AviaryConfig, listenersOf } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import type { UserStore } from '../persistence/users.js';
import { BuiltInDatabaseProvider, type BuiltInUsers, readBootstrapFile } from './built-in.js';
import { AuthChain } from './chain.js';
import { CertProvider } from './cert.js';
import { ClientRulesProvider } from './client-rules.js';
import { HttpProvider } from './http.js';
import { JwtProvider } from './jwt.js';
import type { AuthProvider } from './provider.js';
import { ScramProvider, type ScramUsers } from './scram.js';

export { AuthChain } from './chain.js';
export { BuiltInUsers, type UserView } from './built-in.js';
export { ScramUsers, SCRAM_METHOD, scramKeys } from './scram.js';
export type { AuthAnswer, AuthProvider, Credentials, ProviderMetrics } from './provider.js';

/** Priority of the chain's callbacks: plugins that must run before it use a higher one. */
export const AUTHN_HOOK_PRIORITY = 0;

export interface AuthenticationOptions {
  readonly log: Logger;
  /** The built-in database's store (main.ts chooses the backend). */
  readonly users: UserStore;
}

/** The installed chains. */
export class Authentication {
  /** Settles when every bootstrap file's users are in the store. */
  readonly ready: Promise<void>;

  constructor(
    readonly global: AuthChain,
    /** Chains of the listeners that configure their own, by listener id ('tcp:default'). */
    readonly listeners: ReadonlyMap<string, AuthChain>,
    /** Chains of the zones that configure their own, by zone name. */
    readonly zones: ReadonlyMap<string, AuthChain>,
    ready: Promise<void>,
    private readonly hooks: { remove(): void },
  ) {
    this.ready = ready;
  }

  /** The chain a client of this listener (in this zone) meets. */
  chainFor(listener: string, zone = ''): AuthChain {
    return this.listeners.get(listener) ?? this.zones.get(zone) ?? this.global;
  }

  private *chains(): Iterable<AuthChain> {
    yield this.global;
    yield* this.listeners.values();
    yield* this.zones.values();
  }

  private first<P>(pick: (p: AuthProvider) => P | undefined): P | undefined {
    for (const chain of this.chains()) {
      for (const p of chain.providers) {
        const found = pick(p);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  /** The password-based built-in database users (of the first such provider), for the API. */
  get builtInUsers(): BuiltInUsers | undefined {
    return this.first((p) => (p instanceof BuiltInDatabaseProvider ? p.users : undefined));
  }

  /** The SCRAM users (of the first SCRAM provider), for the API. */
  get scramUsers(): ScramUsers | undefined {
    return this.first((p) => (p instanceof ScramProvider ? p.users : undefined));
  }

  /** Removes the hooks and closes the providers' pools and timers. */
  async close(): Promise<void> {
    this.hooks.remove();
    const closing: Promise<void>[] = [];
    for (const chain of this.chains())
      for (const p of chain.providers) closing.push(Promise.resolve(p.close?.()));
    await Promise.allSettled(closing);
  }
}

/** Builds one provider (reading its bootstrap file or public key now: errors stop the start). */
function buildProvider(
  a: AuthenticatorConfig,
  key: string,
  options: AuthenticationOptions,
  pending: Promise<void>[],
): AuthProvider {
  const log = options.log;
  switch (a.mechanism) {
    case 'password_based':
      if (a.backend === 'http') {
        return new HttpProvider(a, (info) =>
          log.warn({ provider: 'password_based:http', ...info }, 'HTTP authentication request failed'),
        );
      } else {
        const bootstrap = a.bootstrap_file === undefined ? [] : readBootstrapFile(a, key);
        const provider = new BuiltInDatabaseProvider(a, options.users, bootstrap, (error) =>
          log.error({ err: error, file: a.bootstrap_file }, 'loading the bootstrap users failed'),
        );
        pending.push(provider.ready);
        return provider;
      }
    case 'jwt':
      return new JwtProvider(a, key);
    case 'scram':
      return new ScramProvider(a, options.users);
    case 'cert':
      return new CertProvider(a);
    case 'client_rules':
      return new ClientRulesProvider(a);
  }
}

function buildChain(
  key: string,
  config: AuthenticationConfig,
  options: AuthenticationOptions,
  pending: Promise<void>[],
): AuthChain {
  const providers: AuthProvider[] = [];
  config.forEach((a, i) => {
    if (a.enable) providers.push(buildProvider(a, `${key}.${i + 1}`, options, pending));
  });
  return new AuthChain(key, providers, options.log);
}

/** Builds the chains of `config` and hooks them into the broker. */
export function installAuthentication(
  broker: Broker,
  config: Pick<AviaryConfig, 'authentication' | 'listeners'> & Partial<Pick<AviaryConfig, 'zones'>>,
  options: AuthenticationOptions,
): Authentication {
  const pending: Promise<void>[] = [];
  const global = buildChain('authentication', config.authentication, options, pending);
  const listeners = new Map<string, AuthChain>();
  for (const entry of listenersOf(config)) {
    const own = (entry.config as { authentication?: AuthenticationConfig }).authentication;
    if (own !== undefined) {
      const key = `listeners.${entry.type}.${entry.name}.authentication`;
      listeners.set(entry.id, buildChain(key, own, options, pending));
    }
  }
  // A zone's chain serves its listeners that have none of their own.
  const zones = new Map<string, AuthChain>();
  for (const [name, zone] of Object.entries(config.zones ?? {})) {
    if (zone.authentication !== undefined) {
      zones.set(name, buildChain(`zones.${name}.authentication`, zone.authentication, options, pending));
    }
  }
  const chainFor = (client: ClientInfo): AuthChain =>
    listeners.get(client.listener) ?? zones.get(client.zone) ?? global;
  const all = [global, ...listeners.values(), ...zones.values()];

  const authenticate: HookCallback<'client.authenticate'> = (_acc, client, password) => {
    const chain = chainFor(client);
    if (chain.empty) return undefined; // anonymous on this listener
    return chain.authenticate({ client, password }).then((result) => ({ stop: result }));
  };
  const enhanced: HookCallback<'client.enhanced_auth'> = (_acc, client, step) => {
    const r = chainFor(client).enhancedAuth(client, step);
    if (r === undefined) return undefined;
    return r instanceof Promise ? r.then((v) => ({ stop: v })) : { stop: r };
  };
  const hasPasswordChain = all.some((c) => !c.empty);
  const hasMethods = all.some((c) => c.providers.some((p) => p.methods !== undefined));
  if (hasPasswordChain) broker.hooks.add('client.authenticate', authenticate, AUTHN_HOOK_PRIORITY);
  if (hasMethods) broker.hooks.add('client.enhanced_auth', enhanced, AUTHN_HOOK_PRIORITY);

  const ready = Promise.all(pending).then(() => undefined);
  return new Authentication(global, listeners, zones, ready, {
    remove() {
      broker.hooks.remove('client.authenticate', authenticate);
      broker.hooks.remove('client.enhanced_auth', enhanced);
    },
  });
}
export {
  BootstrapFileAdmin,
  builtInAuthenticator,
  scramAuthenticator,
  type StoreHandle,
  StoreUserAdmin,
  type UserAdmin,
  UserAdminError,
  type UserDirectory,
  type UserDirectoryOptions,
  userDirectory,
} from './users-admin.js';
