/**
 * Plain-object helpers shared by the configuration layers.
 *
 * Configuration arrives as layers (defaults < file < environment < programmatic overrides) of
 * plain JSON-like objects. Layers combine by deep merge: objects merge key by key, anything else
 * (strings, numbers, arrays) is replaced by the later layer. That is HOCON's own rule for a key
 * defined twice, and EMQX's rule for its config files.
 *
 * Keys come from user files and environment variables, so a key may be `__proto__`; every write
 * goes through `setOwn`, which defines an own property instead of touching the prototype.
 */

/** A JSON-like object as produced by the HOCON parser or written by a user. */
export type PlainObject = Record<string, unknown>;

/** True for `{}`-style objects (not arrays, not null, not class instances like Date or Buffer). */
export function isPlainObject(value: unknown): value is PlainObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Sets `target[key] = value` as an own, enumerable property, even for `__proto__`. */
export function setOwn(target: PlainObject | unknown[], key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** True when `target` has an own property `key` (prototype keys such as `toString` do not count). */
export function hasOwn(target: object, key: string): boolean {
  return Object.hasOwn(target, key);
}

/**
 * Returns a new object: `base` with `over` merged on top. Plain objects merge recursively;
 * every other value in `over` (including arrays) replaces the one in `base`. An `undefined`
 * value in `over` leaves the base value alone. Neither argument is mutated.
 */
export function deepMerge(base: PlainObject, over: PlainObject): PlainObject {
  const out: PlainObject = {};
  for (const key of Object.keys(base)) setOwn(out, key, base[key]);
  for (const key of Object.keys(over)) {
    const next = over[key];
    if (next === undefined) continue;
    const prev = hasOwn(out, key) ? out[key] : undefined;
    setOwn(out, key, isPlainObject(prev) && isPlainObject(next) ? deepMerge(prev, next) : next);
  }
  return out;
}

/** A deep copy of a JSON-like value (plain objects and arrays are copied; other values shared). */
export function cloneDeep<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => cloneDeep(item)) as T;
  if (isPlainObject(value)) {
    const out: PlainObject = {};
    for (const key of Object.keys(value)) setOwn(out, key, cloneDeep(value[key]));
    return out as T;
  }
  return value;
}
