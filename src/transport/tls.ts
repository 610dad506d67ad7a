/**
 * The TLS listener (`listeners.ssl.<name>`, EMQX's default port 8883): MQTT over TLS 1.2/1.3 with
 * node:tls, optionally with mutual TLS (client certificates) and TLS-PSK.
 *
 * How a connection goes:
 *   1. the raw TCP socket passes the gate (net-listener.ts): max_connections, max_conn_rate;
 *   2. it is handed to a tls.Server that never listens itself (`emit('connection')`), which runs
 *      the handshake with the listener's certificate, versions, ciphers and handshake timeout;
 *   3. after the handshake this listener checks the client: with `verify = verify_peer`, a
 *      certificate that does not verify against `cacertfile` is refused, and so is a missing one
 *      when `fail_if_no_peer_cert = true`; a TLS-PSK client is accepted by its key instead;
 *   4. the TLS socket becomes a SocketConnection carrying `peerCert` (subject CN and DN) or
 *      `pskIdentity`, which the MQTT side copies into the client's info at CONNECT.
 * A failed handshake or a refused client is counted (`handshakeFailed`), reported through
 * `onHandshakeError`, and closed; it never disturbs the listener or the other connections.
 *
 * The checks of step 3 are done here, not by Node's `rejectUnauthorized` (which closes such
 * connections at the same point, after the handshake), so that every refusal is counted and
 * logged and PSK clients are told apart from certificate clients.
 *
 * TLS-PSK (psk.ts). Node offers PSK through `pskCallback`. Two shapes:
 *   - PSK only (no certfile): every handshake must use a PSK; TLS 1.3 and TLS 1.2 both work
 *     (mosquitto_pub --psk negotiates TLS 1.3 with TLS_CHACHA20_POLY1305_SHA256 or
 *     TLS_AES_128_GCM_SHA256; with versions = [tlsv1.2], PSK-AES128-GCM-SHA256).
 *   - PSK beside a certificate: under TLS 1.3 OpenSSL falls back to a certificate handshake when
 *     the PSK cannot be used (a SHA-384 suite, a wrong key), and Node does not say which way a
 *     TLS 1.3 handshake went; so there a PSK identity is trusted only on a TLS 1.2 PSK cipher
 *     suite, and other clients are treated as certificate clients (verify rules apply).
 */

import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import {
  DEFAULT_CIPHERS,
  type SecureVersion,
  type Server as TlsServer,
  type TLSSocket,
  createServer as createTlsServer,
} from 'node:tls';
import { ConfigError } from '../errors.js';
import type { PeerCert } from './listener.js';
import { NetListener, type NetListenerOptions, peerOf } from './net-listener.js';
import type { ProxyAddress } from './proxy-protocol.js';
import type { PskTable } from './psk.js';
import { SocketConnection } from './socket-connection.js';

/** The TLS settings of one listener (its `ssl_options`). */
export interface TlsSettings {
  /** Where the settings come from, for errors: 'listeners.ssl.default.ssl_options'. */
  readonly configKey: string;
  readonly certfile?: string | undefined;
  readonly keyfile?: string | undefined;
  readonly cacertfile?: string | undefined;
  readonly verify: 'verify_peer' | 'verify_none';
  readonly failIfNoPeerCert: boolean;
  /** EMQX's names: 'tlsv1.3', 'tlsv1.2'. */
  readonly versions: readonly string[];
  /** OpenSSL cipher names (TLS 1.2) and TLS 1.3 suite names; empty: Node's defaults. */
  readonly ciphers: readonly string[];
  /** Milliseconds a client has to finish the handshake. */
  readonly handshakeTimeout: number;
}

export interface TlsListenerOptions extends NetListenerOptions {
  readonly tls: TlsSettings;
  /** TLS-PSK identities, when `psk_authentication.enable` is true. */
  readonly psk?: PskTable | null;
}

/** PSK cipher suites offered for TLS 1.2 when PSK is on and `ciphers` is not configured. */
export const PSK_CIPHERS = [
  'PSK-AES256-GCM-SHA384',
  'PSK-AES128-GCM-SHA256',
  'PSK-CHACHA20-POLY1305',
  'PSK-AES256-CBC-SHA384',
  'PSK-AES128-CBC-SHA256',
  'ECDHE-PSK-AES256-CBC-SHA384',
  'ECDHE-PSK-AES128-CBC-SHA256',
  'ECDHE-PSK-CHACHA20-POLY1305',
] as const;

const NODE_VERSION: Readonly<Record<string, SecureVersion>> = { 'tlsv1.2': 'TLSv1.2', 'tlsv1.3': 'TLSv1.3' };
const VERSION_ORDER: readonly SecureVersion[] = ['TLSv1.2', 'TLSv1.3'];

/** The subject of a certificate as PeerCert, from Node's `X509Certificate.subject` text. */
export function peerCertOf(subject: string): PeerCert {
  // Node gives one "KEY=value" per line, in the certificate's order.
  const parts = subject.split('\n').filter((part) => part !== '');
  const cnPart = parts.find((part) => part.startsWith('CN='));
  return { cn: cnPart === undefined ? null : cnPart.slice('CN='.length), dn: parts.join(',') };
}

function endpointKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

export class TlsListener extends NetListener {
  readonly type = 'ssl' as const;
  private tlsServer: TlsServer | null = null;
  /** Identities whose key a handshake asked for, per socket (pskCallback -> secureConnection). */
  private readonly pskIdentities = new WeakMap<TLSSocket, string>();
  private readonly pskOnly: boolean;
  /**
   * Client addresses from PROXY headers, by the socket's "address|port" (the TLS socket shares
   * the raw socket's handle, so both report the same remote endpoint), until the handshake ends.
   */
  private readonly proxied = new Map<string, ProxyAddress>();

  constructor(protected override readonly options: TlsListenerOptions) {
    super(options);
    this.pskOnly = options.psk != null && options.tls.certfile === undefined;
  }

  /** Reads the certificate files and builds the TLS server (again on each start: a restart reloads them). */
  protected override prepare(): void {
    const t = this.options.tls;
    const psk = this.options.psk ?? null;
    const read = (key: 'certfile' | 'keyfile' | 'cacertfile'): Buffer | undefined => {
      const file = t[key];
      if (file === undefined) return undefined;
      try {
        return readFileSync(file);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? String(error);
        throw new ConfigError(
          `${t.configKey}.${key}: cannot read ${file} (${code})`,
          `${t.configKey}.${key}`,
          {
            cause: error,
          },
        );
      }
    };
    const cert = read('certfile');
    const key = read('keyfile');
    const ca = read('cacertfile');
    const versions = t.versions
      .map((v) => NODE_VERSION[v])
      .filter((v): v is SecureVersion => v !== undefined)
      .sort((a, b) => VERSION_ORDER.indexOf(a) - VERSION_ORDER.indexOf(b));
    let ciphers: string | undefined = t.ciphers.length > 0 ? t.ciphers.join(':') : undefined;
    if (ciphers === undefined && psk !== null) {
      // Node's default list ends with "!PSK", which no later entry can undo: drop it.
      const defaults = DEFAULT_CIPHERS.split(':').filter((c) => c !== '!PSK');
      ciphers = [...PSK_CIPHERS, ...defaults].join(':');
    }
    let server: TlsServer;
    try {
      server = createTlsServer({
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
        ...(ca === undefined ? {} : { ca }),
        ...(ciphers === undefined ? {} : { ciphers }),
        minVersion: versions[0] ?? 'TLSv1.2',
        maxVersion: versions.at(-1) ?? 'TLSv1.3',
        requestCert: t.verify === 'verify_peer',
        rejectUnauthorized: false, // checked in onSecure, so refusals are counted and logged
        handshakeTimeout: t.handshakeTimeout,
        ...(psk === null
          ? {}
          : {
              pskCallback: (socket: TLSSocket, identity: string): Buffer | null => {
                const secret = psk.get(identity);
                if (secret === undefined) return null;
                this.pskIdentities.set(socket, identity);
                return secret;
              },
            }),
      });
    } catch (error) {
      // A key that does not match the certificate, a PEM that is not one, a bad cipher list.
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError(`${t.configKey}: ${reason}`, t.configKey, { cause: error });
    }
    server.on('secureConnection', (socket: TLSSocket) => this.onSecure(socket));
    server.on('tlsClientError', (error: Error, socket: TLSSocket) => this.refuse(socket, error));
    this.tlsServer = server;
  }

  protected handoff(socket: Socket, peer: ProxyAddress | null): void {
    if (peer !== null) {
      const key = endpointKey(socket);
      this.proxied.set(key, peer);
      socket.once('close', () => this.proxied.delete(key));
    }
    // The TLS server wraps the socket (and reads what a PROXY header left unshifted).
    this.tlsServer!.emit('connection', socket);
  }

  private onSecure(socket: TLSSocket): void {
    const t = this.options.tls;
    const identity = this.trustedPskIdentity(socket);
    let peerCert: PeerCert | null = null;
    if (identity === null) {
      if (this.pskOnly) {
        this.refuse(socket, new Error('TLS-PSK listener: the handshake used no PSK'));
        return;
      }
      const x509 = t.verify === 'verify_peer' ? socket.getPeerX509Certificate() : undefined;
      if (x509 === undefined) {
        if (t.verify === 'verify_peer' && t.failIfNoPeerCert) {
          this.refuse(socket, new Error('no client certificate (fail_if_no_peer_cert)'));
          return;
        }
      } else {
        if (!socket.authorized) {
          const why = String(socket.authorizationError ?? 'not verified');
          this.refuse(socket, new Error(`client certificate refused: ${why}`));
          return;
        }
        peerCert = peerCertOf(x509.subject);
      }
    }
    const { handlers, id, zone } = this.options;
    const peer = this.proxied.size === 0 ? null : (this.proxied.get(endpointKey(socket)) ?? null);
    const connection = new SocketConnection(
      socket,
      id,
      zone,
      peer,
      { peerCert, pskIdentity: identity },
      this.onClosed,
    );
    handlers.onConnection(connection);
  }

  /** The PSK identity the handshake proved, or null (see the header on TLS 1.3 beside certificates). */
  private trustedPskIdentity(socket: TLSSocket): string | null {
    const identity = this.pskIdentities.get(socket);
    if (identity === undefined) return null;
    if (this.pskOnly) return identity;
    const tls12Psk = socket.getProtocol() === 'TLSv1.2' && socket.getCipher().name.includes('PSK');
    return tls12Psk ? identity : null;
  }

  private refuse(socket: TLSSocket, error: Error): void {
    this.gate.counters.handshakeFailed++;
    this.options.handlers.onHandshakeError?.(peerOf(socket), error);
    socket.destroy();
  }
}
