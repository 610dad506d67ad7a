/**
 * Administration of the built-in database's users, behind the `aviary users` command (and
 * usable by the API): add, change the password, delete, list. Two targets share one interface:
 *
 *   StoreUserAdmin      the user store itself (BuiltInUsers): what a durable store needs; with
 *                       the memory store it only reaches a broker in the same process
 *   BootstrapFileAdmin  the provider's `bootstrap_file` (EMQX's CSV), rewritten in place: the
 *                       broker reads it at start, so a change takes effect at the next start.
 *                       With `bootstrap_type = hash` the file holds hashes made with the
 *                       provider's `password_hash_algorithm`; with `plain`, the passwords.
 *
 * `builtInAuthenticator(config)` finds the provider whose users are meant: the first
 * password-based built-in database of the global chain, else of a listener's chain.
 */

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { BuiltInDatabaseAuthnConfig, PasswordHashConfig } from '../config/authn-schema.js';
import { type AviaryConfig, listenersOf } from '../config/index.js';
import { AviaryError } from '../errors.js';
import { type BootstrapType, type BootstrapUser, formatBootstrap, parseBootstrap } from './bootstrap.js';
import type { BuiltInUsers, UserView } from './built-in.js';
import { generateSalt, hashPassword } from './password-hash.js';

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
}

/** The first password-based built-in database authenticator of the configuration. */
export function builtInAuthenticator(
  config: Pick<AviaryConfig, 'authentication' | 'listeners'>,
): BuiltInDatabaseAuthnConfig | undefined {
  const isBuiltIn = (a: { mechanism: string; backend?: string }): boolean =>
    a.mechanism === 'password_based' && a.backend === 'built_in_database';
  const found = config.authentication.find(isBuiltIn);
  if (found !== undefined) return found as BuiltInDatabaseAuthnConfig;
  for (const entry of listenersOf(config)) {
    const own = (entry.config as { authentication?: AviaryConfig['authentication'] }).authentication;
    const f = own?.find(isBuiltIn);
    if (f !== undefined) return f as BuiltInDatabaseAuthnConfig;
  }
  return undefined;
}

function checkUserId(userId: string): void {
  if (userId === '') throw new UserAdminError('a user id cannot be empty');
}

/** The users of a store (through BuiltInUsers). */
export class StoreUserAdmin implements UserAdmin {
  constructor(private readonly users: BuiltInUsers) {}

  async add(userId: string, password: string, isSuperuser: boolean): Promise<void> {
    checkUserId(userId);
    if (this.users.get(userId) !== undefined) throw new UserAdminError(`user ${userId} already exists`);
    await this.users.put(userId, password, isSuperuser);
  }

  async passwd(userId: string, password: string, isSuperuser?: boolean): Promise<void> {
    const user = this.users.get(userId);
    if (user === undefined) throw new UserAdminError(`no user ${userId}`);
    await this.users.put(userId, password, isSuperuser ?? user.isSuperuser);
  }

  async delete(userId: string): Promise<void> {
    if (!this.users.delete(userId)) throw new UserAdminError(`no user ${userId}`);
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
}

/** The users of a bootstrap CSV file (created when missing). */
export class BootstrapFileAdmin implements UserAdmin {
  constructor(
    readonly file: string,
    readonly type: BootstrapType,
    readonly algorithm: PasswordHashConfig,
  ) {}

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
}
