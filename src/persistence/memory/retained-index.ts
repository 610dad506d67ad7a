/**
 * The retained index: which retained messages a topic filter matches, without visiting the
 * ones it cannot.
 *
 * What it stores. A trie over the levels of the retained topics (the mirror image of
 * src/routing/trie.ts, which stores filters and is walked by a topic): one node per topic level,
 * children in a Map keyed by the level's text, and the retained message at the node where its
 * topic ends. `site/1/temp` and `site/1/temp/max` share `site` -> `1` -> `temp`; `a//b` has an
 * empty middle level and `/a` an empty first one, like any other level. A side Map from the
 * whole topic to its node answers `get`, and `set` of a topic already retained (the common case:
 * a device re-publishing its state), with one lookup and no split.
 *
 * How a filter is matched. A filter without wildcards is one lookup in the side Map. Otherwise
 * the walk follows, at each filter level, one child for a literal level, every child for `+`,
 * and for `#` the node it stands at (`a/#` matches `a` [MQTT-4.7.1-2]) and its whole subtree.
 * Topics that start with `$` are not matched by a `+` or `#` at the first level
 * [MQTT-4.7.2-1], so the first-level wildcard skips the children whose level starts with `$`.
 * So `site/42/#` visits the `site/42` subtree and nothing else, where a scan would test every
 * retained topic.
 *
 * Why the walk has its own stack. A topic may have up to 65,536 levels (65,535 bytes of `/`),
 * and a recursive walk that deep would overflow the call stack; an explicit stack of
 * (node, next filter level) pairs has no such limit. Children are pushed in reverse so the
 * result comes out in pre-order with each node's children in the order their levels were first
 * stored: deterministic, though MQTT sets no order across topics.
 *
 * Why delete prunes. A node left with no message and no children is removed, then its parent if
 * that is left empty, and so on up, so a churn of unique topics (`job/<uuid>/status` set then
 * cleared) does not leave the trie growing without bound. Nodes know their parent and level, so
 * pruning needs no split either.
 *
 * Why `match` yields rather than returns an array. Measured with the topics of
 * bench/micro/retained.bench.ts, the same walk pushing into an array was about 3x slower for
 * large results (100k topics on `#`: ~17 ms against ~5.5 ms of CPU: a growing array that large
 * is reallocated in V8's large-object space), about 25% faster at 10k results (~0.4 ms against
 * ~0.55 ms), and even for small ones. Yielding keeps the cost linear and the memory bounded by
 * the walk's stack. The walk's state is only that stack: no Map iterator is open between yields
 * (a node's children are pushed all at once), so the caller may change the store while it
 * iterates. A message deleted before the walk reaches it is not yielded (its node no longer
 * holds it); one stored meanwhile is yielded only if its node hangs below a node not yet visited.
 */

class RetainedNode<M> {
  /** Children by level; null until the first one (most nodes are leaves). */
  children: Map<string, RetainedNode<M>> | null = null;
  /** The retained message of the topic that ends here, if any. */
  message: M | undefined = undefined;

  constructor(
    readonly parent: RetainedNode<M> | null,
    readonly level: string,
  ) {}
}

/** Filter-level index meaning "this node and its whole subtree" (a `#` was passed). */
const SUBTREE = -1;
const SEPARATOR = '/';
const DOLLAR = 0x24;
const SINGLE_LEVEL = '+';
const MULTI_LEVEL = '#';
const EMPTY: readonly never[] = Object.freeze([]);

export class RetainedIndex<M> {
  /** The root stands for "no level yet"; it never holds a message (a topic has >= 1 level). */
  private readonly root = new RetainedNode<M>(null, '');
  /** Every node that holds a message, by its whole topic. */
  private readonly topics = new Map<string, RetainedNode<M>>();

  /** Number of retained topics. */
  get size(): number {
    return this.topics.size;
  }

  /** Number of trie nodes below the root (for tests: pruning keeps it bounded). */
  get nodeCount(): number {
    let count = 0;
    const stack: RetainedNode<M>[] = [this.root];
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      if (node.children === null) continue;
      count += node.children.size;
      for (const child of node.children.values()) stack.push(child);
    }
    return count;
  }

  get(topic: string): M | undefined {
    return this.topics.get(topic)?.message;
  }

  /** Stores or replaces the retained message of a topic. */
  set(topic: string, message: M): void {
    const known = this.topics.get(topic);
    if (known !== undefined) {
      known.message = message;
      return;
    }
    let node = this.root;
    let start = 0;
    for (;;) {
      const end = topic.indexOf(SEPARATOR, start);
      const level = end === -1 ? topic.slice(start) : topic.slice(start, end);
      let children = node.children;
      if (children === null) {
        children = new Map();
        node.children = children;
      }
      let child = children.get(level);
      if (child === undefined) {
        child = new RetainedNode<M>(node, level);
        children.set(level, child);
      }
      node = child;
      if (end === -1) break;
      start = end + 1;
    }
    node.message = message;
    this.topics.set(topic, node);
  }

  /** Removes the retained message of a topic and prunes the nodes left empty; false if none. */
  delete(topic: string): boolean {
    let node = this.topics.get(topic);
    if (node === undefined) return false;
    this.topics.delete(topic);
    node.message = undefined;
    for (let parent = node.parent; parent !== null; parent = node.parent) {
      if (node.message !== undefined || (node.children !== null && node.children.size > 0)) break;
      const siblings = parent.children;
      if (siblings === null) break;
      siblings.delete(node.level);
      if (siblings.size === 0) parent.children = null;
      node = parent;
    }
    return true;
  }

  /**
   * Retained messages whose topic matches a (valid) topic filter: an array for a filter without
   * wildcards, otherwise a walk of the trie that yields as it goes.
   */
  match(filter: string): Iterable<M> {
    if (filter.indexOf(SINGLE_LEVEL) === -1 && filter.indexOf(MULTI_LEVEL) === -1) {
      const message = this.topics.get(filter)?.message;
      return message === undefined ? EMPTY : [message];
    }
    return this.walk(filter.split(SEPARATOR));
  }

  private *walk(levels: readonly string[]): Generator<M, void, undefined> {
    const last = levels.length;
    // Parallel stacks: a node and the index of the filter level to match below it.
    const nodes: RetainedNode<M>[] = [this.root];
    const next: number[] = [0];
    let top = 1;
    while (top > 0) {
      top--;
      const node = nodes[top]!;
      const i = next[top]!;
      if (i === SUBTREE) {
        top = push(nodes, next, top, node, SUBTREE, false);
        if (node.message !== undefined) yield node.message;
        continue;
      }
      if (i === last) {
        if (node.message !== undefined) yield node.message;
        continue;
      }
      const level = levels[i]!;
      if (level === MULTI_LEVEL) {
        // `#` matches the parent level too [MQTT-4.7.1-2]; not `$` topics at the first level [MQTT-4.7.2-1].
        top = push(nodes, next, top, node, SUBTREE, i === 0);
        if (node.message !== undefined) yield node.message;
      } else if (level === SINGLE_LEVEL) {
        top = push(nodes, next, top, node, i + 1, i === 0); // [MQTT-4.7.2-1]
      } else {
        const child = node.children?.get(level);
        if (child !== undefined) {
          nodes[top] = child;
          next[top] = i + 1;
          top++;
        }
      }
    }
  }
}

/**
 * Pushes a node's children (all with the same next filter level), leaving out those whose level
 * starts with `$` when asked, then reverses them on the stack so they pop in stored order.
 * Returns the new stack top.
 */
function push<M>(
  nodes: RetainedNode<M>[],
  next: number[],
  top: number,
  node: RetainedNode<M>,
  level: number,
  skipDollar: boolean,
): number {
  const children = node.children;
  if (children === null) return top;
  const first = top;
  for (const child of children.values()) {
    if (skipDollar && child.level.charCodeAt(0) === DOLLAR) continue;
    nodes[top] = child;
    next[top] = level;
    top++;
  }
  for (let lo = first, hi = top - 1; lo < hi; lo++, hi--) {
    const swap = nodes[lo]!;
    nodes[lo] = nodes[hi]!;
    nodes[hi] = swap;
  }
  return top;
}
