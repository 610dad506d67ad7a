/**
 * Writing the MQTT data types into a buffer whose size was computed beforehand.
 *
 * The encoder works in two passes: it first adds up the exact size of a packet (the helpers
 * here named `...Size`), allocates once, then writes front to back. No intermediate buffers,
 * no Buffer.concat.
 */

const MAX_STRING = 65_535;
const SHORT_ASCII = 16;
const MAX_REMAINING = 268_435_455;

export function varintSize(value: number): number {
  if (value < 128) return 1;
  if (value < 16_384) return 2;
  if (value < 2_097_152) return 3;
  return 4;
}

/** Byte length of a string as UTF-8, with a fast path for short ASCII strings. */
export function utf8Size(s: string): number {
  const n = s.length;
  if (n < 64) {
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
    }
    return n;
  }
  return Buffer.byteLength(s, 'utf8');
}

export class Writer {
  buf: Buffer;
  pos: number;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
    this.pos = 0;
  }

  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.buf[this.pos++] = v >>> 8;
    this.buf[this.pos++] = v & 0xff;
  }

  u32(v: number): void {
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  varint(v: number): void {
    do {
      let byte = v % 128;
      v = Math.floor(v / 128);
      if (v > 0) byte |= 0x80;
      this.buf[this.pos++] = byte;
    } while (v > 0);
  }

  /** A length-prefixed UTF-8 string whose byte length `size` the caller already computed. */
  utf8(s: string, size: number): void {
    if (size > MAX_STRING)
      throw new RangeError(`a string of ${size} bytes is longer than MQTT allows (65535)`);
    this.u16(size);
    this.raw(s, size);
  }

  /** String bytes without a length prefix. */
  raw(s: string, size: number): void {
    if (size === s.length) {
      if (size <= SHORT_ASCII) {
        // A JS loop beats the native call for short ASCII strings (property names, ids).
        const buf = this.buf;
        let p = this.pos;
        for (let i = 0; i < size; i++) buf[p++] = s.charCodeAt(i);
      } else {
        this.buf.latin1Write(s, this.pos, size);
      }
    } else {
      this.buf.utf8Write(s, this.pos, size);
    }
    this.pos += size;
  }

  binary(b: Buffer): void {
    if (b.length > MAX_STRING)
      throw new RangeError(`binary data of ${b.length} bytes is longer than MQTT allows (65535)`);
    this.u16(b.length);
    this.bytes(b);
  }

  bytes(b: Buffer): void {
    if (b.length < 32) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < b.length; i++) buf[p++] = b[i]!;
      this.pos = p;
    } else {
      b.copy(this.buf, this.pos);
      this.pos += b.length;
    }
  }

  /** The fixed header: type and flags, then the remaining length. */
  header(first: number, remaining: number): void {
    if (remaining > MAX_REMAINING)
      throw new RangeError(`a packet of ${remaining} bytes is larger than MQTT allows`);
    this.u8(first);
    this.varint(remaining);
  }
}
