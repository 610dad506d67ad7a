/**
 * Who may use the API, after EMQX's emqx_dashboard_admin / emqx_mgmt_auth:
 *
 *  - API keys, for scripts: `POST /api_key` makes a key and a secret (the secret is shown once);
 *    requests send them as HTTP Basic (`Authorization: Basic base64(key:secret)`). A key can be
 *    disabled or given an expiry. `api_key.bootstrap_file` lists `key:secret[:role]` lines that
 *    are (re)loaded at every start, so automation works from the first start.
 *  - Users, for people: `POST /login` with a username and password gives a Bearer token that
 *    expires after `dashboard.token_expired_time`; `POST /logout` revokes it. The user
 *    `dashboard.default_username` is created at start, if missing, with
 *    `dashboard.default_password`.
 *
 * Secrets at rest. Passwords are hashed with scrypt (Node's crypto, run on libuv's thread pool,
 * so a login never blocks message routing; people choose weak passwords, so the hash must be
 * slow). API secrets are 256 random bits, beyond any guessing, so a salted SHA-256 is enough and
 * keeps the check of every Basic-authenticated request to microseconds.
 *
 * Tokens are opaque random strings kept in memory with their user and expiry (not JWTs): logout
 * and a password change revoke them at once, and no signing key has to be managed. A restart
 * logs everyone out (tokens are for people; scripts use API keys, which are stored).
 */

import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AdminStore, AdminUser, ApiKeyRecord } from '../persistence/admin.js';
import { alreadyExists, badRequest, notFound } from './errors.js';

/** EMQX's roles. `viewer` may only read (GET); `publisher` (API keys) may only publish. */
export const Role = {
  Administrator: 'administrator',
  Viewer: 'viewer',
  Publisher: 'publisher',
} as const;
export type Role = (typeof Role)[keyof typeof Role];
const USER_ROLES: readonly string[] = [Role.Administrator, Role.Viewer];
const API_KEY_ROLES: readonly string[] = [Role.Administrator, Role.Viewer, Role.Publisher];

/** EMQX's limit on API keys. */
export const MAX_API_KEYS = 100;
/** EMQX's password rules: 8 to 64 characters of at least two kinds. */
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 64;

const SCRYPT_KEYLEN = 32;
const SALT_BYTES = 16;
const TOKEN_BYTES = 32;
const SECRET_BYTES = 32;
const API_KEY_BYTES = 8;
/** EMQX names bootstrapped keys `from_bootstrap_file_` + 16 hex digits of sha512(key). */
const BOOTSTRAP_PREFIX = 'from_bootstrap_file_';
const BOOTSTRAP_DESC = 'Bootstrapped From File';
const BOOTSTRAP_NAME_HEX = 16;
/** Expired tokens are forgotten this long after their expiry (until then: TOKEN_TIME_OUT). */
const EXPIRED_TOKEN_MEMORY_MS = 60 * 60 * 1000;

function scryptAsync(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, SCRYPT_KEYLEN, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(password, salt);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function sha256(salt: Buffer, secret: string): Buffer {
  return createHash('sha256').update(salt).update(secret, 'utf8').digest();
}

export function hashSecret(secret: string): string {
  const salt = randomBytes(SALT_BYTES);
  return `sha256$${salt.toString('base64')}$${sha256(salt, secret).toString('base64')}`;
}

export function verifySecret(secret: string, stored: string): boolean {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'sha256' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = sha256(Buffer.from(salt, 'base64'), secret);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Why a new password is refused (EMQX's rules), or null. */
export function passwordProblem(password: string): string | null {
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    return `The range of password length is ${PASSWORD_MIN}~${PASSWORD_MAX}`;
  }
  const kinds = [/[A-Za-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (kinds < 2) {
    return 'The password must contain at least two different kind of characters from groups of letters, numbers, and special characters';
  }
  return null;
}

/** What a credential check found. */
export type Verdict<T> = { ok: T } | { error: 'bad' | 'expired' | 'disabled' };

interface TokenEntry {
  readonly username: string;
  readonly role: string;
  readonly expiresAt: number;
}

/** A new API key as `POST /api_key` asks for it. */
export interface ApiKeyInput {
  name: string;
  enable?: boolean;
  /** ms since the epoch, or null for never. */
  expiredAt?: number | null;
  description?: string;
  role?: string;
}

export class AdminAuth {
  private readonly tokens = new Map<string, TokenEntry>();

  constructor(
    readonly store: AdminStore,
    private readonly tokenTtlMs: number,
  ) {}

  // ---- users --------------------------------------------------------------------------------

  /** Creates the default user if it does not exist (its password may be EMQX's "public"). */
  async ensureDefaultUser(username: string, password: string): Promise<void> {
    if (this.store.getUser(username) !== undefined) return;
    this.store.putUser({
      username,
      passwordHash: await hashPassword(password),
      role: Role.Administrator,
      description: 'administrator',
      createdAt: Date.now(),
    });
  }

  async addUser(username: string, password: string, role: string, description: string): Promise<AdminUser> {
    if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(username)) {
      throw badRequest('a username is 1 to 64 letters, digits or _ . @ -');
    }
    if (!USER_ROLES.includes(role)) throw badRequest(`role must be one of ${USER_ROLES.join(', ')}`);
    const problem = passwordProblem(password);
    if (problem !== null) throw badRequest(problem);
    if (this.store.getUser(username) !== undefined) throw alreadyExists(`user ${username} already exists`);
    const user: AdminUser = {
      username,
      passwordHash: await hashPassword(password),
      role,
      description,
      createdAt: Date.now(),
    };
    // Checked again: another request may have made it while the hash was computed.
    if (this.store.getUser(username) !== undefined) throw alreadyExists(`user ${username} already exists`);
    this.store.putUser(user);
    return user;
  }

  updateUser(username: string, changes: { role?: string; description?: string }): AdminUser {
    const user = this.store.getUser(username);
    if (user === undefined) throw notFound(`user ${username} not found`);
    if (changes.role !== undefined && !USER_ROLES.includes(changes.role)) {
      throw badRequest(`role must be one of ${USER_ROLES.join(', ')}`);
    }
    const updated = {
      ...user,
      role: changes.role ?? user.role,
      description: changes.description ?? user.description,
    };
    this.store.putUser(updated);
    this.revokeTokens(username); // a new role takes effect at the next login
    return updated;
  }

  deleteUser(username: string): void {
    if (!this.store.deleteUser(username)) throw notFound(`user ${username} not found`);
    this.revokeTokens(username);
  }

  /** Changes a password; `oldPassword` null: an administrator resets it (`aviary ctl admins passwd`). */
  async changePassword(username: string, oldPassword: string | null, newPassword: string): Promise<void> {
    const user = this.store.getUser(username);
    if (user === undefined) throw notFound(`user ${username} not found`);
    if (oldPassword !== null && !(await verifyPassword(oldPassword, user.passwordHash))) {
      throw badRequest('the old password is wrong');
    }
    const problem = passwordProblem(newPassword);
    if (problem !== null) throw badRequest(problem);
    this.store.putUser({ ...user, passwordHash: await hashPassword(newPassword) });
    this.revokeTokens(username);
  }

  // ---- tokens -------------------------------------------------------------------------------

  /** A token for a user whose password matches, or null. */
  async login(username: string, password: string): Promise<{ token: string; role: string } | null> {
    const user = this.store.getUser(username);
    // Hash anyway when the user is unknown, so the answer takes as long either way.
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (user === undefined || !ok) return null;
    this.forgetOldTokens();
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    this.tokens.set(token, { username, role: user.role, expiresAt: Date.now() + this.tokenTtlMs });
    return { token, role: user.role };
  }

  logout(token: string): boolean {
    return this.tokens.delete(token);
  }

  verifyToken(token: string, now = Date.now()): Verdict<{ username: string; role: string }> {
    const entry = this.tokens.get(token);
    if (entry === undefined) return { error: 'bad' };
    if (now >= entry.expiresAt) return { error: 'expired' };
    return { ok: { username: entry.username, role: entry.role } };
  }

  private revokeTokens(username: string): void {
    for (const [token, entry] of this.tokens) if (entry.username === username) this.tokens.delete(token);
  }

  private forgetOldTokens(now = Date.now()): void {
    for (const [token, entry] of this.tokens) {
      if (now - entry.expiresAt > EXPIRED_TOKEN_MEMORY_MS) this.tokens.delete(token);
    }
  }

  // ---- API keys -----------------------------------------------------------------------------

  createApiKey(input: ApiKeyInput): { record: ApiKeyRecord; secret: string } {
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(input.name)) {
      throw badRequest('name is 1 to 256 letters, digits, _ or -');
    }
    const role = input.role ?? Role.Administrator;
    if (!API_KEY_ROLES.includes(role)) throw badRequest(`role must be one of ${API_KEY_ROLES.join(', ')}`);
    if (this.store.getApiKey(input.name) !== undefined) {
      throw alreadyExists(`API key ${input.name} already exists`);
    }
    if (this.store.listApiKeys().length >= MAX_API_KEYS) {
      throw badRequest('Maximum number of ApiKeys reached.');
    }
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    let apiKey = randomBytes(API_KEY_BYTES).toString('hex');
    while (this.store.findApiKey(apiKey) !== undefined) apiKey = randomBytes(API_KEY_BYTES).toString('hex');
    const record: ApiKeyRecord = {
      name: input.name,
      apiKey,
      secretHash: hashSecret(secret),
      enable: input.enable ?? true,
      expiredAt: input.expiredAt ?? null,
      description: input.description ?? '',
      role,
      createdAt: Date.now(),
    };
    this.store.putApiKey(record);
    return { record, secret };
  }

  updateApiKey(
    name: string,
    changes: { enable?: boolean; expiredAt?: number | null; description?: string; role?: string },
  ): ApiKeyRecord {
    const record = this.store.getApiKey(name);
    if (record === undefined) throw notFound(`API key ${name} not found`);
    if (changes.role !== undefined && !API_KEY_ROLES.includes(changes.role)) {
      throw badRequest(`role must be one of ${API_KEY_ROLES.join(', ')}`);
    }
    const updated: ApiKeyRecord = {
      ...record,
      enable: changes.enable ?? record.enable,
      expiredAt: changes.expiredAt !== undefined ? changes.expiredAt : record.expiredAt,
      description: changes.description ?? record.description,
      role: changes.role ?? record.role,
    };
    this.store.putApiKey(updated);
    return updated;
  }

  deleteApiKey(name: string): void {
    if (!this.store.deleteApiKey(name)) throw notFound(`API key ${name} not found`);
  }

  verifyApiKey(apiKey: string, secret: string, now = Date.now()): Verdict<ApiKeyRecord> {
    const record = this.store.findApiKey(apiKey);
    if (record === undefined || !verifySecret(secret, record.secretHash)) return { error: 'bad' };
    if (!record.enable) return { error: 'disabled' };
    if (record.expiredAt !== null && now >= record.expiredAt) return { error: 'expired' };
    return { ok: record };
  }

  /**
   * Loads `key:secret[:role]` lines (EMQX 5's api_key.bootstrap_file). Blank lines are skipped;
   * a malformed line is an error naming the file and line. A key already stored under another
   * name is replaced: the file wins (EMQX-11844). Returns how many keys were loaded.
   */
  loadBootstrapFile(file: string): number {
    const text = readFileSync(file, 'utf8');
    let loaded = 0;
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      const parts = line.split(':');
      const [apiKey, secret, role = Role.Administrator] = parts;
      if (parts.length < 2 || parts.length > 3 || !apiKey || !secret) {
        throw new Error(`${file}:${i + 1}: expected key:secret or key:secret:role`);
      }
      if (!API_KEY_ROLES.includes(role)) {
        throw new Error(`${file}:${i + 1}: invalid role "${role}" (${API_KEY_ROLES.join(', ')})`);
      }
      const name =
        BOOTSTRAP_PREFIX + createHash('sha512').update(apiKey).digest('hex').slice(0, BOOTSTRAP_NAME_HEX);
      const clash = this.store.findApiKey(apiKey);
      if (clash !== undefined && clash.name !== name) this.store.deleteApiKey(clash.name);
      this.store.putApiKey({
        name,
        apiKey,
        secretHash: hashSecret(secret),
        enable: true,
        expiredAt: null,
        description: BOOTSTRAP_DESC,
        role,
        createdAt: Date.now(),
      });
      loaded++;
    }
    return loaded;
  }
}

/** A valid hash of a random password, compared against when the user does not exist. */
const DUMMY_HASH = `scrypt$${randomBytes(SALT_BYTES).toString('base64')}$${randomBytes(SCRYPT_KEYLEN).toString('base64')}`;
