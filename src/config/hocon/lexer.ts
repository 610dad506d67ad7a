/**
 * HOCON tokenizer. Turns text into tokens with line/column positions; comments disappear here.
 *
 * Token kinds:
 *   { } [ ] ,            punctuation
 *   separator            "=" or ":"
 *   plusEquals           "+=" (recognised so the parser can say it is unsupported)
 *   newline              ends a field or an array element
 *   ws                   a run of blanks; kept because "a b" concatenates to the string "a b"
 *   string               "quoted" (JSON escapes) or """triple quoted""" (raw, may span lines)
 *   unquoted             any run of other characters: keys, numbers, true, 15s, /mqtt, 127.0.0.1
 *   subst                ${path} or ${?path}; `path` holds the parsed key segments
 *
 * Unquoted text stops at blanks, at "//" and at the characters HOCON reserves: $ " { } [ ] : = ,
 * + # \ (the spec also reserves ` ^ ? ! @ * &; we allow those, so that an unquoted node name
 * like aviary@127.0.0.1 reads as text).
 */
import type { ConfigError } from '../../errors.js';
import { hoconError, type Position } from './ast.js';

export type TokenKind =
  | 'lbrace'
  | 'rbrace'
  | 'lbracket'
  | 'rbracket'
  | 'comma'
  | 'separator'
  | 'plusEquals'
  | 'newline'
  | 'ws'
  | 'string'
  | 'unquoted'
  | 'subst'
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** The text: a string's decoded value, an unquoted run, a separator character. */
  readonly text: string;
  readonly line: number;
  readonly col: number;
  /** For `subst`: the path segments and whether it is `${?...}`. */
  readonly path?: readonly string[];
  readonly optional?: boolean;
}

const PUNCTUATION: Readonly<Record<string, TokenKind>> = {
  '{': 'lbrace',
  '}': 'rbrace',
  '[': 'lbracket',
  ']': 'rbracket',
  ',': 'comma',
  '=': 'separator',
  ':': 'separator',
};

const RESERVED = new Set(['$', '"', '{', '}', '[', ']', ':', '=', ',', '+', '#', '\\']);
const JSON_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};
const TRIPLE_QUOTE = '"""';
const HEX4 = /^[0-9a-fA-F]{4}$/;

function isBlank(ch: string): boolean {
  return ch !== '\n' && /\s/u.test(ch);
}

/** Splits HOCON text into tokens. `file` only names the source in error messages. */
export function tokenize(text: string, file: string): Token[] {
  return new Lexer(text, file).run();
}

class Lexer {
  private pos = 0;
  private line = 1;
  private col = 1;
  private readonly tokens: Token[] = [];

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  run(): Token[] {
    // A byte order mark is not content.
    if (this.text.startsWith('\uFEFF')) this.advance(1);
    while (this.pos < this.text.length) this.next();
    this.tokens.push({ kind: 'eof', text: '', line: this.line, col: this.col });
    return this.tokens;
  }

  private next(): void {
    const ch = this.text[this.pos] ?? '';
    const start = { line: this.line, col: this.col };
    if (ch === '\n') {
      this.advance(1);
      this.tokens.push({ kind: 'newline', text: '\n', ...start });
    } else if (isBlank(ch)) {
      const from = this.pos;
      while (this.pos < this.text.length && isBlank(this.text[this.pos] ?? '')) this.advance(1);
      this.tokens.push({ kind: 'ws', text: this.text.slice(from, this.pos), ...start });
    } else if (ch === '#' || this.text.startsWith('//', this.pos)) {
      while (this.pos < this.text.length && this.text[this.pos] !== '\n') this.advance(1);
    } else if (PUNCTUATION[ch] !== undefined) {
      this.advance(1);
      this.tokens.push({ kind: PUNCTUATION[ch], text: ch, ...start });
    } else if (this.text.startsWith('+=', this.pos)) {
      this.advance(2);
      this.tokens.push({ kind: 'plusEquals', text: '+=', ...start });
    } else if (this.text.startsWith(TRIPLE_QUOTE, this.pos)) {
      this.tokens.push({ kind: 'string', text: this.tripleQuoted(), ...start });
    } else if (ch === '"') {
      this.tokens.push({ kind: 'string', text: this.quoted(), ...start });
    } else if (this.text.startsWith('${', this.pos)) {
      this.tokens.push(this.substitution(start));
    } else if (RESERVED.has(ch)) {
      const hint = ch === '\\' || ch === '+' || ch === '$' ? '; put the value in "double quotes"' : '';
      throw this.error(`unexpected character '${ch}'${hint}`);
    } else {
      this.tokens.push({ kind: 'unquoted', text: this.unquoted(), ...start });
    }
  }

  private unquoted(): string {
    const from = this.pos;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos] ?? '';
      if (ch === '\n' || isBlank(ch) || RESERVED.has(ch) || this.text.startsWith('//', this.pos)) break;
      this.advance(1);
    }
    return this.text.slice(from, this.pos);
  }

  /** A "..." string with JSON escapes; may not span lines. */
  private quoted(): string {
    this.advance(1);
    let out = '';
    for (;;) {
      const ch = this.text[this.pos];
      if (ch === undefined || ch === '\n') throw this.error('unterminated string (missing closing ")');
      if (ch === '"') {
        this.advance(1);
        return out;
      }
      if (ch === '\\') {
        out += this.escape();
        continue;
      }
      out += ch;
      this.advance(1);
    }
  }

  private escape(): string {
    const code = this.text[this.pos + 1] ?? '';
    if (code === 'u') {
      const hex = this.text.slice(this.pos + 2, this.pos + 6);
      if (!HEX4.test(hex)) throw this.error('bad \\u escape: expected four hex digits');
      this.advance(6);
      return String.fromCharCode(Number.parseInt(hex, 16));
    }
    const decoded = JSON_ESCAPES[code];
    if (decoded === undefined) throw this.error(`bad escape '\\${code}' in a quoted string`);
    this.advance(2);
    return decoded;
  }

  /** A """...""" string: raw text, may span lines; quotes just before the closing """ belong to it. */
  private tripleQuoted(): string {
    this.advance(TRIPLE_QUOTE.length);
    const close = this.text.indexOf(TRIPLE_QUOTE, this.pos);
    if (close < 0) throw this.error('unterminated """ string');
    let end = close;
    while (this.text[end + TRIPLE_QUOTE.length] === '"') end++;
    const value = this.text.slice(this.pos, end);
    this.advance(end + TRIPLE_QUOTE.length - this.pos);
    return value;
  }

  /** ${a.b} or ${?a.b}; segments may be quoted: ${"a.b".c}. */
  private substitution(start: { line: number; col: number }): Token {
    this.advance(2);
    const optional = this.text[this.pos] === '?';
    if (optional) this.advance(1);
    const segments: string[] = [''];
    let touched = false;
    for (;;) {
      const ch = this.text[this.pos];
      if (ch === undefined || ch === '\n') throw this.error('unterminated substitution (missing })');
      if (ch === '}') break;
      if (ch === '"') {
        segments[segments.length - 1] += this.quoted();
        touched = true;
      } else if (ch === '.') {
        if (!touched) throw this.error('empty key in substitution path');
        segments.push('');
        touched = false;
        this.advance(1);
      } else if (isBlank(ch) || RESERVED.has(ch)) {
        throw this.error(`unexpected '${ch}' in substitution path`);
      } else {
        segments[segments.length - 1] += ch;
        touched = true;
        this.advance(1);
      }
    }
    if (!touched) throw this.error('empty substitution path');
    this.advance(1);
    return { kind: 'subst', text: segments.join('.'), path: segments, optional, ...start };
  }

  private advance(count: number): void {
    for (let i = 0; i < count; i++) {
      if (this.text[this.pos] === '\n') {
        this.line++;
        this.col = 1;
      } else {
        this.col++;
      }
      this.pos++;
    }
  }

  private error(message: string): ConfigError {
    const at: Position = { file: this.file, line: this.line, col: this.col };
    return hoconError(message, at);
  }
}
