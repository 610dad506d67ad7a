/**
 * The PROXY protocol (HAProxy's, versions 1 and 2): a load balancer that forwards a client's TCP
 * connection writes one header before the client's first byte, saying who the client really is.
 * A listener with `proxy_protocol = true` reads that header before anything else (before the TLS
 * handshake on an ssl listener) and reports the header's source address as the peer, so ACL,
 * the banned list, logs and the API see the client and not the load balancer.
 *
 * Two wire forms (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt):
 *
 *   v1, text, at most 107 bytes including the CRLF:
 *     "PROXY TCP4 192.0.2.1 198.51.100.7 56324 1883\r\n"
 *     "PROXY TCP6 2001:db8::1 2001:db8::2 56324 1883\r\n"
 *     "PROXY UNKNOWN ...\r\n"          the proxy does not know: use the socket's own endpoints
 *
 *   v2, binary:
 *     12-byte signature  0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A
 *     1 byte   version (high nibble, 2) and command (low nibble: 0 LOCAL, 1 PROXY)
 *     1 byte   address family (high nibble: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX) and transport
 *              (low nibble: 0 UNSPEC, 1 STREAM, 2 DGRAM)
 *     2 bytes  length of what follows, big-endian
 *     addresses: INET  src(4) dst(4) sport(2) dport(2)            12 bytes
 *                INET6 src(16) dst(16) sport(2) dport(2)          36 bytes
 *                UNIX  src(108) dst(108)                          216 bytes
 *     then TLVs to the end of the length: type(1) length(2) value; each must fit exactly.
 *     LOCAL (health checks by the proxy itself), UNSPEC and UNIX carry no usable client address:
 *     the connection is accepted and the socket's own endpoints are used.
 *
 * `parseProxyHeader` is pure: it looks at the bytes received so far and answers "need more",
 * "here is the header and its length", or throws ProxyProtocolError as soon as the bytes cannot
 * be the start of a valid header (so a client that is not a proxy is refused on its first
 * bytes, not after a timeout). `readProxyHeader` is the socket-level wrapper.
 */

import { isIPv4, isIPv6, type Socket } from 'node:net';
import { AviaryError } from '../errors.js';

/** A PROXY header that cannot be valid: the connection must be closed. */
export class ProxyProtocolError extends AviaryError {
  constructor(message: string) {
    super('AVY_ERR_PROXY_PROTOCOL', message);
  }
}

export interface ProxyAddress {
  host: string;
  port: number;
}

export interface ProxyTlv {
  type: number;
  /** A view into the received bytes (copy it to keep it beyond the connection's start). */
  value: Buffer;
}

export interface ProxyHeader {
  version: 1 | 2;
  /**
   * 'proxy': `source` is the client. 'local': no client address (v2 LOCAL, v1 UNKNOWN, or a v2
   * family other than INET/INET6): use the socket's own endpoints.
   */
  command: 'proxy' | 'local';
  source: ProxyAddress | null;
  destination: ProxyAddress | null;
  /** v2 type-length-value extensions, in order (empty for v1). */
  tlvs: ProxyTlv[];
}

export type ProxyParseResult = { done: false } | { done: true; header: ProxyHeader; length: number };

/** "PROXY " */
const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** The longest v1 line, CRLF included (the specification's own limit). */
export const V1_MAX_LENGTH = 107;
/** Signature, version/command, family/transport, length. */
const V2_FIXED_LENGTH = 16;
const V2_VERSION = 0x2;
const V2_COMMAND_LOCAL = 0x0;
const V2_COMMAND_PROXY = 0x1;
const V2_FAMILY_UNSPEC = 0x0;
const V2_FAMILY_INET = 0x1;
const V2_FAMILY_INET6 = 0x2;
const V2_FAMILY_UNIX = 0x3;
const V2_TRANSPORT_DGRAM = 0x2;
/** Bytes of the address block per family. */
const V2_ADDRESS_LENGTH: Readonly<Record<number, number>> = {
  [V2_FAMILY_UNSPEC]: 0,
  [V2_FAMILY_INET]: 12,
  [V2_FAMILY_INET6]: 36,
  [V2_FAMILY_UNIX]: 216,
};
const TLV_HEADER_LENGTH = 3;
const MAX_PORT = 65535;
const CR = 0x0d;
const LF = 0x0a;

const NEED_MORE: ProxyParseResult = { done: false };

/** True when the first `n` bytes of `buf` equal the first `n` of `signature`. */
function prefixMatches(buf: Buffer, signature: Buffer): boolean {
  const n = Math.min(buf.length, signature.length);
  return buf.compare(signature, 0, n, 0, n) === 0;
}

/**
 * Parses a PROXY header at the start of `buf` (everything received so far). Returns
 * `{ done: false }` while the bytes are a valid beginning, or the header and its length in
 * bytes; throws ProxyProtocolError as soon as they cannot be one.
 */
export function parseProxyHeader(buf: Buffer): ProxyParseResult {
  if (buf.length === 0) return NEED_MORE;
  if (prefixMatches(buf, V2_SIGNATURE)) return parseV2(buf);
  if (prefixMatches(buf, V1_SIGNATURE)) return parseV1(buf);
  throw new ProxyProtocolError('no PROXY protocol header (neither v1 nor v2 signature)');
}

// ---- v1 ---------------------------------------------------------------------------------------

function parseV1(buf: Buffer): ProxyParseResult {
  const end = buf.indexOf(LF);
  if (end < 0) {
    if (buf.length >= V1_MAX_LENGTH)
      throw new ProxyProtocolError(`PROXY v1 line longer than ${V1_MAX_LENGTH} bytes`);
    return NEED_MORE;
  }
  const length = end + 1;
  if (length > V1_MAX_LENGTH)
    throw new ProxyProtocolError(`PROXY v1 line longer than ${V1_MAX_LENGTH} bytes`);
  if (end === 0 || buf[end - 1] !== CR) throw new ProxyProtocolError('PROXY v1 line does not end with CRLF');
  const line = buf.toString('latin1', 0, end - 1);
  const parts = line.split(' ');
  const family = parts[1];
  if (family === 'UNKNOWN') {
    // Whatever follows UNKNOWN is to be ignored.
    return { done: true, length, header: localHeader(1) };
  }
  if (parts.length !== 6 || (family !== 'TCP4' && family !== 'TCP6')) {
    throw new ProxyProtocolError(`malformed PROXY v1 line ${JSON.stringify(line)}`);
  }
  const isFamily = family === 'TCP4' ? isIPv4 : isIPv6;
  const [, , srcHost, dstHost, srcPort, dstPort] = parts as [string, string, string, string, string, string];
  if (!isFamily(srcHost) || !isFamily(dstHost)) {
    throw new ProxyProtocolError(`PROXY v1 ${family} line with an invalid address: ${JSON.stringify(line)}`);
  }
  const source = { host: srcHost.toLowerCase(), port: v1Port(srcPort) };
  const destination = { host: dstHost.toLowerCase(), port: v1Port(dstPort) };
  return { done: true, length, header: { version: 1, command: 'proxy', source, destination, tlvs: [] } };
}

/** A decimal port: digits only, no leading zero, at most 65535. */
function v1Port(text: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text) || Number(text) > MAX_PORT) {
    throw new ProxyProtocolError(`PROXY v1 port ${JSON.stringify(text)} is invalid`);
  }
  return Number(text);
}

function localHeader(version: 1 | 2, tlvs: ProxyTlv[] = []): ProxyHeader {
  return { version, command: 'local', source: null, destination: null, tlvs };
}

// ---- v2 ---------------------------------------------------------------------------------------

function parseV2(buf: Buffer): ProxyParseResult {
  if (buf.length <= V2_SIGNATURE.length) return NEED_MORE;
  const verCmd = buf[12]!;
  const version = verCmd >> 4;
  const command = verCmd & 0x0f;
  if (version !== V2_VERSION) throw new ProxyProtocolError(`PROXY v2 header with version ${version}`);
  if (command !== V2_COMMAND_LOCAL && command !== V2_COMMAND_PROXY) {
    throw new ProxyProtocolError(`PROXY v2 header with unknown command ${command}`);
  }
  if (buf.length < 14) return NEED_MORE;
  const famProto = buf[13]!;
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  const addressLength = V2_ADDRESS_LENGTH[family];
  if (addressLength === undefined || transport > V2_TRANSPORT_DGRAM) {
    throw new ProxyProtocolError(
      `PROXY v2 header with unknown address family/transport 0x${famProto.toString(16)}`,
    );
  }
  if (buf.length < V2_FIXED_LENGTH) return NEED_MORE;
  const bodyLength = buf.readUInt16BE(14);
  // With LOCAL the address block is to be ignored, but its length still has to hold it.
  if (bodyLength < addressLength) {
    throw new ProxyProtocolError(`PROXY v2 length ${bodyLength} is too short for its address block`);
  }
  const length = V2_FIXED_LENGTH + bodyLength;
  if (buf.length < length) return NEED_MORE;
  const tlvs = parseTlvs(buf, V2_FIXED_LENGTH + addressLength, length);
  if (command === V2_COMMAND_LOCAL || (family !== V2_FAMILY_INET && family !== V2_FAMILY_INET6)) {
    return { done: true, length, header: localHeader(2, tlvs) };
  }
  const at = V2_FIXED_LENGTH;
  let source: ProxyAddress;
  let destination: ProxyAddress;
  if (family === V2_FAMILY_INET) {
    source = { host: ipv4(buf, at), port: buf.readUInt16BE(at + 8) };
    destination = { host: ipv4(buf, at + 4), port: buf.readUInt16BE(at + 10) };
  } else {
    source = { host: ipv6(buf, at), port: buf.readUInt16BE(at + 32) };
    destination = { host: ipv6(buf, at + 16), port: buf.readUInt16BE(at + 34) };
  }
  return { done: true, length, header: { version: 2, command: 'proxy', source, destination, tlvs } };
}

/** The TLVs in `buf[from, to)`: each must fit exactly, or the header is malformed. */
function parseTlvs(buf: Buffer, from: number, to: number): ProxyTlv[] {
  const tlvs: ProxyTlv[] = [];
  let at = from;
  while (at < to) {
    if (to - at < TLV_HEADER_LENGTH) throw new ProxyProtocolError('PROXY v2 TLV header cut short');
    const type = buf[at]!;
    const len = buf.readUInt16BE(at + 1);
    const start = at + TLV_HEADER_LENGTH;
    if (start + len > to)
      throw new ProxyProtocolError(`PROXY v2 TLV 0x${type.toString(16)} overruns the header`);
    tlvs.push({ type, value: buf.subarray(start, start + len) });
    at = start + len;
  }
  return tlvs;
}

function ipv4(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

/** The 16 bytes at `at` as RFC 5952 text (lowercase, longest zero run as "::"). */
export function ipv6(buf: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(at + 2 * i));
  // IPv4-mapped addresses in the form Node reports them: ::ffff:192.0.2.1
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${ipv4(buf, at + 12)}`;
  }
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not shortened
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}

// ---- the socket-level wrapper -----------------------------------------------------------------

/**
 * Reads a PROXY header from a freshly accepted raw socket (before TLS: for an ssl listener,
 * call this on the net.Socket, then wrap it in a TLSSocket). Resolves with the header once it
 * is complete; rejects with ProxyProtocolError when the bytes cannot be a header, the socket
 * closes first, or `timeoutMs` passes. It never destroys the socket: the caller does on
 * rejection.
 *
 * On success the socket is left PAUSED, with no listener of ours, and the bytes that arrived
 * after the header in the same chunk are put back at the front of its read buffer
 * (`socket.unshift`), so the next reader sees them first: a TLSSocket created on the socket reads
 * them as the start of the handshake, and a plain reader gets them after `socket.resume()` (the
 * caller resumes once its 'data' listener is attached).
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    const finish = (error: Error | null, header?: ProxyHeader): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      if (error !== null) reject(error);
      else resolve(header!);
    };
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      let result: ProxyParseResult;
      try {
        result = parseProxyHeader(received);
      } catch (error) {
        finish(error as Error);
        return;
      }
      if (!result.done) return;
      socket.pause();
      if (received.length > result.length) socket.unshift(received.subarray(result.length));
      finish(null, result.header);
    };
    const onEnd = (): void =>
      finish(new ProxyProtocolError('connection closed before a complete PROXY header'));
    const onError = (error: Error): void =>
      finish(new ProxyProtocolError(`socket error before a complete PROXY header: ${error.message}`));
    const timer = setTimeout(
      () => finish(new ProxyProtocolError(`no complete PROXY header within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.on('error', onError);
  });
}

/** The peer a header names, or null to keep the socket's own (LOCAL / UNKNOWN / UNIX). */
export function proxiedPeer(header: ProxyHeader): ProxyAddress | null {
  return header.command === 'proxy' ? header.source : null;
}
