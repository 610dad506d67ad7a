/**
 * HOCON, the configuration language of EMQX (and Akka, Play): JSON with comments, optional
 * quotes and commas, `key { ... }` blocks, dotted keys, includes and `${substitutions}`.
 *
 *   # a comment                         // also a comment
 *   node.name = "aviary@127.0.0.1"      node { name: "aviary@127.0.0.1" }   (the same key)
 *   listeners.tcp.default.bind = "0.0.0.0:1883"
 *   mqtt { idle_timeout = 15s, max_packet_size = 1MB }    (values stay strings; the schema reads them)
 *   ssl_options.versions = ["tlsv1.3", "tlsv1.2"]
 *   include "listeners.conf"            (relative to this file; silently skipped if absent)
 *   include required("secrets.conf")    (an error if absent)
 *   node.data_dir = ${?AVIARY_DATA}     (a key or environment variable; unset if neither exists)
 *   text = """raw "multi-line" text"""
 *
 * This is Aviary's own synchronous parser (hocon/lexer.ts -> hocon/parser.ts -> hocon/resolve.ts).
 * The npm HOCON parsers are asynchronous, and configuration is loaded synchronously before the
 * broker starts. Not supported: `+=`, self-referential substitutions (`a = ${a} x`),
 * `include url(...)`/`classpath(...)`, and `.properties` files; each fails with a clear error.
 * Every error is a ConfigError whose message starts with `file:line:column:`.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { hoconError } from './hocon/ast.js';
import { type IncludeContext, parseDocument, parseStandaloneValue } from './hocon/parser.js';
import {
  type Environment,
  type HoconObject,
  type HoconValue,
  resolveDocument,
  resolveStandalone,
} from './hocon/resolve.js';

export type { Environment, HoconObject, HoconValue } from './hocon/resolve.js';

/** The name given to text that does not come from a file, in error messages. */
export const TEXT_SOURCE_NAME = '<text>';

/** Options for the HOCON entry points. */
export interface HoconOptions {
  /** The file the text came from: names it in errors, and relative includes start from its folder. */
  readonly file?: string;
  /** Variables for substitutions the document does not define (default: `process.env`). */
  readonly env?: Environment;
}

/** A parsed file with the files that were read for it (itself first, then its includes). */
export interface HoconFileResult {
  readonly value: HoconObject;
  readonly files: readonly string[];
}

/** Parses HOCON text into a plain object. Throws ConfigError on a syntax or substitution error. */
export function parseHocon(text: string, options: HoconOptions = {}): HoconObject {
  return parseWithContext(text, options, { files: [], stack: [] });
}

/** Reads and parses a HOCON file. A missing or unreadable file is a ConfigError naming the path. */
export function parseHoconFile(path: string, options: Omit<HoconOptions, 'file'> = {}): HoconFileResult {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'config file not found' : `cannot read config file (${code ?? cause})`;
    throw new ConfigError(`${reason}: ${file}`, '', { cause });
  }
  const ctx: IncludeContext = { files: [file], stack: [file] };
  const value = parseWithContext(text, { ...options, file }, ctx);
  return { value, files: ctx.files };
}

/**
 * Parses text that is one HOCON value, as found in an environment variable: `["tlsv1.2"]`,
 * `{ a = 1 }`, `"quoted"`, `42`. Returns `undefined` for a lone `${?VAR}` that is not set.
 */
export function parseHoconValue(text: string, options: HoconOptions = {}): HoconValue | undefined {
  const node = parseStandaloneValue(text, options.file ?? TEXT_SOURCE_NAME);
  return resolveStandalone(node, options.env ?? process.env);
}

function parseWithContext(text: string, options: HoconOptions, ctx: IncludeContext): HoconObject {
  const file = options.file ?? TEXT_SOURCE_NAME;
  const baseDir = options.file === undefined ? process.cwd() : dirname(resolve(options.file));
  try {
    const root = parseDocument(text, file, baseDir, ctx);
    return resolveDocument(root, options.env ?? process.env);
  } catch (error) {
    if (error instanceof RangeError) {
      // A stack overflow from pathological input; report it like any other syntax problem.
      throw hoconError('the document is nested too deeply to parse', { file, line: 1, col: 1 });
    }
    throw error;
  }
}
