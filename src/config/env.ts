/**
 * Environment variable overrides, after EMQX's `EMQX_` variables:
 *
 *   AVIARY_NODE__NAME=aviary@10.0.0.5                 -> node.name = "aviary@10.0.0.5"
 *   AVIARY_LISTENERS__TCP__DEFAULT__BIND=127.0.0.1:18830
 *   AVIARY_MQTT__MAX_PACKET_SIZE=2MB
 *   AVIARY_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__VERSIONS='["tlsv1.2"]'
 *   AVIARY_AUTHENTICATION__1__MECHANISM=password_based  (1 = the first array element)
 *
 * The name is the prefix `AVIARY_` and the key path in upper case with `__` between levels;
 * the path is lower-cased (so listener and zone names set this way are lower case). A segment
 * that is a number indexes an array from 1, as in EMQX (or creates one).
 *
 * The value is read as HOCON when it looks like HOCON: it starts with `[`, `{` or `"`; `true`,
 * `false` and numbers become booleans and numbers. Anything else is taken verbatim as a string,
 * so `127.0.0.1:18830` needs no quoting (EMQX would need '"127.0.0.1:18830"').
 *
 * A variable whose first level is not a configuration root is reported as a warning and
 * ignored, because the environment is shared with other programs; a wrong key below a known
 * root is a validation error like any other, with the variable named in the message.
 */
import { ConfigError } from '../errors.js';
import { type Environment, parseHoconValue } from './hocon.js';
import { cloneDeep, isPlainObject, type PlainObject, setOwn } from './merge.js';
import { closest } from './suggest.js';

/** The prefix of Aviary's configuration variables. */
export const ENV_PREFIX = 'AVIARY_';
/** What separates the levels of a key path in a variable name. */
export const ENV_LEVEL_SEPARATOR = '__';
/**
 * `AVIARY_` variables that are not configuration keys, so are not reported as unknown: the
 * project's own test and service scripts (scripts/test.mjs, scripts/services.sh) read these.
 * Add a name here when a tool reads its own AVIARY_ variable, and list it in
 * docs/configuration.md.
 */
export const NON_CONFIG_ENV_VARS: readonly string[] = [
  'AVIARY_SKIP_LINT',
  'AVIARY_TEST_FILE_TIMEOUT',
  'AVIARY_TEST_TOTAL_TIMEOUT',
  'AVIARY_SERVICES_DIR',
  // `aviary ctl` (src/cli/ctl.ts): where the API is and the credentials to use.
  'AVIARY_CTL_URL',
  'AVIARY_CTL_API_KEY',
  'AVIARY_CTL_API_SECRET',
  'AVIARY_CTL_USERNAME',
  'AVIARY_CTL_PASSWORD',
];

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const LOOKS_LIKE_HOCON = /^[[{"]/;
const POSITION = /^[1-9]\d*$/;

/** One variable, turned into a key path and a value. */
export interface EnvOverride {
  readonly variable: string;
  /** Lower-cased key path; numeric segments are 1-based array positions. */
  readonly path: readonly string[];
  readonly value: unknown;
}

/** The overrides found in an environment, and the variables that were ignored. */
export interface EnvOverrides {
  readonly overrides: readonly EnvOverride[];
  readonly warnings: readonly string[];
}

/**
 * Reads the `AVIARY_` variables of `env`. `roots` are the configuration's root keys; a variable
 * under another root becomes a warning. Overrides come back parents first (so that
 * `AVIARY_MQTT='{...}'` is applied before `AVIARY_MQTT__MAX_INFLIGHT=5`), then by name.
 */
export function readEnvOverrides(env: Environment, roots: readonly string[]): EnvOverrides {
  const overrides: EnvOverride[] = [];
  const warnings: string[] = [];
  const names = Object.keys(env)
    .filter((name) => name.startsWith(ENV_PREFIX) && !NON_CONFIG_ENV_VARS.includes(name))
    .sort();
  for (const variable of names) {
    const text = env[variable];
    if (text === undefined) continue;
    const path = variable.slice(ENV_PREFIX.length).toLowerCase().split(ENV_LEVEL_SEPARATOR);
    if (path.some((segment) => segment === '')) {
      warnings.push(
        `${variable}: not a valid key path (levels are separated by a double underscore); ignored`,
      );
      continue;
    }
    const root = path[0] ?? '';
    if (!roots.includes(root)) {
      const guess = closest(root, roots);
      const hint = guess === undefined ? `known roots: ${roots.join(', ')}` : `did you mean ${guess}?`;
      warnings.push(`${variable}: "${root}" is not a configuration section (${hint}); ignored`);
      continue;
    }
    const value = parseEnvValue(text, variable, env);
    if (value !== undefined) overrides.push({ variable, path, value });
  }
  overrides.sort((a, b) => a.path.length - b.path.length);
  return { overrides, warnings };
}

/** A variable's text as a value: HOCON when it looks like it, booleans, numbers, else the text. */
export function parseEnvValue(text: string, variable: string, env: Environment = {}): unknown {
  const trimmed = text.trim();
  if (LOOKS_LIKE_HOCON.test(trimmed)) return parseHoconValue(trimmed, { file: variable, env });
  if (trimmed === 'true') return true;
  if (trimmed === 'false') return false;
  if (NUMBER.test(trimmed)) return Number(trimmed);
  return text;
}

/** Returns a copy of `target` with every override set at its path. */
export function applyEnvOverrides(target: PlainObject, overrides: readonly EnvOverride[]): PlainObject {
  const out = cloneDeep(target);
  for (const override of overrides) setAtPath(out, override);
  return out;
}

function setAtPath(root: PlainObject, { variable, path, value }: EnvOverride): void {
  let container: PlainObject | unknown[] = root;
  path.forEach((segment, depth) => {
    const last = depth === path.length - 1;
    const key = containerKey(container, segment, variable, path.join('.'));
    if (last) {
      setOwn(container, key, value);
      return;
    }
    const existing = Object.hasOwn(container, key) ? (container as PlainObject)[key] : undefined;
    if (isPlainObject(existing) || Array.isArray(existing)) {
      container = existing;
      return;
    }
    const child: PlainObject | unknown[] = POSITION.test(path[depth + 1] ?? '') ? [] : {};
    setOwn(container, key, child);
    container = child;
  });
}

/** The property to use in `container` for a path segment: arrays take 1-based positions. */
function containerKey(
  container: PlainObject | unknown[],
  segment: string,
  variable: string,
  keyPath: string,
): string {
  if (!Array.isArray(container)) return segment;
  if (!POSITION.test(segment)) {
    throw new ConfigError(`${variable}: "${segment}" is not an array position (1, 2, ...)`, keyPath);
  }
  const index = Number(segment) - 1;
  if (index > container.length) {
    throw new ConfigError(
      `${variable}: position ${segment} leaves a gap (the array has ${container.length} element(s))`,
      keyPath,
    );
  }
  return String(index);
}
