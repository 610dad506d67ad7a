/**
 * HOCON parser: tokens -> an unresolved tree (ast.ts), with duplicate keys merged and
 * `include`d files read and merged in place.
 *
 * Grammar, as far as emqx.conf needs it:
 *   document  := object-body | "{" object-body "}"
 *   field     := key ( "=" | ":" ) value | key object        (a field ends at a newline or ",")
 *   key       := path of unquoted/quoted parts: listeners.tcp."my.name".bind
 *   value     := part+ (parts side by side concatenate: strings join, objects merge)
 *   part      := "string" | """string""" | unquoted | ${path} | ${?path} | object | array
 *   array     := "[" (value ("," | newline))* "]"
 *   include   := include "file" | include file("f") | include required("f") | required(file("f"))
 *
 * A dotted key is shorthand for nested objects (`a.b = 1` is `a { b = 1 }`), and a key set
 * twice merges when both values are objects, otherwise the later value wins. Unquoted values
 * become numbers, booleans or null only when they are the whole value (`port = 1883`);
 * `15s`, `127.0.0.1` and `warning` stay strings.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import {
  type ArrayNode,
  type ConcatNode,
  hoconError,
  type Node,
  type ObjectNode,
  type Position,
  pathText,
  type Scalar,
} from './ast.js';
import { type Token, type TokenKind, tokenize } from './lexer.js';

/** Deeper nesting than this is refused (it would only come from a broken or hostile file). */
export const MAX_NESTING_DEPTH = 256;
/** Extensions tried, in order, for `include "name"` without one (HOCON: .conf, then .json). */
export const INCLUDE_EXTENSIONS: readonly string[] = ['.conf', '.json'];

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const INCLUDE_WRAPPER = /^(required\()?(file\()?$/;
const CLOSING_PARENS = /^\)+$/;
const UNSUPPORTED_INCLUDE = /^(required\()?(url|classpath)\($/;

/** State shared by a document and the files it includes. */
export interface IncludeContext {
  /** Absolute paths of every file read, in order. */
  readonly files: string[];
  /** The chain of files being parsed, to detect include cycles. */
  readonly stack: readonly string[];
}

/** Parses a document. `file` names it in messages; relative includes resolve against `baseDir`. */
export function parseDocument(
  text: string,
  file: string,
  baseDir: string,
  ctx: IncludeContext,
  prefix: readonly string[] = [],
): ObjectNode {
  return new Parser(tokenize(text, file), file, baseDir, ctx, prefix).document();
}

/** Parses text that is a single value (an environment variable's `["tlsv1.2"]`). */
export function parseStandaloneValue(text: string, file: string): Node {
  const ctx: IncludeContext = { files: [], stack: [] };
  return new Parser(tokenize(text, file), file, process.cwd(), ctx, []).standaloneValue();
}

interface Part {
  readonly node: Node;
  /** The raw text when the part is an unquoted run (it may still become a number or boolean). */
  readonly unquoted?: string;
}

class Parser {
  private index = 0;
  private depth = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly file: string,
    private readonly baseDir: string,
    private readonly ctx: IncludeContext,
    private readonly prefix: readonly string[],
  ) {}

  document(): ObjectNode {
    this.skip('ws', 'newline');
    const first = this.peek();
    if (first.kind === 'lbracket') throw this.error(first, 'a configuration must be an object, not an array');
    let root: ObjectNode;
    if (first.kind === 'lbrace') {
      this.take();
      root = this.objectBody(first, 'rbrace', this.prefix);
    } else {
      root = this.objectBody(first, 'eof', this.prefix);
    }
    this.skip('ws', 'newline');
    const rest = this.peek();
    if (rest.kind !== 'eof') throw this.error(rest, `unexpected ${describe(rest)} after the closing '}'`);
    return root;
  }

  standaloneValue(): Node {
    this.skip('ws', 'newline');
    const node = this.value('the value');
    this.skip('ws', 'newline');
    const rest = this.peek();
    if (rest.kind !== 'eof') throw this.error(rest, `unexpected ${describe(rest)} after the value`);
    return node;
  }

  /** Fields up to `closing` ("}" is consumed; end of file is not). */
  private objectBody(open: Token, closing: 'rbrace' | 'eof', path: readonly string[]): ObjectNode {
    const object: ObjectNode = { kind: 'object', fields: new Map(), at: this.at(open) };
    this.enter(open);
    for (;;) {
      this.skip('ws', 'newline');
      const token = this.peek();
      if (token.kind === closing) {
        if (closing === 'rbrace') this.take();
        this.depth--;
        return object;
      }
      if (token.kind === 'eof') {
        throw this.error(token, `missing '}' to close the object opened at line ${open.line}`);
      }
      const key = this.isInclude() ? this.include(object, path) : this.field(object, path);
      this.skip('ws');
      const after = this.peek();
      if (after.kind === 'comma') this.take();
      else if (after.kind !== 'newline' && after.kind !== closing && after.kind !== 'eof') {
        throw this.error(after, unexpectedAfterValue(after, key));
      }
    }
  }

  /** Parses `key = value` into `object`; returns the key's text for messages. */
  private field(object: ObjectNode, path: readonly string[]): string {
    const key = this.key();
    const name = pathText(key);
    this.skip('ws');
    const token = this.peek();
    if (token.kind === 'separator') {
      this.take();
      this.skip('ws');
    } else if (token.kind === 'plusEquals') {
      throw this.error(token, `'+=' is not supported (in "${name}"); write the whole array`);
    } else if (token.kind !== 'lbrace') {
      throw this.error(token, `expected '=', ':' or '{' after the key "${name}", found ${describe(token)}`);
    }
    const value = this.value(`"${name}"`, [...path, ...key]);
    setField(object, key, value);
    return name;
  }

  /** A key path: unquoted runs split at ".", quoted parts kept whole. */
  private key(): string[] {
    const first = this.peek();
    const startIndex = this.index;
    const segments: string[] = [''];
    const written: boolean[] = [false];
    while (this.peek().kind === 'string' || this.peek().kind === 'unquoted') {
      const token = this.take();
      const last = segments.length - 1;
      if (token.kind === 'string') {
        segments[last] += token.text;
        written[last] = true;
        continue;
      }
      const [head = '', ...rest] = token.text.split('.');
      segments[last] += head;
      written[last] = written[last] === true || head !== '';
      for (const part of rest) {
        segments.push(part);
        written.push(part !== '');
      }
    }
    if (this.index === startIndex) {
      throw this.error(first, `expected a key, found ${describe(first)}`);
    }
    if (written.includes(false)) {
      throw this.error(first, `empty key segment in "${segments.join('.')}"`);
    }
    return segments;
  }

  /** One value: its parts side by side, up to a newline, ",", "}" or "]". */
  private value(what: string, path: readonly string[] = []): Node {
    const parts: Part[] = [];
    let blank: Token | undefined;
    const start = this.peek();
    for (;;) {
      const token = this.peek();
      if (token.kind === 'ws') {
        this.take();
        if (parts.length > 0) blank = token;
        continue;
      }
      const part = this.part(token, path);
      if (part === undefined) break;
      if (blank !== undefined) parts.push({ node: this.scalar(blank, blank.text, true) });
      blank = undefined;
      parts.push(part);
    }
    const [only] = parts;
    if (only === undefined) throw this.error(start, `expected a value for ${what}, found ${describe(start)}`);
    if (parts.length === 1) {
      if (only.unquoted === undefined) return only.node;
      return { kind: 'scalar', value: typedScalar(only.unquoted), blank: false, at: only.node.at };
    }
    const concat: ConcatNode = { kind: 'concat', parts: parts.map((p) => p.node), at: this.at(start) };
    return concat;
  }

  private part(token: Token, path: readonly string[]): Part | undefined {
    switch (token.kind) {
      case 'string':
        this.take();
        return { node: this.scalar(token, token.text, false) };
      case 'unquoted':
        this.take();
        return { node: this.scalar(token, token.text, false), unquoted: token.text };
      case 'subst':
        this.take();
        return {
          node: {
            kind: 'subst',
            path: token.path ?? [],
            optional: token.optional === true,
            prefix: this.prefix,
            at: this.at(token),
          },
        };
      case 'lbrace':
        this.take();
        return { node: this.objectBody(token, 'rbrace', path) };
      case 'lbracket':
        this.take();
        return { node: this.array(token, path) };
      default:
        return undefined;
    }
  }

  private array(open: Token, path: readonly string[]): ArrayNode {
    const array: ArrayNode = { kind: 'array', items: [], at: this.at(open) };
    this.enter(open);
    for (;;) {
      this.skip('ws', 'newline');
      const token = this.peek();
      if (token.kind === 'rbracket') {
        this.take();
        this.depth--;
        return array;
      }
      if (token.kind === 'eof') {
        throw this.error(token, `missing ']' to close the array opened at line ${open.line}`);
      }
      array.items.push(this.value('an array element', [...path, String(array.items.length)]));
      this.skip('ws');
      const after = this.peek();
      if (after.kind === 'comma') this.take();
      else if (after.kind !== 'newline' && after.kind !== 'rbracket' && after.kind !== 'eof') {
        throw this.error(after, `expected ',' or ']' after an array element, found ${describe(after)}`);
      }
    }
  }

  /** `include` followed by a blank and a file name (in any of the accepted wrappers). */
  private isInclude(): boolean {
    const [keyword, blank, target] = [this.peek(0), this.peek(1), this.peek(2)];
    if (keyword.kind !== 'unquoted' || keyword.text !== 'include' || blank.kind !== 'ws') return false;
    return (
      target.kind === 'string' ||
      (target.kind === 'unquoted' && /^(required|file|url|classpath)\(/.test(target.text))
    );
  }

  private include(object: ObjectNode, path: readonly string[]): string {
    const keyword = this.take();
    // The wrapper before the name, blanks removed: "", "file(", "required(", "required(file(".
    let wrapperText = '';
    this.skip('ws');
    while (this.peek().kind === 'unquoted') {
      wrapperText += this.take().text;
      this.skip('ws');
    }
    if (UNSUPPORTED_INCLUDE.test(wrapperText)) {
      throw this.error(keyword, `include ${wrapperText}...) is not supported; include files by path`);
    }
    const wrapper = INCLUDE_WRAPPER.exec(wrapperText);
    if (wrapper === null) throw this.error(keyword, `unexpected '${wrapperText}' after include`);
    const token = this.peek();
    if (token.kind !== 'string') {
      throw this.error(
        token,
        `expected a file name in double quotes after include, found ${describe(token)}`,
      );
    }
    const name = this.take().text;
    const parens = (wrapper[1] === undefined ? 0 : 1) + (wrapper[2] === undefined ? 0 : 1);
    let closing = '';
    for (;;) {
      this.skip('ws');
      const next = this.peek();
      if (closing.length >= parens || next.kind !== 'unquoted' || !CLOSING_PARENS.test(next.text)) break;
      closing += this.take().text;
    }
    if (closing !== ')'.repeat(parens)) {
      throw this.error(this.peek(), `expected '${')'.repeat(parens)}' to close include`);
    }
    this.includeFile(object, path, name, wrapper[1] !== undefined, keyword);
    return `include "${name}"`;
  }

  private includeFile(
    object: ObjectNode,
    path: readonly string[],
    name: string,
    required: boolean,
    at: Token,
  ): void {
    const base = isAbsolute(name) ? name : join(this.baseDir, name);
    const candidates = extname(base) === '' ? [base, ...INCLUDE_EXTENSIONS.map((ext) => base + ext)] : [base];
    const found = candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
    if (found === undefined) {
      if (!required) return;
      throw this.error(at, `cannot find included file "${name}" (looked for ${candidates.join(', ')})`);
    }
    const file = resolve(found);
    if (this.ctx.stack.includes(file)) {
      throw this.error(at, `include cycle: ${[...this.ctx.stack, file].join(' -> ')}`);
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw this.error(
        at,
        `cannot read included file ${file}: ${(cause as NodeJS.ErrnoException).code ?? cause}`,
      );
    }
    this.ctx.files.push(file);
    const ctx: IncludeContext = { files: this.ctx.files, stack: [...this.ctx.stack, file] };
    const included = parseDocument(text, file, dirname(file), ctx, path);
    for (const [key, value] of included.fields) mergeField(object, key, value);
  }

  private enter(token: Token): void {
    if (++this.depth > MAX_NESTING_DEPTH) {
      throw this.error(token, `objects and arrays nest deeper than ${MAX_NESTING_DEPTH} levels`);
    }
  }

  private scalar(token: Token, value: Scalar, blank: boolean): Node {
    return { kind: 'scalar', value, blank, at: this.at(token) };
  }

  private peek(offset = 0): Token {
    const last = this.tokens[this.tokens.length - 1];
    return this.tokens[this.index + offset] ?? (last as Token);
  }

  private take(): Token {
    const token = this.peek();
    if (token.kind !== 'eof') this.index++;
    return token;
  }

  private skip(...kinds: TokenKind[]): void {
    while (kinds.includes(this.peek().kind)) this.take();
  }

  private at(token: Token): Position {
    return { file: this.file, line: token.line, col: token.col };
  }

  private error(token: Token, message: string) {
    return hoconError(message, this.at(token));
  }
}

/** Sets `key` (a path) in `object`, creating and merging intermediate objects. */
function setField(object: ObjectNode, key: readonly string[], value: Node): void {
  let target = object;
  for (const segment of key.slice(0, -1)) {
    const existing = target.fields.get(segment);
    if (existing?.kind === 'object') {
      target = existing;
      continue;
    }
    const child: ObjectNode = { kind: 'object', fields: new Map(), at: value.at };
    // An unresolved value (a substitution) merges with the new fields once resolved.
    const merged: Node = isUnresolved(existing) ? concatOf(existing, child) : child;
    target.fields.set(segment, merged);
    target = child;
  }
  mergeField(target, key[key.length - 1] ?? '', value);
}

/** HOCON's duplicate-key rule: two objects merge, otherwise the later value replaces. */
function mergeField(target: ObjectNode, name: string, value: Node): void {
  const existing = target.fields.get(name);
  if (value.kind === 'object' && existing?.kind === 'object') {
    for (const [key, child] of value.fields) mergeField(existing, key, child);
    return;
  }
  if (value.kind === 'object' && isUnresolved(existing)) {
    target.fields.set(name, concatOf(existing, value));
    return;
  }
  if (value.kind === 'subst' && value.optional && existing !== undefined) {
    // `key = ${?VAR}`: an unset VAR keeps the earlier value.
    target.fields.set(name, { kind: 'fallback', preferred: value, previous: existing, at: value.at });
    return;
  }
  target.fields.set(name, value);
}

function isUnresolved(node: Node | undefined): node is Node {
  return node?.kind === 'subst' || node?.kind === 'concat' || node?.kind === 'fallback';
}

function concatOf(first: Node, second: Node): ConcatNode {
  return { kind: 'concat', parts: [first, second], at: second.at };
}

/** An unquoted value that is the whole value: a number, true, false, null, or a string. */
function typedScalar(text: string): Scalar {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  return NUMBER.test(text) ? Number(text) : text;
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'eof':
      return 'the end of the file';
    case 'newline':
      return 'the end of the line';
    case 'string':
      return `the string ${JSON.stringify(token.text)}`;
    case 'subst':
      return `\${${token.text}}`;
    default:
      return `'${token.text}'`;
  }
}

function unexpectedAfterValue(token: Token, key: string): string {
  const found = describe(token);
  if (token.kind === 'separator') {
    return `unexpected ${found} after the value of ${key} (a value containing ':' or '=' must be in "double quotes", e.g. "0.0.0.0:1883"; or is a new line or ',' missing?)`;
  }
  return `expected a new line, ',' or '}' after the value of ${key}, found ${found}`;
}
