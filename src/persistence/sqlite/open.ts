/**
 * Opening the SQLite store: `openSqliteStorage({ dir, file, synchronous })` creates the data
 * directory if needed, opens `<dir>/<file>`, checks it, sets it up and migrates it.
 *
 * Order, so that a file that is not ours or is damaged is never written to:
 *   1. mkdir -p the directory
 *   2. open the file; `PRAGMA quick_check` (reads every page: a damaged or non-database file
 *      fails here, before anything is written)
 *   3. read the schema version: refuse a database of another program or of a newer Aviary
 *   4. pragmas: journal_mode=WAL (readers never block the writer, a commit is one append to the
 *      -wal file), synchronous, foreign_keys off, busy_timeout
 *   5. migrations (schema.ts), in one transaction
 *
 * synchronous. `normal` (the default): a commit is in the operating system once COMMIT returns,
 * so it survives the process dying (kill -9, a crash); the WAL is fsync'd at checkpoints only, so
 * a power loss or kernel crash can lose the last commits (never corrupt the file). `full`: every
 * commit is fsync'd and also survives a power loss, at the cost of one fsync per batch.
 *
 * Every failure is a StoreError whose message names the file or directory, the cause, and what
 * to do (docs/durability.md, "Errors at start").
 */

import { mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from '../../errors.js';
import { migrate, readSchemaState, SCHEMA_VERSION } from './schema.js';
import { describeError, SqliteStorage } from './storage.js';

export interface SqliteStorageOptions {
  /** The data directory (`node.data_dir`); created if missing. */
  readonly dir: string;
  /** The database file's name in it. Default 'aviary.db'. */
  readonly file?: string;
  /** 'normal' (default): survives a process crash; 'full': also a power loss (one fsync per batch). */
  readonly synchronous?: 'normal' | 'full';
  /** How long a statement waits for a lock held by another connection (a backup). Default 5000 ms. */
  readonly busyTimeoutMs?: number;
}

const DEFAULT_FILE = 'aviary.db';
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/** Page cache per connection: negative means KiB (here 16 MiB). */
const CACHE_SIZE_KIB = -16384;
/** The -wal file is truncated to at most this after a checkpoint (64 MiB). */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** What went wrong, from a SQLite or file-system error code. */
type Cause = 'corrupt' | 'full' | 'access' | 'other';

function causeOf(error: unknown): Cause {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return 'corrupt';
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return 'full';
  if (
    code === 'SQLITE_CANTOPEN' ||
    code.startsWith('SQLITE_READONLY') ||
    code === 'SQLITE_PERM' ||
    code === 'SQLITE_AUTH' ||
    ['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'ENOENT'].includes(code)
  ) {
    return 'access';
  }
  return 'other';
}

const UNCHANGED = 'the file was not changed';

function corruptMessage(file: string, detail: string): string {
  return (
    `${file} is damaged or is not a database (${detail}). Move it aside to start with an empty store ` +
    `(mv ${file} ${file}.broken, and its -wal and -shm files if any), or restore a backup ` +
    `(docs/durability.md, "Backup"); ${UNCHANGED}`
  );
}

/** The StoreError for a failure at open. */
function openError(path: string, error: unknown): StoreError {
  const detail = describeError(error);
  switch (causeOf(error)) {
    case 'corrupt':
      return new StoreError(corruptMessage(path, detail), path, { cause: error });
    case 'full':
      return new StoreError(
        `no space left for ${path} (${detail}): free space on the device or set node.data_dir to a ` +
          `directory on another one, and start again; nothing stored was lost`,
        path,
        { cause: error },
      );
    case 'access':
      return new StoreError(
        `cannot create or write ${path} (${detail}): check that the directory exists or can be created ` +
          `and that the user running Aviary may write it, or set node.data_dir to another directory`,
        path,
        { cause: error },
      );
    default:
      return new StoreError(`cannot open the store ${path}: ${detail}`, path, { cause: error });
  }
}

/** Opens (creating if needed) the SQLite store. Throws a StoreError that says what to do. */
export function openSqliteStorage(options: SqliteStorageOptions): SqliteStorage {
  const {
    dir,
    file = DEFAULT_FILE,
    synchronous = 'normal',
    busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS,
  } = options;
  try {
    makeDirectory(resolve(dir));
  } catch (error) {
    throw openError(dir, error);
  }
  const path = join(dir, file);
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: busyTimeoutMs });
  } catch (error) {
    throw openError(path, error);
  }
  try {
    check(db, path);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = OFF');
    // After a checkpoint the -wal file is cut back to this size: one large batch (a burst to an
    // offline session) would otherwise leave it at its peak until a clean stop.
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    db.pragma(`cache_size = ${CACHE_SIZE_KIB}`);
    db.pragma('temp_store = MEMORY');
    const state = readSchemaState(db);
    migrate(db, state.kind === 'aviary' ? state.version : 0);
    return new SqliteStorage(db, path);
  } catch (error) {
    db.close();
    throw error instanceof StoreError ? error : openError(path, error);
  }
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdir reports ENOENT where the cause is EROFS
 * or EACCES, and the user needs the real cause.
 */
function makeDirectory(dir: string): void {
  try {
    if (statSync(dir).isDirectory()) return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const parent = dirname(dir);
    if (parent !== dir) makeDirectory(parent);
  }
  mkdirSync(dir); // throws EEXIST if it is a file, ENOTDIR under a file, EROFS, EACCES, ENOSPC
}

/** Refuses a damaged file, another program's database, or a newer Aviary's; writes nothing. */
function check(db: Database.Database, path: string): void {
  const problems = db.pragma('quick_check', { simple: false }) as { quick_check: string }[];
  const first = problems[0]?.quick_check ?? 'ok';
  if (problems.length !== 1 || first !== 'ok') {
    throw new StoreError(corruptMessage(path, `quick_check: ${first}`), path);
  }
  const state = readSchemaState(db);
  if (state.kind === 'foreign') {
    throw new StoreError(
      `${path} is a SQLite database of another program (tables: ${state.tables.slice(0, 5).join(', ')}): ` +
        `set node.data_dir to another directory, or move the file aside; ${UNCHANGED}`,
      path,
    );
  }
  if (state.kind === 'aviary' && state.version > SCHEMA_VERSION) {
    throw new StoreError(
      `${path} was written by a newer Aviary (schema version ${state.version}; this one knows up to ` +
        `${SCHEMA_VERSION}): run that version, or restore a backup made by this one; ${UNCHANGED}`,
      path,
    );
  }
}
