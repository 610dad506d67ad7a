/**
 * Aviary's error catalogue: every error a user can meet has a stable `code` (AVY_ERR_...) that
 * is listed in docs/errors.md. This module is a leaf: it imports nothing, so every layer may use
 * it. (Protocol violations are ProtocolError in src/protocol/errors.ts, which stays free of our
 * other modules.)
 */

export class AviaryError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The configuration is invalid: a key has a wrong value, is unknown, or a file cannot be read. */
export class ConfigError extends AviaryError {
  constructor(
    message: string,
    /** The dotted key path that is wrong, e.g. 'listeners.tcp.default.bind'; empty when global. */
    readonly key = '',
    options?: { cause?: unknown },
  ) {
    super('AVY_ERR_CONFIG', message, options);
  }
}

/** A listener could not start (port in use, permission denied, bad address). */
export class ListenError extends AviaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('AVY_ERR_LISTEN', message, options);
  }
}

/** A feature that is configured but not built yet. Says so instead of pretending. */
export class NotImplementedError extends AviaryError {
  constructor(message: string) {
    super('AVY_ERR_NOT_IMPLEMENTED', message);
  }
}

/** A banned-list entry that cannot be added: unknown `as`, bad address, range or pattern, bad `until`. */
export class InvalidBanError extends AviaryError {
  constructor(message: string) {
    super('AVY_ERR_INVALID_BAN', message);
  }
}

/**
 * The store could not keep or read what it was asked to: the database file is corrupt or not a
 * database, its directory cannot be created or written, the disk is full, or a batch of writes
 * failed and was rolled back. The message names the file (`path`) and says what to do.
 */
export class StoreError extends AviaryError {
  constructor(
    message: string,
    /** The file or directory concerned. */
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super('AVY_ERR_STORE', message, options);
  }
}
