/**
 * A stream socket (TCP today; TLS later) as a transport connection: bytes in, bytes out,
 * pause/resume, close. No MQTT here.
 *
 * Write coalescing. The first write in an event-loop turn corks the socket and puts the
 * connection on a shared flush list; one process.nextTick per turn uncorks every connection on
 * it, so all the packets a connection got during the turn leave in one writev system call. A
 * connection that writes nothing costs nothing: no per-connection timer or closure.
 */

import type { Socket } from 'node:net';

export interface ConnectionReceiver {
  onData(chunk: Buffer): void;
  onClose(error: Error | null): void;
}

/** How long an ended socket may take to flush and close before it is destroyed. */
const END_DEADLINE_MS = 5000;

const flushList: SocketConnection[] = [];
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  // Connections added while flushing are handled in this loop too.
  for (let i = 0; i < flushList.length; i++) {
    const c = flushList[i]!;
    c.corked = false;
    c.socket.uncork();
  }
  flushList.length = 0;
}

export class SocketConnection {
  corked = false;
  private receiver: ConnectionReceiver | null = null;
  private closed = false;
  readonly peerHost: string;
  readonly peerPort: number;

  constructor(
    readonly socket: Socket,
    readonly listener: string,
    readonly zone: string,
  ) {
    this.peerHost = socket.remoteAddress ?? '';
    this.peerPort = socket.remotePort ?? 0;
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
      flushList.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        process.nextTick(flushAll);
      }
    }
    return this.socket.write(frame);
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
