/**
 * A Link (src/channel/link.ts) without a socket, for channel and connection tests (STYLE habit 2):
 * it records every frame written, decodes them for assertions, and tracks start / pause /
 * resume / end / destroy. `receive(packet)` encodes a client packet and hands the bytes to the
 * receiver the connection registered, as a socket read would.
 *
 * Frames are decoded with the protocol's own Decoder, in the version of the connection: set
 * `version`, or let `receive()` of a CONNECT set it, as the server's decoder does.
 */

import type { Link, LinkReceiver } from '../../src/channel/link.js';
import {
  Decoder,
  encode,
  type Packet,
  PacketType,
  type ProtocolVersion,
  ProtocolVersion as Versions,
} from '../../src/protocol/index.js';

export interface FakeLinkOptions {
  peerHost?: string;
  peerPort?: number;
  listener?: string;
  zone?: string;
  version?: ProtocolVersion;
}

export class FakeLink implements Link {
  readonly peerHost: string;
  readonly peerPort: number;
  readonly listener: string;
  readonly zone: string;
  /** Protocol version the written frames are decoded with (and client packets encoded with). */
  version: ProtocolVersion;
  /** Every frame written, in order. */
  readonly frames: Buffer[] = [];
  receiver: LinkReceiver | null = null;
  /** What pendingBytes reports: set it to play a slow consumer. */
  pendingBytes = 0;
  started = false;
  paused = false;
  ended = false;
  destroyed = false;
  /** Writes that came after end() or destroy() and were dropped. */
  writesAfterClose = 0;

  constructor(options: FakeLinkOptions = {}) {
    this.peerHost = options.peerHost ?? '127.0.0.1';
    this.peerPort = options.peerPort ?? 50_000;
    this.listener = options.listener ?? 'tcp:default';
    this.zone = options.zone ?? 'default';
    this.version = options.version ?? Versions.V4;
  }

  start(receiver: LinkReceiver): void {
    this.started = true;
    this.receiver = receiver;
  }

  write(frame: Buffer): boolean {
    // Like the socket link: a write after close is dropped (and counted here for assertions).
    if (this.ended || this.destroyed) {
      this.writesAfterClose++;
      return false;
    }
    // Copy: the writer must never mutate a frame it handed over, and a test must see what left.
    this.frames.push(Buffer.from(frame));
    return true;
  }

  end(): void {
    this.ended = true;
  }

  destroy(): void {
    this.destroyed = true;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  get closed(): boolean {
    return this.ended || this.destroyed;
  }

  /** Every packet written so far, decoded in `version`. Each frame must hold exactly one. */
  packets(version: ProtocolVersion = this.version): Packet[] {
    return this.frames.map((frame) => {
      const decoded = new Decoder({ version }).decodeAll(frame);
      if (decoded.length !== 1) throw new Error(`a frame held ${decoded.length} packets, not 1`);
      return decoded[0]!;
    });
  }

  /** Packets written since the last take(), decoded; they are then forgotten. */
  take(version: ProtocolVersion = this.version): Packet[] {
    const packets = this.packets(version);
    this.frames.length = 0;
    return packets;
  }

  /** The written packets of one type. */
  sent<T extends Packet['type']>(
    type: T,
    version: ProtocolVersion = this.version,
  ): Array<Extract<Packet, { type: T }>> {
    return this.packets(version).filter((p): p is Extract<Packet, { type: T }> => p.type === type);
  }

  /** Encodes a client packet and delivers its bytes to the receiver, like a socket read. */
  receive(packet: Packet, version: ProtocolVersion = this.version): void {
    if (packet.type === PacketType.Connect) this.version = version = packet.protocolVersion;
    this.receiveBytes(encode(packet, version));
  }

  /** Delivers raw bytes to the receiver. */
  receiveBytes(bytes: Buffer): void {
    if (this.receiver === null) throw new Error('the link was not started');
    this.receiver.onData(bytes);
  }

  /** The peer closes the connection. */
  peerClose(error: Error | null = null): void {
    this.receiver?.onClose(error);
  }
}
