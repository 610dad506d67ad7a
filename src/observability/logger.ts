/**
 * Structured logging with pino: one JSON object per line, with `clientid`, `peer` and
 * `reason_code` fields where they apply, so logs can be searched by client.
 *
 * Levels follow EMQX's names (debug, info, notice, warning, error, critical, alert, emergency)
 * and map onto pino's (notice -> info, warning -> warn, critical/alert/emergency -> fatal).
 *
 * Secrets never reach the output: the fields named in src/config/secrets.ts (`password`,
 * `secret`, `token`, ... and `headers.authorization`) are censored up to six levels deep in
 * whatever is logged (`LOG_REDACT`, pino's redaction). A logger brought by the caller
 * (`createBroker({ logger })`) should use `LOG_REDACT` too.
 */

import { pino } from 'pino';
import { REDACTED, SECRET_HEADERS, SECRET_KEYS } from '../config/secrets.js';

/** How deep in a logged object secret fields are found (`a.b.c.password`: 3 levels above it). */
const REDACT_DEPTH = 6;

function redactPaths(): string[] {
  const paths: string[] = [];
  for (let depth = 0; depth < REDACT_DEPTH; depth++) {
    const prefix = '*.'.repeat(depth);
    for (const key of SECRET_KEYS) paths.push(`${prefix}${key}`);
    for (const header of SECRET_HEADERS) paths.push(`${prefix}headers["${header}"]`);
  }
  return paths;
}

/** pino's `redact` option that censors secrets: pass it to a logger given to createBroker. */
export const LOG_REDACT: pino.redactOptions = { paths: redactPaths(), censor: REDACTED };

export type Logger = pino.Logger;

export type LogLevel =
  | 'debug'
  | 'info'
  | 'notice'
  | 'warning'
  | 'warn'
  | 'error'
  | 'critical'
  | 'alert'
  | 'emergency';

const PINO_LEVEL: Record<LogLevel, pino.Level> = {
  debug: 'debug',
  info: 'info',
  notice: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  critical: 'fatal',
  alert: 'fatal',
  emergency: 'fatal',
};

export interface LoggerOptions {
  enable: boolean;
  level: LogLevel;
  /** A file to write to instead of standard output, or null. */
  file: string | null;
}

export function createLogger(options: LoggerOptions): Logger {
  if (!options.enable) return pino({ level: 'silent' });
  const destination =
    options.file === null ? pino.destination(1) : pino.destination({ dest: options.file, mkdir: true });
  return pino(
    {
      level: PINO_LEVEL[options.level],
      redact: LOG_REDACT,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** A logger that discards everything (tests, library users who bring none). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
