/**
 * The WebSocket listeners: `listeners.ws.<name>` (MQTT over WebSocket, EMQX's default port 8083)
 * and `listeners.wss.<name>` (over TLS, 8084). Like the tcp and ssl listeners, a raw socket first
 * passes the gate (net-listener.ts: max_connections, max_conn_rate, an optional PROXY header);
 * a wss socket then runs its TLS handshake; then an HTTP server that never listens itself parses
 * its requests, and an upgrade request to `websocket.mqtt_path` (default /mqtt) becomes a
 * WebSocket (the `ws` library in noServer mode) handed to `onConnection` as a WsConnection. No
 * MQTT logic here.
 *
 * The upgrade, after EMQX's emqx_ws_connection:
 *   - another path: HTTP 404;
 *   - a request to the path that is not an upgrade: 426 Upgrade Required; bytes that are not
 *     HTTP: 400 (node:http's clientError); a malformed upgrade (no Sec-WebSocket-Key, a wrong
 *     version): 400 from `ws`. Each is counted as a failed handshake and closes that socket only;
 *   - subprotocols: the first one the client offers that is in `websocket.supported_subprotocols`
 *     is selected and returned [MQTT-6.0.0-3] [MQTT-6.0.0-4]; an offer with none of them is
 *     refused with 400; no Sec-WebSocket-Protocol at all is refused with 400 unless
 *     `websocket.fail_if_no_subprotocol = false`;
 *   - per-message deflate only with `websocket.compress = true` (off by default);
 *   - the peer address is the socket's (or the PROXY header's), replaced, when the request
 *     carries them, by the first address in `websocket.proxy_address_header` (X-Forwarded-For by
 *     default, as in EMQX) and the first port in `websocket.proxy_port_header`
 *     (X-Forwarded-Port). Set them to "" when clients reach the listener without a proxy, or a
 *     client can claim any address.
 *
 * The upgrade request (URL and headers, so cookies too) stays on the connection (`upgrade`).
 */

import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  createServer as createTlsServer,
  type SecureVersion,
  type Server as TlsServer,
  type TLSSocket,
} from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ListenerEntry, WsListenerConfig, WssListenerConfig } from '../config/index.js';
import { ConfigError } from '../errors.js';
import type { ListenerHandlers } from './listener.js';
import { netListenerOptions, tlsSettings } from './listener-options.js';
import { NetListener, type NetListenerOptions, peerOf } from './net-listener.js';
import type { ProxyAddress } from './proxy-protocol.js';
import type { TlsSettings } from './tls.js';
import { WsConnection } from './ws-connection.js';

/** The `websocket` block of a ws/wss listener. */
export interface WebSocketSettings {
  /** `websocket.mqtt_path` */
  readonly path: string;
  /** `websocket.fail_if_no_subprotocol` */
  readonly failIfNoSubprotocol: boolean;
  /** `websocket.supported_subprotocols` */
  readonly supportedSubprotocols: readonly string[];
  /** `websocket.compress`: per-message deflate. */
  readonly compress: boolean;
  /** `websocket.proxy_address_header` ('' = never). */
  readonly proxyAddressHeader: string;
  /** `websocket.proxy_port_header` ('' = never). */
  readonly proxyPortHeader: string;
  /** The largest WebSocket message accepted (bigger ones close the connection with 1009). */
  readonly maxMessageSize: number;
}

export interface WsListenerOptions extends NetListenerOptions {
  readonly websocket: WebSocketSettings;
  /** Present for wss: its `ssl_options` (the same settings as an ssl listener's). */
  readonly tls?: TlsSettings | null;
}

const HTTP_STATUS = {
  BadRequest: 400,
  NotFound: 404,
  UpgradeRequired: 426,
} as const;

const STATUS_TEXT: Readonly<Record<number, string>> = {
  [HTTP_STATUS.BadRequest]: 'Bad Request',
  [HTTP_STATUS.NotFound]: 'Not Found',
  [HTTP_STATUS.UpgradeRequired]: 'Upgrade Required',
};

const MAX_PORT = 65535;

/**
 * Room above the zone's max_packet_size in one WebSocket message, so that a packet just over the
 * limit still reaches the MQTT decoder (which answers with reason code 0x95, packet too large)
 * instead of being cut by `ws` with close code 1009.
 */
const MESSAGE_SIZE_SLACK = 64 * 1024;

/** The path of a request target, without its query. */
function pathOf(url: string | undefined): string {
  if (url === undefined) return '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** A socket's remote address and port as a map key (the same for a TLS socket and its raw one). */
function addressKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

/** The first comma-separated item of a header, trimmed ('' when absent). */
function firstItem(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return '';
  const comma = text.indexOf(',');
  return (comma < 0 ? text : text.slice(0, comma)).trim();
}

export class WsListener extends NetListener {
  readonly type: 'ws' | 'wss';
  /** Parses HTTP on the sockets this listener hands it; it never listens itself. */
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly supported: ReadonlySet<string>;
  /** The client's address from a PROXY header, per socket (the TLS socket for wss). */
  private readonly proxied = new WeakMap<Duplex, ProxyAddress>();
  /** wss: runs the handshakes on the sockets this listener hands it; it never listens itself. */
  private tlsServer: TlsServer | null = null;
  /** wss: PROXY header addresses by the raw socket's remote address, until its handshake is done. */
  private readonly proxiedTls = new Map<string, ProxyAddress>();
  /** wss: raw sockets (by remote address) whose TLS handshake has not finished. */
  private readonly handshaking = new Set<string>();

  constructor(protected override readonly options: WsListenerOptions) {
    super(options);
    this.type = options.tls == null ? 'ws' : 'wss';
    const w = options.websocket;
    this.supported = new Set(w.supportedSubprotocols);
    this.http = createHttpServer((req, res) => this.request(req, res));
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: w.compress,
      maxPayload: w.maxMessageSize,
      handleProtocols: (offered) => this.pickSubprotocol([...offered]) ?? false,
    });
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(req, socket, head),
    );
    this.http.on('clientError', (error: Error, socket: Duplex) => {
      this.refuse(socket, new Error(`bad HTTP request: ${error.message}`), HTTP_STATUS.BadRequest);
    });
  }

  /** wss: reads the certificate files (again on each start: a restart reloads them). */
  protected override prepare(): void {
    const t = this.options.tls;
    if (t == null) return;
    try {
      const server = createTlsServer({
        ...wssTlsOptions(t),
        requestCert: t.verify === 'verify_peer',
        rejectUnauthorized: false, // checked in onSecure, so refusals are counted and logged
        handshakeTimeout: t.handshakeTimeout,
      });
      server.on('secureConnection', (socket: TLSSocket) => this.onSecure(socket));
      server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
        this.handshaking.delete(addressKey(socket));
        this.refuse(socket, error);
      });
      this.tlsServer = server;
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      // A key that does not match the certificate, a PEM that is not one, a bad cipher list.
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError(`${t.configKey}: ${reason}`, t.configKey, { cause: error });
    }
  }

  protected handoff(socket: Socket, peer: ProxyAddress | null): void {
    const t = this.options.tls;
    if (t == null) {
      if (peer !== null) this.proxied.set(socket, peer);
      this.http.emit('connection', socket);
      if (this.options.proxyProtocolTimeout != null) socket.resume(); // paused after its PROXY header
      return;
    }
    const key = addressKey(socket);
    this.handshaking.add(key);
    if (peer !== null) this.proxiedTls.set(key, peer);
    socket.once('close', () => {
      this.proxiedTls.delete(key);
      // Node reports some failed handshakes (plain HTTP to the TLS port) with no tlsClientError.
      if (this.handshaking.delete(key))
        this.countFailure(socket, new Error('closed during the TLS handshake'));
    });
    this.tlsServer!.emit('connection', socket);
  }

  /** wss: the TLS handshake is done; check the client's certificate, then parse HTTP on it. */
  private onSecure(socket: TLSSocket): void {
    const t = this.options.tls!;
    this.handshaking.delete(addressKey(socket));
    socket.on('error', () => {}); // from here the WebSocket reports errors
    if (t.verify === 'verify_peer') {
      const hasCert = socket.getPeerX509Certificate() !== undefined;
      if (hasCert && !socket.authorized) {
        const why = String(socket.authorizationError ?? 'not verified');
        this.refuse(socket, new Error(`client certificate refused: ${why}`));
        return;
      }
      if (!hasCert && t.failIfNoPeerCert) {
        this.refuse(socket, new Error('no client certificate (fail_if_no_peer_cert)'));
        return;
      }
    }
    const peer = this.proxiedTls.get(addressKey(socket));
    if (peer !== undefined) this.proxied.set(socket, peer);
    this.http.emit('connection', socket);
  }

  /** A refused handshake or upgrade: counted, reported, answered with `status`, closed. */
  private refuse(socket: Duplex, error: Error, status?: number): void {
    if (socket.destroyed) return;
    this.countFailure(socket, error);
    if (status !== undefined && socket.writable) {
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
    }
    socket.destroy();
  }

  private countFailure(socket: Duplex, error: Error): void {
    this.gate.counters.handshakeFailed++;
    this.options.handlers.onHandshakeError?.(peerOf(socket as Socket), error);
  }

  /** The first subprotocol the client offers that we support, or null. */
  private pickSubprotocol(offered: readonly string[]): string | null {
    for (const p of offered) if (this.supported.has(p)) return p;
    return null;
  }

  /** A plain HTTP request (not an upgrade): 426 on the MQTT path, 404 elsewhere. */
  private request(req: IncomingMessage, res: ServerResponse): void {
    const onPath = pathOf(req.url) === this.options.websocket.path;
    if (onPath) res.setHeader('Upgrade', 'websocket');
    res.writeHead(onPath ? HTTP_STATUS.UpgradeRequired : HTTP_STATUS.NotFound, {
      Connection: 'close',
      'Content-Length': 0,
    });
    res.end();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const w = this.options.websocket;
    const path = pathOf(req.url);
    if (path !== w.path) {
      this.refuse(socket, new Error(`WebSocket upgrade on ${path}, not ${w.path}`), HTTP_STATUS.NotFound);
      return;
    }
    const offered = req.headers['sec-websocket-protocol'];
    if (offered === undefined) {
      if (w.failIfNoSubprotocol) {
        const error = new Error('no WebSocket subprotocol offered (websocket.fail_if_no_subprotocol)');
        this.refuse(socket, error, HTTP_STATUS.BadRequest);
        return;
      }
    } else if (this.pickSubprotocol(offered.split(',').map((p) => p.trim())) === null) {
      this.refuse(
        socket,
        new Error(`no supported WebSocket subprotocol in "${offered}"`),
        HTTP_STATUS.BadRequest,
      );
      return;
    }
    // `ws` checks the rest (method, Upgrade, Sec-WebSocket-Key and -Version) and answers 400 itself.
    let upgraded = false;
    socket.once('close', () => {
      if (!upgraded) this.gate.counters.handshakeFailed++;
    });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      this.acceptWebSocket(ws, req, socket);
    });
  }

  private acceptWebSocket(ws: WebSocket, req: IncomingMessage, socket: Duplex): void {
    const o = this.options;
    const w = o.websocket;
    const raw = socket as Socket;
    const proxied = this.proxied.get(socket);
    let host = proxied?.host ?? raw.remoteAddress ?? '';
    let port = proxied?.port ?? raw.remotePort ?? 0;
    if (w.proxyAddressHeader !== '') {
      const forwarded = firstItem(req.headers[w.proxyAddressHeader.toLowerCase()]);
      if (isIP(forwarded) !== 0) host = forwarded;
    }
    if (w.proxyPortHeader !== '') {
      const forwarded = firstItem(req.headers[w.proxyPortHeader.toLowerCase()]);
      if (/^\d{1,5}$/.test(forwarded) && Number(forwarded) <= MAX_PORT) port = Number(forwarded);
    }
    const upgrade = { url: req.url ?? '', headers: req.headers };
    const connection = new WsConnection(ws, o.id, o.zone, host, port, upgrade, raw.writableHighWaterMark);
    ws.once('close', () => o.handlers.onClosed(connection));
    o.handlers.onConnection(connection);
  }

  override stopAccepting(): Promise<void> {
    this.http.close();
    return super.stopAccepting();
  }
}

/** A `listeners.ws|wss.<name>` block as WsListenerOptions (main.ts's createListener uses it). */
export function wsListenerOptions(
  entry: ListenerEntry,
  handlers: ListenerHandlers,
  maxPacketSize: number,
): WsListenerOptions {
  const lc = entry.config as WsListenerConfig | WssListenerConfig;
  return {
    ...netListenerOptions(entry, handlers),
    websocket: webSocketSettings(lc, maxPacketSize),
    tls: 'ssl_options' in lc ? tlsSettings(entry, lc.ssl_options) : null,
  };
}

/** The `websocket` block of a `listeners.ws|wss.<name>`, as WebSocketSettings. */
export function webSocketSettings(
  lc: WsListenerConfig | WssListenerConfig,
  maxPacketSize: number,
): WebSocketSettings {
  const w = lc.websocket;
  return {
    path: w.mqtt_path,
    failIfNoSubprotocol: w.fail_if_no_subprotocol,
    supportedSubprotocols: w.supported_subprotocols,
    compress: w.compress,
    proxyAddressHeader: w.proxy_address_header,
    proxyPortHeader: w.proxy_port_header,
    maxMessageSize: maxPacketSize + MESSAGE_SIZE_SLACK,
  };
}

const TLS_VERSION: Readonly<Record<string, SecureVersion>> = { 'tlsv1.2': 'TLSv1.2', 'tlsv1.3': 'TLSv1.3' };

/**
 * Secure-context options from a wss listener's `ssl_options` (certfile and keyfile required).
 * TODO(listeners): share tls.ts's builder, so ssl and wss read `ssl_options` the same way.
 */
export function wssTlsOptions(t: TlsSettings) {
  const key = t.configKey;
  if (t.certfile === undefined || t.keyfile === undefined) {
    throw new ConfigError(`${key}.certfile and keyfile are required for a wss listener`, `${key}.certfile`);
  }
  const read = (name: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new ConfigError(`${key}.${name}: cannot read ${path} (${code})`, `${key}.${name}`, {
        cause: error,
      });
    }
  };
  const versions = t.versions.flatMap((v) => TLS_VERSION[v] ?? []).sort();
  return {
    cert: read('certfile', t.certfile),
    key: read('keyfile', t.keyfile),
    ...(t.cacertfile === undefined ? {} : { ca: read('cacertfile', t.cacertfile) }),
    minVersion: versions[0] ?? 'TLSv1.2',
    maxVersion: versions.at(-1) ?? 'TLSv1.3',
    ...(t.ciphers.length > 0 ? { ciphers: t.ciphers.join(':') } : {}),
  };
}
