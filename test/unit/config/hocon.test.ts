/** biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are HOCON, where ${...} is a substitution. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseHocon, parseHoconFile, parseHoconValue } from '../../../src/config/hocon.js';
import { ConfigError } from '../../../src/errors.js';
import { expectConfigError, removeTempDirs, tempDir } from './fixtures.js';

after(removeTempDirs);

const noEnv = { env: {} };
const parse = (text: string, env: Record<string, string> = {}) => parseHocon(text, { env });

describe('hocon: syntax', () => {
  test('# and // comments are ignored, also after a value', () => {
    const text = [
      '# a comment',
      '// another comment',
      'a = 1 # trailing',
      'b = 2 // trailing',
      'c = "x # not a comment"',
      'd = "y // not a comment"',
    ].join('\n');
    assert.deepEqual(parse(text), { a: 1, b: 2, c: 'x # not a comment', d: 'y // not a comment' });
  });

  test('key = value, key: value and key { ... } are all fields', () => {
    assert.deepEqual(parse('a = 1\nb: 2\nc { d = 3 }\ne: { f = 4 }'), {
      a: 1,
      b: 2,
      c: { d: 3 },
      e: { f: 4 },
    });
  });

  test('fields may be separated by commas, and a trailing comma is allowed', () => {
    assert.deepEqual(parse('a = 1, b = 2,\nc { d = 1, e = 2, }'), { a: 1, b: 2, c: { d: 1, e: 2 } });
  });

  test('a document may be wrapped in braces', () => {
    assert.deepEqual(parse('{\n  a = 1\n}\n'), { a: 1 });
  });

  test('dotted keys make nested objects and merge with blocks, in either order', () => {
    const text = [
      'listeners.tcp.default.bind = "0.0.0.0:1883"',
      'listeners.tcp.default { max_connections = 1000 }',
      'listeners { tcp { default { zone = edge } } }',
      'listeners.tcp.other.bind = 1884',
    ].join('\n');
    assert.deepEqual(parse(text), {
      listeners: {
        tcp: {
          default: { bind: '0.0.0.0:1883', max_connections: 1000, zone: 'edge' },
          other: { bind: 1884 },
        },
      },
    });
  });

  test('a key set twice: objects merge, any other value is replaced by the later one', () => {
    assert.deepEqual(parse('a { x = 1, y = 2 }\na { y = 3 }\nb = [1]\nb = [2]\nc = { x = 1 }\nc = 5'), {
      a: { x: 1, y: 3 },
      b: [2],
      c: 5,
    });
  });

  test('quoted key segments keep their dots', () => {
    assert.deepEqual(parse('"a.b".c = 1\nzones."my.zone" { x = 2 }'), {
      'a.b': { c: 1 },
      zones: { 'my.zone': { x: 2 } },
    });
  });

  test('unquoted values: numbers, booleans and null when alone; otherwise strings', () => {
    const text = [
      'port = 1883',
      'ratio = 1.5',
      'negative = -2',
      'exp = 1e3',
      'yes = true',
      'no = false',
      'nothing = null',
      'level = warning',
      'ip = 127.0.0.1',
      'leading_zero = 0755',
      'name = aviary@127.0.0.1',
      'path = /mqtt',
      'words = hello   big world',
    ].join('\n');
    assert.deepEqual(parse(text), {
      port: 1883,
      ratio: 1.5,
      negative: -2,
      exp: 1000,
      yes: true,
      no: false,
      nothing: null,
      level: 'warning',
      ip: '127.0.0.1',
      leading_zero: '0755',
      name: 'aviary@127.0.0.1',
      path: '/mqtt',
      words: 'hello   big world',
    });
  });

  test('durations and sizes stay strings for the schema to read', () => {
    assert.deepEqual(parse('idle_timeout = 15s\nmax_packet_size = 1MB\nx = 500ms\ny = 64KB'), {
      idle_timeout: '15s',
      max_packet_size: '1MB',
      x: '500ms',
      y: '64KB',
    });
  });

  test('quoted strings decode JSON escapes', () => {
    assert.deepEqual(parse(String.raw`s = "tab\there \"q\" \\ \u00e9 \/"`), {
      s: 'tab\there "q" \\ \u00e9 /',
    });
  });

  test('triple-quoted strings are raw and may span lines', () => {
    const text = 'a = """line 1\n  "quoted" \\n not an escape\nline 3"""\nb = """x""""';
    assert.deepEqual(parse(text), { a: 'line 1\n  "quoted" \\n not an escape\nline 3', b: 'x"' });
  });

  test('arrays: commas or newlines between elements, trailing comma allowed, nested', () => {
    const text = 'a = ["tlsv1.3", "tlsv1.2"]\nb = [\n  1\n  2,\n  3,\n]\nc = []\nd = [[1, 2], [3]]';
    assert.deepEqual(parse(text), { a: ['tlsv1.3', 'tlsv1.2'], b: [1, 2, 3], c: [], d: [[1, 2], [3]] });
  });

  test('objects in arrays, as in authentication = [{ ... }]', () => {
    const text = [
      'authentication = [',
      '  { mechanism = password_based, backend = built_in_database }',
      '  {',
      '    mechanism = jwt',
      '    secret = "s"',
      '  }',
      ']',
    ].join('\n');
    assert.deepEqual(parse(text), {
      authentication: [
        { mechanism: 'password_based', backend: 'built_in_database' },
        { mechanism: 'jwt', secret: 's' },
      ],
    });
  });

  test('JSON is valid HOCON', () => {
    const json = { a: [1, 2.5, { b: null, c: true }], 'd e': 'f', g: { h: -1.5e3 } };
    assert.deepEqual(parse(JSON.stringify(json, null, 2)), json);
    assert.deepEqual(parse(JSON.stringify(json)), json);
  });

  test('values side by side concatenate into one string', () => {
    assert.deepEqual(parse('a = foo "bar" baz\nb = "x"/y'), { a: 'foo bar baz', b: 'x/y' });
  });

  test('CRLF line endings and a byte order mark are accepted', () => {
    assert.deepEqual(parse('\uFEFFa = 1\r\nb = two\r\n'), { a: 1, b: 'two' });
  });

  test('a __proto__ key is an ordinary key and does not touch the prototype', () => {
    const value = parse('__proto__ { polluted = true }\na = 1');
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.deepEqual(Object.keys(value), ['__proto__', 'a']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('hocon: substitutions', () => {
  test('${a.b} copies another key, defined before or after', () => {
    const text = 'copy = ${node.name}\nnode.name = "aviary@10.0.0.1"\nport = ${p}\np = 1883';
    assert.deepEqual(parse(text), {
      copy: 'aviary@10.0.0.1',
      node: { name: 'aviary@10.0.0.1' },
      port: 1883,
      p: 1883,
    });
  });

  test('a substitution keeps the type of what it points to', () => {
    const value = parse('base { a = 1, b = [x] }\ncopy = ${base}\nlist = ${base.b}');
    assert.deepEqual(value.copy, { a: 1, b: ['x'] });
    assert.deepEqual(value.list, ['x']);
  });

  test('${VAR} falls back to the environment when the document has no such key', () => {
    assert.deepEqual(parse('dir = ${DATA_DIR}', { DATA_DIR: '/var/lib/aviary' }), { dir: '/var/lib/aviary' });
  });

  test('a key in the document wins over an environment variable of the same name', () => {
    assert.deepEqual(parse('HOME = "/doc"\nh = ${HOME}', { HOME: '/env' }), { HOME: '/doc', h: '/doc' });
  });

  test('${?VAR} that is unset leaves the field out (so an earlier value stays)', () => {
    const text = 'data_dir = "data"\ndata_dir = ${?AVIARY_TEST_UNSET}\nother = ${?AVIARY_TEST_UNSET}';
    assert.deepEqual(parse(text), { data_dir: 'data' });
  });

  test('${?VAR} that is set replaces the earlier value', () => {
    assert.deepEqual(parse('data_dir = "data"\ndata_dir = ${?DIR}', { DIR: '/d' }), { data_dir: '/d' });
  });

  test('substitutions inside a concatenation join as text', () => {
    assert.deepEqual(parse('host = "10.0.0.1"\nport = 1883\nbind = ${host}":"${port}'), {
      host: '10.0.0.1',
      port: 1883,
      bind: '10.0.0.1:1883',
    });
  });

  test('an object substitution followed by a block merges (inheritance)', () => {
    const text = 'defaults { max_inflight = 32, retry = 30s }\nedge = ${defaults} { max_inflight = 8 }';
    assert.deepEqual(parse(text).edge, { max_inflight: 8, retry: '30s' });
  });

  test('a substitution can point into a sibling inside the same object', () => {
    assert.deepEqual(parse('a { b = 1, c = ${a.b} }'), { a: { b: 1, c: 1 } });
  });

  test('a required substitution that finds nothing is an error naming file and line', () => {
    expectConfigError(
      () => parse('a = 1\nb = ${missing.key}'),
      '<text>:2:5:',
      'cannot resolve ${missing.key}',
    );
  });

  test('a cycle is an error', () => {
    expectConfigError(() => parse('a = ${b}\nb = ${a}'), 'circular substitution');
    expectConfigError(() => parse('a = 1\na = ${a} "x"'), 'circular substitution', 'not supported');
  });

  test('concatenating an object with a string is an error', () => {
    expectConfigError(
      () => parse('a { x = 1 }\nb = ${a} "text"'),
      'cannot concatenate an object with a string',
    );
  });
});

describe('hocon: include', () => {
  test('include "file" merges the file at that point, relative to the including file', () => {
    const dir = tempDir({
      'aviary.conf': 'mqtt.max_inflight = 10\ninclude "conf.d/mqtt.conf"\nmqtt.retry_interval = 5s',
      'conf.d/mqtt.conf': 'mqtt { max_inflight = 64, max_awaiting_rel = 7 }\nmqtt.retry_interval = 1s',
    });
    const { value, files } = parseHoconFile(join(dir, 'aviary.conf'), noEnv);
    // The include overrides what came before it; what comes after overrides the include.
    assert.deepEqual(value, { mqtt: { max_inflight: 64, max_awaiting_rel: 7, retry_interval: '5s' } });
    assert.deepEqual(files, [join(dir, 'aviary.conf'), join(dir, 'conf.d/mqtt.conf')]);
  });

  test('include inside a block puts the file under that key; its substitutions see its siblings first', () => {
    const dir = tempDir({
      'main.conf': 'name = root\nlisteners.tcp.default { name = inner\ninclude "l.conf" }',
      'l.conf': 'bind = 1884\nlabel = ${name}',
    });
    const { value } = parseHoconFile(join(dir, 'main.conf'), noEnv);
    assert.deepEqual(value, {
      name: 'root',
      listeners: { tcp: { default: { name: 'inner', bind: 1884, label: 'inner' } } },
    });
  });

  test('an included file can refer to keys of the including file', () => {
    const dir = tempDir({ 'main.conf': 'port = 1883\ninclude "l.conf"', 'l.conf': 'bind = ${port}' });
    assert.deepEqual(parseHoconFile(join(dir, 'main.conf'), noEnv).value, { port: 1883, bind: 1883 });
  });

  test('a missing optional include is skipped; a missing required one is an error', () => {
    const dir = tempDir({
      'a.conf': 'a = 1\ninclude "nope.conf"',
      'b.conf': 'b = 1\ninclude required("nope.conf")',
    });
    assert.deepEqual(parseHoconFile(join(dir, 'a.conf'), noEnv).value, { a: 1 });
    expectConfigError(
      () => parseHoconFile(join(dir, 'b.conf'), noEnv),
      `${join(dir, 'b.conf')}:2:1:`,
      'nope.conf',
    );
  });

  test('file(...) and required(file(...)) wrappers', () => {
    const dir = tempDir({
      'main.conf': 'include file("x.conf")\ninclude required( file("y.conf") )',
      'x.conf': 'x = 1',
      'y.conf': 'y = 2',
    });
    assert.deepEqual(parseHoconFile(join(dir, 'main.conf'), noEnv).value, { x: 1, y: 2 });
  });

  test('a name without extension tries .conf, then .json', () => {
    const dir = tempDir({ 'main.conf': 'include "a"\ninclude "b"', 'a.conf': 'a = 1', 'b.json': '{"b": 2}' });
    assert.deepEqual(parseHoconFile(join(dir, 'main.conf'), noEnv).value, { a: 1, b: 2 });
  });

  test('include with parseHocon resolves relative to the `file` option', () => {
    const dir = tempDir({ 'part.conf': 'p = 1' });
    assert.deepEqual(parseHocon('include "part.conf"', { file: join(dir, 'virtual.conf'), env: {} }), {
      p: 1,
    });
  });

  test('an include cycle is an error', () => {
    const dir = tempDir({ 'a.conf': 'include "b.conf"', 'b.conf': 'include "a.conf"' });
    expectConfigError(() => parseHoconFile(join(dir, 'a.conf'), noEnv), 'include cycle');
  });

  test('a syntax error in an included file names that file and line', () => {
    const dir = tempDir({ 'main.conf': 'a = 1\ninclude "bad.conf"', 'bad.conf': 'ok = 1\n\nbroken = {' });
    expectConfigError(() => parseHoconFile(join(dir, 'main.conf'), noEnv), `${join(dir, 'bad.conf')}:3:`);
  });

  test('"include" as an ordinary key still works', () => {
    assert.deepEqual(parse('include = 5\n"include" { a = 1 }'), { include: { a: 1 } });
  });

  test('include url(...) is refused', () => {
    expectConfigError(() => parse('include url("http://example.com/a.conf")'), 'not supported');
  });
});

describe('hocon: errors', () => {
  const cases: [string, string, RegExp][] = [
    ['unclosed object', 'a {\n  b = 1\n', /<text>:3:1: missing '}' to close the object opened at line 1/],
    ['unclosed array', 'a = [1, 2', /<text>:1:10: missing '\]'/],
    ['unterminated string', 'a = "abc\nb = 1', /<text>:1:9: unterminated string/],
    ['unterminated triple string', 'a = """abc', /unterminated """ string/],
    ['missing value', 'a = \nb = 1', /<text>:1:5: expected a value for "a"/],
    ['missing separator', 'a 1', /<text>:1:3: expected '=', ':' or '\{' after the key "a"/],
    ['unquoted host:port', 'bind = 0.0.0.0:1883', /<text>:1:15: .*"double quotes"/],
    ['+=', 'a += [1]', /'\+=' is not supported/],
    ['bad escape', 'a = "\\q"', /bad escape/],
    ['empty key segment', 'a..b = 1', /empty key segment/],
    ['array root', '[1, 2]', /must be an object/],
    ['stray closing brace', 'a = 1\n}', /<text>:2:1: expected a key/],
    ['bad character', 'a = `x` \\', /unexpected character '\\'/],
  ];
  for (const [name, text, pattern] of cases) {
    test(`${name} is a ConfigError with the position`, () => {
      expectConfigError(() => parse(text), pattern);
    });
  }

  test('deep nesting is refused instead of overflowing the stack', () => {
    expectConfigError(() => parse(`a = ${'['.repeat(10_000)}`), /nest deeper than 256/);
  });

  test('a missing file is a ConfigError naming the path', () => {
    const missing = join(tempDir(), 'nope.conf');
    const error = expectConfigError(() => parseHoconFile(missing), 'config file not found', missing);
    assert.ok(error instanceof ConfigError);
    assert.equal(error.code, 'AVY_ERR_CONFIG');
  });
});

describe('hocon: single values (environment variables)', () => {
  test('arrays, objects, quoted strings and numbers', () => {
    assert.deepEqual(parseHoconValue('["tlsv1.2"]', noEnv), ['tlsv1.2']);
    assert.deepEqual(parseHoconValue('{ a = 1, b.c = x }', noEnv), { a: 1, b: { c: 'x' } });
    assert.equal(parseHoconValue('"127.0.0.1:8883"', noEnv), '127.0.0.1:8883');
    assert.equal(parseHoconValue('42', noEnv), 42);
  });

  test('trailing text is an error naming the source', () => {
    expectConfigError(() => parseHoconValue('[1] ]', { file: 'AVIARY_X', env: {} }), /^AVIARY_X:1:5:/);
  });

  test('a lone unset ${?VAR} is undefined; a set one is its value', () => {
    assert.equal(parseHoconValue('${?NOPE}', noEnv), undefined);
    assert.equal(parseHoconValue('${?V}', { env: { V: 'x' } }), 'x');
  });
});
