/**
 * Access to the real programs and servers that `scripts/services.sh` installs and starts.
 *
 * A test that needs one calls these in a `before()` hook, so that a missing tool fails the test
 * loudly with the command that fixes it. Never skip a test because a tool is absent.
 */

import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** Directories where Debian puts daemons (mosquitto, slapd, ...) that a non-root PATH lacks. */
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Returns the absolute path of the command `name`, looked up in PATH and then in the sbin
 * directories; throws if it is not installed.
 *
 * @param hint what installs it, e.g. "it installs Debian's mosquitto-clients"; it ends the message
 *   "<name> not found: run `bash scripts/services.sh` (<hint>)".
 */
export function requireCommand(name: string, hint: string): string {
  if (isAbsolute(name)) {
    if (isExecutableFile(name)) return name;
  } else {
    const dirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '');
    for (const dir of [...dirs, ...SBIN_DIRS]) {
      const candidate = join(dir, name);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  throw new Error(`${name} not found: run \`bash scripts/services.sh\` (${hint})`);
}

/**
 * Debian's Python: the interpreter that Debian's python3-* packages install their modules for. A
 * python3 found first in PATH (pyenv, a venv) would not see them, so tests name this one.
 */
export const DEBIAN_PYTHON = '/usr/bin/python3';

/**
 * Returns the path of Debian's python3 after checking that it imports `module` (a dotted module
 * name, e.g. 'paho.mqtt.client'); throws, with the command that fixes it, if it does not.
 *
 * @param hint what installs it, e.g. "it installs Debian's python3-paho-mqtt".
 */
export function requirePython(module: string, hint: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(module)) {
    throw new Error(`not a Python module name: ${module}`);
  }
  const python = requireCommand(DEBIAN_PYTHON, hint);
  const r = spawnSync(python, ['-c', `import ${module}`], { encoding: 'utf8' });
  if (r.status !== 0) {
    const why = (r.error?.message ?? r.stderr).trim().split('\n').at(-1) ?? '';
    throw new Error(
      `${python} cannot import ${module}: run \`bash scripts/services.sh\` (${hint})${why ? `; ${why}` : ''}`,
    );
  }
  return python;
}

/** Where scripts/services.sh keeps pid files, logs and the `env` file of connection settings. */
export const SERVICES_DIR = process.env['AVIARY_SERVICES_DIR'] ?? '/tmp/aviary-services';

/**
 * Returns a connection setting that `scripts/services.sh start <service>` recorded (e.g.
 * `MOSQUITTO_URL`, `REDIS_URL`), preferring the environment; throws if the service was not started.
 *
 * @param service the services.sh service name to put in the message, e.g. 'mosquitto-broker'.
 */
export function requireServiceEnv(key: string, service: string): string {
  const fromEnv = process.env[key];
  if (fromEnv) return fromEnv;
  let text = '';
  try {
    text = readFileSync(join(SERVICES_DIR, 'env'), 'utf8');
  } catch {
    // fall through to the error below
  }
  for (const line of text.split('\n')) {
    const m = /^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m?.[1] === key) return unquoteShell(m[2] ?? '');
  }
  throw new Error(`${key} is not set: run \`bash scripts/services.sh start ${service}\``);
}

/** Undoes bash's `printf %q` for the simple values services.sh writes (URLs, paths, words). */
function unquoteShell(value: string): string {
  if (value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1);
  return value.replace(/\\(.)/g, '$1');
}
