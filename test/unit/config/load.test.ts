/** biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are HOCON, where ${...} is a substitution. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../../src/config/index.js';
import { expectConfigError, removeTempDirs, tempDir } from './fixtures.js';

after(removeTempDirs);

function confFile(text: string, extra: Record<string, string> = {}): string {
  return join(tempDir({ 'aviary.conf': text, ...extra }), 'aviary.conf');
}

describe('loadConfig: layers', () => {
  test('precedence: default < file < env < overrides, key by key', () => {
    const file = confFile(
      [
        'mqtt {',
        '  max_inflight = 10       # file only',
        '  max_awaiting_rel = 20   # file, then env',
        '  max_mqueue_len = 30     # file, env, then overrides',
        '}',
      ].join('\n'),
    );
    const { config, sources } = loadConfig({
      file,
      env: { AVIARY_MQTT__MAX_AWAITING_REL: '21', AVIARY_MQTT__MAX_MQUEUE_LEN: '31' },
      overrides: { mqtt: { max_mqueue_len: 32 } },
    });
    assert.equal(config.mqtt.max_topic_levels, 128, 'default');
    assert.equal(config.mqtt.max_inflight, 10, 'file over default');
    assert.equal(config.mqtt.max_awaiting_rel, 21, 'env over file');
    assert.equal(config.mqtt.max_mqueue_len, 32, 'overrides over env');
    assert.deepEqual(sources, [
      'defaults',
      `file:${file}`,
      'env:AVIARY_MQTT__MAX_AWAITING_REL',
      'env:AVIARY_MQTT__MAX_MQUEUE_LEN',
      'overrides',
    ]);
  });

  test('a file that sets listeners.tcp.default merges over the default listener', () => {
    const { config } = loadConfig({ file: confFile('listeners.tcp.default.max_connections = 100'), env: {} });
    assert.deepEqual(config.listeners.tcp.default?.bind, { host: '0.0.0.0', port: 1883 });
    assert.equal(config.listeners.tcp.default?.max_connections, 100);
    assert.equal(config.listeners.tcp.default?.enable, true);
  });

  test('listeners.tcp.default.enable = false in the file disables it; env can enable it again', () => {
    const file = confFile('listeners.tcp.default.enable = false\nlisteners.tcp.alt.bind = 1884');
    const off = loadConfig({ file, env: {} }).config;
    assert.equal(off.listeners.tcp.default?.enable, false);
    assert.deepEqual(off.listeners.tcp.alt?.bind, { host: '0.0.0.0', port: 1884 });
    const on = loadConfig({ file, env: { AVIARY_LISTENERS__TCP__DEFAULT__ENABLE: 'true' } }).config;
    assert.equal(on.listeners.tcp.default?.enable, true);
  });

  test('overrides deep-merge, so a test can move the default listener to an ephemeral port', () => {
    const { config } = loadConfig({
      env: {},
      overrides: {
        listeners: { tcp: { default: { bind: '127.0.0.1:0' } } },
        log: { console: { level: 'error' } },
      },
    });
    assert.deepEqual(config.listeners.tcp.default?.bind, { host: '127.0.0.1', port: 0 });
    assert.equal(config.log.console.level, 'error');
    assert.equal(config.log.console.enable, true);
  });

  test('a realistic aviary.conf, with an include and an environment substitution', () => {
    const file = confFile(
      [
        'node {',
        '  name = "aviary@10.0.0.1"',
        '  data_dir = ${?AVIARY_TEST_DATA}',
        '}',
        'log.console.level = info',
        'listeners.tcp.default.bind = "0.0.0.0:1883"',
        'listeners.ws.default { bind = 8083, websocket.mqtt_path = "/mqtt" }',
        'include "zones.conf"',
        'mqtt {',
        '  max_packet_size = 2MB',
        '  session_expiry_interval = 1h',
        '  shared_subscription_strategy = hash_topic',
        '}',
      ].join('\n'),
      {
        'zones.conf':
          'zones.edge.mqtt { max_inflight = 4, idle_timeout = 5s }\nlisteners.tcp.edge { bind = 2883, zone = edge }',
      },
    );
    const { config, sources } = loadConfig({ file, env: { AVIARY_TEST_DATA: '/var/lib/aviary' } });
    assert.equal(config.node.data_dir, '/var/lib/aviary');
    assert.equal(config.log.console.level, 'info');
    assert.equal(config.listeners.ws.default?.websocket.mqtt_path, '/mqtt');
    assert.deepEqual(config.listeners.tcp.edge?.bind, { host: '0.0.0.0', port: 2883 });
    assert.deepEqual(config.zones.edge?.mqtt, { max_inflight: 4, idle_timeout: 5000 });
    assert.equal(config.mqtt.max_packet_size, 2 * 1024 * 1024);
    assert.equal(config.mqtt.session_expiry_interval, 3_600_000);
    assert.equal(config.mqtt.shared_subscription_strategy, 'hash_topic');
    assert.deepEqual(sources, ['defaults', `file:${file}`, `file:${join(file, '..', 'zones.conf')}`]);
  });

  test('${?VAR} unset keeps the default', () => {
    const { config } = loadConfig({ file: confFile('node.data_dir = ${?AVIARY_TEST_DATA}'), env: {} });
    assert.equal(config.node.data_dir, 'data');
  });

  test('env defaults to process.env', () => {
    process.env.AVIARY_MQTT__MAX_TOPIC_ALIAS = '7';
    try {
      assert.equal(loadConfig().config.mqtt.max_topic_alias, 7);
    } finally {
      delete process.env.AVIARY_MQTT__MAX_TOPIC_ALIAS;
    }
  });
});

describe('loadConfig: errors', () => {
  test('a missing file is a ConfigError naming the path', () => {
    const missing = join(tempDir(), 'missing.conf');
    expectConfigError(() => loadConfig({ file: missing, env: {} }), `config file not found: ${missing}`);
  });

  test('a directory instead of a file is a ConfigError', () => {
    const dir = tempDir();
    expectConfigError(() => loadConfig({ file: dir, env: {} }), 'cannot read config file', dir);
  });

  test('a syntax error names the file and line', () => {
    const file = confFile('mqtt {\n  max_inflight = 10\n  idle_timeout = \n}');
    expectConfigError(
      () => loadConfig({ file, env: {} }),
      `${file}:3:18: expected a value for "idle_timeout"`,
    );
  });

  test('problems from the file, the environment and overrides are reported together', () => {
    const file = confFile('mqtt.max_inflight = -1\nlisteners.tcp.default.bind = "abc"\nmqtt.retry = 1s');
    const error = expectConfigError(
      () =>
        loadConfig({
          file,
          env: { AVIARY_MQTT__IDLE_TIMEOUT: 'soon' },
          overrides: { retainer: { max_payload_size: 'big' } },
        }),
      'invalid configuration (5 problems)',
      'listeners.tcp.default.bind: expected "host:port" or a port number, got "abc"',
      'mqtt.max_inflight: expected an integer from 1 to 65535, got -1',
      'mqtt.idle_timeout: expected a duration',
      '(set by AVIARY_MQTT__IDLE_TIMEOUT)',
      'mqtt.retry: unknown key (did you mean "retry_interval"?)',
      'retainer.max_payload_size: expected a size',
    );
    assert.equal(error.key, 'listeners.tcp.default.bind');
  });

  test('an unknown zone in the file is an error', () => {
    const file = confFile('listeners.tcp.default.zone = internal');
    expectConfigError(
      () => loadConfig({ file, env: {} }),
      'listeners.tcp.default.zone: unknown zone "internal"',
    );
  });

  test('overrides that are not an object are refused', () => {
    expectConfigError(
      () => loadConfig({ env: {}, overrides: [] as never }),
      'overrides must be a plain object',
    );
  });
});
