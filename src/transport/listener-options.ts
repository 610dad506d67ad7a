/**
 * From configuration to listener options: what `listeners.<type>.<name>` and
 * `psk_authentication` mean for the tcp and ssl listeners (main.ts's createListener uses these).
 */

import type { ListenerEntry, PskAuthenticationConfig, SslOptionsConfig } from '../config/index.js';
import { ConfigError } from '../errors.js';
import type { ListenerHandlers } from './listener.js';
import type { NetListenerOptions } from './net-listener.js';
import { loadPskFile, type PskTable } from './psk.js';
import type { TlsSettings } from './tls.js';

/** The options every net-based listener (tcp, ssl) takes from its configuration. */
export function netListenerOptions(entry: ListenerEntry, handlers: ListenerHandlers): NetListenerOptions {
  const lc = entry.config;
  return {
    id: entry.id,
    host: lc.bind.host,
    port: lc.bind.port,
    zone: lc.zone,
    maxConnections: lc.max_connections,
    maxConnRate: lc.max_conn_rate,
    socket: {
      noDelay: lc.tcp_options.nodelay,
      backlog: lc.tcp_options.backlog,
      highWaterMark: lc.tcp_options.high_watermark,
    },
    proxyProtocolTimeout: lc.proxy_protocol ? lc.proxy_protocol_timeout : null,
    handlers,
  };
}

/** A listener's `ssl_options` as TlsSettings. */
export function tlsSettings(entry: ListenerEntry, ssl: SslOptionsConfig): TlsSettings {
  return {
    configKey: `listeners.${entry.type}.${entry.name}.ssl_options`,
    certfile: ssl.certfile,
    keyfile: ssl.keyfile,
    cacertfile: ssl.cacertfile,
    verify: ssl.verify,
    failIfNoPeerCert: ssl.fail_if_no_peer_cert,
    versions: ssl.versions,
    ciphers: ssl.ciphers,
    handshakeTimeout: ssl.handshake_timeout,
  };
}

/**
 * The TLS-PSK identities when `psk_authentication.enable` is true (null otherwise), read from
 * `init_file`: a ConfigError names the key when it is missing or unreadable.
 */
export function pskTable(psk: PskAuthenticationConfig): PskTable | null {
  if (!psk.enable) return null;
  if (psk.init_file === undefined) {
    throw new ConfigError(
      'psk_authentication.init_file: required when psk_authentication.enable = true',
      'psk_authentication.init_file',
    );
  }
  return loadPskFile(psk.init_file, psk.separator);
}
