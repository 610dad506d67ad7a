/**
 * The `aviary` command: a thin layer over the library.
 *
 *   aviary start [--config FILE]   run the broker in the foreground (Ctrl-C or SIGTERM stops it)
 *   aviary --version
 *   aviary users add|passwd|del|list   the built-in database's users (src/cli/users.ts)
 *
 * `aviary ctl ...` (status, clients, subscriptions) arrives with the management API issue.
 */

import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { AviaryError } from '../errors.js';
import { loadConfig } from '../config/index.js';
import { createBroker } from '../main.js';
import { registerUsersCommand } from './users.js';
import { registerCtlCommand } from './ctl.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * Node's Buffer pool (default 8 KiB) serves small allocations; at 8 KiB only seven 1 KiB
 * frames fit before the next pool is allocated. A 64 KiB pool halves the cost of encoding
 * frames of that size (bench/micro/codec.bench.ts, docs/benchmarks.md). Set by the command,
 * not the library, because it is process-wide.
 */
const BUFFER_POOL_SIZE = 64 * 1024;

async function start(options: { config?: string }): Promise<void> {
  Buffer.poolSize = BUFFER_POOL_SIZE;
  const loaded = loadConfig(options.config === undefined ? {} : { file: options.config });
  const aviary = createBroker(loaded.config);
  for (const w of loaded.warnings) aviary.log.warn(w);
  aviary.log.info({ sources: loaded.sources, node: loaded.config.node.name }, 'configuration loaded');
  const addresses = await aviary.listen();

  // The handlers are in place before "started" is printed: a supervisor that sends SIGTERM as
  // soon as it reads that line must get a clean shutdown, not Node's default (killed by signal).
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`Aviary stopping (${signal})\n`);
    aviary.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`error while stopping: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  const summary = addresses.map((a) => `${a.id} on ${a.host}:${a.port}`).join(', ');
  process.stdout.write(`Aviary ${packageVersion()} started: ${summary}\n`);
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('aviary')
    .description('Aviary MQTT broker')
    .version(packageVersion(), '-v, --version', 'print the version');
  program
    .command('start')
    .description('start the broker in the foreground')
    .option('-c, --config <file>', 'configuration file (HOCON, e.g. aviary.conf)')
    .action(start);
  registerUsersCommand(program);
  registerCtlCommand(program);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof AviaryError) {
      process.stderr.write(`aviary: ${error.message} (${error.code})\n`);
      process.exit(1);
    }
    throw error;
  }
}
