import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type AviaryConfig,
  configSchema,
  listenersOf,
  loadConfig,
  PINO_LEVEL,
  parseConfig,
  zoneMqtt,
} from '../../../src/config/index.js';
import { ConfigError } from '../../../src/errors.js';
import { expectConfigError } from './fixtures.js';

const KB = 1024;
const MB = 1024 * KB;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

describe('defaults (nothing configured)', () => {
  const { config } = loadConfig({ env: {} });

  test('node and log', () => {
    assert.deepEqual(config.node, { name: 'aviary@127.0.0.1', data_dir: 'data' });
    assert.deepEqual(config.log, {
      console: { enable: true, level: 'warning' },
      file: { enable: false, level: 'warning', path: 'log/aviary.log' },
    });
  });

  test('listeners.tcp.default (0.0.0.0:1883) and listeners.ws.default (0.0.0.0:8083, /mqtt) exist, as in EMQX', () => {
    const entries = listenersOf(config).map((entry) => [entry.id, entry.config.enable, entry.config.bind]);
    assert.deepEqual(entries, [
      ['tcp:default', true, { host: '0.0.0.0', port: 1883 }],
      ['ws:default', true, { host: '0.0.0.0', port: 8083 }],
    ]);
    const tcp = config.listeners.tcp.default!;
    assert.equal(tcp.max_connections, Number.POSITIVE_INFINITY);
    assert.equal(tcp.zone, 'default');
    assert.equal(tcp.mountpoint, '');
    assert.equal(tcp.proxy_protocol, false);
    assert.equal(tcp.proxy_protocol_timeout, 3000);
    assert.deepEqual(config.listeners.ws.default?.websocket, {
      mqtt_path: '/mqtt',
      fail_if_no_subprotocol: true,
      supported_subprotocols: ['mqtt', 'mqtt-v3', 'mqtt-v3.1.1', 'mqtt-v5', 'mqttv3.1'],
      compress: false,
      proxy_address_header: 'x-forwarded-for',
      proxy_port_header: 'x-forwarded-port',
    });
    assert.deepEqual([config.listeners.ssl, config.listeners.wss], [{}, {}]);
  });

  test("mqtt: EMQX's names and defaults, normalised", () => {
    assert.deepEqual(config.mqtt, {
      max_packet_size: MB,
      max_clientid_len: 65_535,
      max_topic_levels: 128,
      max_qos_allowed: 2,
      max_topic_alias: 65_535,
      retain_available: true,
      wildcard_subscription: true,
      shared_subscription: true,
      exclusive_subscription: false,
      idle_timeout: 15 * SECOND,
      keepalive_multiplier: 1.5,
      server_keepalive: Number.POSITIVE_INFINITY,
      max_inflight: 32,
      receive_maximum: 32,
      retry_interval: 30 * SECOND,
      max_awaiting_rel: 100,
      await_rel_timeout: 300 * SECOND,
      session_expiry_interval: 2 * HOUR,
      max_mqueue_len: 1000,
      mqueue_store_qos0: true,
      upgrade_qos: false,
      ignore_loop_deliver: false,
      strict_mode: false,
      max_subscriptions: Number.POSITIVE_INFINITY,
      use_username_as_clientid: false,
      peer_cert_as_username: 'disabled',
      peer_cert_as_clientid: 'disabled',
      response_information: '',
      shared_subscription_strategy: 'round_robin',
      limiter: { messages_rate: 'infinity', bytes_rate: 'infinity' },
    });
  });

  test('zones, sys_topics and retainer', () => {
    assert.deepEqual(config.zones, {});
    assert.deepEqual(config.sys_topics, {
      sys_msg_interval: MINUTE,
      sys_heartbeat_interval: 30 * SECOND,
      sys_event_messages: {
        client_connected: true,
        client_disconnected: true,
        client_subscribed: false,
        client_unsubscribed: false,
      },
      subscribe_allow_hosts: ['127.0.0.1', '::1', '::ffff:127.0.0.1'],
    });
    assert.deepEqual(config.retainer, {
      enable: true,
      max_payload_size: MB,
      msg_expiry_interval: Number.POSITIVE_INFINITY,
      max_retained_messages: Number.POSITIVE_INFINITY,
    });
  });

  test('parseConfig({}) and parseConfig() equal loadConfig with nothing configured', () => {
    assert.deepEqual(parseConfig({}), config);
    assert.deepEqual(parseConfig(), config);
  });

  test('the bare schema never invents a listener', () => {
    const bare = configSchema.parse({});
    assert.deepEqual(bare.listeners, { tcp: {}, ssl: {}, ws: {}, wss: {} });
  });
});

describe('normalisation', () => {
  test('durations in every written form become milliseconds', () => {
    const { mqtt, sys_topics } = parseConfig({
      mqtt: {
        idle_timeout: '500ms',
        retry_interval: '1m',
        await_rel_timeout: 2500,
        session_expiry_interval: 'infinity',
      },
      sys_topics: { sys_msg_interval: 'disabled', sys_heartbeat_interval: '1h30m' },
    });
    assert.equal(mqtt.idle_timeout, 500);
    assert.equal(mqtt.retry_interval, MINUTE);
    assert.equal(mqtt.await_rel_timeout, 2500);
    assert.equal(mqtt.session_expiry_interval, Number.POSITIVE_INFINITY);
    assert.equal(sys_topics.sys_msg_interval, Number.POSITIVE_INFINITY);
    assert.equal(sys_topics.sys_heartbeat_interval, 90 * MINUTE);
  });

  test('sizes become bytes', () => {
    const config = parseConfig({ mqtt: { max_packet_size: '64KB' }, retainer: { max_payload_size: 2048 } });
    assert.equal(config.mqtt.max_packet_size, 64 * KB);
    assert.equal(config.retainer.max_payload_size, 2048);
  });

  test('bind addresses become { host, port } in every form', () => {
    const cases: [unknown, { host: string; port: number }][] = [
      ['0.0.0.0:1883', { host: '0.0.0.0', port: 1883 }],
      ['1884', { host: '0.0.0.0', port: 1884 }],
      [1885, { host: '0.0.0.0', port: 1885 }],
      ['[::]:1886', { host: '::', port: 1886 }],
      ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ];
    for (const [bind, expected] of cases) {
      const config = parseConfig({ listeners: { tcp: { default: { bind } } } });
      assert.deepEqual(config.listeners.tcp.default?.bind, expected, `bind ${JSON.stringify(bind)}`);
    }
  });

  test('a listener without bind takes its type default port', () => {
    const config = parseConfig({
      listeners: {
        ssl: { default: { ssl_options: { certfile: 'c.pem', keyfile: 'k.pem' } } },
        ws: { default: {} },
        wss: { default: { ssl_options: { certfile: 'c.pem', keyfile: 'k.pem' } } },
      },
    });
    assert.deepEqual(config.listeners.ssl.default?.bind, { host: '0.0.0.0', port: 8883 });
    assert.deepEqual(config.listeners.ws.default?.bind, { host: '0.0.0.0', port: 8083 });
    assert.deepEqual(config.listeners.wss.default?.bind, { host: '0.0.0.0', port: 8084 });
    assert.equal(config.listeners.ws.default?.websocket.mqtt_path, '/mqtt');
    assert.deepEqual(config.listeners.ssl.default?.ssl_options, {
      certfile: 'c.pem',
      keyfile: 'k.pem',
      verify: 'verify_none',
      fail_if_no_peer_cert: false,
      versions: ['tlsv1.3', 'tlsv1.2'],
      ciphers: [],
      handshake_timeout: 15_000,
    });
  });

  test('"0 means no limit" keys become Infinity, as does "infinity"', () => {
    const config = parseConfig({
      mqtt: { max_mqueue_len: 0, max_awaiting_rel: 'infinity', max_subscriptions: 10 },
      retainer: { max_retained_messages: 5, msg_expiry_interval: '1h' },
    });
    assert.equal(config.mqtt.max_mqueue_len, Number.POSITIVE_INFINITY);
    assert.equal(config.mqtt.max_awaiting_rel, Number.POSITIVE_INFINITY);
    assert.equal(config.mqtt.max_subscriptions, 10);
    assert.equal(config.retainer.max_retained_messages, 5);
    assert.equal(config.retainer.msg_expiry_interval, HOUR);
  });

  test('server_keepalive is seconds, as in EMQX: an integer or a whole-second duration', () => {
    assert.equal(parseConfig({ mqtt: { server_keepalive: 60 } }).mqtt.server_keepalive, 60);
    assert.equal(parseConfig({ mqtt: { server_keepalive: '2m' } }).mqtt.server_keepalive, 120);
    assert.equal(
      parseConfig({ mqtt: { server_keepalive: 'disabled' } }).mqtt.server_keepalive,
      Number.POSITIVE_INFINITY,
    );
    expectConfigError(() => parseConfig({ mqtt: { server_keepalive: '1500ms' } }), 'mqtt.server_keepalive:');
    expectConfigError(() => parseConfig({ mqtt: { server_keepalive: 65_536 } }), 'mqtt.server_keepalive:');
  });

  test('log level "warn" is accepted as "warning"; levels map to pino', () => {
    const config = parseConfig({ log: { console: { level: 'warn' }, file: { level: 'NOTICE' } } });
    assert.equal(config.log.console.level, 'warning');
    assert.equal(config.log.file.level, 'notice');
    assert.equal(PINO_LEVEL[config.log.console.level], 'warn');
    assert.equal(PINO_LEVEL.emergency, 'fatal');
  });

  test('strings from the environment: "true", numbers as text', () => {
    const config = parseConfig({
      mqtt: { retain_available: 'false', max_inflight: '64', keepalive_multiplier: '2' },
    });
    assert.equal(config.mqtt.retain_available, false);
    assert.equal(config.mqtt.max_inflight, 64);
    assert.equal(config.mqtt.keepalive_multiplier, 2);
  });

  test('ssl versions and ciphers may be comma-separated strings', () => {
    const config = parseConfig({
      listeners: {
        ssl: {
          default: {
            ssl_options: { certfile: 'c', keyfile: 'k', versions: 'tlsv1.2', ciphers: 'A-B, C-D' },
          },
        },
      },
    });
    assert.deepEqual(config.listeners.ssl.default?.ssl_options.versions, ['tlsv1.2']);
    assert.deepEqual(config.listeners.ssl.default?.ssl_options.ciphers, ['A-B', 'C-D']);
  });

  test('a parsed configuration parses again to itself', () => {
    const once = parseConfig({
      mqtt: { idle_timeout: '1m', max_packet_size: '2MB', server_keepalive: 30, max_mqueue_len: 0 },
      listeners: {
        tcp: { default: { bind: '[::1]:1883' }, other: { bind: 1884, zone: 'edge' } },
        wss: { secure: { ssl_options: { certfile: 'c', keyfile: 'k' } } },
      },
      zones: { edge: { mqtt: { max_inflight: 4 } } },
    });
    assert.deepEqual(parseConfig(once), once);
  });
});

describe('listeners', () => {
  test('a configured listeners.tcp.default merges over the default one', () => {
    const config = parseConfig({ listeners: { tcp: { default: { max_connections: 10 } } } });
    assert.deepEqual(config.listeners.tcp.default?.bind, { host: '0.0.0.0', port: 1883 });
    assert.equal(config.listeners.tcp.default?.max_connections, 10);
  });

  test('enable = false keeps the entry but disables it', () => {
    const config = parseConfig({ listeners: { tcp: { default: { enable: false } } } });
    assert.equal(config.listeners.tcp.default?.enable, false);
  });

  test('more named listeners sit beside the default', () => {
    const config = parseConfig({ listeners: { tcp: { internal: { bind: '127.0.0.1:11883' } } } });
    assert.deepEqual(Object.keys(config.listeners.tcp).sort(), ['default', 'internal']);
  });

  test('listenersOf lists every listener with its EMQX id', () => {
    const config = parseConfig({
      listeners: { tcp: { internal: { bind: 11_883, enable: false } }, ws: { default: {} } },
    });
    const ids = listenersOf(config).map((entry) => [entry.id, entry.config.enable, entry.config.bind.port]);
    assert.deepEqual(ids, [
      ['tcp:default', true, 1883],
      ['tcp:internal', false, 11_883],
      ['ws:default', true, 8083],
    ]);
  });
});

describe('zones', () => {
  const config = parseConfig({
    mqtt: { max_inflight: 64, idle_timeout: '30s' },
    zones: {
      edge: { mqtt: { max_inflight: 8, max_packet_size: '64KB' } },
      default: { mqtt: { retain_available: false } },
    },
    listeners: { tcp: { default: { zone: 'edge' } } },
  });

  test('zone overrides are parsed and normalised, with no defaults of their own', () => {
    assert.deepEqual(config.zones.edge, { mqtt: { max_inflight: 8, max_packet_size: 64 * KB } });
  });

  test('zoneMqtt overlays the zone on the global mqtt section', () => {
    const edge = zoneMqtt(config, 'edge');
    assert.equal(edge.max_inflight, 8);
    assert.equal(edge.max_packet_size, 64 * KB);
    assert.equal(edge.idle_timeout, 30 * SECOND);
    assert.equal(edge.retain_available, true);
    assert.equal(config.mqtt.max_inflight, 64, 'the global section is not modified');
  });

  test('the default zone exists without configuration, and can be configured', () => {
    assert.equal(zoneMqtt(config, 'default').retain_available, false);
    const plain = parseConfig({});
    assert.deepEqual(zoneMqtt(plain, 'default'), plain.mqtt);
  });

  test('zoneMqtt of an unknown zone is a ConfigError', () => {
    const error = expectConfigError(() => zoneMqtt(config, 'nowhere'), 'unknown zone "nowhere"');
    assert.equal(error.key, 'zones.nowhere');
  });
});

describe('invalid values give one ConfigError naming each key', () => {
  const cases: [string, unknown, string][] = [
    [
      'bad bind',
      { listeners: { tcp: { default: { bind: 'abc' } } } },
      'listeners.tcp.default.bind: expected "host:port" or a port number, got "abc"',
    ],
    [
      'port out of range',
      { listeners: { tcp: { default: { bind: 70_000 } } } },
      'listeners.tcp.default.bind:',
    ],
    [
      'negative max_inflight',
      { mqtt: { max_inflight: -1 } },
      'mqtt.max_inflight: expected an integer from 1 to 65535, got -1',
    ],
    ['max_inflight too large', { mqtt: { max_inflight: 65_536 } }, 'mqtt.max_inflight:'],
    ['fractional integer', { mqtt: { max_topic_levels: 1.5 } }, 'mqtt.max_topic_levels:'],
    ['bad duration', { mqtt: { idle_timeout: '15 seconds' } }, 'mqtt.idle_timeout: expected a duration'],
    [
      'infinity where not allowed',
      { sys_topics: { sys_event_messages: { client_connected: 'infinity' } } },
      'true or false',
    ],
    ['bad size', { mqtt: { max_packet_size: '1 TB' } }, 'mqtt.max_packet_size: expected a size'],
    ['packet size over 256MB', { mqtt: { max_packet_size: '512MB' } }, 'mqtt.max_packet_size:'],
    [
      'unknown key',
      { mqtt: { max_inflght: 3 } },
      'mqtt.max_inflght: unknown key (did you mean "max_inflight"?)',
    ],
    ['unknown root', { mqttt: {} }, 'mqttt: unknown key (did you mean "mqtt"?)'],
    ['unknown listener type', { listeners: { quic: {} } }, 'listeners.quic: unknown key'],
    [
      'unknown listener key',
      { listeners: { tcp: { default: { bnid: 1 } } } },
      'listeners.tcp.default.bnid: unknown key (did you mean "bind"?)',
    ],
    ['bad enum', { mqtt: { shared_subscription_strategy: 'fastest' } }, 'got "fastest"'],
    [
      'bad log level',
      { log: { console: { level: 'verbose' } } },
      'log.console.level: expected one of debug, info',
    ],
    ['bad boolean', { retainer: { enable: 'yes' } }, 'retainer.enable: expected true or false, got "yes"'],
    ['bad node name', { node: { name: 'aviary' } }, 'node.name: expected a node name'],
    [
      'max_qos_allowed 3',
      { mqtt: { max_qos_allowed: 3 } },
      'mqtt.max_qos_allowed: expected an integer from 0 to 2',
    ],
    ['keepalive_multiplier below 1', { mqtt: { keepalive_multiplier: 0.5 } }, 'mqtt.keepalive_multiplier:'],
    ['max_clientid_len below 23', { mqtt: { max_clientid_len: 10 } }, 'mqtt.max_clientid_len:'],
    [
      'bad websocket path',
      { listeners: { ws: { default: { websocket: { mqtt_path: 'mqtt' } } } } },
      'mqtt_path: expected a path',
    ],
    [
      'TLS 1.1',
      { listeners: { ssl: { a: { ssl_options: { certfile: 'c', keyfile: 'k', versions: ['tlsv1.1'] } } } } },
      'listeners.ssl.a.ssl_options.versions:',
    ],
    ['section not an object', { mqtt: 5 }, 'mqtt: expected an object'],
    [
      'bad listener name',
      { listeners: { tcp: { 'my listener': {} } } },
      'listeners.tcp."my listener": a name may contain only',
    ],
    ['bad zone key', { zones: { edge: { mqtt: { max_inflight: 0 } } } }, 'zones.edge.mqtt.max_inflight:'],
    ['unknown zone section', { zones: { edge: { flapping: {} } } }, 'zones.edge.flapping: unknown key'],
    ['not an object at all', 'mqtt.max_inflight = 5', '(root): expected an object'],
  ];
  for (const [name, input, message] of cases) {
    test(name, () => {
      expectConfigError(() => parseConfig(input), message);
    });
  }

  test('every problem is listed, one per line, and key is the first path', () => {
    const error = expectConfigError(
      () => parseConfig({ mqtt: { max_inflight: 0, idle_timeout: 'soon' }, node: { data_dir: '' } }),
      /^invalid configuration \(3 problems\):\n/,
    );
    const lines = error.message.split('\n').slice(1);
    assert.equal(lines.length, 3);
    assert.ok(
      lines.every((line) => /^ {2}[a-z_.]+: /.test(line)),
      error.message,
    );
    assert.equal(error.key, 'node.data_dir');
    assert.equal(error.code, 'AVY_ERR_CONFIG');
  });

  test('the error is a ConfigError for a root problem, with an empty key', () => {
    const error = expectConfigError(() => parseConfig(42));
    assert.ok(error instanceof ConfigError);
    assert.equal(error.key, '');
  });
});

describe('rules across keys', () => {
  test('a listener naming an unknown zone is an error', () => {
    expectConfigError(
      () => parseConfig({ zones: { edge: {} }, listeners: { tcp: { default: { zone: 'egde' } } } }),
      'listeners.tcp.default.zone: unknown zone "egde" (defined zones: default, edge)',
    );
  });

  test('an enabled ssl or wss listener needs certfile and keyfile; a disabled one does not', () => {
    expectConfigError(
      () => parseConfig({ listeners: { ssl: { default: {} } } }),
      'listeners.ssl.default.ssl_options.certfile: required',
      'listeners.ssl.default.ssl_options.keyfile: required',
    );
    expectConfigError(
      () => parseConfig({ listeners: { wss: { default: { ssl_options: { certfile: 'c' } } } } }),
      'listeners.wss.default.ssl_options.keyfile: required',
    );
    const config: AviaryConfig = parseConfig({ listeners: { ssl: { default: { enable: false } } } });
    assert.equal(config.listeners.ssl.default?.enable, false);
  });

  test('two enabled listeners on the same address are an error; port 0 and disabled ones are not', () => {
    expectConfigError(
      () => parseConfig({ listeners: { tcp: { other: { bind: '127.0.0.1:1883' } } } }),
      'listeners.tcp.other.bind: 127.0.0.1:1883 overlaps the address of listeners.tcp.default',
    );
    expectConfigError(
      () => parseConfig({ listeners: { ws: { default: { bind: '[::]:1883' } } } }),
      'listeners.ws.default.bind:',
    );
    parseConfig({ listeners: { tcp: { default: { bind: '127.0.0.1:0' }, b: { bind: '127.0.0.1:0' } } } });
    parseConfig({ listeners: { tcp: { default: { enable: false }, b: { bind: 1883 } } } });
    parseConfig({
      listeners: { tcp: { default: { bind: '127.0.0.1:1883' }, b: { bind: '127.0.0.2:1883' } } },
    });
  });
});
