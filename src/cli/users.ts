/**
 * `aviary users add|passwd|del|list`: the built-in database's users (docs/authentication.md).
 *
 *   aviary users add alice --superuser -c aviary.conf      password from stdin (or --password)
 *   aviary users passwd alice -c aviary.conf
 *   aviary users del alice -c aviary.conf
 *   aviary users list -c aviary.conf
 *
 * Which users: those of the configuration's first `password_based` / `built_in_database`
 * authenticator. Until the broker has a durable user store, the command edits that
 * authenticator's `bootstrap_file` (`--file` names another), in its `bootstrap_type`, hashing
 * with its `password_hash_algorithm`; the broker loads the file when it starts. The logic is
 * in src/auth/users-admin.ts, which also administers a store directly.
 */

import { stdin } from 'node:process';
import type { Command } from 'commander';
import { BootstrapFileAdmin, builtInAuthenticator, type UserAdmin } from '../auth/index.js';
import { loadConfig } from '../config/index.js';
import { ConfigError } from '../errors.js';

export interface Common {
  config?: string;
  file?: string;
  type?: string;
}

/** The administration the options point at (exported for tests). */
export function adminFor(options: Common): UserAdmin {
  const loaded = loadConfig(options.config === undefined ? {} : { file: options.config });
  const authn = builtInAuthenticator(loaded.config);
  const file = options.file ?? authn?.bootstrap_file;
  if (file === undefined) {
    throw new ConfigError(
      authn === undefined
        ? 'no password_based / built_in_database authenticator in the configuration (authentication = [...]); ' +
            'give --file users.csv to edit a bootstrap file anyway'
        : 'the built-in database authenticator has no bootstrap_file: set one (the broker reads it at start) ' +
            'or give --file; a running broker with a durable user store is edited through its API',
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
    .option('-f, --file <csv>', "the bootstrap file to edit (default: the authenticator's bootstrap_file)")
    .option('-t, --type <type>', "plain or hash (default: the authenticator's bootstrap_type)");

export function registerUsersCommand(program: Command): void {
  const users = program.command('users').description("manage the built-in database's users");
  common(users.command('add <user_id>').description('add a user'))
    .option('-p, --password <password>', 'the password (default: read from standard input)')
    .option('-s, --superuser', 'the user is a superuser (skips authorization)', false)
    .action(async (userId: string, o: Common & { password?: string; superuser: boolean }) => {
      await adminFor(o).add(userId, await passwordOf(o), o.superuser);
      process.stdout.write(`added ${userId}\n`);
    });
  common(users.command('passwd <user_id>').description("change a user's password"))
    .option('-p, --password <password>', 'the new password (default: read from standard input)')
    .action(async (userId: string, o: Common & { password?: string }) => {
      await adminFor(o).passwd(userId, await passwordOf(o));
      process.stdout.write(`changed the password of ${userId}\n`);
    });
  common(users.command('del <user_id>').description('delete a user')).action(
    async (userId: string, o: Common) => {
      await adminFor(o).delete(userId);
      process.stdout.write(`deleted ${userId}\n`);
    },
  );
  common(users.command('list').description('list the users')).action(async (o: Common) => {
    for (const u of await adminFor(o).list()) {
      process.stdout.write(`${u.userId}${u.isSuperuser ? ' (superuser)' : ''}\n`);
    }
  });
}
