/**
 * Administration of the built-in database's users, behind the `aviary users` command (and
 * usable by the API): add, change the password, delete, list. Two targets share one interface:
 *
 *   StoreUserAdmin      the user store itself: the password-based users (BuiltInUsers) or the
 *                       SCRAM users (ScramUsers). `aviary users` opens the broker's durable store
 *                       (SQLite, `openUserAdmin` in src/main.ts) and commits after each change, so
 *                       a running broker sees it at the next CONNECT (its lookups read the
 *                       database; nothing is cached). With the memory store it only reaches a
 *                       broker in the same process.
 *   BootstrapFileAdmin  the provider's `bootstrap_file` (EMQX's CSV), rewritten in place: the
 *                       broker reads it at start, so a change takes effect at the next start.
 *                       With `bootstrap_type = hash` the file holds hashes made with the
 *                       provider's `password_hash_algorithm`; with `plain`, the passwords.
 *
 * `builtInAuthenticator(config)` finds the provider whose users are meant: the first
 * password-based built-in database of the global chain, else of a listener's or a zone's chain;
 * `scramAuthenticator(config)` the same for SCRAM. `userDirectory(config, options)` checks what the
 * configuration allows before a store is opened and returns how to reach the users in it.
 */

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type {
  AuthenticationConfig,
  BuiltInDatabaseAuthnConfig,
  PasswordHashConfig,
  ScramAuthnConfig,
} from '../config/authn-schema.js';
import { type AviaryConfig, listenersOf } from '../config/index.js';
import { AviaryError, ConfigError } from '../errors.js';
import type { UserPage, UserStore } from '../persistence/users.js';
import { type BootstrapType, type BootstrapUser, formatBootstrap, parseBootstrap } from './bootstrap.js';
import { BuiltInUsers, type UserView } from './built-in.js';
import { generateSalt, hashPassword } from './password-hash.js';
import { type ScramAlgorithm, ScramUsers } from './scram.js';

/** A user administration request that cannot be done (the user exists, is missing, ...). */
export class UserAdminError extends AviaryError {
  constructor(message: string) {
    super('AVY_ERR_USER_ADMIN', message);
  }
}

export interface UserAdmin {
  /** Adds a user; fails if the id is taken. */
  add(userId: string, password: string, isSuperuser: boolean): Promise<void>;
  /** Changes a user's password (and the superuser flag when given); fails if there is no such user. */
  passwd(userId: string, password: string, isSuperuser?: boolean): Promise<void>;
  /** Deletes a user; fails if there is no such user. */
  delete(userId: string): Promise<void>;
  list(): Promise<UserView[]>;
  /** Releases what the administration holds (a store it opened). */
  close(): void;
  /** Where the users are (a database or CSV file), for messages. */
  readonly location: string;
}

type ChainsConfig = Pick<AviaryConfig, 'authentication' | 'listeners'> & Partial<Pick<AviaryConfig, 'zones'>>;

/** The first authenticator `pick` accepts: global chain, then listeners' chains, then zones'. */
function firstAuthenticator<T>(
  config: ChainsConfig,
  pick: (a: AuthenticationConfig[number]) => T | undefined,
) {
  const chains: (AuthenticationConfig | undefined)[] = [config.authentication];
  for (const entry of listenersOf(config)) {
    chains.push((entry.config as { authentication?: AuthenticationConfig }).authentication);
  }
  for (const zone of Object.values(config.zones ?? {})) chains.push(zone.authentication);
  for (const chain of chains) {
    for (const a of chain ?? []) {
      const found = pick(a);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** The first password-based built-in database authenticator of the configuration. */
export function builtInAuthenticator(config: ChainsConfig): BuiltInDatabaseAuthnConfig | undefined {
  return firstAuthenticator(config, (a) =>
    a.mechanism === 'password_based' && a.backend === 'built_in_database' ? a : undefined,
  );
}

/** The first SCRAM authenticator of the configuration. */
export function scramAuthenticator(config: ChainsConfig): ScramAuthnConfig | undefined {
  return firstAuthenticator(config, (a) => (a.mechanism === 'scram' ? a : undefined));
}

/** SCRAM's default iteration count for users added without a configured SCRAM authenticator. */
const DEFAULT_SCRAM_ITERATIONS = 4096;

/** Which users `aviary users` administers in a store. */
export interface UserDirectoryOptions {
  /**
   * The SCRAM users instead of the password-based ones: `true` for the configured SCRAM
   * authenticator's algorithm (sha256 when there is none), or the algorithm.
   */
  readonly scram?: boolean | string;
}

/** A set of users in a store: BuiltInUsers or ScramUsers. */
export interface UserDirectory {
  get(userId: string): UserView | undefined;
  put(userId: string, password: string, isSuperuser: boolean): Promise<void> | void;
  delete(userId: string): boolean;
  list(page: UserPage): UserView[];
}

/**
 * Checks the configuration for the users meant (before any store is opened) and returns how to
 * reach them in a store. Throws a ConfigError that says what is missing.
 */
export function userDirectory(
  config: ChainsConfig,
  options: UserDirectoryOptions = {},
): (store: UserStore) => UserDirectory {
  if (options.scram !== undefined && options.scram !== false) {
    const configured = scramAuthenticator(config);
    const wanted = options.scram === true ? (configured?.algorithm ?? 'sha256') : options.scram;
    if (wanted !== 'sha256' && wanted !== 'sha512') {
      throw new ConfigError(
        `--scram takes sha256 or sha512, got ${wanted} (give the user id before --scram)`,
      );
    }
    if (configured !== undefined && configured.algorithm !== wanted) {
      throw new ConfigError(
        `the configured scram authenticator uses ${configured.algorithm}: users stored for ${wanted} could not log in`,
      );
    }
    const iterations = configured?.iteration_count ?? DEFAULT_SCRAM_ITERATIONS;
    return (store) => new ScramUsers(store, wanted as ScramAlgorithm, iterations);
  }
  const authn = builtInAuthenticator(config);
  if (authn === undefined) {
    throw new ConfigError(
      'no password_based / built_in_database authenticator in the configuration (authentication = [...]); ' +
        'give --file users.csv to edit a bootstrap file anyway, or --scram for SCRAM users',
    );
  }
  return (store) => new BuiltInUsers(store, authn.password_hash_algorithm);
}

function checkUserId(userId: string): void {
  if (userId === '') throw new UserAdminError('a user id cannot be empty');
}

/** What a StoreUserAdmin does after a change, and when it is closed (a store it opened). */
export interface StoreHandle {
  /** Makes the change durable (a SQLite commit); throws if it cannot. */
  commit(): void;
  close(): void;
  /** The database file. */
  readonly location: string;
}

/** The users of a store (BuiltInUsers or ScramUsers). */
export class StoreUserAdmin implements UserAdmin {
  constructor(
    private readonly users: UserDirectory,
    /** Given when the administration opened the store itself (the CLI); not for a running broker's. */
    private readonly handle: StoreHandle | null = null,
  ) {}

  async add(userId: string, password: string, isSuperuser: boolean): Promise<void> {
    checkUserId(userId);
    if (this.users.get(userId) !== undefined) throw new UserAdminError(`user ${userId} already exists`);
    await this.users.put(userId, password, isSuperuser);
    this.handle?.commit();
  }

  async passwd(userId: string, password: string, isSuperuser?: boolean): Promise<void> {
    const user = this.users.get(userId);
    if (user === undefined) throw new UserAdminError(`no user ${userId}`);
    await this.users.put(userId, password, isSuperuser ?? user.isSuperuser);
    this.handle?.commit();
  }

  async delete(userId: string): Promise<void> {
    const deleted = this.users.delete(userId);
    this.handle?.commit();
    if (!deleted) throw new UserAdminError(`no user ${userId}`);
  }

  get location(): string {
    return this.handle === null ? 'the user store' : resolve(this.handle.location);
  }

  async list(): Promise<UserView[]> {
    const out: UserView[] = [];
    const PAGE = 1000;
    for (let page = this.users.list({ limit: PAGE }); page.length > 0; ) {
      out.push(...page);
      page = page.length < PAGE ? [] : this.users.list({ after: page.at(-1)!.userId, limit: PAGE });
    }
    return out;
  }

  close(): void {
    this.handle?.close();
  }
}

/** The users of a bootstrap CSV file (created when missing). */
export class BootstrapFileAdmin implements UserAdmin {
  constructor(
    readonly file: string,
    readonly type: BootstrapType,
    readonly algorithm: PasswordHashConfig,
  ) {}

  get location(): string {
    return resolve(this.file);
  }

  private read(): BootstrapUser[] {
    if (!existsSync(this.file)) return [];
    return parseBootstrap(readFileSync(this.file, 'utf8'), this.type, this.file);
  }

  /** Writes atomically (a temporary file renamed over the old one), readable by the owner only. */
  private write(users: BootstrapUser[]): void {
    const tmp = `${this.file}.tmp-${process.pid}`;
    writeFileSync(tmp, formatBootstrap(users, this.type), { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  private async entry(userId: string, password: string, isSuperuser: boolean): Promise<BootstrapUser> {
    if (this.type === 'plain') return { userId, password, salt: '', isSuperuser };
    const salt = generateSalt(this.algorithm);
    return { userId, password: await hashPassword(this.algorithm, password, salt), salt, isSuperuser };
  }

  async add(userId: string, password: string, isSuperuser: boolean): Promise<void> {
    checkUserId(userId);
    const users = this.read();
    if (users.some((u) => u.userId === userId)) throw new UserAdminError(`user ${userId} already exists`);
    users.push(await this.entry(userId, password, isSuperuser));
    this.write(users);
  }

  async passwd(userId: string, password: string, isSuperuser?: boolean): Promise<void> {
    const users = this.read();
    const i = users.findIndex((u) => u.userId === userId);
    if (i < 0) throw new UserAdminError(`no user ${userId}`);
    users[i] = await this.entry(userId, password, isSuperuser ?? users[i]!.isSuperuser);
    this.write(users);
  }

  async delete(userId: string): Promise<void> {
    const users = this.read();
    const rest = users.filter((u) => u.userId !== userId);
    if (rest.length === users.length) throw new UserAdminError(`no user ${userId}`);
    this.write(rest);
  }

  async list(): Promise<UserView[]> {
    return this.read().map((u) => ({ userId: u.userId, isSuperuser: u.isSuperuser }));
  }

  close(): void {}
}
