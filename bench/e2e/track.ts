/**
 * What every benchmark message carries, and how a subscriber checks what it received.
 *
 * Payload (--payload bytes, at least HEADER_SIZE = 16; big-endian):
 *   0..3   publisher index (global across the generator's workers)
 *   4..7   sequence number, 0, 1, 2, ... per publisher
 *   8..15  send time, float64 microseconds of the monotonic clock (process.hrtime), which is
 *          the same clock in every thread of the generator process
 *   16..   zero padding up to the payload size (1 KiB, 64 KiB ...)
 *
 * A subscriber keeps, per publisher it expects, a bitmap of the sequence numbers it has seen
 * and the highest one. From that, exactly:
 *   duplicate  a sequence number seen before
 *   reordered  a new sequence number lower than the highest seen (it arrived after a later one)
 *   distinct   sequence numbers seen once or more; loss = sent - distinct, computed at the end
 *              when the publisher's final count is known
 * The bitmaps hold one bit per expected delivery, so even 10 M deliveries cost ~1.2 MB.
 */

/** The header every payload starts with; also the default payload size (16 B, issue 8's table). */
export const HEADER_SIZE = 16;
export const PAYLOAD_SIZE = HEADER_SIZE;
export const OFFSET_PUBLISHER = 0;
export const OFFSET_SEQ = 4;
export const OFFSET_TIME = 8;

const INITIAL_BITMAP_BYTES = 256;

/** Delivery record of one (subscriber, publisher) pair. */
export class PairTrack {
  bits = new Uint8Array(INITIAL_BITMAP_BYTES);
  maxSeq = -1;
  distinct = 0;
  duplicates = 0;
  reordered = 0;

  see(seq: number): void {
    const byte = seq >>> 3;
    if (byte >= this.bits.length) {
      let size = this.bits.length * 2;
      while (size <= byte) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (seq & 7);
    const b = this.bits[byte]!;
    if ((b & mask) !== 0) {
      this.duplicates++;
      return;
    }
    this.bits[byte] = b | mask;
    this.distinct++;
    if (seq < this.maxSeq) this.reordered++;
    else this.maxSeq = seq;
  }
}

/** Correctness totals over pairs, as reported by workers and summed by the coordinator. */
export interface DeliveryCheck {
  /** Deliveries the subscribers should have had: each publisher's final count, per subscriber of it. */
  expected: number;
  /** Distinct messages received. */
  distinct: number;
  duplicates: number;
  reordered: number;
  /** Messages whose publisher index was not one the subscriber subscribed to. */
  unexpected: number;
  lost: number;
}

export function emptyCheck(): DeliveryCheck {
  return { expected: 0, distinct: 0, duplicates: 0, reordered: 0, unexpected: 0, lost: 0 };
}

export function addCheck(into: DeliveryCheck, more: DeliveryCheck): void {
  into.expected += more.expected;
  into.distinct += more.distinct;
  into.duplicates += more.duplicates;
  into.reordered += more.reordered;
  into.unexpected += more.unexpected;
  into.lost += more.lost;
}
