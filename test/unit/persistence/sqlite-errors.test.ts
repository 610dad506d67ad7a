/**
 * The SQLite store under bad conditions: errors at open are StoreErrors that name the file and
 * say what to do, and never change the file; a write error while running (disk full) makes
 * commit() throw and roll the batch back, and the store works again once space is back.
 *
 * The disk-full and read-only cases run for real on a small tmpfs when the tests run as root
 * and can mount (else they are skipped); SQLITE_FULL inside a batch is also simulated everywhere
 * with `PRAGMA max_page_count`.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { StoreError } from '../../../src/errors.js';
import { openSqliteStorage } from '../../../src/persistence/sqlite/index.js';
import { SCHEMA_VERSION } from '../../../src/persistence/sqlite/schema.js';
import { message } from './storage-conformance-data.js';

const root = mkdtempSync(join(tmpdir(), 'aviary-sqlite-errors-'));
const mounts: string[] = [];
after(() => {
  for (const dir of mounts.reverse()) execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  rmSync(root, { recursive: true, force: true });
});
let n = 0;
function freshDir(): string {
  const dir = join(root, `d${++n}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Runs `fn`, which must throw a StoreError; returns it. */
function storeError(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof StoreError, `a StoreError, not ${String(error)}`);
    assert.equal(error.code, 'AVY_ERR_STORE');
    return error;
  }
  assert.fail('no error was thrown');
}

/** Mounts a tmpfs on a new directory; null if this process cannot (not root, no mount). */
function mountTmpfs(options: string): string | null {
  if (process.getuid?.() !== 0) return null;
  const dir = freshDir();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return null;
  }
  mounts.push(dir);
  return dir;
}

const probe = mountTmpfs('size=64k');
const NO_MOUNT = probe === null ? 'needs root and mount(8) for a real tmpfs' : false;

/** Fills a file system: writes `path` until the device is full. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
}

describe('SQLite store: errors at open', () => {
  test('a file of garbage named aviary.db: a StoreError naming it and what to do; the file is unchanged', () => {
    const dir = freshDir();
    const file = join(dir, 'aviary.db');
    writeFileSync(file, Buffer.alloc(10_000, 'not a database '));
    const before = sha256(file);
    const error = storeError(() => openSqliteStorage({ dir }));
    assert.equal(error.path, file);
    assert.match(error.message, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.match(error.message, /move it aside/i);
    assert.match(error.message, /restore a backup/);
    assert.match(error.message, /the file was not changed/);
    assert.equal(sha256(file), before);
  });

  test('a database with damaged pages fails the quick check; the file is unchanged', () => {
    const dir = freshDir();
    const s = openSqliteStorage({ dir });
    for (let id = 1; id <= 500; id++)
      s.sessions.putMessage(id, message(id, { payload: Buffer.alloc(300, id) }));
    s.close();
    const file = join(dir, 'aviary.db');
    const bytes = readFileSync(file);
    const pageSize = 4096;
    assert.ok(bytes.length > 8 * pageSize, 'the database has enough pages to damage some');
    bytes.fill(0x5a, 3 * pageSize, 6 * pageSize); // the header stays valid, some B-tree pages do not
    writeFileSync(file, bytes);
    const before = sha256(file);
    const error = storeError(() => openSqliteStorage({ dir }));
    assert.match(error.message, /damaged or is not a database/);
    assert.match(error.message, /the file was not changed/);
    assert.equal(sha256(file), before);
  });

  test("another program's SQLite database is refused and left unchanged", () => {
    const dir = freshDir();
    const file = join(dir, 'aviary.db');
    const other = new Database(file);
    other.exec(
      "CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT); INSERT INTO photos VALUES (1, 'a.jpg')",
    );
    other.close();
    const before = sha256(file);
    const error = storeError(() => openSqliteStorage({ dir }));
    assert.match(error.message, /another program \(tables: photos\)/);
    assert.equal(sha256(file), before);
  });

  test('a database of a newer schema version is refused and left unchanged', () => {
    const dir = freshDir();
    openSqliteStorage({ dir }).close();
    const file = join(dir, 'aviary.db');
    const db = new Database(file);
    db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, 0)').run(SCHEMA_VERSION + 1);
    db.close();
    const before = sha256(file);
    const error = storeError(() => openSqliteStorage({ dir }));
    assert.match(error.message, new RegExp(`newer Aviary \\(schema version ${SCHEMA_VERSION + 1}`));
    assert.equal(sha256(file), before);
  });

  test('a data directory that cannot be created: a StoreError naming it and the cause', () => {
    const blocker = join(freshDir(), 'a-file');
    writeFileSync(blocker, 'x');
    const dir = join(blocker, 'data');
    const error = storeError(() => openSqliteStorage({ dir }));
    assert.equal(error.path, dir);
    assert.match(error.message, /cannot create or write .*a-file\/data \(.*ENOTDIR/);
    assert.match(error.message, /node\.data_dir/);
  });

  test('a directory on a read-only file system (real tmpfs)', { skip: NO_MOUNT }, () => {
    const ro = mountTmpfs('ro,size=64k')!;
    const error = storeError(() => openSqliteStorage({ dir: join(ro, 'data') }));
    assert.match(error.message, /cannot create or write .*data \(EROFS/);
  });

  test('an existing store on a file system remounted read-only is refused and left unchanged', {
    skip: NO_MOUNT,
  }, () => {
    const mnt = mountTmpfs('size=1m')!;
    const s = openSqliteStorage({ dir: mnt });
    s.sessions.putMessage(1, message(1));
    s.close();
    const file = join(mnt, 'aviary.db');
    const before = sha256(file);
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    const error = storeError(() => openSqliteStorage({ dir: mnt }));
    assert.equal(error.path, file);
    assert.match(error.message, /cannot create or write|cannot open/);
    assert.equal(sha256(file), before);
  });

  test('a new store on a full disk (real tmpfs): a StoreError saying so', { skip: NO_MOUNT }, () => {
    const mnt = mountTmpfs('size=256k')!;
    mkdirSync(join(mnt, 'data'));
    fill(join(mnt, 'filler'));
    const error = storeError(() => openSqliteStorage({ dir: join(mnt, 'data') }));
    assert.match(error.message, /no space left for .*aviary\.db \(.*SQLITE_FULL/);
    assert.match(error.message, /free space/);
  });
});

describe('SQLite store: a write error while running', () => {
  test('SQLITE_FULL in a batch: the writes do not throw, commit() throws and rolls back, later batches work', () => {
    const dir = freshDir();
    const s = openSqliteStorage({ dir });
    let batches = 0;
    s.onBatch = () => batches++;
    s.sessions.putMessage(1, message(1));
    s.commit();
    const pages = s.db.pragma('page_count', { simple: true }) as number;
    s.db.pragma(`max_page_count = ${pages + 1}`); // the file cannot grow: SQLITE_FULL
    for (let id = 2; id <= 40; id++)
      s.sessions.putMessage(id, message(id, { payload: Buffer.alloc(4000, id) }));
    s.table('retained').put({ key: 'k', due: 0, message: message(99), meta: null });
    s.sessions.deleteMessage(1);
    assert.equal(s.batchOpen, true, 'the failed batch is still open until commit');
    assert.equal(batches, 2);
    const error = storeError(() => s.commit());
    assert.equal(error.path, join(dir, 'aviary.db'));
    assert.match(error.message, /could not write to .*aviary\.db: database or disk is full \(SQLITE_FULL\)/);
    assert.match(error.message, /rolled back/);
    assert.equal(s.batchOpen, false);
    assert.equal(s.db.inTransaction, false);
    // Nothing of the failed batch is kept; what was committed before is.
    assert.deepEqual(s.sessions.loadMessage(1), message(1));
    assert.equal(s.sessions.maxMessageId(), 1);
    assert.equal(s.table('retained').size, 0);
    // Space is back: the next batch works.
    s.db.pragma('max_page_count = 1073741823');
    for (let id = 2; id <= 40; id++)
      s.sessions.putMessage(id, message(id, { payload: Buffer.alloc(4000, id) }));
    assert.equal(batches, 3, 'a new batch after the failed one');
    s.commit();
    assert.equal(s.sessions.counts().messages, 40);
    s.close();
    const r = openSqliteStorage({ dir });
    assert.equal(r.sessions.counts().messages, 40);
    r.close();
  });

  test('a disk that fills up while running (real tmpfs): commit throws, the batch is rolled back, space back -> works', {
    skip: NO_MOUNT,
  }, () => {
    const mnt = mountTmpfs('size=1m')!;
    const s = openSqliteStorage({ dir: mnt });
    s.sessions.putMessage(1, message(1));
    s.commit();
    const filler = join(mnt, 'filler');
    fill(filler);
    for (let id = 2; id <= 60; id++)
      s.sessions.putMessage(id, message(id, { payload: Buffer.alloc(8000, id) }));
    const error = storeError(() => s.commit());
    assert.match(error.message, /could not write to .*aviary\.db: .*\(SQLITE_(FULL|IOERR)/);
    assert.equal(s.batchOpen, false);
    assert.deepEqual(s.sessions.loadMessage(1), message(1));
    assert.equal(s.sessions.loadMessage(2), undefined);
    rmSync(filler);
    s.sessions.putMessage(3, message(3));
    s.commit();
    s.close();
    const r = openSqliteStorage({ dir: mnt });
    assert.deepEqual(
      [1, 2, 3].map((id) => r.sessions.loadMessage(id)),
      [message(1), undefined, message(3)],
    );
    r.close();
  });
});
