/**
 * The building blocks of the configuration schema: one zod schema per kind of value, each
 * accepting EMQX's written forms ("15s", "1MB", "infinity", "0.0.0.0:1883") as well as the
 * normalised forms they produce (milliseconds, bytes, `Infinity`, `{ host, port }`), so that a
 * parsed configuration parses again to itself.
 *
 * Every leaf reports a failure in one shape, `expected <what>, got <input>`, which the issue
 * formatter (issues.ts) prefixes with the dotted key path. Sections (`section`) are strict:
 * an unknown key is an error that suggests the closest known key.
 */
import { z } from 'zod';
import { closest } from './suggest.js';
import { type BindAddress, parseBind, parseByteSize, parseDuration } from './units.js';

const MAX_SHOWN_CHARS = 60;

/** Describes an input value for an error message: `"abc"`, `-1`, `an object`, `nothing`. */
export function describeInput(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'null';
  if (typeof input === 'string') {
    const shown = input.length > MAX_SHOWN_CHARS ? `${input.slice(0, MAX_SHOWN_CHARS)}...` : input;
    return JSON.stringify(shown);
  }
  if (typeof input === 'number') return Number.isFinite(input) ? String(input) : String(input).toLowerCase();
  if (Array.isArray(input)) return 'an array';
  if (typeof input === 'object') return 'an object';
  return String(input);
}

/**
 * A leaf value: `parse` returns the normalised value or `undefined` to reject the input, in
 * which case the issue reads `expected <expected>, got <input>`.
 */
export function leaf<T>(expected: string, parse: (input: unknown) => T | undefined) {
  return z.unknown().transform((input, ctx): T => {
    const value = input === undefined ? undefined : parse(input);
    if (value === undefined) {
      ctx.issues.push({
        code: 'custom',
        message: `expected ${expected}, got ${describeInput(input)}`,
        input,
      });
      return z.NEVER;
    }
    return value;
  });
}

/** `true`/`false` (also the strings "true"/"false", as environment variables give them). */
export function bool() {
  return leaf('true or false', (input) => {
    if (typeof input === 'boolean') return input;
    if (input === 'true') return true;
    if (input === 'false') return false;
    return undefined;
  });
}

/** A string; a number is accepted and turned into its decimal text. */
export function str(expected = 'a string', accept: (text: string) => boolean = () => true) {
  return leaf(expected, (input) => {
    const text = typeof input === 'number' && Number.isFinite(input) ? String(input) : input;
    return typeof text === 'string' && accept(text) ? text : undefined;
  });
}

/** One of a fixed set of words; `aliases` maps extra accepted words to canonical ones. */
export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
  aliases: Readonly<Record<string, T[number]>> = {},
) {
  const accepted = new Set<string>(values);
  return leaf(`one of ${values.join(', ')}`, (input): T[number] | undefined => {
    if (typeof input !== 'string') return undefined;
    const word = input.trim().toLowerCase();
    if (accepted.has(word)) return word as T[number];
    return Object.hasOwn(aliases, word) ? aliases[word] : undefined;
  });
}

/** Options for `int`. */
export interface IntOptions {
  /** Also accept "infinity" / `Infinity` (returned as `Infinity`). */
  readonly unlimited?: boolean;
  /** EMQX's "0 means no limit": 0 is returned as `Infinity`. */
  readonly zeroIsUnlimited?: boolean;
}

/** An integer in `[min, max]`; numeric strings are accepted. */
export function int(min: number, max: number, options: IntOptions = {}) {
  const range =
    max === Number.POSITIVE_INFINITY ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  const expected = options.unlimited ? `${range} or "infinity"` : range;
  return leaf(expected, (input) => {
    if (options.unlimited && (input === Number.POSITIVE_INFINITY || input === 'infinity')) {
      return Number.POSITIVE_INFINITY;
    }
    const value = typeof input === 'string' && /^-?\d+$/.test(input.trim()) ? Number(input) : input;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      return undefined;
    }
    return options.zeroIsUnlimited && value === 0 ? Number.POSITIVE_INFINITY : value;
  });
}

/** A finite number in `[min, max]`; numeric strings are accepted. */
export function decimal(min: number, max: number) {
  return leaf(`a number from ${min} to ${max}`, (input) => {
    const value = typeof input === 'string' && input.trim() !== '' ? Number(input) : input;
    return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max
      ? value
      : undefined;
  });
}

/** Options for `duration`. */
export interface DurationFieldOptions {
  /** Accept "infinity"/"disabled" as `Infinity`. */
  readonly unlimited?: boolean;
  /** EMQX's "0s means never": 0 is returned as `Infinity`. */
  readonly zeroIsUnlimited?: boolean;
  /** Additional check on the milliseconds, with the words to add to `expected`. */
  readonly check?: { readonly test: (ms: number) => boolean; readonly expected: string };
}

/** A duration, normalised to milliseconds. */
export function duration(options: DurationFieldOptions = {}) {
  const base = 'a duration like "15s", "500ms", "2h" or a number of milliseconds';
  const unlimited = options.unlimited ? `${base}, or "infinity"` : base;
  const expected = options.check ? `${unlimited} (${options.check.expected})` : unlimited;
  return leaf(expected, (input) => {
    const ms = parseDuration(input, { unlimited: options.unlimited === true });
    if (ms === undefined) return undefined;
    if (Number.isFinite(ms) && options.check && !options.check.test(ms)) return undefined;
    return options.zeroIsUnlimited && ms === 0 ? Number.POSITIVE_INFINITY : ms;
  });
}

/** A byte size in `[min, max]` bytes, normalised to bytes. */
export function byteSize(min: number, max: number, maxText: string) {
  return leaf(`a size like "1MB", "64KB" or a number of bytes, from ${min} to ${maxText}`, (input) => {
    const bytes = parseByteSize(input);
    return bytes !== undefined && bytes >= min && bytes <= max ? bytes : undefined;
  });
}

/** A listen address, normalised to `{ host, port }`. */
export function bind() {
  return leaf<BindAddress>('"host:port" or a port number', (input) => parseBind(input));
}

/** A list of words from `values`, written as an array or a comma-separated string. */
export function listOf<const T extends readonly [string, ...string[]]>(
  values: T,
  options: { readonly nonEmpty?: boolean } = {},
) {
  const accepted = new Set<string>(values);
  const what = options.nonEmpty ? 'a non-empty list' : 'a list';
  return leaf(`${what} of ${values.join(', ')}`, (input): T[number][] | undefined => {
    const items = typeof input === 'string' ? splitList(input) : input;
    if (!Array.isArray(items) || (options.nonEmpty && items.length === 0)) return undefined;
    const words = items.map((item) => (typeof item === 'string' ? item.trim().toLowerCase() : item));
    return words.every((word) => typeof word === 'string' && accepted.has(word))
      ? (words as T[number][])
      : undefined;
  });
}

/** A list of strings, written as an array or a comma-separated string. */
export function stringList() {
  return leaf('a list of strings', (input): string[] | undefined => {
    const items = typeof input === 'string' ? splitList(input) : input;
    if (!Array.isArray(items)) return undefined;
    return items.every((item) => typeof item === 'string') ? (items as string[]) : undefined;
  });
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

/** A name usable as a map key (listener or zone name), as EMQX allows them. */
export const NAME = z.string().regex(/^[A-Za-z0-9_-]+$/, {
  error: 'a name may contain only letters, digits, "_" and "-"',
});

/**
 * A strict section: an object with exactly these keys. An unknown key is reported once per key
 * (the issue's message has one line per key, in the order of the issue's `keys`), with the
 * closest known key as a suggestion.
 */
export function section<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => unknownKeyMessage(key, known)).join('\n');
      }
      if (issue.code === 'invalid_type') {
        return `expected an object (a { ... } block), got ${describeInput(issue.input)}`;
      }
      return undefined;
    },
  });
}

/** A map from names to values of one schema (`listeners.tcp.<name>`, `zones.<name>`). */
export function mapOf<T extends z.ZodType>(value: T) {
  return z.record(NAME, value, {
    error: (issue) =>
      issue.code === 'invalid_type'
        ? `expected an object of named entries, got ${describeInput(issue.input)}`
        : undefined,
  });
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const guess = closest(key, known);
  return guess === undefined ? 'unknown key' : `unknown key (did you mean "${guess}"?)`;
}
