/**
 * A stream socket (TCP, or TLS over TCP) as a transport connection: bytes in, bytes out,
 * pause/resume, close. No MQTT here. A TLS connection also carries what the handshake proved:
 * the client certificate's subject (`peerCert`) or the TLS-PSK identity (`pskIdentity`).
 *
 * Write coalescing (flush.ts). The first write in an event-loop turn corks the socket and puts
 * the connection on the shared flush list; all the packets it got during the turn leave in one
 * writev system call when the list is flushed.
 */

import type { Socket } from 'node:net';
import type { PeerCert, TransportConnection, UpgradeRequest } from './listener.js';
import { type Flushable, scheduleFlush } from './flush.js';

export interface ConnectionReceiver {
  onData(chunk: Buffer): void;
  onClose(error: Error | null): void;
}

/** How long an ended socket may take to flush and close before it is destroyed. */
const END_DEADLINE_MS = 5000;

/** What a TLS handshake established about the client. */
export interface TlsPeerInfo {
  readonly peerCert: PeerCert | null;
  readonly pskIdentity: string | null;
}

export class SocketConnection implements Flushable, TransportConnection {
  corked = false;
  private receiver: ConnectionReceiver | null = null;
  private closed = false;
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
  ) {
    this.peerHost = peer?.host ?? socket.remoteAddress ?? '';
    this.peerPort = peer?.port ?? socket.remotePort ?? 0;
    this.peerCert = tls?.peerCert ?? null;
    this.pskIdentity = tls?.pskIdentity ?? null;
  }

  start(receiver: ConnectionReceiver): void {
    this.receiver = receiver;
    const socket = this.socket;
    socket.on('data', (chunk: Buffer) => receiver.onData(chunk));
    socket.on('error', (error) => this.finish(error));
    socket.on('close', () => this.finish(null));
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
    this.socket.end();
    // A peer that never reads (or keeps sending) must not keep the socket open for ever: a hard
    // deadline, not an idle timeout, and what it sends now is read and discarded.
    this.socket.removeAllListeners('data');
    this.socket.resume();
    const timer = setTimeout(() => this.socket.destroy(), END_DEADLINE_MS);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
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

  private finish(error: Error | null): void {
    this.closed = true;
    const r = this.receiver;
    this.receiver = null;
    r?.onClose(error);
  }
}
