/**
 * What the SQLite backend does beyond the Storage conformance suite (storage-sqlite.test.ts):
 * how it opens the file (directory created, WAL, synchronous, schema version), that close()
 * leaves the whole state in the database file, and that the backup commands of
 * docs/durability.md ("Backup"), taken from the document itself, copy a running store's
 * committed state and nothing of its open batch.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStorage } from '../../../src/persistence/sqlite/index.js';
import { SCHEMA_VERSION } from '../../../src/persistence/sqlite/schema.js';
import { message, row } from './storage-conformance-data.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'aviary-sqlite-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `d${++n}`);

/** The line of docs/durability.md that starts with `start` inside a sh code block. */
function docCommand(start: string): string {
  const line = readFileSync(join(REPO, 'docs/durability.md'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(start));
  assert.ok(line, `docs/durability.md has a command starting with ${start}`);
  return line;
}

function hasSqlite3(): boolean {
  try {
    execFileSync('sqlite3', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('SQLite store: opening', () => {
  test('creates the data directory with its parents and opens <dir>/aviary.db', () => {
    const dir = join(freshDir(), 'a', 'b');
    const s = openSqliteStorage({ dir });
    assert.equal(s.location, join(dir, 'aviary.db'));
    assert.ok(existsSync(join(dir, 'aviary.db')));
    s.close();
  });

  test('the file name can be chosen', () => {
    const dir = freshDir();
    const s = openSqliteStorage({ dir, file: 'other.sqlite' });
    assert.equal(s.location, join(dir, 'other.sqlite'));
    s.close();
  });

  test('WAL, synchronous normal by default or full, no foreign keys, a busy timeout', () => {
    const normal = openSqliteStorage({ dir: freshDir() });
    assert.equal(normal.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(normal.db.pragma('synchronous', { simple: true }), 1, 'NORMAL');
    assert.equal(normal.db.pragma('foreign_keys', { simple: true }), 0);
    assert.ok((normal.db.pragma('busy_timeout', { simple: true }) as number) > 0);
    normal.close();
    const full = openSqliteStorage({ dir: freshDir(), synchronous: 'full' });
    assert.equal(full.db.pragma('synchronous', { simple: true }), 2, 'FULL');
    full.close();
  });

  test('records the schema version once; reopening migrates nothing again', () => {
    const dir = freshDir();
    openSqliteStorage({ dir }).close();
    const s = openSqliteStorage({ dir });
    const versions = s.db.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all();
    assert.deepEqual(
      versions,
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
    s.close();
  });

  test('close() commits, checkpoints and leaves the whole state in the database file', () => {
    const dir = freshDir();
    const s = openSqliteStorage({ dir });
    for (let id = 1; id <= 200; id++) s.sessions.putMessage(id, message(id));
    s.commit();
    s.sessions.putMessage(201, message(201));
    s.close();
    const wal = join(dir, 'aviary.db-wal');
    assert.ok(!existsSync(wal) || statSync(wal).size === 0, 'no WAL content left');
    const db = new Database(join(dir, 'aviary.db'), { readonly: true });
    assert.equal(db.prepare('SELECT COUNT(*) FROM messages').pluck().get(), 201);
    db.close();
  });
});

describe('SQLite store: backup while running (docs/durability.md)', () => {
  /** A running store with a committed state and an open batch; returns what the backup must hold. */
  function running() {
    const dir = freshDir();
    const s = openSqliteStorage({ dir });
    s.sessions.putMessage(1, message(1));
    s.table('retained').put(row('r', 2));
    s.commit();
    s.sessions.putMessage(2, message(2)); // open, not committed
    s.table('retained').put(row('s', 3));
    assert.equal(s.batchOpen, true);
    return { dir, s, db: join(dir, 'aviary.db') };
  }

  /** The backup opens as a store holding the committed state only. */
  function checkBackup(out: string): void {
    const dir = join(out, '..');
    const file = out.slice(dir.length + 1);
    const b = openSqliteStorage({ dir, file });
    try {
      assert.deepEqual(b.sessions.loadMessage(1), message(1));
      assert.equal(b.sessions.loadMessage(2), undefined, 'nothing of the open batch');
      assert.deepEqual([...b.table('retained').rows()], [row('r', 2)]);
    } finally {
      b.close();
    }
  }

  test('the node one-liner (VACUUM INTO) copies the committed state', () => {
    const { s, db, dir } = running();
    const out = join(dir, 'backup.db');
    const command = docCommand('node -e ')
      .replace("'data/aviary.db'", `'${db}'`)
      .replace("'backup.db'", `'${out}'`);
    try {
      execFileSync('sh', ['-c', command], { cwd: REPO, stdio: 'pipe' });
      s.commit();
    } finally {
      s.close();
    }
    checkBackup(out);
  });

  test('sqlite3 .backup copies the committed state', {
    skip: !hasSqlite3() && 'the sqlite3 CLI is not installed',
  }, () => {
    const { s, db, dir } = running();
    const out = join(dir, 'backup.db');
    const command = docCommand('sqlite3 ')
      .replace('data/aviary.db', db)
      .replace('.backup backup.db', `.backup ${out}`);
    try {
      execFileSync('sh', ['-c', command], { cwd: REPO, stdio: 'pipe' });
      s.commit();
    } finally {
      s.close();
    }
    checkBackup(out);
  });
});
