/**
 * Password hashing of the built-in database, compatible with EMQX's emqx_passwd, so users
 * exported from EMQX (password_hash, salt) verify here unchanged:
 *
 *   plain                      the password itself (with its salt prefixed or suffixed)
 *   md5 | sha | sha256 | sha512  lowercase hex of the digest of salt+password (prefix),
 *                              password+salt (suffix) or the password alone (disable)
 *   bcrypt                     the `$2b$<rounds>$<22 chars salt><31 chars hash>` string; the salt
 *                              column holds the `$2b$<rounds>$<22 chars>` prefix
 *   pbkdf2                     lowercase hex of PBKDF2-HMAC-<mac_fun>(password, salt, iterations,
 *                              dk_length or the digest's length)
 *
 * The salt is text and its UTF-8 bytes are hashed (EMQX hashes the salt column's bytes; the
 * salts it generates are 32 hex characters). Comparison is in constant time. bcrypt and pbkdf2
 * run off the event loop's critical path (bcryptjs yields between rounds; node's pbkdf2 runs in
 * the thread pool), so verifying a password never stalls other clients.
 */

import { createHash, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { PasswordHashConfig } from '../config/authn-schema.js';

/** Random bytes in a generated salt (EMQX: 128 bits, written as 32 hex characters). */
const SALT_BYTES = 16;

/** node:crypto's names for EMQX's digest names. */
const DIGEST: Record<string, string> = {
  md5: 'md5',
  sha: 'sha1',
  sha224: 'sha224',
  sha256: 'sha256',
  sha384: 'sha384',
  sha512: 'sha512',
};

/** How the digest of PBKDF2's HMAC is long, in bytes (its default dk_length). */
const DIGEST_BYTES: Record<string, number> = { sha: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

function toBuffer(password: Buffer | string): Buffer {
  return typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
}

/** A new salt for a user: 32 hex characters; bcrypt's own salt string; none for plain. */
export function generateSalt(alg: PasswordHashConfig): string {
  if (alg.name === 'plain') return '';
  if (alg.name === 'bcrypt') return bcrypt.genSaltSync(alg.salt_rounds);
  return randomBytes(SALT_BYTES).toString('hex');
}

/** The simple hashes (plain, md5, sha, sha256, sha512) of EMQX's hash/2. */
export function hashSimple(
  name: string,
  saltPosition: PasswordHashConfig['salt_position'],
  salt: string,
  password: Buffer | string,
): string {
  const pw = toBuffer(password);
  const s = Buffer.from(salt, 'utf8');
  const data =
    saltPosition === 'prefix'
      ? Buffer.concat([s, pw])
      : saltPosition === 'suffix'
        ? Buffer.concat([pw, s])
        : pw;
  if (name === 'plain') return data.toString('utf8');
  const digest = DIGEST[name];
  if (digest === undefined) throw new TypeError(`unknown hash algorithm ${name}`);
  return createHash(digest).update(data).digest('hex');
}

function pbkdf2Hex(alg: PasswordHashConfig, salt: string, password: Buffer | string): Promise<string> {
  const digest = DIGEST[alg.mac_fun]!;
  const length = alg.dk_length ?? DIGEST_BYTES[alg.mac_fun]!;
  return new Promise((resolve, reject) =>
    pbkdf2(toBuffer(password), Buffer.from(salt, 'utf8'), alg.iterations, length, digest, (error, key) =>
      error === null ? resolve(key.toString('hex')) : reject(error),
    ),
  );
}

/** bcrypt takes text; an MQTT password is bytes, read as UTF-8 (bcrypt uses the first 72 bytes). */
function bcryptText(password: Buffer | string): string {
  return typeof password === 'string' ? password : password.toString('utf8');
}

/** The stored form of `password` with `salt` (from generateSalt) under `alg`. */
export async function hashPassword(
  alg: PasswordHashConfig,
  password: Buffer | string,
  salt: string,
): Promise<string> {
  switch (alg.name) {
    case 'bcrypt':
      return bcrypt.hash(bcryptText(password), salt);
    case 'pbkdf2':
      return pbkdf2Hex(alg, salt, password);
    default:
      return hashSimple(alg.name, alg.salt_position, salt, password);
  }
}

/** Constant-time equality of two texts (false at once when the lengths differ, as EMQX). */
export function equalSecure(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Whether `password` matches the stored `hash` and `salt` under `alg` (EMQX's check_pass). A
 * bcrypt user without a salt column is checked against the hash's own salt.
 */
export async function checkPassword(
  alg: PasswordHashConfig,
  hash: string,
  salt: string,
  password: Buffer | string,
): Promise<boolean> {
  if (alg.name === 'bcrypt') {
    const text = bcryptText(password);
    if (salt === '') return bcrypt.compare(text, hash);
    let computed: string;
    try {
      computed = await bcrypt.hash(text, salt);
    } catch {
      return false; // a malformed salt column
    }
    return equalSecure(computed, hash);
  }
  return equalSecure(await hashPassword(alg, password, salt), hash);
}
