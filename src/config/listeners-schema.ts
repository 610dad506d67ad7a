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
 * exist when nothing is configured (only `tcp.default`) is decided in load.ts, not here: the
 * schema itself never invents a listener.
 */
import type { z } from 'zod';
import { bind, bool, int, listOf, mapOf, oneOf, section, str, stringList } from './fields.js';
import { DEFAULT_BIND_HOST } from './units.js';

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

function commonFields(type: ListenerType) {
  return {
    enable: bool().prefault(true),
    bind: bind().prefault(`${DEFAULT_BIND_HOST}:${DEFAULT_LISTENER_PORT[type]}`),
    max_connections: int(1, Number.POSITIVE_INFINITY, { unlimited: true }).prefault('infinity'),
    zone: str('a zone name').prefault(DEFAULT_ZONE),
    mountpoint: str().prefault(''),
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
}).prefault({});

const websocket = section({
  mqtt_path: str('a path starting with "/"', (path) => path.startsWith('/')).prefault('/mqtt'),
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
