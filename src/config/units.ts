/**
 * Parsers for the value formats EMQX's configuration uses, normalised for code:
 *
 *  - durations  "500ms", "15s", "1m", "2h", "1d", "1w", combinations such as "1h30m", a bare
 *               number or digit string (milliseconds) and, where the key allows it,
 *               "infinity"/"disabled"                                   -> milliseconds (number)
 *  - byte sizes "1024", "512B", "64KB", "1MB", "1GB" (units are 1024-based, as in EMQX)
 *                                                                       -> bytes (number)
 *  - bind       1883, "1883", "0.0.0.0:1883", "[::]:1883", "localhost:1883"
 *                                                                       -> { host, port }
 *
 * Every parser is total: it returns `undefined` for input it does not accept and never throws,
 * so the schema can word the error ("expected a duration like "15s", got ...").
 */
import { isIP } from 'node:net';

/** Milliseconds per duration unit. */
export const MS_PER_UNIT = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const;

/** Bytes per size unit (1024-based, like EMQX's `bytesize`). */
export const BYTES_PER_UNIT = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
} as const;

/** The host a bind address without one listens on (all IPv4 interfaces, as EMQX). */
export const DEFAULT_BIND_HOST = '0.0.0.0';
/** The largest TCP port. Port 0 asks the OS for an ephemeral port. */
export const MAX_PORT = 65_535;

/** Words that mean "no limit"/"never" for keys that allow it. */
export const UNLIMITED_WORDS: readonly string[] = ['infinity', 'disabled'];

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
const DIGITS = /^\d+$/;
const BYTE_SIZE = /^(\d+)\s*(b|kb|mb|gb)?$/;

/** Options for `parseDuration`. */
export interface DurationOptions {
  /** Accept "infinity" (and "disabled") and the number `Infinity`, returning `Infinity`. */
  readonly unlimited?: boolean;
}

/** Parses a duration to milliseconds; `undefined` when the input is not a duration. */
export function parseDuration(input: unknown, options: DurationOptions = {}): number | undefined {
  if (typeof input === 'number') {
    if (input === Number.POSITIVE_INFINITY) return options.unlimited ? input : undefined;
    return Number.isInteger(input) && input >= 0 ? input : undefined;
  }
  if (typeof input !== 'string') return undefined;
  const text = input.trim().toLowerCase();
  if (options.unlimited && UNLIMITED_WORDS.includes(text)) return Number.POSITIVE_INFINITY;
  if (DIGITS.test(text)) return Number(text);
  if (text === '') return undefined;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const match = DURATION_PART.exec(text);
    if (match === null) return undefined;
    const unit = match[2] as keyof typeof MS_PER_UNIT;
    total += Number(match[1]) * MS_PER_UNIT[unit];
  }
  // "0.5ms" is not a whole millisecond; timers cannot honour it, so refuse it.
  return Number.isInteger(total) ? total : undefined;
}

/** Parses a byte size to bytes; `undefined` when the input is not a size. */
export function parseByteSize(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  if (typeof input !== 'string') return undefined;
  const match = BYTE_SIZE.exec(input.trim().toLowerCase());
  if (match === null) return undefined;
  const unit = (match[2] ?? 'b') as keyof typeof BYTES_PER_UNIT;
  const bytes = Number(match[1]) * BYTES_PER_UNIT[unit];
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A listener's address after parsing. `host` is bare (no brackets, even for IPv6). */
export interface BindAddress {
  readonly host: string;
  readonly port: number;
}

// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const HOST_PORT = /^([^:[\]\s]+):(\d+)$/;
const IPV6_PORT = /^\[([^\]]+)\]:(\d+)$/;

function parsePort(input: unknown): number | undefined {
  if (typeof input === 'string' && DIGITS.test(input)) input = Number(input);
  return typeof input === 'number' && Number.isInteger(input) && input >= 0 && input <= MAX_PORT
    ? input
    : undefined;
}

function isHost(host: string): boolean {
  return isIP(host) !== 0 || HOSTNAME.test(host);
}

/** Parses a bind address; a bare port listens on `defaultHost`. `undefined` when invalid. */
export function parseBind(input: unknown, defaultHost = DEFAULT_BIND_HOST): BindAddress | undefined {
  if (typeof input === 'number') {
    const port = parsePort(input);
    return port === undefined ? undefined : { host: defaultHost, port };
  }
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    // The parsed form itself, so that a parsed configuration can be parsed again.
    const { host, port, ...rest } = input as { host?: unknown; port?: unknown };
    const parsedPort = parsePort(port);
    if (Object.keys(rest).length > 0 || typeof host !== 'string' || parsedPort === undefined)
      return undefined;
    return isHost(host) ? { host, port: parsedPort } : undefined;
  }
  if (typeof input !== 'string') return undefined;
  const text = input.trim();
  if (DIGITS.test(text)) return parseBind(Number(text), defaultHost);
  const v6 = IPV6_PORT.exec(text);
  if (v6 !== null) {
    const host = v6[1] ?? '';
    const port = parsePort(v6[2]);
    return isIP(host) === 6 && port !== undefined ? { host, port } : undefined;
  }
  const v4 = HOST_PORT.exec(text);
  if (v4 === null) return undefined;
  const host = v4[1] ?? '';
  const port = parsePort(v4[2]);
  return isHost(host) && port !== undefined ? { host, port } : undefined;
}

/** Formats a bind address back to EMQX's string form ("0.0.0.0:1883", "[::1]:1883"). */
export function formatBind(bind: BindAddress): string {
  return isIP(bind.host) === 6 ? `[${bind.host}]:${bind.port}` : `${bind.host}:${bind.port}`;
}
