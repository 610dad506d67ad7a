/**
 * A WebSocket (from the `ws` library, accepted by websocket.ts) as a transport connection of the
 * same shape as SocketConnection (the channel's Link): bytes in, bytes out, pause/resume, close.
 * No MQTT here.
 *
 * Reading. MQTT rides in binary messages [MQTT-6.0.0-1], and a message may hold part of a
 * packet or several packets [MQTT-6.0.0-2]: each binary message goes to the receiver as one
 * chunk, and the MQTT decoder (which is incremental) does the rest. A text message breaks
 * [MQTT-6.0.0-1]: the connection is closed with WebSocket close code 1003 (unsupported data).
 *
 * Writing, coalesced per event-loop turn like SocketConnection: the first write in a turn puts
 * the connection on the shared flush list (flush.ts, which also holds output back until a
 * durable batch commits); the flush sends what the connection got during the turn as ONE
 * binary message (the buffers concatenated only when
 * there are several), so N packets for a client cost one WebSocket frame and one system call.
 * The client's decoder may not assume packets are aligned on frames [MQTT-6.0.0-2].
 *
 * `pendingBytes` counts what is queued for this turn plus what `ws` has not written to the
 * socket yet (`bufferedAmount`), so the channel's slow-consumer limit sees WebSocket clients the
 * same way it sees TCP ones.
 */

import type { WebSocket } from 'ws';
import { type Flushable, scheduleFlush } from './flush.js';
import type { TransportConnection, TransportReceiver, UpgradeRequest } from './listener.js';

/** WebSocket close codes (RFC 6455 section 7.4.1). */
export const WsCloseCode = {
  Normal: 1000,
  UnsupportedData: 1003,
} as const;

/** How long an ended WebSocket may take to flush and close before it is destroyed. */
const END_DEADLINE_MS = 5000;

export class WsConnection implements TransportConnection, Flushable {
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private listed = false;
  private receiver: TransportReceiver | null = null;
  private closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly listener: string,
    readonly zone: string,
    readonly peerHost: string,
    readonly peerPort: number,
    /** The HTTP upgrade request that opened this WebSocket (URL and headers, cookies included). */
    readonly upgrade: UpgradeRequest,
    /** `write` returns false once this many bytes are pending (the socket's high-water mark). */
    private readonly highWaterMark: number,
  ) {}

  start(receiver: TransportReceiver): void {
    this.receiver = receiver;
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.closed) return;
      if (!isBinary) {
        // [MQTT-6.0.0-1] MQTT Control Packets MUST be sent in WebSocket binary data frames; any
        // other data frame: the recipient MUST close the Network Connection.
        this.flush();
        this.closed = true;
        this.ws.close(WsCloseCode.UnsupportedData, 'MQTT needs binary frames');
        this.closeDeadline();
        return;
      }
      receiver.onData(data);
    });
    this.ws.on('error', (error) => this.finish(error));
    this.ws.on('close', () => this.finish(null));
  }

  write(frame: Buffer): boolean {
    if (this.closed) return false;
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    if (!this.listed) {
      this.listed = true;
      scheduleFlush(this);
    }
    return this.pendingBytes < this.highWaterMark;
  }

  /** Sends what was written this turn as one binary message. */
  flush(): void {
    this.listed = false;
    const queue = this.queue;
    if (queue.length === 0) return;
    const data = queue.length === 1 ? queue[0]! : Buffer.concat(queue, this.queuedBytes);
    queue.length = 0;
    this.queuedBytes = 0;
    this.ws.send(data, { binary: true });
  }

  get pendingBytes(): number {
    return this.ws.bufferedAmount + this.queuedBytes;
  }

  end(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.ws.close(WsCloseCode.Normal);
    this.closeDeadline();
  }

  destroy(): void {
    this.closed = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.ws.terminate();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  /** A peer that never answers the close handshake must not keep the socket for ever. */
  private closeDeadline(): void {
    const timer = setTimeout(() => this.ws.terminate(), END_DEADLINE_MS);
    timer.unref();
    this.ws.once('close', () => clearTimeout(timer));
  }

  private finish(error: Error | null): void {
    this.closed = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    const r = this.receiver;
    this.receiver = null;
    r?.onClose(error);
  }
}
