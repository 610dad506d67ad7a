/**
 * Reading the MQTT data types (section 1.5 of both specifications) out of one packet's bytes.
 *
 * A Reader walks `buf` from `pos` to `end`, the end of the current packet, and throws a
 * ProtocolError (malformed, 0x81) when a field would run past it. Strings are checked to be
 * well-formed UTF-8 without U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2]; the ASCII case, by far the
 * most common for topics and client ids, is decoded without the UTF-8 validator.
 * Binary fields are returned as views (subarray) into the packet's buffer: no copy.
 */

import { isUtf8 } from 'node:buffer';
import { malformed } from '../errors.js';

export class Reader {
  buf: Buffer = EMPTY;
  pos = 0;
  end = 0;

  reset(buf: Buffer, pos: number, end: number): this {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    return this;
  }

  /** Drops the reference to the last packet's buffer. */
  release(): void {
    this.buf = EMPTY;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.end) throw malformed(`packet ends inside ${what}`);
  }

  u8(what: string): number {
    if (this.pos >= this.end) throw malformed(`packet ends inside ${what}`);
    return this.buf[this.pos++]!;
  }

  u16(what: string): number {
    const p = this.pos;
    if (p + 2 > this.end) throw malformed(`packet ends inside ${what}`);
    this.pos = p + 2;
    return (this.buf[p]! << 8) | this.buf[p + 1]!;
  }

  u32(what: string): number {
    const p = this.pos;
    if (p + 4 > this.end) throw malformed(`packet ends inside ${what}`);
    this.pos = p + 4;
    return this.buf.readUInt32BE(p);
  }

  /** Variable Byte Integer: at most four bytes [MQTT-1.5.5-1]. */
  varint(what: string): number {
    let value = 0;
    let multiplier = 1;
    for (let i = 0; i < 4; i++) {
      if (this.pos >= this.end) throw malformed(`packet ends inside ${what}`);
      const byte = this.buf[this.pos++]!;
      value += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return value;
      multiplier *= 128;
    }
    throw malformed(`${what} is a variable byte integer longer than four bytes`, 'MQTT-1.5.5-1');
  }

  utf8(what: string): string {
    const len = this.u16(what);
    const start = this.pos;
    const stop = start + len;
    if (stop > this.end) throw malformed(`packet ends inside ${what}`);
    this.pos = stop;
    return decodeUtf8(this.buf, start, stop, what);
  }

  binary(what: string): Buffer {
    const len = this.u16(what);
    const start = this.pos;
    if (start + len > this.end) throw malformed(`packet ends inside ${what}`);
    this.pos = start + len;
    return this.buf.subarray(start, start + len);
  }

  /** The rest of the packet as a view (a PUBLISH payload). */
  rest(): Buffer {
    const view = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return view;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Decodes bytes [start, stop) of buf as an MQTT UTF-8 string, rejecting U+0000, ill-formed
 * sequences and encoded surrogates (which WHATWG's "fatal" UTF-8 decoding, and isUtf8, treat as
 * ill-formed).
 */
export function decodeUtf8(buf: Buffer, start: number, stop: number, what: string): string {
  for (let i = start; i < stop; i++) {
    const c = buf[i]!;
    if (c === 0) throw malformed(`${what} contains U+0000`, 'MQTT-1.5.4-2');
    if (c > 0x7f) return decodeNonAscii(buf, start, stop, what);
  }
  return buf.latin1Slice(start, stop);
}

function decodeNonAscii(buf: Buffer, start: number, stop: number, what: string): string {
  const view = buf.subarray(start, stop);
  if (!isUtf8(view)) throw malformed(`${what} is not well-formed UTF-8`, 'MQTT-1.5.4-1');
  if (view.includes(0)) throw malformed(`${what} contains U+0000`, 'MQTT-1.5.4-2');
  return view.utf8Slice(0, view.length);
}

declare module 'node:buffer' {
  interface Buffer {
    latin1Slice(start: number, end: number): string;
    utf8Slice(start: number, end: number): string;
    latin1Write(s: string, offset: number, length: number): number;
    utf8Write(s: string, offset: number, length: number): number;
  }
}
