/**
 * EMQX's bootstrap CSV files for the built-in database (`bootstrap_file`, `bootstrap_type`):
 *
 *   bootstrap_type = plain         bootstrap_type = hash
 *   user_id,password,is_superuser  user_id,password_hash,salt,is_superuser
 *   alice,s3cret,false             alice,8d9c...e1,5f1a...,false
 *
 * The first line is the header; columns are found by name (so their order may differ), and
 * `is_superuser` may be left out (false). Values are not quoted (EMQX writes none); blank lines
 * are skipped. A malformed file is a configuration error naming the file and line: a broker
 * that silently starts without its users would lock everyone out (or, worse, not).
 *
 * The `aviary users` command writes these files back (`formatBootstrap`).
 */

import { ConfigError } from '../errors.js';

export type BootstrapType = 'plain' | 'hash';

export interface BootstrapUser {
  readonly userId: string;
  /** plain: the password; hash: the stored hash. */
  readonly password: string;
  /** hash only. */
  readonly salt: string;
  readonly isSuperuser: boolean;
}

const COLUMNS: Record<BootstrapType, readonly string[]> = {
  plain: ['user_id', 'password', 'is_superuser'],
  hash: ['user_id', 'password_hash', 'salt', 'is_superuser'],
};

function parseBool(text: string | undefined, where: string): boolean {
  const t = (text ?? '').trim().toLowerCase();
  if (t === '' || t === 'false' || t === '0') return false;
  if (t === 'true' || t === '1') return true;
  throw new ConfigError(`${where}: is_superuser must be true or false, got ${JSON.stringify(text)}`);
}

/** Parses a bootstrap file's text; `file` names it in errors. */
export function parseBootstrap(text: string, type: BootstrapType, file: string): BootstrapUser[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  if (headerAt < 0) return [];
  const header = lines[headerAt]!.split(',').map((c) => c.trim().toLowerCase());
  const index = (name: string): number => header.indexOf(name);
  const required = COLUMNS[type].filter((c) => c !== 'is_superuser' && c !== 'salt');
  for (const column of required) {
    if (index(column) < 0) {
      throw new ConfigError(
        `${file}:${headerAt + 1}: the header must name the columns ${COLUMNS[type].join(',')} ` +
          `(bootstrap_type = ${type}), got ${JSON.stringify(lines[headerAt])}`,
      );
    }
  }
  const secretColumn = type === 'plain' ? 'password' : 'password_hash';
  const users: BootstrapUser[] = [];
  for (let i = headerAt + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const cells = line.split(',');
    const where = `${file}:${i + 1}`;
    const cell = (name: string): string | undefined => {
      const at = index(name);
      return at < 0 ? undefined : cells[at]?.trim();
    };
    const userId = cell('user_id') ?? '';
    const secret = cell(secretColumn);
    if (userId === '' || secret === undefined) {
      throw new ConfigError(`${where}: expected ${header.join(',')} (a user id and a ${secretColumn})`);
    }
    users.push({
      userId,
      password: secret,
      salt: type === 'hash' ? (cell('salt') ?? '') : '',
      isSuperuser: parseBool(cell('is_superuser'), where),
    });
  }
  return users;
}

/** Writes users as a bootstrap file of this type (header first, one user per line). */
export function formatBootstrap(users: readonly BootstrapUser[], type: BootstrapType): string {
  const rows = users.map((u) =>
    type === 'plain'
      ? [u.userId, u.password, String(u.isSuperuser)]
      : [u.userId, u.password, u.salt, String(u.isSuperuser)],
  );
  for (const row of rows) {
    if (row.some((cell) => /[,\r\n]/.test(cell))) {
      throw new ConfigError(
        `a user id, password, hash or salt in a bootstrap file cannot contain "," or a newline`,
      );
    }
  }
  return [COLUMNS[type].join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n';
}
