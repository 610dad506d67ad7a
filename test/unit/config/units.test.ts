import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { closest, editDistance } from '../../../src/config/suggest.js';
import { formatBind, parseBind, parseByteSize, parseDuration } from '../../../src/config/units.js';

describe('parseDuration', () => {
  const valid: [unknown, number][] = [
    ['500ms', 500],
    ['15s', 15_000],
    ['1m', 60_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1w', 604_800_000],
    ['1h30m', 5_400_000],
    ['1m30s500ms', 90_500],
    ['1.5s', 1500],
    ['0s', 0],
    ['300S', 300_000],
    [' 15s ', 15_000],
    ['1000', 1000],
    [1000, 1000],
    [0, 0],
  ];
  for (const [input, ms] of valid) {
    test(`${JSON.stringify(input)} is ${ms} ms`, () => assert.equal(parseDuration(input), ms));
  }

  const invalid: unknown[] = [
    '',
    'abc',
    '15x',
    '-1s',
    's',
    '1.5',
    '0.5ms',
    '1s2',
    -1,
    1.5,
    Number.NaN,
    true,
    null,
    [],
    {},
  ];
  for (const input of invalid) {
    test(`${JSON.stringify(input) ?? String(input)} is not a duration`, () =>
      assert.equal(parseDuration(input), undefined));
  }

  test('infinity and disabled only where unlimited is allowed', () => {
    assert.equal(parseDuration('infinity'), undefined);
    assert.equal(parseDuration(Number.POSITIVE_INFINITY), undefined);
    assert.equal(parseDuration('infinity', { unlimited: true }), Number.POSITIVE_INFINITY);
    assert.equal(parseDuration('disabled', { unlimited: true }), Number.POSITIVE_INFINITY);
    assert.equal(parseDuration(Number.POSITIVE_INFINITY, { unlimited: true }), Number.POSITIVE_INFINITY);
  });
});

describe('parseByteSize', () => {
  const valid: [unknown, number][] = [
    ['1024', 1024],
    [1024, 1024],
    ['512B', 512],
    ['64KB', 65_536],
    ['1MB', 1_048_576],
    ['1mb', 1_048_576],
    ['256MB', 268_435_456],
    ['2GB', 2_147_483_648],
    ['0', 0],
  ];
  for (const [input, bytes] of valid) {
    test(`${JSON.stringify(input)} is ${bytes} bytes`, () => assert.equal(parseByteSize(input), bytes));
  }
  for (const input of ['1.5MB', '1TB', 'MB', '-1', '', 'abc', -1, 1.5, null]) {
    test(`${JSON.stringify(input)} is not a size`, () => assert.equal(parseByteSize(input), undefined));
  }
});

describe('parseBind', () => {
  const valid: [unknown, { host: string; port: number }][] = [
    [1883, { host: '0.0.0.0', port: 1883 }],
    ['1883', { host: '0.0.0.0', port: 1883 }],
    ['0.0.0.0:1883', { host: '0.0.0.0', port: 1883 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['[::]:1883', { host: '::', port: 1883 }],
    ['[::1]:8883', { host: '::1', port: 8883 }],
    ['localhost:1883', { host: 'localhost', port: 1883 }],
    ['broker.example.com:65535', { host: 'broker.example.com', port: 65_535 }],
    [
      { host: '10.0.0.1', port: 1883 },
      { host: '10.0.0.1', port: 1883 },
    ],
  ];
  for (const [input, bind] of valid) {
    test(`${JSON.stringify(input)} binds ${bind.host} port ${bind.port}`, () =>
      assert.deepEqual(parseBind(input), bind));
  }

  const invalid: unknown[] = [
    'abc',
    '',
    ':1883',
    '0.0.0.0:',
    '0.0.0.0:65536',
    '0.0.0.0:-1',
    '::1:1883',
    '[nothost]:1883',
    '[::1]',
    'bad_host:1883',
    '1.2.3.4:1883:1',
    65_536,
    -1,
    1.5,
    null,
    [],
    { host: '0.0.0.0' },
    { host: '0.0.0.0', port: 1, extra: true },
  ];
  for (const input of invalid) {
    test(`${JSON.stringify(input)} is not a bind address`, () => assert.equal(parseBind(input), undefined));
  }

  test('formatBind writes the EMQX string form, bracketing IPv6', () => {
    assert.equal(formatBind({ host: '0.0.0.0', port: 1883 }), '0.0.0.0:1883');
    assert.equal(formatBind({ host: '::1', port: 1883 }), '[::1]:1883');
  });
});

describe('suggestions for misspelt keys', () => {
  test('edit distance', () => {
    assert.equal(editDistance('max_inflight', 'max_inflight'), 0);
    assert.equal(editDistance('max_inflght', 'max_inflight'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('bnid', 'bind'), 1);
    assert.equal(editDistance('', 'abc'), 3);
  });

  test('closest offers a plausible typo, and nothing for an unrelated word', () => {
    const keys = ['bind', 'enable', 'max_connections', 'zone', 'mountpoint'];
    assert.equal(closest('bnid', keys), 'bind');
    assert.equal(closest('max_conections', keys), 'max_connections');
    assert.equal(closest('Enable', keys), 'enable');
    assert.equal(closest('certificate', keys), undefined);
    assert.equal(closest('max', keys), undefined, 'too short to be a prefix');
    assert.equal(
      closest('retry', ['retry_interval', 'max_inflight']),
      'retry_interval',
      'a prefix of one key',
    );
    assert.equal(closest('max', ['max_inflight', 'max_qos']), undefined);
  });
});
