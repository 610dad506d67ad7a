/**
 * Loading the configuration: four layers, each deep-merged over the one before, then one
 * validation of the result.
 *
 *   1. defaults      the schema's defaults, plus the listeners that exist unless configured
 *                    otherwise (as in EMQX): listeners.tcp.default on 0.0.0.0:1883 and
 *                    listeners.ws.default on 0.0.0.0:8083, path /mqtt
 *   2. file          aviary.conf (HOCON), from `aviary start --config FILE`
 *   3. environment   AVIARY_* variables (env.ts)
 *   4. overrides     an object from code: tests, the library API
 *
 * A later layer wins key by key; objects merge, so `listeners.tcp.default.bind` in a file keeps
 * the default listener and changes its address, and `listeners.tcp.default.enable = false`
 * turns it off. Validation happens once, on the merged result, so every problem in every layer
 * is reported together in one ConfigError.
 */
import { ConfigError } from '../errors.js';
import { applyEnvOverrides, type EnvOverride, readEnvOverrides } from './env.js';
import { type Environment, parseHoconFile } from './hocon.js';
import { issuesToConfigError, type PathAnnotator } from './issues.js';
import { deepMerge, isPlainObject, type PlainObject } from './merge.js';
import { type AviaryConfig, type AviaryConfigInput, configSchema, ROOT_KEYS } from './schema.js';

/** Where `loadConfig` reads from. Every field is optional. */
export interface LoadConfigOptions {
  /** A HOCON file (aviary.conf). A missing file is a ConfigError naming the path. */
  readonly file?: string;
  /** The environment to read AVIARY_* variables and `${VAR}` substitutions from (default `process.env`). */
  readonly env?: Environment;
  /** Settings applied last, over everything else. */
  readonly overrides?: AviaryConfigInput;
}

/** The result of `loadConfig`. */
export interface LoadedConfig {
  readonly config: AviaryConfig;
  /** Things that were ignored, e.g. an AVIARY_ variable that is not a configuration key. */
  readonly warnings: string[];
  /** What contributed, in order: "defaults", "file:<path>" (and its includes), "env:<VAR>", "overrides". */
  readonly sources: string[];
}

/** The layer under everything: the listeners EMQX also starts when nothing is configured. */
export function defaultLayer(): PlainObject {
  return { listeners: { tcp: { default: {} }, ws: { default: {} } } };
}

/** Loads and validates the configuration from defaults, a file, the environment and overrides. */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const sources = ['defaults'];
  let raw = defaultLayer();

  if (options.file !== undefined) {
    const { value, files } = parseHoconFile(options.file, { env });
    raw = deepMerge(raw, value);
    sources.push(...files.map((file) => `file:${file}`));
  }

  const { overrides: fromEnv, warnings } = readEnvOverrides(env, ROOT_KEYS);
  raw = applyEnvOverrides(raw, fromEnv);
  sources.push(...fromEnv.map((override) => `env:${override.variable}`));

  if (options.overrides !== undefined) {
    if (!isPlainObject(options.overrides)) throw new ConfigError('overrides must be a plain object');
    raw = deepMerge(raw, options.overrides);
    sources.push('overrides');
  }

  return { config: validate(raw, envAnnotator(fromEnv)), warnings: [...warnings], sources };
}

/**
 * Validates a configuration given as an object (the library API: `createBroker(config)`): any
 * subset of the keys, in written ("15s") or parsed (15000) form, over the same defaults as
 * `loadConfig`. Parsing a parsed configuration again returns an equal one.
 */
export function parseConfig(input: unknown = {}): AviaryConfig {
  return validate(isPlainObject(input) ? deepMerge(defaultLayer(), input) : input);
}

function validate(raw: unknown, annotate?: PathAnnotator): AviaryConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw issuesToConfigError(result.error.issues, annotate);
  return result.data;
}

/** Notes "set by AVIARY_X" on problems under a key an environment variable set. */
function envAnnotator(overrides: readonly EnvOverride[]): PathAnnotator {
  return (path) => {
    let best: EnvOverride | undefined;
    for (const override of overrides) {
      const prefix = override.path.join('.');
      const covers = path === prefix || path.startsWith(`${prefix}.`);
      if (covers && (best === undefined || override.path.length > best.path.length)) best = override;
    }
    return best === undefined ? undefined : `set by ${best.variable}`;
  };
}
