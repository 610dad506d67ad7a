/**
 * A reader for Erlang terms, as `file:consult/1` reads them: the syntax of EMQX's acl.conf.
 *
 * A file is a sequence of terms, each ended by a dot followed by white space, a comment or the
 * end of the file:
 *
 *   %% a comment runs from % to the end of the line
 *   {allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.
 *   {'and', [{ipaddr, "10.0.0.0/8"}, {clientid, "c1"}]}.
 *
 * What is read (everything an ACL rule can contain, and a little more so that a valid Erlang
 * file never fails here for a reason the ACL compiler would not give):
 *   - atoms: `allow`, `ipaddr`, `foo_bar@x`, and quoted atoms `'and'`, `'or'`, `'any text'`;
 *     the reserved words `and` / `or` are also taken unquoted (Erlang would refuse them);
 *   - strings `"..."` with Erlang's escapes (`\n \t \" \\ \x41 \x{1F600} \101 \^A ...`);
 *     adjacent strings are one string (`"a" "b"` is `"ab"`), as in Erlang;
 *   - binaries `<<"...">>` (read as strings: EMQX accepts both);
 *   - integers (`42`, `-1`, `16#FF`, `1_000`) and character literals (`$a`);
 *     floats are read as floats (no rule uses them; the compiler rejects them);
 *   - tuples `{...}` and proper lists `[...]`.
 * Variables (`Foo`, `_`), maps, funs, pids and improper lists (`[a | b]`) are refused: a
 * configuration file has no use for them.
 *
 * Every term and every error carries its line and column (1-based, columns in UTF-16 code
 * units), so a mistake is reported as `acl.conf:12:31: expected ',' or '}' after the tuple
 * element, found ']'`.
 */

import { AclParseError } from './errors.js';

export interface Position {
  readonly line: number;
  readonly column: number;
}

export type Term =
  | (Position & { readonly kind: 'atom'; readonly value: string })
  | (Position & { readonly kind: 'string'; readonly value: string })
  | (Position & { readonly kind: 'integer'; readonly value: number })
  | (Position & { readonly kind: 'float'; readonly value: number })
  | (Position & { readonly kind: 'tuple'; readonly items: readonly Term[] })
  | (Position & { readonly kind: 'list'; readonly items: readonly Term[] });

type Token =
  | (Position & { kind: 'atom' | 'string'; value: string; quoted: boolean })
  | (Position & { kind: 'integer' | 'float'; value: number })
  | (Position & { kind: 'punct'; value: string })
  | (Position & { kind: 'dot' })
  | (Position & { kind: 'eof' });

/** Reads every term of `text`; `file` names the source in error messages. */
export function parseTerms(text: string, file = '<rules>'): Term[] {
  const tokens = new Lexer(text, file).tokens();
  return new TermParser(tokens, file).terms();
}

/** Describes a term for error messages: `the atom foo`, `a tuple of 3 elements`, ... */
export function describeTerm(t: Term): string {
  switch (t.kind) {
    case 'atom':
      return `the atom ${t.value}`;
    case 'string':
      return `the string ${JSON.stringify(t.value)}`;
    case 'integer':
    case 'float':
      return `the number ${t.value}`;
    case 'tuple':
      return `a tuple of ${t.items.length} element${t.items.length === 1 ? '' : 's'}`;
    case 'list':
      return `a list of ${t.items.length} element${t.items.length === 1 ? '' : 's'}`;
  }
}

// ---- lexer --------------------------------------------------------------------------------------

const ATOM_START = /[a-z]/;
const NAME_CHAR = /[A-Za-z0-9_@]/;
const VARIABLE_START = /[A-Z_]/;
const DIGIT = /[0-9]/;
const PUNCT = new Set(['{', '}', '[', ']', ',', '|']);

/** Erlang's single-character escapes (`\n`, ...). */
const ESCAPES: Readonly<Record<string, string>> = {
  b: '\b',
  d: '\x7f',
  e: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  s: ' ',
  t: '\t',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
};

const MAX_RADIX = 36;
const MIN_RADIX = 2;
const CONTROL_MASK = 0x1f;

class Lexer {
  private i = 0;
  private line = 1;
  private lineStart = 0;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  private get pos(): Position {
    return { line: this.line, column: this.i - this.lineStart + 1 };
  }

  private fail(message: string, at: Position = this.pos): never {
    throw new AclParseError(message, at.line, at.column, this.file);
  }

  private peek(offset = 0): string {
    return this.text[this.i + offset] ?? '';
  }

  /** Advances one character, keeping the line count. */
  private next(): string {
    const c = this.text[this.i++] ?? '';
    if (c === '\n') {
      this.line++;
      this.lineStart = this.i;
    }
    return c;
  }

  tokens(): Token[] {
    const out: Token[] = [];
    for (;;) {
      this.skipBlank();
      const at = this.pos;
      const c = this.peek();
      if (c === '') {
        out.push({ kind: 'eof', ...at });
        return out;
      }
      if (c === '.') {
        this.next();
        const after = this.peek();
        if (after === '' || after === '%' || /\s/.test(after)) {
          out.push({ kind: 'dot', ...at });
          continue;
        }
        this.fail(`unexpected '.${after}' (a term ends with '.' followed by a space or a new line)`, at);
      }
      if (c === '<' && this.peek(1) === '<') {
        out.push(this.binary(at));
        continue;
      }
      if (PUNCT.has(c)) {
        this.next();
        out.push({ kind: 'punct', value: c, ...at });
        continue;
      }
      if (c === '"') {
        out.push({ kind: 'string', value: this.quoted('"'), quoted: true, ...at });
        continue;
      }
      if (c === "'") {
        out.push({ kind: 'atom', value: this.quoted("'"), quoted: true, ...at });
        continue;
      }
      if (ATOM_START.test(c)) {
        let name = '';
        while (NAME_CHAR.test(this.peek())) name += this.next();
        out.push({ kind: 'atom', value: name, quoted: false, ...at });
        continue;
      }
      if (VARIABLE_START.test(c)) {
        let name = '';
        while (NAME_CHAR.test(this.peek())) name += this.next();
        this.fail(
          `${name} is an Erlang variable, which an ACL file cannot use (write atoms in lower case, or quote them: '${name}')`,
          at,
        );
      }
      if (DIGIT.test(c) || (c === '-' && DIGIT.test(this.peek(1)))) {
        out.push(this.number(at));
        continue;
      }
      if (c === '$') {
        this.next();
        let ch = this.next();
        if (ch === '\\') ch = this.escape();
        if (ch === '') this.fail('a character literal $ needs a character', at);
        out.push({ kind: 'integer', value: ch.codePointAt(0)!, ...at });
        continue;
      }
      this.fail(`unexpected character ${JSON.stringify(c)}`, at);
    }
  }

  private skipBlank(): void {
    for (;;) {
      const c = this.peek();
      if (c === '%') {
        while (this.peek() !== '' && this.peek() !== '\n') this.next();
      } else if (c !== '' && /\s/.test(c)) {
        this.next();
      } else {
        return;
      }
    }
  }

  /** A string or quoted atom, from its opening quote; adjacent strings are joined. */
  private quoted(quote: '"' | "'"): string {
    let value = '';
    for (;;) {
      const start = this.pos;
      this.next(); // the opening quote
      for (;;) {
        const c = this.next();
        if (c === '') this.fail(`the ${quote === '"' ? 'string' : 'quoted atom'} is not closed`, start);
        if (c === quote) break;
        value += c === '\\' ? this.escape() : c;
      }
      if (quote === "'") return value;
      // "a" "b" is "ab" in Erlang: look past blanks and comments for another string.
      const save = { i: this.i, line: this.line, lineStart: this.lineStart };
      this.skipBlank();
      if (this.peek() !== '"') {
        this.i = save.i;
        this.line = save.line;
        this.lineStart = save.lineStart;
        return value;
      }
    }
  }

  /** The character(s) an escape stands for; the backslash is already read. */
  private escape(): string {
    const at = this.pos;
    const c = this.next();
    if (c === '') this.fail('an escape (\\) at the end of the file', at);
    const simple = ESCAPES[c];
    if (simple !== undefined) return simple;
    if (/[0-7]/.test(c)) {
      let digits = c;
      while (digits.length < 3 && /[0-7]/.test(this.peek())) digits += this.next();
      return String.fromCodePoint(Number.parseInt(digits, 8));
    }
    if (c === 'x') {
      let digits = '';
      if (this.peek() === '{') {
        this.next();
        while (/[0-9A-Fa-f]/.test(this.peek())) digits += this.next();
        if (this.next() !== '}' || digits === '')
          this.fail('expected hexadecimal digits and } after \\x{', at);
      } else {
        while (digits.length < 2 && /[0-9A-Fa-f]/.test(this.peek())) digits += this.next();
        if (digits.length !== 2) this.fail('expected two hexadecimal digits after \\x', at);
      }
      const code = Number.parseInt(digits, 16);
      if (code > 0x10ffff) this.fail(`\\x{${digits}} is not a Unicode code point`, at);
      return String.fromCodePoint(code);
    }
    if (c === '^') {
      const ctl = this.next();
      if (ctl === '') this.fail('expected a character after \\^', at);
      return String.fromCharCode(ctl.charCodeAt(0) & CONTROL_MASK);
    }
    // Erlang keeps any other escaped character as itself (`\a` is `a`).
    return c;
  }

  private number(at: Position): Token {
    let text = '';
    if (this.peek() === '-') text += this.next();
    while (DIGIT.test(this.peek()) || (this.peek() === '_' && DIGIT.test(this.peek(1)))) {
      const c = this.next();
      if (c !== '_') text += c;
    }
    if (this.peek() === '#') {
      // Base#Digits: 16#FF, 2#1010.
      const radix = Math.abs(Number(text));
      this.next();
      if (radix < MIN_RADIX || radix > MAX_RADIX) this.fail(`${radix} is not a base from 2 to 36`, at);
      let digits = '';
      while (/[0-9A-Za-z_]/.test(this.peek())) {
        const c = this.next();
        if (c !== '_') digits += c;
      }
      const valid = digits !== '' && [...digits].every((d) => Number.parseInt(d, MAX_RADIX) < radix);
      if (!valid) this.fail(`${digits || 'nothing'} is not a number in base ${radix}`, at);
      const value = Number.parseInt(digits, radix);
      return { kind: 'integer', value: text.startsWith('-') ? -value : value, ...at };
    }
    if (this.peek() === '.' && DIGIT.test(this.peek(1))) {
      text += this.next();
      while (DIGIT.test(this.peek())) text += this.next();
      if (/[eE]/.test(this.peek())) {
        text += this.next();
        if (/[+-]/.test(this.peek())) text += this.next();
        if (!DIGIT.test(this.peek())) this.fail('expected the exponent of a float', at);
        while (DIGIT.test(this.peek())) text += this.next();
      }
      return { kind: 'float', value: Number(text), ...at };
    }
    return { kind: 'integer', value: Number(text), ...at };
  }

  /** `<<"text">>` (or `<<"a", "b">>`, `<<>>`): a binary, read as a string. */
  private binary(at: Position): Token {
    this.next();
    this.next();
    let value = '';
    for (;;) {
      this.skipBlank();
      if (this.peek() === '>' && this.peek(1) === '>') {
        this.next();
        this.next();
        return { kind: 'string', value, quoted: true, ...at };
      }
      if (this.peek() !== '"') this.fail('a binary in an ACL file holds strings only: <<"text">>');
      value += this.quoted('"');
      this.skipBlank();
      if (this.peek() === ',') this.next();
    }
  }
}

// ---- parser -------------------------------------------------------------------------------------

class TermParser {
  private i = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly file: string,
  ) {}

  private fail(message: string, at: Position): never {
    throw new AclParseError(message, at.line, at.column, this.file);
  }

  private peek(): Token {
    return this.tokens[this.i]!;
  }

  terms(): Term[] {
    const out: Term[] = [];
    while (this.peek().kind !== 'eof') {
      out.push(this.term());
      const end = this.peek();
      if (end.kind !== 'dot') {
        this.fail(`expected '.' at the end of the term, found ${describeToken(end)}`, end);
      }
      this.i++;
    }
    return out;
  }

  private term(): Term {
    const t = this.tokens[this.i++]!;
    switch (t.kind) {
      case 'atom':
      case 'string':
        return { kind: t.kind, value: t.value, line: t.line, column: t.column };
      case 'integer':
      case 'float':
        return { kind: t.kind, value: t.value, line: t.line, column: t.column };
      case 'punct':
        if (t.value === '{')
          return { kind: 'tuple', items: this.items('}', 'tuple'), line: t.line, column: t.column };
        if (t.value === '[')
          return { kind: 'list', items: this.items(']', 'list'), line: t.line, column: t.column };
        return this.fail(`expected a term, found ${describeToken(t)}`, t);
      default:
        return this.fail(`expected a term, found ${describeToken(t)}`, t);
    }
  }

  /** The elements of a tuple or list, after its opening bracket, up to `close`. */
  private items(close: '}' | ']', what: 'tuple' | 'list'): Term[] {
    const items: Term[] = [];
    if (isPunct(this.peek(), close)) {
      this.i++;
      return items;
    }
    for (;;) {
      items.push(this.term());
      const t = this.peek();
      if (isPunct(t, ',')) {
        this.i++;
        continue;
      }
      if (isPunct(t, close)) {
        this.i++;
        return items;
      }
      if (isPunct(t, '|') && what === 'list') {
        this.fail('improper lists ([H | T]) are not allowed in an ACL file', t);
      }
      this.fail(`expected ',' or '${close}' after the ${what} element, found ${describeToken(t)}`, t);
    }
  }
}

function isPunct(t: Token, value: string): boolean {
  return t.kind === 'punct' && t.value === value;
}

function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'the end of the file';
    case 'dot':
      return "'.'";
    case 'punct':
      return `'${t.value}'`;
    case 'atom':
      return t.quoted ? `the atom '${t.value}'` : `the atom ${t.value}`;
    case 'string':
      return `the string ${JSON.stringify(t.value)}`;
    case 'integer':
    case 'float':
      return `the number ${t.value}`;
  }
}
