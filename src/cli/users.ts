/**
 * `aviary users add|passwd|del|list`: the built-in database's users (docs/authentication.md).
 *
 *   aviary users add alice --superuser -c aviary.conf      password from stdin (or --password)
 *   aviary users passwd alice -c aviary.conf
 *   aviary users del alice -c aviary.conf
 *   aviary users list -c aviary.conf
 *   aviary users add alice --scram -c aviary.conf           a SCRAM user (sha256 | sha512)
 *   aviary users add alice --file users.csv -c aviary.conf  a bootstrap file instead
 *
 * Where the users are:
 *   - the durable store (`durable_storage.backend = sqlite`, the default: `<node.data_dir>/aviary.db`),
 *     opened by `openUserAdmin` in src/main.ts, with the password-based users of the first
 *     `password_based` / `built_in_database` authenticator (hashed with its
 *     `password_hash_algorithm`), or with `--scram` the SCRAM users. Each change is committed at
 *     once; a running broker sees it at the next CONNECT.
 *   - with `--file`, or with `durable_storage.backend = memory`, a bootstrap CSV file (the
 *     authenticator's `bootstrap_file` unless `--file` names another), in its `bootstrap_type`;
 *     the broker loads it when it starts.
 * The logic is in src/auth/users-admin.ts.
 */

import { stdin } from 'node:process';
import type { Command } from 'commander';
import { BootstrapFileAdmin, builtInAuthenticator, type UserAdmin } from '../auth/index.js';
import { loadConfig } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { openUserAdmin } from '../main.js';

export interface Common {
  config?: string;
  file?: string;
  type?: string;
  /** SCRAM users: true (the configured algorithm) or 'sha256' / 'sha512'. */
  scram?: boolean | string;
}

/** The administration the options point at (exported for tests); close it when done. */
export function adminFor(options: Common): UserAdmin {
  const loaded = loadConfig(options.config === undefined ? {} : { file: options.config });
  const scram = options.scram !== undefined && options.scram !== false;
  if (options.file === undefined) {
    const store = openUserAdmin(loaded.config, { scram: options.scram ?? false });
    if (store !== null) return store;
  }
  if (scram) {
    throw new ConfigError(
      'SCRAM users are kept in the durable store only: --scram needs durable_storage.backend = sqlite and no --file',
    );
  }
  const authn = builtInAuthenticator(loaded.config);
  const file = options.file ?? authn?.bootstrap_file;
  if (file === undefined) {
    throw new ConfigError(
      authn === undefined
        ? 'no password_based / built_in_database authenticator in the configuration (authentication = [...]); ' +
            'give --file users.csv to edit a bootstrap file anyway'
        : 'durable_storage.backend = memory and the built-in database authenticator has no bootstrap_file: ' +
            'set one (the broker reads it at start) or give --file; a running broker is edited through its API',
    );
  }
  const type = options.type ?? authn?.bootstrap_type ?? 'hash';
  if (type !== 'plain' && type !== 'hash') throw new ConfigError(`--type must be plain or hash, got ${type}`);
  const algorithm = authn?.password_hash_algorithm ?? {
    name: 'sha256',
    salt_position: 'prefix',
    salt_rounds: 10,
    mac_fun: 'sha256',
    iterations: 4096,
  };
  return new BootstrapFileAdmin(file, type, algorithm);
}

/** Runs `action` on the administration the options point at, closing it afterwards. */
async function withAdmin<T>(options: Common, action: (admin: UserAdmin) => Promise<T>): Promise<T> {
  const admin = adminFor(options);
  try {
    return await action(admin);
  } finally {
    admin.close();
  }
}

/** The password: --password, or the first line of standard input (so it stays out of `ps` and history). */
async function passwordOf(options: { password?: string }): Promise<string> {
  if (options.password !== undefined) return options.password;
  if (stdin.isTTY) process.stderr.write('password: ');
  let text = '';
  for await (const chunk of stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  const password = text.split(/\r?\n/)[0] ?? '';
  if (password === '')
    throw new ConfigError('no password given (use --password or write it to standard input)');
  return password;
}

const common = (c: Command): Command =>
  c
    .option('-c, --config <file>', 'configuration file (HOCON, e.g. aviary.conf)')
    .option(
      '-f, --file <csv>',
      "edit a bootstrap file instead of the durable store (default with durable_storage.backend = memory: the authenticator's bootstrap_file)",
    )
    .option('-t, --type <type>', "with a file: plain or hash (default: the authenticator's bootstrap_type)")
    .option(
      '--scram [algorithm]',
      "the SCRAM users (sha256 or sha512; default: the scram authenticator's algorithm)",
    );

export function registerUsersCommand(program: Command): void {
  const users = program.command('users').description("manage the built-in database's users");
  common(users.command('add <user_id>').description('add a user'))
    .option('-p, --password <password>', 'the password (default: read from standard input)')
    .option('-s, --superuser', 'the user is a superuser (skips authorization)', false)
    .action(async (userId: string, o: Common & { password?: string; superuser: boolean }) => {
      const password = await passwordOf(o);
      const where = await withAdmin(o, async (admin) => {
        await admin.add(userId, password, o.superuser);
        return admin.location;
      });
      process.stdout.write(`added ${userId} to ${where}\n`);
    });
  common(users.command('passwd <user_id>').description("change a user's password"))
    .option('-p, --password <password>', 'the new password (default: read from standard input)')
    .action(async (userId: string, o: Common & { password?: string }) => {
      const password = await passwordOf(o);
      const where = await withAdmin(o, async (admin) => {
        await admin.passwd(userId, password);
        return admin.location;
      });
      process.stdout.write(`changed the password of ${userId} in ${where}\n`);
    });
  common(users.command('del <user_id>').description('delete a user')).action(
    async (userId: string, o: Common) => {
      const where = await withAdmin(o, async (admin) => {
        await admin.delete(userId);
        return admin.location;
      });
      process.stdout.write(`deleted ${userId} from ${where}\n`);
    },
  );
  common(users.command('list').description('list the users')).action(async (o: Common) => {
    for (const u of await withAdmin(o, (admin) => admin.list())) {
      process.stdout.write(`${u.userId}${u.isSuperuser ? ' (superuser)' : ''}\n`);
    }
  });
}
