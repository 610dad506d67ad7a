/**
 * The plain TCP listener (`listeners.tcp.<name>`, EMQX's default port 1883). It accepts
 * sockets, applies `max_connections`, sets TCP_NODELAY, and hands each socket to `onConnection`
 * as a SocketConnection. Errors on one socket never reach the listener.
 */

import { createServer, type Server, type Socket } from 'node:net';
import { ListenError } from '../errors.js';
import { SocketConnection } from './socket-connection.js';

export interface TcpListenerOptions {
  /** 'tcp:default' */
  id: string;
  host: string;
  port: number;
  maxConnections: number;
  zone: string;
  onConnection: (connection: SocketConnection) => void;
  /** Called when a connection is refused (over max_connections). */
  onRefused?: (socket: Socket, reason: string) => void;
}

export class TcpListener {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: TcpListenerOptions) {
    this.server = createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.accept(socket));
  }

  get id(): string {
    return this.options.id;
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** The bound address (useful with port 0). */
  get address(): { host: string; port: number } {
    const a = this.server.address();
    if (a === null || typeof a === 'string') return { host: this.options.host, port: this.options.port };
    return { host: a.address, port: a.port };
  }

  private accept(socket: Socket): void {
    if (this.sockets.size >= this.options.maxConnections) {
      this.options.onRefused?.(socket, 'max_connections');
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.setNoDelay(true);
    this.options.onConnection(new SocketConnection(socket, this.options.id, this.options.zone));
  }

  listen(): Promise<void> {
    const { host, port, id } = this.options;
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(
          new ListenError(`listener ${id} cannot listen on ${host}:${port}: ${error.code ?? error.message}`, {
            cause: error,
          }),
        );
      };
      this.server.once('error', onError);
      this.server.listen({ host, port, backlog: 1024 }, () => {
        this.server.off('error', onError);
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
    if (this.server.listening) this.server.close();
    return Promise.resolve();
  }

  /** Destroys every remaining socket. */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
