/**
 * A stream socket (TCP, or TLS over TCP) as a transport connection: bytes in, bytes out,
 * pause/resume, close. No MQTT here. A TLS connection also carries what the handshake proved:
 * the client certificate's subject (`peerCert`) or the TLS-PSK identity (`pskIdentity`).
 *
 * Write coalescing (flush.ts). The first write in an event-loop turn corks the socket and puts
 * the connection on the shared flush list; all the packets it got during the turn leave in one
 * writev system call when the list is flushed.
 *
 * Memory. An idle client costs what its objects cost, so a connection makes no closures: the
 * socket's listeners are module-level functions that find their SocketConnection through one
 * symbol-keyed property of the socket (docs/benchmarks.md, "Memory per idle connection").
 */

import type { Socket } from 'node:net';
import type { PeerCert, TransportConnection, UpgradeRequest } from './listener.js';
import { type Flushable, scheduleFlush } from './flush.js';
import { ignoreError } from './net-listener.js';

export interface ConnectionReceiver {
  onData(chunk: Buffer): void;
  onClose(error: Error | null): void;
}

/** How long an ended socket may take to flush and close before it is destroyed. */
const END_DEADLINE_MS = 5000;

/** The socket's own SocketConnection, for the shared listeners below. */
const kConnection = Symbol('aviary.connection');
type OwnedSocket = Socket & { [kConnection]: SocketConnection };

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[kConnection].receiver?.onData(chunk);
}

function onSocketError(this: OwnedSocket, error: Error): void {
  this[kConnection].finish(error);
}

function onSocketClose(this: OwnedSocket): void {
  const connection = this[kConnection];
  connection.finish(null);
  connection.closed_?.(connection);
}

/** After end(): whatever the peer still sends is read and dropped. */
function discard(): void {}

/** What a TLS handshake established about the client. */
export interface TlsPeerInfo {
  readonly peerCert: PeerCert | null;
  readonly pskIdentity: string | null;
}

export class SocketConnection implements Flushable, TransportConnection {
  corked = false;
  /** @internal for the shared listeners. */
  receiver: ConnectionReceiver | null = null;
  private closed = false;
  private endTimer: NodeJS.Timeout | null = null;
  readonly peerHost: string;
  readonly peerPort: number;
  /** ssl: the verified client certificate's subject, else null. */
  readonly peerCert: PeerCert | null;
  /** ssl with TLS-PSK: the identity the client proved, else null. */
  readonly pskIdentity: string | null;
  readonly upgrade: UpgradeRequest | null = null;

  constructor(
    readonly socket: Socket,
    readonly listener: string,
    readonly zone: string,
    /** The client's address when it is not the socket's (from a PROXY protocol header). */
    peer: { host: string; port: number } | null = null,
    /** ssl: what the TLS handshake established. */
    tls: TlsPeerInfo | null = null,
    /**
     * Called once when the socket has closed (the listener's `onClosed`: a shared function, so
     * that a connection holds no closure of its own).
     * @internal read by the shared 'close' listener.
     */
    readonly closed_: ((connection: SocketConnection) => void) | null = null,
  ) {
    this.peerHost = peer?.host ?? socket.remoteAddress ?? '';
    this.peerPort = peer?.port ?? socket.remotePort ?? 0;
    this.peerCert = tls?.peerCert ?? null;
    this.pskIdentity = tls?.pskIdentity ?? null;
    (socket as OwnedSocket)[kConnection] = this;
    socket.on('close', onSocketClose);
  }

  start(receiver: ConnectionReceiver): void {
    this.receiver = receiver;
    const socket = this.socket;
    socket.on('data', onSocketData);
    socket.on('error', onSocketError);
    socket.removeListener('error', ignoreError); // the listener's, until now
  }

  write(frame: Buffer): boolean {
    if (this.closed) return false;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      scheduleFlush(this);
    }
    return this.socket.write(frame);
  }

  flush(): void {
    this.corked = false;
    this.socket.uncork();
  }

  get pendingBytes(): number {
    return this.socket.writableLength;
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
    const socket = this.socket;
    socket.end();
    // A peer that never reads (or keeps sending) must not keep the socket open for ever: a hard
    // deadline, not an idle timeout, and what it sends now is read and discarded.
    socket.removeListener('data', onSocketData);
    socket.on('data', discard);
    socket.resume();
    this.endTimer = setTimeout(() => socket.destroy(), END_DEADLINE_MS);
    this.endTimer.unref();
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** @internal the socket errored or closed: tells the receiver, once. */
  finish(error: Error | null): void {
    this.closed = true;
    if (this.endTimer !== null && error === null) {
      clearTimeout(this.endTimer);
      this.endTimer = null;
    }
    const r = this.receiver;
    this.receiver = null;
    r?.onClose(error);
  }
}
