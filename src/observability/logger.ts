/**
 * Structured logging with pino: one JSON object per line, with `clientid`, `peer` and
 * `reason_code` fields where they apply, so logs can be searched by client.
 *
 * Levels follow EMQX's names (debug, info, notice, warning, error, critical, alert, emergency)
 * and map onto pino's (notice -> info, warning -> warn, critical/alert/emergency -> fatal).
 */

import { pino } from 'pino';

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
