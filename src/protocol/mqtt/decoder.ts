/**
 * The incremental MQTT decoder: bytes in, packets out, for any chunking of the stream.
 *
 * How it works. Each packet starts with a fixed header: one byte of type and flags, then the
 * remaining length as a 1-4 byte Variable Byte Integer. As soon as the fixed header is complete
 * the decoder knows the packet's total size, so it can
 *   - reject a packet larger than `maxPacketSize` before its body arrives (0x95), and bad type
 *     or flag bits before reading further (0x81);
 *   - decode a packet that lies entirely inside the current chunk straight from the chunk, with
 *     views for payloads (the common case: no copy);
 *   - otherwise keep the pieces as they arrive (views) and join them once when the packet is
 *     complete, so a large packet arriving in many pieces is copied once, not re-concatenated,
 *     and a peer that claims a large size but sends little holds only what it sent.
 * A fixed header split across chunks (up to 5 bytes) is kept in a small side buffer.
 *
 * The decoder never holds more than one packet's bytes (at most maxPacketSize), whatever the
 * peer sends. After it throws, the stream is unusable: the connection must be closed.
 *
 * The protocol version changes how packets are read; it starts at `version` (default 3.1.1)
 * and follows the level of a decoded CONNECT, so a server decoder needs no outside help.
 */

import { malformed, ProtocolError } from '../errors.js';
import { decodeAck } from './codec/ack.js';
import { decodeConnack, decodeConnect } from './codec/connect.js';
import { decodeAuth, decodeDisconnect } from './codec/control.js';
import { decodePublish } from './codec/publish.js';
import { decodeSuback, decodeSubscribe, decodeUnsuback, decodeUnsubscribe } from './codec/subscribe.js';
import { Limits, PacketType, PacketTypeName, ProtocolVersion, ReasonCode } from './constants.js';
import type { Packet } from './packets.js';
import { Reader } from './reader.js';

export interface DecoderOptions {
  /** Largest packet accepted, fixed header included. Default: the protocol maximum. */
  maxPacketSize?: number;
  /** Version to decode with until a CONNECT says otherwise. Default 4 (3.1.1). */
  version?: ProtocolVersion;
}

/** Receives decoded packets; an object rather than a closure so the hot path allocates none. */
export interface PacketSink {
  onPacket(packet: Packet): void;
}

const MAX_HEADER = 5;

/**
 * One Reader for every decoder of the thread: a packet body is decoded synchronously from
 * reset() to release(), with nothing in between that could feed another decoder, so decoders
 * need no reader of their own.
 */
const READER = new Reader();

export class Decoder {
  version: ProtocolVersion;
  maxPacketSize: number;

  /**
   * The packet being assembled across chunks: the pieces received so far (views, not copies)
   * and the packet's total size. Memory held is what the peer actually sent, never the size it
   * claims; the pieces are joined once, when the last one arrives.
   */
  private pending: Buffer[] | null = null;
  private pendingFill = 0;
  private pendingTotal = 0;
  /** A fixed header split across chunks (allocated the first time one is). */
  private head: Buffer | null = null;
  private headFill = 0;

  constructor(options: DecoderOptions = {}) {
    this.version = options.version ?? ProtocolVersion.V4;
    this.maxPacketSize = options.maxPacketSize ?? Limits.MaxPacketSize;
  }

  /** Bytes held for an incomplete packet (for tests and memory accounting). */
  get buffered(): number {
    return this.pending !== null ? this.pendingFill : this.headFill;
  }

  /** Feeds a chunk; calls sink.onPacket for each complete packet. Throws ProtocolError. */
  feed(chunk: Buffer, sink: PacketSink): void {
    let pos = 0;
    const len = chunk.length;
    if (this.headFill > 0) {
      pos = this.continueHeader(chunk);
      if (this.headFill > 0) return; // the header is still incomplete
    }
    if (this.pending !== null) {
      const take = Math.min(this.pendingTotal - this.pendingFill, len - pos);
      this.pending.push(pos === 0 && take === len ? chunk : chunk.subarray(pos, pos + take));
      this.pendingFill += take;
      pos += take;
      if (this.pendingFill < this.pendingTotal) return;
      const frame = Buffer.concat(this.pending, this.pendingTotal);
      this.pending = null;
      this.pendingFill = 0;
      this.decodeFrame(frame, 0, frame.length, sink);
    }
    while (pos < len) {
      const first = chunk[pos]!;
      let remaining = 0;
      let multiplier = 1;
      let i = pos + 1;
      let complete = false;
      while (i < len) {
        const byte = chunk[i++]!;
        remaining += (byte & 0x7f) * multiplier;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
        multiplier *= 128;
        if (i - pos >= MAX_HEADER)
          throw malformed('remaining length is longer than four bytes', 'MQTT-1.5.5-1');
      }
      if (!complete) {
        this.checkFirstByte(first);
        chunk.copy((this.head ??= Buffer.alloc(MAX_HEADER)), 0, pos, len);
        this.headFill = len - pos;
        return;
      }
      const total = i - pos + remaining;
      this.checkFixedHeader(first, total);
      if (pos + total > len) {
        this.pending = [chunk.subarray(pos, len)];
        this.pendingFill = len - pos;
        this.pendingTotal = total;
        return;
      }
      this.decodeFrame(chunk, pos, pos + total, sink);
      pos += total;
    }
  }

  /** Convenience for tests and tools: decodes a chunk into an array. */
  decodeAll(chunk: Buffer): Packet[] {
    const out: Packet[] = [];
    this.feed(chunk, { onPacket: (p) => out.push(p) });
    return out;
  }

  /** Adds bytes to a split fixed header; returns the chunk position after what it used. */
  private continueHeader(chunk: Buffer): number {
    const head = this.head!; // headFill > 0: feed() allocated it
    let pos = 0;
    while (pos < chunk.length) {
      const byte = chunk[pos++]!;
      head[this.headFill++] = byte;
      if ((byte & 0x80) === 0) {
        let remaining = 0;
        let multiplier = 1;
        for (let k = 1; k < this.headFill; k++) {
          remaining += (head[k]! & 0x7f) * multiplier;
          multiplier *= 128;
        }
        const headerLength = this.headFill;
        const total = headerLength + remaining;
        this.headFill = 0;
        this.checkFixedHeader(head[0]!, total);
        this.pending = [Buffer.from(head.subarray(0, headerLength))];
        this.pendingFill = headerLength;
        this.pendingTotal = total;
        return pos;
      }
      if (this.headFill >= MAX_HEADER) {
        throw malformed('remaining length is longer than four bytes', 'MQTT-1.5.5-1');
      }
    }
    return pos;
  }

  private checkFixedHeader(first: number, total: number): void {
    this.checkFirstByte(first);
    if (total > this.maxPacketSize) {
      throw new ProtocolError(
        ReasonCode.PacketTooLarge,
        `packet of ${total} bytes exceeds the maximum packet size of ${this.maxPacketSize}`,
        'MQTT-3.2.2-15',
      );
    }
  }

  /** Type and flag bits, checked as soon as the first byte is seen. */
  private checkFirstByte(first: number): void {
    const type = first >> 4;
    const flags = first & 0x0f;
    switch (type) {
      case 0:
        throw malformed('packet type 0 is reserved');
      case PacketType.Publish:
        if ((flags & 0x06) === 0x06) throw malformed('PUBLISH with QoS 3', 'MQTT-3.3.1-4');
        return;
      case PacketType.Pubrel:
      case PacketType.Subscribe:
      case PacketType.Unsubscribe:
        // MQTT 3.1 clients may set DUP on a retried PUBREL, SUBSCRIBE or UNSUBSCRIBE.
        if (flags === 0x02 || (flags === 0x0a && this.version === ProtocolVersion.V3)) return;
        throw malformed(`${PacketTypeName[type]} reserved flags must be 0010`, RESERVED_FLAG_IDS[type]);
      case PacketType.Auth:
        if (this.version !== ProtocolVersion.V5)
          throw malformed('packet type 15 (AUTH) exists only in MQTT 5.0');
        break;
    }
    if (flags !== 0)
      throw malformed(`${PacketTypeName[type as PacketType]} reserved flags must be 0`, 'MQTT-2.1.3-1');
  }

  private decodeFrame(buf: Buffer, start: number, end: number, sink: PacketSink): void {
    const first = buf[start]!;
    let pos = start + 1;
    while ((buf[pos++]! & 0x80) !== 0) {}
    const r = READER.reset(buf, pos, end);
    const packet = this.decodeBody(first >> 4, first & 0x0f, r);
    // The reader must not keep the chunk alive once the packet is decoded (an idle connection
    // would hold its last read for ever).
    r.release();
    sink.onPacket(packet);
  }

  /** The dispatch switch: one decoder per packet type. */
  private decodeBody(type: number, flags: number, r: Reader): Packet {
    const version = this.version;
    switch (type) {
      case PacketType.Connect: {
        const p = decodeConnect(r);
        this.version = p.protocolVersion;
        return p;
      }
      case PacketType.Connack:
        return decodeConnack(r, version);
      case PacketType.Publish:
        return decodePublish(r, flags, version);
      case PacketType.Puback:
      case PacketType.Pubrec:
      case PacketType.Pubrel:
      case PacketType.Pubcomp:
        return decodeAck(r, type, version);
      case PacketType.Subscribe:
        return decodeSubscribe(r, version);
      case PacketType.Suback:
        return decodeSuback(r, version);
      case PacketType.Unsubscribe:
        return decodeUnsubscribe(r, version);
      case PacketType.Unsuback:
        return decodeUnsuback(r, version);
      case PacketType.Pingreq:
      case PacketType.Pingresp:
        if (r.remaining !== 0) throw malformed(`${PacketTypeName[type]} must have remaining length 0`);
        return { type };
      case PacketType.Disconnect:
        return decodeDisconnect(r, version);
      case PacketType.Auth:
        return decodeAuth(r);
      default:
        throw malformed(`unknown packet type ${type}`);
    }
  }
}

const RESERVED_FLAG_IDS: Record<number, string> = {
  [PacketType.Pubrel]: 'MQTT-3.6.1-1',
  [PacketType.Subscribe]: 'MQTT-3.8.1-1',
  [PacketType.Unsubscribe]: 'MQTT-3.10.1-1',
};
