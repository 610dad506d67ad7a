/**
 * The part of the tcp and ssl listeners that is the same: a node:net server whose accepted
 * sockets pass the ConnectionGate (max_connections, max_conn_rate), get the listener's socket
 * options (TCP_NODELAY, the write high-water mark), and are then handed to the subclass:
 * TcpListener wraps the socket at once, TlsListener first runs the TLS handshake on it.
 *
 * Errors on one socket never reach the listening server.
 */

import { createServer, type Server, type Socket } from 'node:net';
import { ListenError } from '../errors.js';
import { type ProxyAddress, proxiedPeer, readProxyHeader } from './proxy-protocol.js';
import {
  ConnectionGate,
  type Listener,
  type ListenerCounters,
  type ListenerHandlers,
  type ListenerKind,
  type TransportConnection,
} from './listener.js';

/** `tcp_options` of a listener, in Node's terms. */
export interface SocketOptions {
  /** TCP_NODELAY (EMQX `tcp_options.nodelay`, default true). */
  readonly noDelay: boolean;
  /** The listen backlog (EMQX `tcp_options.backlog`, default 1024). */
  readonly backlog: number;
  /**
   * Bytes buffered for writing beyond which a socket reports itself full (`write` returns false):
   * EMQX `tcp_options.high_watermark`. Null keeps Node's default.
   */
  readonly highWaterMark: number | null;
}

/** The default socket options (EMQX's defaults, Node's high-water mark). */
export const DEFAULT_SOCKET_OPTIONS: SocketOptions = { noDelay: true, backlog: 1024, highWaterMark: null };

/** What every net-based listener is configured with. */
export interface NetListenerOptions {
  /** 'tcp:default' */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly zone: string;
  /** `max_connections` (Infinity: none). */
  readonly maxConnections: number;
  /** `max_conn_rate` in connections per second (Infinity: none). */
  readonly maxConnRate?: number;
  readonly socket?: SocketOptions;
  readonly handlers: ListenerHandlers;
  /**
   * `proxy_protocol = true`: the milliseconds (`proxy_protocol_timeout`) a socket has to send a
   * PROXY v1/v2 header, read before anything else (before TLS); null/absent: off.
   */
  readonly proxyProtocolTimeout?: number | null;
}

export abstract class NetListener implements Listener {
  abstract readonly type: ListenerKind;
  protected readonly server: Server;
  protected readonly gate: ConnectionGate;
  protected readonly socketOptions: SocketOptions;
  private listening = false;
  private bound: { host: string; port: number } | null = null;
  /** `handlers.onClosed`, made once per listener (not per connection). */
  protected readonly onClosed = (connection: TransportConnection): void =>
    this.options.handlers.onClosed(connection);

  constructor(protected readonly options: NetListenerOptions) {
    this.socketOptions = options.socket ?? DEFAULT_SOCKET_OPTIONS;
    this.gate = new ConnectionGate({
      maxConnections: options.maxConnections,
      maxConnRate: options.maxConnRate ?? Number.POSITIVE_INFINITY,
    });
    const hwm = this.socketOptions.highWaterMark;
    this.server = createServer(
      { noDelay: this.socketOptions.noDelay, ...(hwm === null ? {} : { highWaterMark: hwm }) },
      (socket) => this.accept(socket),
    );
    // After listen(), an accept that fails (EMFILE) is emitted as 'error' on the server; the
    // server keeps listening, so it must not become an uncaught exception.
    this.server.on('error', () => {});
  }

  get id(): string {
    return this.options.id;
  }

  get connections(): number {
    return this.gate.size;
  }

  get counters(): ListenerCounters {
    return this.gate.counters;
  }

  get running(): boolean {
    return this.listening;
  }

  /** The bound address (read once per listen: $SYS events ask for it at every connect). */
  get address(): { host: string; port: number } {
    if (this.bound !== null) return this.bound;
    const a = this.server.address();
    if (a === null || typeof a === 'string') return { host: this.options.host, port: this.options.port };
    this.bound = { host: a.address, port: a.port };
    return this.bound;
  }

  private accept(socket: Socket): void {
    socket.on('error', ignoreError); // the connection that owns it reports errors; never the server
    const refused = this.gate.admit(socket);
    if (refused !== null) {
      this.options.handlers.onRefused?.(peerOf(socket), refused);
      return;
    }
    // TCP_NODELAY is set by the server itself (createServer's noDelay): no system call here.
    const proxyTimeout = this.options.proxyProtocolTimeout;
    if (proxyTimeout == null) {
      this.handoff(socket, null);
      return;
    }
    readProxyHeader(socket, proxyTimeout).then(
      (header) => {
        if (!socket.destroyed) this.handoff(socket, proxiedPeer(header));
      },
      (error: Error) => {
        this.gate.counters.handshakeFailed++;
        this.options.handlers.onHandshakeError?.(peerOf(socket), error);
        socket.destroy();
      },
    );
  }

  /**
   * Takes an admitted socket: wrap it (tcp) or start its handshake (ssl). `peer` is the client's
   * address from a PROXY header (else null: the socket's own). After a PROXY header the socket is
   * paused with the bytes that followed the header unshifted (proxy-protocol.ts): a plain reader
   * resumes it once its 'data' listener is attached; a TLSSocket created on it reads them itself.
   */
  protected abstract handoff(socket: Socket, peer: ProxyAddress | null): void;

  /** Prepares what the listener needs before listening (ssl: reads the certificate files). */
  protected prepare(): void {}

  listen(): Promise<void> {
    const { host, port, id } = this.options;
    this.prepare();
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(
          new ListenError(`listener ${id} cannot listen on ${host}:${port}: ${error.code ?? error.message}`, {
            cause: error,
          }),
        );
      };
      this.server.once('error', onError);
      this.server.listen({ host, port, backlog: this.socketOptions.backlog }, () => {
        this.server.off('error', onError);
        this.listening = true;
        resolve();
      });
    });
  }

  /**
   * Stops accepting; existing connections stay until closed by the caller. Resolves as soon as
   * the listening socket is closed: server.close()'s own callback waits for every connection to
   * end, and the caller closes those only after this resolves (waiting for it deadlocked
   * shutdown until every client left by itself).
   */
  stopAccepting(): Promise<void> {
    this.listening = false;
    this.bound = null;
    if (this.server.listening) this.server.close();
    return Promise.resolve();
  }

  destroyAll(): void {
    this.gate.destroyAll();
  }
}

/** A socket's 'error' listener until its connection has its own. */
export function ignoreError(): void {}

/** The remote address of a socket, for logs. */
export function peerOf(socket: Socket): { host: string; port: number } {
  return { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
}
