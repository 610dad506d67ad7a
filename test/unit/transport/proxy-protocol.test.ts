/**
 * The PROXY protocol parser (src/transport/proxy-protocol.ts), byte-exact: v1 and v2 headers from
 * the specification's layout (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt),
 * every split point of each header (every proper prefix answers "need more", never an error or a
 * wrong header), the bytes after the header untouched, and malformed or oversized headers refused
 * as early as the bytes allow.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ipv6,
  type ProxyHeader,
  ProxyProtocolError,
  parseProxyHeader,
  V1_MAX_LENGTH,
} from '../../../src/transport/proxy-protocol.js';
import { hex } from '../../helpers/bytes.js';

const V2_SIG = '0d0a0d0a000d0a515549540a';

/** A v2 header: signature, version/command, family/transport, length, then `body` (hex). */
function v2(verCmd: number, famProto: number, body: string): Buffer {
  const b = hex(body);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([hex(V2_SIG), Buffer.from([verCmd, famProto]), len, b]);
}

/** 192.0.2.1:56324 -> 198.51.100.7:1883 */
const INET_BODY = 'c0000201 c6336407 dc04 075b';
/** [2001:db8::1]:56324 -> [2001:db8::2]:1883 */
const INET6_BODY = `20010db8000000000000000000000001 20010db8000000000000000000000002 dc04 075b`;

function parsed(buf: Buffer): { header: ProxyHeader; length: number } {
  const r = parseProxyHeader(buf);
  assert.equal(r.done, true, `expected a complete header in ${buf.toString('hex')}`);
  if (!r.done) throw new Error('unreachable');
  return { header: r.header, length: r.length };
}

/** Every proper prefix of `header` needs more bytes; the whole (plus `rest`) parses to `expected`. */
function assertEverySplit(header: Buffer, expected: ProxyHeader): void {
  for (let n = 0; n < header.length; n++) {
    assert.deepEqual(parseProxyHeader(header.subarray(0, n)), { done: false }, `prefix of ${n} bytes`);
  }
  const rest = hex('10 0c 00 04 4d 51 54 54');
  const r = parsed(Buffer.concat([header, rest]));
  assert.equal(r.length, header.length, 'the header length excludes what follows');
  assert.deepEqual(r.header, expected);
}

describe('PROXY protocol v1', () => {
  test('TCP4: source and destination, split at every byte', () => {
    const line = Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.7 56324 1883\r\n', 'latin1');
    assertEverySplit(line, {
      version: 1,
      command: 'proxy',
      source: { host: '192.0.2.1', port: 56324 },
      destination: { host: '198.51.100.7', port: 1883 },
      tlvs: [],
    });
  });

  test('TCP6: addresses as written (lower-cased), split at every byte', () => {
    const line = Buffer.from('PROXY TCP6 2001:DB8::1 2001:db8::2 56324 1883\r\n', 'latin1');
    assertEverySplit(line, {
      version: 1,
      command: 'proxy',
      source: { host: '2001:db8::1', port: 56324 },
      destination: { host: '2001:db8::2', port: 1883 },
      tlvs: [],
    });
  });

  test('UNKNOWN: no address (the socket endpoints are used), anything after it ignored', () => {
    for (const text of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n']) {
      assertEverySplit(Buffer.from(text, 'latin1'), {
        version: 1,
        command: 'local',
        source: null,
        destination: null,
        tlvs: [],
      });
    }
  });

  test('the longest TCP6 line parses, and a line of exactly 107 bytes is still accepted', () => {
    const host = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const line = Buffer.from(`PROXY TCP6 ${host} ${host} 65535 65535\r\n`, 'latin1');
    assert.ok(line.length <= V1_MAX_LENGTH);
    assert.equal(parsed(line).header.source?.port, 65535);
    const filler = 'x'.repeat(V1_MAX_LENGTH - 'PROXY UNKNOWN \r\n'.length);
    const longest = Buffer.from(`PROXY UNKNOWN ${filler}\r\n`, 'latin1');
    assert.equal(longest.length, V1_MAX_LENGTH);
    assert.equal(parsed(longest).length, V1_MAX_LENGTH);
  });

  const malformed: Array<[string, string]> = [
    ['no space after PROXY', 'PROXYTCP4 1.2.3.4 1.2.3.4 1 2\r\n'],
    ['an unknown family', 'PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n'],
    ['a missing port', 'PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n'],
    ['an extra field', 'PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n'],
    ['two spaces', 'PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n'],
    ['an IPv6 address on TCP4', 'PROXY TCP4 ::1 ::1 1 2\r\n'],
    ['an IPv4 address on TCP6', 'PROXY TCP6 1.2.3.4 ::1 1 2\r\n'],
    ['an invalid IPv4 address', 'PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n'],
    ['a port over 65535', 'PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n'],
    ['a port with a leading zero', 'PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n'],
    ['a negative port', 'PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n'],
    ['LF without CR', 'PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n'],
    ['lower-case proxy', 'proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n'],
  ];
  for (const [what, text] of malformed) {
    test(`malformed: ${what}`, () => {
      assert.throws(() => parseProxyHeader(Buffer.from(text, 'latin1')), ProxyProtocolError);
    });
  }

  test('oversized: 107 bytes without a line end are refused without waiting for more', () => {
    const long = Buffer.from(`PROXY TCP4 ${'1'.repeat(V1_MAX_LENGTH)}`, 'latin1');
    assert.deepEqual(parseProxyHeader(long.subarray(0, V1_MAX_LENGTH - 1)), { done: false });
    assert.throws(() => parseProxyHeader(long.subarray(0, V1_MAX_LENGTH)), /longer than 107/);
    const withEnd = Buffer.from(`PROXY UNKNOWN ${'x'.repeat(V1_MAX_LENGTH)}\r\n`, 'latin1');
    assert.throws(() => parseProxyHeader(withEnd), /longer than 107/);
  });
});

describe('PROXY protocol v2', () => {
  test('PROXY over TCP/IPv4, split at every byte', () => {
    assertEverySplit(v2(0x21, 0x11, INET_BODY), {
      version: 2,
      command: 'proxy',
      source: { host: '192.0.2.1', port: 56324 },
      destination: { host: '198.51.100.7', port: 1883 },
      tlvs: [],
    });
  });

  test('PROXY over TCP/IPv6, split at every byte', () => {
    assertEverySplit(v2(0x21, 0x21, INET6_BODY), {
      version: 2,
      command: 'proxy',
      source: { host: '2001:db8::1', port: 56324 },
      destination: { host: '2001:db8::2', port: 1883 },
      tlvs: [],
    });
  });

  test('TLVs after the addresses are returned and skipped: the header ends after the last one', () => {
    // PP2_TYPE_ALPN (0x01) "mqtt", PP2_TYPE_NOOP (0x04) empty, PP2_TYPE_UNIQUE_ID (0x05) 3 bytes
    const tlvs = '01 0004 6d717474  04 0000  05 0003 aabbcc';
    const header = v2(0x21, 0x11, `${INET_BODY} ${tlvs}`);
    const { header: h, length } = parsed(Buffer.concat([header, hex('10')]));
    assert.equal(length, header.length);
    assert.deepEqual(
      h.tlvs.map((t) => [t.type, t.value.toString('hex')]),
      [
        [0x01, '6d717474'],
        [0x04, ''],
        [0x05, 'aabbcc'],
      ],
    );
    assert.deepEqual(h.source, { host: '192.0.2.1', port: 56324 });
    for (let n = 0; n < header.length; n++) assert.equal(parseProxyHeader(header.subarray(0, n)).done, false);
  });

  test("LOCAL (the proxy's own health check): accepted, no address, address block ignored", () => {
    assertEverySplit(v2(0x20, 0x00, ''), {
      version: 2,
      command: 'local',
      source: null,
      destination: null,
      tlvs: [],
    });
    // LOCAL may still carry an address block: it is skipped, not used.
    assertEverySplit(v2(0x20, 0x11, INET_BODY), {
      version: 2,
      command: 'local',
      source: null,
      destination: null,
      tlvs: [],
    });
  });

  test('UNSPEC and UNIX families carry no client address: the socket endpoints are used', () => {
    assert.equal(parsed(v2(0x21, 0x00, '')).header.command, 'local');
    assert.equal(parsed(v2(0x21, 0x31, '00'.repeat(216))).header.command, 'local');
  });

  test('UDP (DGRAM) over IPv4 still names the client', () => {
    assert.deepEqual(parsed(v2(0x21, 0x12, INET_BODY)).header.source, { host: '192.0.2.1', port: 56324 });
  });

  const malformed: Array<[string, Buffer]> = [
    ['version 1 in the v2 form', v2(0x11, 0x11, INET_BODY)],
    ['version 3', v2(0x31, 0x11, INET_BODY)],
    ['an unknown command', v2(0x22, 0x11, INET_BODY)],
    ['an unknown family', v2(0x21, 0x41, INET_BODY)],
    ['an unknown transport', v2(0x21, 0x13, INET_BODY)],
    ['a length too short for IPv4 addresses', v2(0x21, 0x11, 'c0000201 c6336407 dc04')],
    ['a length too short for IPv6 addresses', v2(0x21, 0x21, INET_BODY)],
    ['a TLV cut short in its header', v2(0x21, 0x11, `${INET_BODY} 01 00`)],
    ['a TLV longer than the header', v2(0x21, 0x11, `${INET_BODY} 01 0005 6d717474`)],
  ];
  for (const [what, bytes] of malformed) {
    test(`malformed: ${what}`, () => {
      assert.throws(() => parseProxyHeader(bytes), ProxyProtocolError);
    });
  }

  test('a bad version/command is refused as soon as its byte arrives, not after the whole header', () => {
    const bad = v2(0x31, 0x11, INET_BODY);
    assert.deepEqual(parseProxyHeader(bad.subarray(0, 12)), { done: false });
    assert.throws(() => parseProxyHeader(bad.subarray(0, 13)), ProxyProtocolError);
  });

  test('the largest length the format allows waits for its bytes (bounded by 16 + 65535)', () => {
    const head = Buffer.concat([hex(V2_SIG), hex('21 11 ffff'), hex(INET_BODY)]);
    assert.deepEqual(parseProxyHeader(head), { done: false });
  });
});

describe('neither signature', () => {
  test('an MQTT CONNECT, TLS ClientHello or HTTP request is refused on its first byte', () => {
    for (const first of ['10', '16', '47', '00', '0d0a0d0a01', '50524f5859']) {
      const bytes = hex(first);
      if (first === '50524f5859') {
        // "PROXY" without its space is still a prefix of the v1 signature
        assert.deepEqual(parseProxyHeader(bytes), { done: false });
        assert.throws(() => parseProxyHeader(Buffer.concat([bytes, hex('0d')])), ProxyProtocolError);
        continue;
      }
      assert.throws(() => parseProxyHeader(bytes), ProxyProtocolError, first);
    }
  });

  test('no bytes yet: need more', () => {
    assert.deepEqual(parseProxyHeader(Buffer.alloc(0)), { done: false });
  });
});

describe('IPv6 text form (RFC 5952)', () => {
  const cases: Array<[string, string]> = [
    ['00000000000000000000000000000001', '::1'],
    ['00000000000000000000000000000000', '::'],
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['20010db8000100000000000100000001', '2001:db8:1::1:0:1'],
    ['20010db8000000010000000000000000', '2001:db8:0:1::'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
  ];
  for (const [bytes, text] of cases) {
    test(`${bytes} -> ${text}`, () => assert.equal(ipv6(hex(bytes), 0), text));
  }
});
