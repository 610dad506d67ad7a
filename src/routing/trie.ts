/**
 * The topic trie: which subscriptions match a topic name.
 *
 * What it stores. One node per topic level of every subscribed filter. A node has a map of
 * literal children, a `+` child and a `#` child, and the values (subscriptions) whose filter ends
 * exactly there. `sport/+/score` and `sport/#` share the `sport` node.
 *
 * How a topic is matched. The topic is split on `/` once; the walk follows, at each level, the
 * literal child for that level and the `+` child, and collects the values of every `#` child it
 * passes (a `#` matches the level it stands at and everything below, including the parent level
 * itself: `sport/#` matches `sport` [MQTT-4.7.1-2]). Topics that start with `$` are not matched
 * by a `+` or `#` at the first level [MQTT-4.7.2-1].
 *
 * Why there is a cache. Real workloads publish to the same topics again and again; the match
 * cache maps a topic name to its result array and answers repeated publishes with one Map
 * lookup. It is bounded (oldest entries go first, a Map keeps insertion order) so a stream of
 * unique topics cannot grow it without end, and any change of subscriptions clears it: the
 * result arrays are shared and must never be stale. Counters for hits and misses tell whether
 * it earns its keep; `cacheSize: 0` turns it off (tests run both ways).
 */

class TrieNode<T> {
  readonly children = new Map<string, TrieNode<T>>();
  plus: TrieNode<T> | null = null;
  hash: TrieNode<T> | null = null;
  values: T[] = [];

  get empty(): boolean {
    return this.values.length === 0 && this.children.size === 0 && this.plus === null && this.hash === null;
  }
}

export interface TrieOptions {
  /** Entries in the match cache; 0 disables it. Default 4096. */
  cacheSize?: number;
}

const EMPTY: readonly never[] = Object.freeze([]);

export class TopicTrie<T> {
  private readonly root = new TrieNode<T>();
  private readonly cache = new Map<string, readonly T[]>();
  private readonly cacheSize: number;
  private count = 0;
  /** Filters with at least one value (distinct subscribed filters). */
  private filters = 0;
  cacheHits = 0;
  cacheMisses = 0;

  constructor(options: TrieOptions = {}) {
    this.cacheSize = options.cacheSize ?? 4096;
  }

  /** Number of values stored. */
  get size(): number {
    return this.count;
  }

  /** Number of distinct filters that hold a value. */
  get filterCount(): number {
    return this.filters;
  }

  /** Adds a value under a (valid) filter. The same value may be added under several filters. */
  add(filter: string, value: T): void {
    let node = this.root;
    for (const level of filter.split('/')) {
      if (level === '+') node = node.plus ??= new TrieNode<T>();
      else if (level === '#') node = node.hash ??= new TrieNode<T>();
      else {
        let next = node.children.get(level);
        if (next === undefined) {
          next = new TrieNode<T>();
          node.children.set(level, next);
        }
        node = next;
      }
    }
    if (node.values.length === 0) this.filters++;
    node.values.push(value);
    this.count++;
    this.invalidate();
  }

  /** Removes a value from a filter; returns whether it was there. Prunes empty nodes. */
  remove(filter: string, value: T): boolean {
    const path: Array<[TrieNode<T>, string]> = [];
    let node: TrieNode<T> | null | undefined = this.root;
    for (const level of filter.split('/')) {
      path.push([node, level]);
      node = level === '+' ? node.plus : level === '#' ? node.hash : node.children.get(level);
      if (node === null || node === undefined) return false;
    }
    const at = node.values.indexOf(value);
    if (at < 0) return false;
    // Copy on write: a cached result may hold the old array.
    node.values = node.values.filter((_, i) => i !== at);
    this.count--;
    if (node.values.length === 0) this.filters--;
    for (let i = path.length - 1; i >= 0 && node.empty; i--) {
      const [parent, level] = path[i]!;
      if (level === '+') parent.plus = null;
      else if (level === '#') parent.hash = null;
      else parent.children.delete(level);
      node = parent;
    }
    this.invalidate();
    return true;
  }

  /** Values of every filter that matches the topic name. Do not mutate the result. */
  match(topic: string): readonly T[] {
    if (this.cacheSize > 0) {
      const hit = this.cache.get(topic);
      if (hit !== undefined) {
        this.cacheHits++;
        return hit;
      }
      this.cacheMisses++;
    }
    const out: T[] = [];
    const levels = topic.split('/');
    this.walk(this.root, levels, 0, out, topic.charCodeAt(0) === DOLLAR);
    const result = out.length === 0 ? EMPTY : out;
    if (this.cacheSize > 0) {
      if (this.cache.size >= this.cacheSize) {
        const oldest = this.cache.keys().next();
        if (oldest.done !== true) this.cache.delete(oldest.value);
      }
      this.cache.set(topic, result);
    }
    return result;
  }

  private walk(node: TrieNode<T>, levels: string[], i: number, out: T[], dollar: boolean): void {
    const noWildcard = dollar && i === 0;
    if (node.hash !== null && !noWildcard) pushAll(out, node.hash.values);
    if (i === levels.length) {
      pushAll(out, node.values);
      return;
    }
    const child = node.children.get(levels[i]!);
    if (child !== undefined) this.walk(child, levels, i + 1, out, dollar);
    if (node.plus !== null && !noWildcard) this.walk(node.plus, levels, i + 1, out, dollar);
  }

  /** Every (filter, value) pair, for listings and tests. */
  *entries(): Generator<[string, T]> {
    yield* entriesOf(this.root, []);
  }

  /** Every distinct filter that holds a value (for listings such as the API's /topics). */
  *filterNames(): Generator<string> {
    yield* filtersOf(this.root, []);
  }

  private invalidate(): void {
    if (this.cache.size > 0) this.cache.clear();
  }
}

function* entriesOf<T>(node: TrieNode<T>, prefix: string[]): Generator<[string, T]> {
  for (const v of node.values) yield [prefix.join('/'), v];
  for (const [level, child] of node.children) yield* entriesOf(child, [...prefix, level]);
  if (node.plus !== null) yield* entriesOf(node.plus, [...prefix, '+']);
  if (node.hash !== null) yield* entriesOf(node.hash, [...prefix, '#']);
}

function* filtersOf<T>(node: TrieNode<T>, prefix: string[]): Generator<string> {
  if (node.values.length > 0) yield prefix.join('/');
  for (const [level, child] of node.children) yield* filtersOf(child, [...prefix, level]);
  if (node.plus !== null) yield* filtersOf(node.plus, [...prefix, '+']);
  if (node.hash !== null) yield* filtersOf(node.hash, [...prefix, '#']);
}

function pushAll<T>(out: T[], values: T[]): void {
  for (let i = 0; i < values.length; i++) out.push(values[i]!);
}

const DOLLAR = 0x24;
