/** biome-ignore-all lint/suspicious/noTemplateCurlyInString: '${HOME}' is a literal value under test. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  applyEnvOverrides,
  loadConfig,
  NON_CONFIG_ENV_VARS,
  parseEnvValue,
  readEnvOverrides,
  ROOT_KEYS,
} from '../../../src/config/index.js';
import { expectConfigError } from './fixtures.js';

/** Applies `env` to `base` as loadConfig does, without validation. */
function applied(env: Record<string, string>, base: Record<string, unknown> = {}) {
  const { overrides, warnings } = readEnvOverrides(env, [...ROOT_KEYS, 'authentication']);
  return { value: applyEnvOverrides(base, overrides), warnings };
}

describe('environment variables: names', () => {
  test('AVIARY_ + key path in upper case, __ between levels', () => {
    const { value } = applied({
      AVIARY_LISTENERS__TCP__DEFAULT__BIND: '127.0.0.1:18830',
      AVIARY_NODE__NAME: 'aviary@127.0.0.1',
      AVIARY_MQTT__MAX_PACKET_SIZE: '2MB',
    });
    assert.deepEqual(value, {
      listeners: { tcp: { default: { bind: '127.0.0.1:18830' } } },
      node: { name: 'aviary@127.0.0.1' },
      mqtt: { max_packet_size: '2MB' },
    });
  });

  test('through loadConfig the values are validated and normalised', () => {
    const { config, sources } = loadConfig({
      env: {
        AVIARY_LISTENERS__TCP__DEFAULT__BIND: '127.0.0.1:18830',
        AVIARY_NODE__NAME: 'aviary@10.0.0.7',
        AVIARY_MQTT__MAX_PACKET_SIZE: '2MB',
      },
    });
    assert.deepEqual(config.listeners.tcp.default?.bind, { host: '127.0.0.1', port: 18_830 });
    assert.equal(config.node.name, 'aviary@10.0.0.7');
    assert.equal(config.mqtt.max_packet_size, 2 * 1024 * 1024);
    assert.deepEqual(sources.filter((s) => s.startsWith('env:')).sort(), [
      'env:AVIARY_LISTENERS__TCP__DEFAULT__BIND',
      'env:AVIARY_MQTT__MAX_PACKET_SIZE',
      'env:AVIARY_NODE__NAME',
    ]);
  });

  test('path segments are lower-cased (listener names too)', () => {
    const { value } = applied({ AVIARY_LISTENERS__TCP__Internal__Bind: '1884' });
    assert.deepEqual(value, { listeners: { tcp: { internal: { bind: 1884 } } } });
  });

  test('numeric segments index arrays from 1', () => {
    const { value } = applied({
      AVIARY_AUTHENTICATION__1__MECHANISM: 'password_based',
      AVIARY_AUTHENTICATION__1__BACKEND: 'built_in_database',
      AVIARY_AUTHENTICATION__2__MECHANISM: 'jwt',
    });
    assert.deepEqual(value, {
      authentication: [{ mechanism: 'password_based', backend: 'built_in_database' }, { mechanism: 'jwt' }],
    });
  });

  test('an index into an existing array changes that element only', () => {
    const base = { authentication: [{ mechanism: 'password_based', enable: true }, { mechanism: 'jwt' }] };
    const { value } = applied({ AVIARY_AUTHENTICATION__1__ENABLE: 'false' }, base);
    assert.deepEqual(value, {
      authentication: [{ mechanism: 'password_based', enable: false }, { mechanism: 'jwt' }],
    });
    assert.equal(base.authentication[0]?.enable, true, 'the input is not modified');
  });

  test('an array index reaches a real array of the schema: ssl_options.versions', () => {
    const { config } = loadConfig({
      env: {
        AVIARY_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE: 'c.pem',
        AVIARY_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__KEYFILE: 'k.pem',
        AVIARY_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__VERSIONS: '["tlsv1.3", "tlsv1.2"]',
        AVIARY_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__VERSIONS__2: 'tlsv1.3',
      },
    });
    assert.deepEqual(config.listeners.ssl.default?.ssl_options.versions, ['tlsv1.3', 'tlsv1.3']);
  });

  test('an index that leaves a gap, or a word where an array is, is a ConfigError naming the variable', () => {
    expectConfigError(
      () => applied({ AVIARY_AUTHENTICATION__3__MECHANISM: 'jwt' }),
      'AVIARY_AUTHENTICATION__3__MECHANISM: position 3 leaves a gap',
    );
    expectConfigError(
      () => applied({ AVIARY_AUTHENTICATION__FIRST: 'x' }, { authentication: [] }),
      'AVIARY_AUTHENTICATION__FIRST: "first" is not an array position',
    );
  });

  test('a variable that is a whole section is applied before the variables below it', () => {
    const { config } = loadConfig({
      env: { AVIARY_MQTT__MAX_INFLIGHT: '5', AVIARY_MQTT: '{ max_inflight = 9, retry_interval = 1s }' },
    });
    assert.equal(config.mqtt.max_inflight, 5);
    assert.equal(config.mqtt.retry_interval, 1000);
  });
});

describe('environment variables: values', () => {
  test('JSON/HOCON when the value starts with [ { or "', () => {
    assert.deepEqual(parseEnvValue('["tlsv1.2"]', 'V'), ['tlsv1.2']);
    assert.deepEqual(parseEnvValue('{"a": 1}', 'V'), { a: 1 });
    assert.deepEqual(parseEnvValue('{ a = 1s, b = [x, y] }', 'V'), { a: '1s', b: ['x', 'y'] });
    assert.equal(parseEnvValue('"127.0.0.1:8883"', 'V'), '127.0.0.1:8883');
    assert.deepEqual(parseEnvValue('  [1] ', 'V'), [1]);
  });

  test('true, false and numbers', () => {
    assert.equal(parseEnvValue('true', 'V'), true);
    assert.equal(parseEnvValue('false', 'V'), false);
    assert.equal(parseEnvValue('1883', 'V'), 1883);
    assert.equal(parseEnvValue('-1.5', 'V'), -1.5);
  });

  test('anything else verbatim, needing no quotes', () => {
    for (const text of [
      '127.0.0.1:18830',
      '2MB',
      'aviary@127.0.0.1',
      'warning',
      '15s',
      'a b',
      '',
      '${HOME}',
      '0755',
    ]) {
      assert.equal(parseEnvValue(text, 'V'), text);
    }
  });

  test('a value that looks like HOCON but is not is a ConfigError naming the variable', () => {
    expectConfigError(() => parseEnvValue('["unclosed"', 'AVIARY_X'), /^AVIARY_X:1:/);
  });

  test('a JSON array value reaches the schema', () => {
    const { config } = loadConfig({
      env: {
        AVIARY_LISTENERS__SSL__DEFAULT__SSL_OPTIONS:
          '{ certfile = "c.pem", keyfile = "k.pem", versions = ["tlsv1.2"] }',
      },
    });
    assert.deepEqual(config.listeners.ssl.default?.ssl_options.versions, ['tlsv1.2']);
    assert.equal(config.listeners.ssl.default?.ssl_options.certfile, 'c.pem');
  });
});

describe('environment variables: unknown and invalid', () => {
  test('an unknown root is a warning, not an error, and is ignored', () => {
    const { config, warnings, sources } = loadConfig({
      env: { AVIARY_MQQT__MAX_INFLIGHT: '5', AVIARY_AUTHENTICATON__1__MECHANISM: 'password_based' },
    });
    assert.equal(config.mqtt.max_inflight, 32);
    assert.equal(warnings.length, 2);
    assert.match(
      warnings.find((w) => w.startsWith('AVIARY_MQQT')) ?? '',
      /"mqqt" is not a configuration section \(did you mean mqtt\?\); ignored/,
    );
    assert.match(
      warnings.find((w) => w.startsWith('AVIARY_AUTHENTICATON')) ?? '',
      /"authenticaton" is not a configuration section \(did you mean authentication\?\)/,
    );
    assert.deepEqual(sources, ['defaults']);
  });

  test('a malformed name is a warning', () => {
    const { warnings } = loadConfig({ env: { AVIARY_MQTT____MAX_INFLIGHT: '5', AVIARY_: 'x' } });
    assert.equal(warnings.length, 2);
    assert.ok(warnings.every((w) => w.includes('not a valid key path')));
  });

  test('the allow-listed non-configuration AVIARY_ variables are not reported', () => {
    const env = Object.fromEntries(NON_CONFIG_ENV_VARS.map((name) => [name, '1']));
    assert.ok(NON_CONFIG_ENV_VARS.includes('AVIARY_SKIP_LINT'));
    assert.deepEqual(loadConfig({ env }).warnings, []);
  });

  test('other variables are left alone', () => {
    const { warnings, sources } = loadConfig({
      env: { PATH: '/bin', EMQX_NODE__NAME: 'x@y', aviary_node__name: 'a@b' },
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(sources, ['defaults']);
  });

  test('a bad key or value below a known root is a validation error that names the variable', () => {
    expectConfigError(
      () => loadConfig({ env: { AVIARY_MQTT__MAX_INFLIGHT: '-1' } }),
      'mqtt.max_inflight: expected an integer from 1 to 65535, got -1 (set by AVIARY_MQTT__MAX_INFLIGHT)',
    );
    expectConfigError(
      () => loadConfig({ env: { AVIARY_MQTT__MAX_INFLGHT: '5' } }),
      'mqtt.max_inflght: unknown key (did you mean "max_inflight"?) (set by AVIARY_MQTT__MAX_INFLGHT)',
    );
    expectConfigError(
      () => loadConfig({ env: { AVIARY_LISTENERS__TCP__DEFAULT__BIND: 'abc' } }),
      'listeners.tcp.default.bind: expected "host:port" or a port number, got "abc" (set by AVIARY_LISTENERS__TCP__DEFAULT__BIND)',
    );
  });
});
