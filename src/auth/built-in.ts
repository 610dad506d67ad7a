/**
 * The password-based built-in database provider (EMQX's `password_based` + `built_in_database`):
 * users in the UserStore (group `password_based:built_in_database`), each with a hash of their
 * password under the configured algorithm (password-hash.ts).
 *
 *   user id (username or client id, `user_id_type`) absent from the store   -> ignore
 *   no password in the CONNECT, or a wrong one                               -> deny (0x86)
 *   the right password                                                       -> allow (+ is_superuser)
 *
 * `bootstrap_file` users are added when the broker starts, those already in the store are kept
 * (a durable store's users, changed since through the CLI or API, win over the file). The file
 * is read and checked at once, so a bad file stops the start; hashing its passwords (bcrypt is
 * slow on purpose) goes on in the background and the provider waits for it before answering.
 *
 * `BuiltInUsers` is the administration of these users (add, update, delete, list) for the
 * `aviary users` command and the HTTP API.
 */

import { readFileSync } from 'node:fs';
import type { BuiltInDatabaseAuthnConfig, PasswordHashConfig } from '../config/authn-schema.js';
import { ConfigError } from '../errors.js';
import { PASSWORD_USERS, type StoredUser, type UserPage, type UserStore } from '../persistence/users.js';
import { type BootstrapUser, parseBootstrap } from './bootstrap.js';
import { checkPassword, generateSalt, hashPassword } from './password-hash.js';
import { type AuthAnswer, type AuthProvider, type Credentials, IGNORE } from './provider.js';

/** A user as the administration shows it (never the hash). */
export interface UserView {
  readonly userId: string;
  readonly isSuperuser: boolean;
}

/** The users of the password-based built-in database, hashed with one algorithm. */
export class BuiltInUsers {
  constructor(
    readonly store: UserStore,
    readonly algorithm: PasswordHashConfig,
  ) {}

  get(userId: string): UserView | undefined {
    const u = this.store.get(PASSWORD_USERS, userId);
    return u === undefined ? undefined : { userId: u.userId, isSuperuser: u.isSuperuser };
  }

  /** Stores a user with a fresh salt, replacing one with the same id. */
  async put(userId: string, password: Buffer | string, isSuperuser: boolean): Promise<void> {
    if (userId === '') throw new RangeError('a user id cannot be empty');
    const salt = generateSalt(this.algorithm);
    const passwordHash = await hashPassword(this.algorithm, password, salt);
    this.store.put(PASSWORD_USERS, { userId, passwordHash, salt, isSuperuser });
  }

  /** Changes a user's superuser flag; false if there is no such user. */
  setSuperuser(userId: string, isSuperuser: boolean): boolean {
    const u = this.store.get(PASSWORD_USERS, userId);
    if (u === undefined) return false;
    this.store.put(PASSWORD_USERS, { ...u, isSuperuser });
    return true;
  }

  delete(userId: string): boolean {
    return this.store.delete(PASSWORD_USERS, userId);
  }

  list(page: UserPage): UserView[] {
    return this.store
      .list(PASSWORD_USERS, page)
      .map((u) => ({ userId: u.userId, isSuperuser: u.isSuperuser }));
  }

  count(): number {
    return this.store.count(PASSWORD_USERS);
  }

  /** Verifies a password; undefined if the user does not exist. */
  async verify(userId: string, password: Buffer | null): Promise<StoredUser | false | undefined> {
    const user = this.store.get(PASSWORD_USERS, userId);
    if (user === undefined) return undefined;
    if (password === null) return false;
    return (await checkPassword(this.algorithm, user.passwordHash, user.salt, password)) ? user : false;
  }

  /**
   * Adds bootstrap users that are not in the store yet: plain ones hashed with a fresh salt,
   * hash ones as given. Returns how many were added.
   */
  async bootstrap(users: readonly BootstrapUser[], type: 'plain' | 'hash'): Promise<number> {
    let added = 0;
    for (const u of users) {
      if (this.store.get(PASSWORD_USERS, u.userId) !== undefined) continue;
      if (type === 'plain') await this.put(u.userId, u.password, u.isSuperuser);
      else {
        this.store.put(PASSWORD_USERS, {
          userId: u.userId,
          passwordHash: u.password,
          salt: u.salt,
          isSuperuser: u.isSuperuser,
        });
      }
      added++;
    }
    return added;
  }
}

/** Reads and checks a bootstrap file (a ConfigError names the key, file and line). */
export function readBootstrapFile(config: BuiltInDatabaseAuthnConfig, key: string): BootstrapUser[] {
  const file = config.bootstrap_file!;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`${key}.bootstrap_file: cannot read ${file}: ${(error as Error).message}`, key, {
      cause: error,
    });
  }
  return parseBootstrap(text, config.bootstrap_type, file);
}

export class BuiltInDatabaseProvider implements AuthProvider {
  readonly id = PASSWORD_USERS;
  readonly users: BuiltInUsers;
  /** Settles when the bootstrap users are in the store. */
  readonly ready: Promise<void>;

  constructor(
    private readonly config: BuiltInDatabaseAuthnConfig,
    store: UserStore,
    bootstrap: readonly BootstrapUser[],
    onBootstrapError: (error: unknown) => void,
  ) {
    this.users = new BuiltInUsers(store, config.password_hash_algorithm);
    this.ready =
      bootstrap.length === 0
        ? Promise.resolve()
        : this.users.bootstrap(bootstrap, config.bootstrap_type).then(() => undefined, onBootstrapError);
  }

  async authenticate({ client, password }: Credentials): Promise<AuthAnswer> {
    const userId = this.config.user_id_type === 'clientid' ? client.clientId : client.username;
    if (userId === null || userId === '') return IGNORE;
    await this.ready;
    const user = await this.users.verify(userId, password);
    if (user === undefined) return IGNORE;
    if (user === false) return { result: 'deny' };
    return { result: 'allow', isSuperuser: user.isSuperuser };
  }
}
