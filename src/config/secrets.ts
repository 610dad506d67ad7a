/**
 * Secrets in the configuration: passwords, keys, JWT secrets, HTTP headers.
 *
 * Where they come from. A secret may be written in the configuration itself, or kept out of it:
 *  - `"file:///run/secrets/mqtt_password"`: EMQX 5's form. `resolveSecret` reads the file and
 *    trims surrounding white space (the newline an editor or `echo` leaves). The file is read when
 *    the module that uses the secret starts, so a missing file stops the broker with a
 *    ConfigError naming the key;
 *  - an environment variable, through HOCON substitution: `password = ${MQTT_PASSWORD}` (the
 *    HOCON reader resolves `${VAR}` from the environment; src/config/hocon), or an `AVIARY_*`
 *    override of the key itself.
 *
 * Where they must not go: logs. `SECRET_KEYS` are the field names treated as secret; the logger
 * (src/observability/logger.ts) censors them at any depth it can see, and `redactSecrets` makes a
 * censored copy of a value (for an API that shows the configuration).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';

/** The prefix of a secret kept in a file. */
export const SECRET_FILE_PREFIX = 'file://';

/** What a censored secret reads as. */
export const REDACTED = '******';

/**
 * Field names whose values are secret wherever they appear (EMQX's sensitive fields: passwords,
 * secrets, keys, tokens). HTTP headers are handled apart (SECRET_HEADERS): `authorization` is
 * also the name of a configuration section.
 */
export const SECRET_KEYS: readonly string[] = [
  'password',
  'passwd',
  'secret',
  'api_secret',
  'secret_key',
  'private_key',
  'keyfile_password',
  'token',
  'access_token',
  'refresh_token',
  'salt',
];

/** Header names whose values are secret inside a `headers` object. */
export const SECRET_HEADERS: readonly string[] = ['authorization', 'proxy-authorization', 'cookie'];
const SECRET_HEADER_SET = new Set(SECRET_HEADERS);

const SECRET_KEY_SET = new Set(SECRET_KEYS.map((k) => k.toLowerCase()));

/** Is this field name one whose value is a secret? */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY_SET.has(key.toLowerCase());
}

/**
 * The secret a configuration value stands for: the trimmed content of the file for
 * `file://<path>` (`file:///abs/path` or `file://relative/path`), the value itself otherwise.
 * `key` (the dotted key path) names the key in the error when the file cannot be read.
 */
export function resolveSecret(value: string, key: string): string;
export function resolveSecret(value: string | undefined, key: string): string | undefined;
export function resolveSecret(value: string | undefined, key: string): string | undefined {
  if (value === undefined || !value.startsWith(SECRET_FILE_PREFIX)) return value;
  const path = secretPath(value);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    // The path is not secret; the content is never shown.
    throw new ConfigError(`${key}: cannot read the secret file ${path} (${code})`, key, { cause: error });
  }
}

function secretPath(value: string): string {
  // file:///abs/path is a URL; file://relative/path (EMQX accepts it) is a path after the prefix.
  if (value.startsWith('file:///')) return fileURLToPath(value);
  return value.slice(SECRET_FILE_PREFIX.length);
}

/**
 * A deep copy of `value` with every secret field's value replaced by REDACTED (a `file://`
 * reference is kept: it names where the secret is, not the secret).
 */
export function redactSecrets<T>(value: T): T {
  return redact(value) as T;
}

function redact(value: unknown, inHeaders = false): unknown {
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const secret = isSecretKey(k) || (inHeaders && SECRET_HEADER_SET.has(k.toLowerCase()));
    if (secret && v !== undefined && v !== null && v !== '') {
      out[k] = typeof v === 'string' && v.startsWith(SECRET_FILE_PREFIX) ? v : REDACTED;
    } else {
      out[k] = redact(v, k === 'headers');
    }
  }
  return out;
}
