/**
 * `durable_storage`: where the broker keeps what must survive a restart (persistent sessions
 * with their queued and in-flight messages, retained messages, delayed publishes, waiting wills).
 * Aviary's own section (EMQX 5's `durable_sessions` are off by default and EE-grade; ours are on):
 *
 *   backend = sqlite   the embedded default: one SQLite database (WAL) in `node.data_dir`
 *   backend = memory   nothing survives the process (tests, or users who want no disk)
 *
 * `sqlite.synchronous = normal` survives a crash of the process (kill -9): a commit is in the
 * operating system's page cache before any acknowledgement leaves. `full` also survives a power
 * loss or a kernel crash, at the price of an fsync per commit (one per event-loop turn).
 */
import { duration, oneOf, section, str } from './fields.js';

export const STORAGE_BACKENDS = ['sqlite', 'memory'] as const;

export const durableStorageSchema = section({
  backend: oneOf(STORAGE_BACKENDS).prefault('sqlite'),
  sqlite: section({
    file: str('a file name', (name) => name !== '' && !name.includes('/')).prefault('aviary.db'),
    synchronous: oneOf(['normal', 'full']).prefault('normal'),
  }).prefault({}),
  /** How often expired sessions and expired queued messages are removed. */
  sweep_interval: duration().prefault('5s'),
}).prefault({});
