/**
 * IP addresses and CIDR ranges for the banned list (`peerhost`, `peerhost_net`).
 *
 * Every address is turned into 16 bytes: an IPv6 address as is, an IPv4 address as its
 * IPv4-mapped IPv6 form (`::ffff:a.b.c.d`). A socket on a dual-stack listener reports IPv4 peers
 * as `::ffff:127.0.0.1`, a socket on an IPv4 listener as `127.0.0.1`; in this form both are the
 * same address, so a ban on `127.0.0.1` or on `127.0.0.0/8` matches either spelling. An IPv4
 * prefix length becomes 96 + length.
 *
 * A range matches an address when their first `prefix` bits agree: whole bytes compared first,
 * then the remaining bits under a mask.
 */

import { isIPv4, isIPv6 } from 'node:net';

const IPV4_MAPPED_PREFIX_BITS = 96;
const IPV6_BITS = 128;
const IPV4_BITS = 32;
const BITS_PER_BYTE = 8;
const BYTE_MASK = 0xff;

/** The 16-byte form of an address, or null when `text` is not an IP address. */
export function ipBytes(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  if (isIPv4(text)) {
    out[10] = BYTE_MASK;
    out[11] = BYTE_MASK;
    const parts = text.split('.');
    for (let i = 0; i < 4; i++) out[12 + i] = Number(parts[i]);
    return out;
  }
  // Zone ids (fe80::1%eth0) are not part of the address.
  const address = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  if (!isIPv6(address)) return null;
  let head = address;
  let v4Tail: string | null = null;
  const lastColon = address.lastIndexOf(':');
  if (address.includes('.', lastColon)) {
    // An embedded IPv4 address in the last 32 bits (::ffff:1.2.3.4).
    v4Tail = address.slice(lastColon + 1);
    head = `${address.slice(0, lastColon + 1)}0:0`;
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, null];
  const leftGroups = left === '' || left === undefined ? [] : left.split(':');
  const rightGroups = right === null || right === '' ? [] : right.split(':');
  const groups =
    right === null
      ? leftGroups
      : [
          ...leftGroups,
          ...new Array<string>(8 - leftGroups.length - rightGroups.length).fill('0'),
          ...rightGroups,
        ];
  for (let i = 0; i < 8; i++) {
    const value = Number.parseInt(groups[i] ?? '0', 16);
    out[i * 2] = value >> BITS_PER_BYTE;
    out[i * 2 + 1] = value & BYTE_MASK;
  }
  if (v4Tail !== null) {
    const parts = v4Tail.split('.');
    for (let i = 0; i < 4; i++) out[12 + i] = Number(parts[i]);
  }
  return out;
}

/**
 * A key for exact comparison of addresses: the hex of the 16-byte form, so `127.0.0.1` and
 * `::ffff:127.0.0.1`, or `::1` and `0:0::1`, are one key. Text that is no address keys as itself.
 */
export function ipKey(text: string): string {
  const bytes = ipBytes(text);
  return bytes === null
    ? text
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** A parsed CIDR range. */
export class Cidr {
  private constructor(
    private readonly network: Uint8Array,
    /** Prefix length over the 16-byte form. */
    private readonly prefix: number,
  ) {}

  /** Parses `10.0.0.0/8`, `2001:db8::/32`, or a lone address (a /32 or /128); null if invalid. */
  static parse(text: string): Cidr | null {
    const slash = text.indexOf('/');
    const address = slash < 0 ? text : text.slice(0, slash);
    const bytes = ipBytes(address);
    if (bytes === null) return null;
    const v4 = isIPv4(address);
    const max = v4 ? IPV4_BITS : IPV6_BITS;
    let length = max;
    if (slash >= 0) {
      const digits = text.slice(slash + 1);
      if (!/^\d{1,3}$/.test(digits)) return null;
      length = Number(digits);
      if (length > max) return null;
    }
    return new Cidr(bytes, v4 ? IPV4_MAPPED_PREFIX_BITS + length : length);
  }

  /** Does the address (text, as a socket reports it) fall in this range? */
  contains(address: string): boolean {
    const bytes = ipBytes(address);
    return bytes !== null && this.containsBytes(bytes);
  }

  containsBytes(bytes: Uint8Array): boolean {
    const whole = Math.floor(this.prefix / BITS_PER_BYTE);
    for (let i = 0; i < whole; i++) if (bytes[i] !== this.network[i]) return false;
    const rest = this.prefix % BITS_PER_BYTE;
    if (rest === 0) return true;
    const mask = (BYTE_MASK << (BITS_PER_BYTE - rest)) & BYTE_MASK;
    return ((bytes[whole] ?? 0) & mask) === ((this.network[whole] ?? 0) & mask);
  }
}
