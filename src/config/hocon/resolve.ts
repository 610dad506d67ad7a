/**
 * Substitution resolution: the unresolved tree (ast.ts) -> plain JSON values.
 *
 * `${a.b}` is looked up in the whole document (whatever file defined it), then, if the document
 * has no such key, in the environment under the name "a.b" (so `${HOME}` reads $HOME). An
 * `${?a.b}` that finds nothing disappears: as a field's whole value the field is not set (and
 * written over an earlier value of the key, `data_dir = ${?DATA_DIR}`, the earlier value stays);
 * inside a concatenation it is empty. A plain `${a.b}` that finds nothing is an error naming
 * its file and line.
 *
 * In a file included inside `a { include "x.conf" }`, `${b}` first means `${a.b}`, then `${b}`.
 *
 * Each node resolves at most once (memoised); a node met again while it is still resolving is
 * a cycle (`a = ${b}`, `b = ${a}`) and an error. Self-references that HOCON resolves against the
 * previous value (`path = ${path}":/extra"`) are reported as cycles too: not supported.
 */
import { deepMerge, isPlainObject, type PlainObject, setOwn } from '../merge.js';
import { hoconError, type Node, type ObjectNode, pathText, type SubstNode } from './ast.js';

/** A resolved HOCON value: JSON. */
export type HoconValue = string | number | boolean | null | HoconValue[] | HoconObject;
/** A resolved HOCON object. */
export interface HoconObject {
  [key: string]: HoconValue;
}

/** The environment consulted for substitutions the document does not define. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** Resolves a parsed document to a plain object. */
export function resolveDocument(root: ObjectNode, env: Environment): HoconObject {
  const value = new Resolver(root, env).value(root);
  return (value ?? {}) as HoconObject;
}

/** Resolves a lone value; its substitutions can only come from the environment. */
export function resolveStandalone(node: Node, env: Environment): HoconValue | undefined {
  const root: ObjectNode = { kind: 'object', fields: new Map(), at: node.at };
  return new Resolver(root, env).value(node);
}

type Lookup = { readonly found: true; readonly value: HoconValue } | { readonly found: false };
const NOT_FOUND: Lookup = { found: false };

class Resolver {
  private readonly memo = new Map<Node, HoconValue | undefined>();
  private readonly active = new Set<Node>();

  constructor(
    private readonly root: ObjectNode,
    private readonly env: Environment,
  ) {}

  /** The node's value; `undefined` when it is (or ends in) an optional substitution that found nothing. */
  value(node: Node): HoconValue | undefined {
    if (node.kind === 'scalar') return node.value;
    if (this.memo.has(node)) return this.memo.get(node);
    if (this.active.has(node)) throw this.cycleError(node);
    this.active.add(node);
    let result: HoconValue | undefined;
    try {
      result = this.compute(node);
    } finally {
      this.active.delete(node);
    }
    this.memo.set(node, result);
    return result;
  }

  private compute(node: Exclude<Node, { kind: 'scalar' }>): HoconValue | undefined {
    switch (node.kind) {
      case 'object': {
        const out: HoconObject = {};
        for (const [key, child] of node.fields) {
          const value = this.value(child);
          if (value !== undefined) setOwn(out, key, value);
        }
        return out;
      }
      case 'array':
        return node.items.map((item) => this.value(item)).filter((item) => item !== undefined);
      case 'subst':
        return this.substitute(node);
      case 'concat':
        return this.concatenate(node.parts, node);
      case 'fallback':
        return this.value(node.preferred) ?? this.value(node.previous);
    }
  }

  private substitute(node: SubstNode): HoconValue | undefined {
    const paths = node.prefix.length > 0 ? [[...node.prefix, ...node.path], node.path] : [node.path];
    for (const path of paths) {
      const hit = this.lookup(path);
      if (hit.found) return hit.value;
    }
    const variable = node.path.join('.');
    const fromEnv = Object.hasOwn(this.env, variable) ? this.env[variable] : undefined;
    if (fromEnv !== undefined) return fromEnv;
    if (node.optional) return undefined;
    throw hoconError(
      `cannot resolve \${${pathText(node.path)}}: no such key, and no environment variable ${variable}`,
      node.at,
    );
  }

  /** Walks `path` from the root, resolving only what lies on the way. */
  private lookup(path: readonly string[]): Lookup {
    let node: Node | undefined = this.root;
    let json: HoconValue | undefined;
    for (const segment of path) {
      if (node?.kind === 'object') {
        node = node.fields.get(segment);
        if (node === undefined) return NOT_FOUND;
        continue;
      }
      if (node !== undefined) {
        json = this.value(node);
        node = undefined;
      }
      if (!isPlainObject(json) || !Object.hasOwn(json, segment)) return NOT_FOUND;
      json = (json as HoconObject)[segment];
    }
    const value = node === undefined ? json : this.value(node);
    return value === undefined ? NOT_FOUND : { found: true, value };
  }

  /** Side-by-side values: objects merge, arrays append, anything else joins as text. */
  private concatenate(parts: readonly Node[], at: Node): HoconValue | undefined {
    const values: { value: HoconValue; blank: boolean }[] = [];
    for (const part of parts) {
      const value = this.value(part);
      if (value !== undefined) values.push({ value, blank: part.kind === 'scalar' && part.blank });
    }
    const solid = values.filter((v) => !v.blank).map((v) => v.value);
    if (solid.length === 0)
      return values.length === 0 ? undefined : values.map((v) => String(v.value)).join('');
    if (solid.some(isPlainObject)) {
      if (!solid.every(isPlainObject)) throw hoconError(mixedMessage(solid), at.at);
      return solid.reduce<PlainObject>(
        (merged, next) => deepMerge(merged, next as PlainObject),
        {},
      ) as HoconObject;
    }
    if (solid.some(Array.isArray)) {
      if (!solid.every(Array.isArray)) throw hoconError(mixedMessage(solid), at.at);
      return (solid as HoconValue[][]).flat(1);
    }
    return values.map((v) => String(v.value)).join('');
  }

  private cycleError(node: Node) {
    const what = node.kind === 'subst' ? `\${${pathText(node.path)}}` : 'a value';
    return hoconError(
      `circular substitution at ${what}: it depends on its own value (self-references such as a = \${a} "x" are not supported)`,
      node.at,
    );
  }
}

function mixedMessage(values: readonly HoconValue[]): string {
  const kinds = new Set(
    values.map((v) => (isPlainObject(v) ? 'an object' : Array.isArray(v) ? 'an array' : 'a string')),
  );
  return `cannot concatenate ${[...kinds].join(' with ')}`;
}
