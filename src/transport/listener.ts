/**
 * What every listener is, whatever its transport (tcp, ssl, ws, wss): the interface the
 * listener registry (registry.ts) starts, stops and reports on, and the machinery they share.
 *
 *   Listener              id, type, address, connections, running, counters; listen(),
 *                         stopAccepting(), destroyAll()
 *   ListenerHandlers      what a listener calls: onConnection(conn) for each accepted connection,
 *                         onClosed(conn) when it ends, onRefused / onHandshakeError for the log
 *   TransportConnection   what a listener hands over: the shape of the channel's Link
 *                         (src/channel/link.ts), declared here again because transport may not
 *                         import channel; main.ts passes one to the other
 *   ConnectionGate        max_connections and max_conn_rate for one listener, with counters
 *
 * The gate runs on the raw TCP socket, before any TLS handshake or HTTP upgrade, so a flood of
 * connections costs a listener one accept and one close each, not a handshake.
 *
 * max_conn_rate is a token bucket: it holds at most one second's worth of tokens (the burst),
 * refills continuously at the configured rate, and each accepted connection takes one token; a
 * connection that finds the bucket empty is closed at once and counted in `refusedRate`.
 */

import type { Socket } from 'node:net';

/** A listener type, as in `listeners.<type>.<name>`. */
export type ListenerKind = 'tcp' | 'ssl' | 'ws' | 'wss';

/** Why a connection was refused before it reached MQTT. */
export type RefuseReason = 'max_connections' | 'max_conn_rate';

/** A client's TLS certificate, as the MQTT side uses it (`peer_cert_as_username`, authentication). */
export interface PeerCert {
  /** The subject's Common Name (the first, if several), or null if it has none. */
  readonly cn: string | null;
  /** The whole subject, "C=SE,O=Example,CN=device-1" (the certificate's order, comma-separated). */
  readonly dn: string;
}

/** The HTTP upgrade request of a WebSocket connection, kept for authentication (cookies, proxies). */
export interface UpgradeRequest {
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** The receiving end of a TransportConnection (the MQTT connection). */
export interface TransportReceiver {
  onData(chunk: Buffer): void;
  onClose(error: Error | null): void;
}

/**
 * A connection a listener hands over: the same shape as the channel's Link (src/channel/link.ts,
 * which documents each member). The optional fields are set by the transports that know them.
 */
export interface TransportConnection {
  readonly peerHost: string;
  readonly peerPort: number;
  readonly listener: string;
  readonly zone: string;
  /** ssl/wss with a client certificate: its subject; null otherwise. */
  readonly peerCert?: PeerCert | null;
  /** ssl with TLS-PSK: the identity the client authenticated with; null otherwise. */
  readonly pskIdentity?: string | null;
  /** ws/wss: the HTTP upgrade request. */
  readonly upgrade?: UpgradeRequest | null;
  start(receiver: TransportReceiver): void;
  write(frame: Buffer): boolean;
  readonly pendingBytes: number;
  end(): void;
  destroy(): void;
  pause(): void;
  resume(): void;
}

/** Counters a listener keeps from the moment it is created. */
export interface ListenerCounters {
  /** Connections admitted by the gate. */
  accepted: number;
  /** Refused because `max_connections` were open. */
  refusedMaxConnections: number;
  /** Refused because they came faster than `max_conn_rate`. */
  refusedRate: number;
  /** TLS handshakes (or WebSocket upgrades) that failed or were refused after the handshake. */
  handshakeFailed: number;
}

/** What a listener calls. `onClosed` is called once for every connection `onConnection` got. */
export interface ListenerHandlers {
  onConnection(connection: TransportConnection): void;
  onClosed(connection: TransportConnection): void;
  /** A connection refused by the gate (it is closed already). */
  onRefused?(peer: { host: string; port: number }, reason: RefuseReason): void;
  /** A failed TLS handshake or certificate check, or a failed WebSocket upgrade (closed already). */
  onHandshakeError?(peer: { host: string; port: number }, error: Error): void;
}

/** A listener, of any transport. */
export interface Listener {
  /** EMQX's listener id, "<type>:<name>", e.g. "ssl:default". */
  readonly id: string;
  readonly type: ListenerKind;
  /** Open connections (sockets accepted and not closed, handshaking ones included). */
  readonly connections: number;
  /** The bound address while running (the port resolved when configured as 0), else the configured one. */
  readonly address: { host: string; port: number };
  /** True between a successful listen() and stopAccepting(). */
  readonly running: boolean;
  readonly counters: ListenerCounters;
  /** Starts listening; rejects with a ListenError (address in use, ...) or a ConfigError (unreadable certificate). */
  listen(): Promise<void>;
  /** Stops accepting new connections; open ones stay until closed or destroyAll(). */
  stopAccepting(): Promise<void>;
  /** Destroys every open connection of this listener. */
  destroyAll(): void;
}

/** The limits the gate applies. */
export interface GateOptions {
  /** `max_connections` (Infinity: no limit). */
  readonly maxConnections: number;
  /** `max_conn_rate` in connections per second (Infinity: no limit). */
  readonly maxConnRate: number;
  /** The clock, in milliseconds (tests may pass their own). */
  readonly now?: () => number;
}

const MS_PER_SECOND = 1000;

/** The gate that admitted a socket, for the shared 'close' listener (no closure per socket). */
const kGate = Symbol('aviary.gate');
type GatedSocket = Socket & { [kGate]: ConnectionGate };

function leaveGate(this: GatedSocket): void {
  this[kGate].sockets.delete(this);
}

/**
 * max_connections and max_conn_rate for one listener, over raw sockets. `admit` decides, closes
 * refused sockets, and tracks admitted ones until they close; `destroyAll` closes those.
 */
export class ConnectionGate {
  readonly counters: ListenerCounters = {
    accepted: 0,
    refusedMaxConnections: 0,
    refusedRate: 0,
    handshakeFailed: 0,
  };
  /** @internal open admitted sockets (leaveGate removes them). */
  readonly sockets = new Set<Socket>();
  private tokens: number;
  private refilledAt: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(private readonly options: GateOptions) {
    this.now = options.now ?? Date.now;
    // One second's worth, at least one connection.
    this.burst = Number.isFinite(options.maxConnRate) ? Math.max(1, options.maxConnRate) : 0;
    this.tokens = this.burst;
    this.refilledAt = this.now();
  }

  /** Open sockets admitted by this gate. */
  get size(): number {
    return this.sockets.size;
  }

  /**
   * Admits `socket` (tracked until it closes) or refuses it: the socket is then destroyed and the
   * reason returned.
   */
  admit(socket: Socket): RefuseReason | null {
    if (this.sockets.size >= this.options.maxConnections) {
      this.counters.refusedMaxConnections++;
      socket.destroy();
      return 'max_connections';
    }
    if (this.burst > 0 && !this.takeToken()) {
      this.counters.refusedRate++;
      socket.destroy();
      return 'max_conn_rate';
    }
    this.counters.accepted++;
    this.sockets.add(socket);
    (socket as GatedSocket)[kGate] = this;
    socket.on('close', leaveGate);
    return null;
  }

  private takeToken(): boolean {
    const now = this.now();
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.options.maxConnRate) / MS_PER_SECOND);
      this.refilledAt = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Destroys every admitted socket still open. */
  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}
