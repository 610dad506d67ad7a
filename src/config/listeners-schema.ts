/**
 * `listeners.<type>.<name>`: where the broker accepts connections, after EMQX 5
 * (emqx_schema.erl `listeners()` / `mqtt_listener/1`). Four types, each a map of named
 * listeners:
 *
 *   tcp  plain MQTT             default port 1883
 *   ssl  MQTT over TLS          default port 8883   + ssl_options
 *   ws   MQTT over WebSocket    default port 8083   + websocket
 *   wss  MQTT over WebSocket/TLS default port 8084  + websocket, ssl_options
 *
 * A listener without `bind` listens on 0.0.0.0 and its type's default port. Which listeners
 * exist when nothing is configured (`tcp.default` and `ws.default`) is decided in load.ts, not here: the
 * schema itself never invents a listener.
 */
import type { z } from 'zod';
import {
  bind,
  bool,
  byteSize,
  duration,
  int,
  leaf,
  listOf,
  mapOf,
  oneOf,
  section,
  str,
  stringList,
} from './fields.js';
import { authenticationSchema } from './authn-schema.js';
import { listenerRateFields } from './security-schema.js';
import { DEFAULT_BIND_HOST, parseDuration } from './units.js';

/** The listener types, in the order they are documented and started. */
export const LISTENER_TYPES = ['tcp', 'ssl', 'ws', 'wss'] as const;
/** A listener type. */
export type ListenerType = (typeof LISTENER_TYPES)[number];

/** The port a listener of each type binds when `bind` is absent (EMQX's defaults). */
export const DEFAULT_LISTENER_PORT: { readonly [T in ListenerType]: number } = {
  tcp: 1883,
  ssl: 8883,
  ws: 8083,
  wss: 8084,
};

/** The TLS versions a listener may offer (Node's TLS supports no older ones by default). */
export const TLS_VERSIONS = ['tlsv1.3', 'tlsv1.2'] as const;
/** The zone every listener belongs to unless it names another; it always exists. */
export const DEFAULT_ZONE = 'default';

const MS_PER_SECOND = 1000;
/** The largest listen backlog accepted (Linux caps it at net.core.somaxconn anyway). */
const MAX_BACKLOG = 65_535;
/** The largest `tcp_options.high_watermark`. */
const MAX_HIGH_WATERMARK = 1024 * 1024 * 1024;

/**
 * A connection rate, EMQX's `max_conn_rate`: "1000/s", "100/10s", "60/m", a number (per second),
 * or "infinity". Normalised to connections per second (`Infinity`: no limit).
 */
export function parseRate(input: unknown): number | undefined {
  if (input === Number.POSITIVE_INFINITY || input === 'infinity') return Number.POSITIVE_INFINITY;
  if (typeof input === 'number') return Number.isFinite(input) && input > 0 ? input : undefined;
  if (typeof input !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d*)\s*([a-z]+)\s*$/i.exec(input);
  if (match === null) return /^\s*\d+(\.\d+)?\s*$/.test(input) ? parseRate(Number(input)) : undefined;
  const periodMs = parseDuration(`${match[2] === '' ? '1' : match[2]}${match[3]!.toLowerCase()}`);
  const count = Number(match[1]);
  if (periodMs === undefined || periodMs <= 0 || count <= 0) return undefined;
  return (count * MS_PER_SECOND) / periodMs;
}

function connRate() {
  return leaf('a rate like "1000/s" or "100/10s", or "infinity"', parseRate);
}

/** `tcp_options`: socket settings (EMQX's names; the ones Node can apply). */
const tcpOptions = section({
  nodelay: bool().prefault(true),
  backlog: int(1, MAX_BACKLOG).prefault(1024),
  high_watermark: byteSize(1, MAX_HIGH_WATERMARK, '1GB').prefault('1MB'),
}).prefault({});

function commonFields(type: ListenerType) {
  return {
    enable: bool().prefault(true),
    bind: bind().prefault(`${DEFAULT_BIND_HOST}:${DEFAULT_LISTENER_PORT[type]}`),
    max_connections: int(1, Number.POSITIVE_INFINITY, { unlimited: true }).prefault('infinity'),
    max_conn_rate: connRate().prefault('infinity'),
    tcp_options: tcpOptions,
    zone: str('a zone name').prefault(DEFAULT_ZONE),
    mountpoint: str().prefault(''),
    // Rate limits per client (src/security/limiter.ts; EMQX 5's listener-level limiter keys).
    ...listenerRateFields(),
    proxy_protocol: bool().prefault(false),
    proxy_protocol_timeout: duration().prefault('3s'),
    // This listener's own authentication chain, replacing the global one (src/auth; absent: global).
    authentication: authenticationSchema.optional(),
  };
}

const sslOptions = section({
  certfile: str('a file path', (path) => path !== '').optional(),
  keyfile: str('a file path', (path) => path !== '').optional(),
  cacertfile: str('a file path', (path) => path !== '').optional(),
  verify: oneOf(['verify_peer', 'verify_none']).prefault('verify_none'),
  fail_if_no_peer_cert: bool().prefault(false),
  versions: listOf(TLS_VERSIONS, { nonEmpty: true }).prefault([...TLS_VERSIONS]),
  ciphers: stringList().prefault([]),
  handshake_timeout: duration().prefault('15s'),
}).prefault({});

const websocket = section({
  mqtt_path: str('a path starting with "/"', (path) => path.startsWith('/')).prefault('/mqtt'),
  fail_if_no_subprotocol: bool().prefault(true),
  supported_subprotocols: stringList().prefault('mqtt, mqtt-v3, mqtt-v3.1.1, mqtt-v5, mqttv3.1'),
  compress: bool().prefault(false),
  proxy_address_header: str().prefault('x-forwarded-for'),
  proxy_port_header: str().prefault('x-forwarded-port'),
}).prefault({});

/** One `listeners.tcp.<name>`. */
export const tcpListenerSchema = section(commonFields('tcp'));
/** One `listeners.ssl.<name>`. */
export const sslListenerSchema = section({ ...commonFields('ssl'), ssl_options: sslOptions });
/** One `listeners.ws.<name>`. */
export const wsListenerSchema = section({ ...commonFields('ws'), websocket });
/** One `listeners.wss.<name>`. */
export const wssListenerSchema = section({ ...commonFields('wss'), websocket, ssl_options: sslOptions });

/** The `listeners` section: a map of named listeners per type. */
export const listenersSchema = section({
  tcp: mapOf(tcpListenerSchema).prefault({}),
  ssl: mapOf(sslListenerSchema).prefault({}),
  ws: mapOf(wsListenerSchema).prefault({}),
  wss: mapOf(wssListenerSchema).prefault({}),
}).prefault({});

/**
 * `psk_authentication` (EMQX's emqx_psk): TLS-PSK identities for the ssl listeners, loaded from
 * `init_file` (`identity<separator>hexkey` per line).
 */
export const pskAuthenticationSchema = section({
  enable: bool().prefault(false),
  init_file: str('a file path', (path) => path !== '').optional(),
  separator: str('a non-empty string', (text) => text !== '').prefault(':'),
}).prefault({});

/** The parsed `psk_authentication` section. */
export type PskAuthenticationConfig = z.output<typeof pskAuthenticationSchema>;

/** A parsed `listeners.tcp.<name>`. */
export type TcpListenerConfig = z.output<typeof tcpListenerSchema>;
/** A parsed `listeners.ssl.<name>`. */
export type SslListenerConfig = z.output<typeof sslListenerSchema>;
/** A parsed `listeners.ws.<name>`. */
export type WsListenerConfig = z.output<typeof wsListenerSchema>;
/** A parsed `listeners.wss.<name>`. */
export type WssListenerConfig = z.output<typeof wssListenerSchema>;
/** A parsed `ssl_options` block. */
export type SslOptionsConfig = SslListenerConfig['ssl_options'];
/** The parsed `listeners` section. */
export type ListenersConfig = z.output<typeof listenersSchema>;
/** The settings every listener type has. */
export type ListenerConfig = TcpListenerConfig | SslListenerConfig | WsListenerConfig | WssListenerConfig;
