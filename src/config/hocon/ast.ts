/**
 * The parsed-but-unresolved form of a HOCON document.
 *
 * Parsing (parser.ts) builds this tree and already merges duplicate keys and included files;
 * resolution (resolve.ts) then replaces substitutions with the values they point to and
 * produces plain JSON values. The two steps are separate because a substitution may refer to a
 * key defined later in the file, or in another file.
 *
 * Node kinds:
 *   object   fields in definition order; a key defined twice has been merged already
 *   array    elements
 *   scalar   a finished value: string, number, boolean or null (`blank` marks whitespace that
 *            only matters between two strings of a concatenation)
 *   subst    ${path} / ${?path}; `prefix` is the path of the object an included file was
 *            included into, tried first so that an included file can refer to its siblings
 *   concat   values written side by side (`${a} "/x"`, `${defaults} { b = 1 }`), joined when
 *            resolved: strings concatenate, objects merge, arrays append
 *   fallback `key = ${?VAR}` written over an earlier value of `key`: VAR when it is set, else
 *            the earlier value (HOCON's rule, and the usual way to let a variable override)
 */
import { ConfigError } from '../../errors.js';

/** Where a token or node came from. */
export interface Position {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export type Scalar = string | number | boolean | null;

export interface ObjectNode {
  readonly kind: 'object';
  readonly fields: Map<string, Node>;
  readonly at: Position;
}

export interface ArrayNode {
  readonly kind: 'array';
  readonly items: Node[];
  readonly at: Position;
}

export interface ScalarNode {
  readonly kind: 'scalar';
  readonly value: Scalar;
  readonly blank: boolean;
  readonly at: Position;
}

export interface SubstNode {
  readonly kind: 'subst';
  readonly path: readonly string[];
  readonly optional: boolean;
  readonly prefix: readonly string[];
  readonly at: Position;
}

export interface ConcatNode {
  readonly kind: 'concat';
  readonly parts: Node[];
  readonly at: Position;
}

export interface FallbackNode {
  readonly kind: 'fallback';
  readonly preferred: SubstNode;
  readonly previous: Node;
  readonly at: Position;
}

export type Node = ObjectNode | ArrayNode | ScalarNode | SubstNode | ConcatNode | FallbackNode;

/** A syntax or resolution error, as a ConfigError naming the file, line and column. */
export function hoconError(message: string, at: Position): ConfigError {
  return new ConfigError(`${at.file}:${at.line}:${at.col}: ${message}`);
}

/** Writes a path as in the source: a.b."c.d". */
export function pathText(path: readonly string[]): string {
  return path
    .map((segment) => (/^[A-Za-z0-9_-]+$/.test(segment) ? segment : JSON.stringify(segment)))
    .join('.');
}
