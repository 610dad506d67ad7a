/**
 * The plain TCP listener (`listeners.tcp.<name>`, EMQX's default port 1883): every socket that
 * passes the gate (net-listener.ts: max_connections, max_conn_rate, TCP_NODELAY) becomes a
 * SocketConnection handed to `onConnection`.
 */

import type { Socket } from 'node:net';
import { NetListener } from './net-listener.js';
import type { ProxyAddress } from './proxy-protocol.js';
import { SocketConnection } from './socket-connection.js';

export type { NetListenerOptions as TcpListenerOptions } from './net-listener.js';

export class TcpListener extends NetListener {
  readonly type = 'tcp' as const;

  protected handoff(socket: Socket, peer: ProxyAddress | null): void {
    const { handlers, id, zone } = this.options;
    const connection = new SocketConnection(socket, id, zone, peer, null, this.onClosed);
    handlers.onConnection(connection);
    if (this.options.proxyProtocolTimeout != null) socket.resume(); // paused after its PROXY header
  }
}
