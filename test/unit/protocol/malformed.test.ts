/**
 * A corpus of malformed and invalid packets, written out as bytes. Each must make the decoder
 * throw a ProtocolError with the reason code a 5.0 server would send (0x81 malformed, 0x82
 * protocol error, 0x84 unsupported protocol version, 0x90 topic name invalid, 0x95 packet too
 * large) and, where the specification numbers the rule, that statement's id.
 *
 * Ids follow src/protocol: the MQTT 5.0 number of a rule both versions share, the 3.1.1 number of
 * a rule only 3.1.1 has. A test's name cites the id, plus the 3.1.1 number where it differs.
 * Every case is fed whole and byte by byte; both must fail the same way.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Decoder,
  type Packet,
  PacketType,
  PacketTypeName,
  ProtocolError,
  type ProtocolVersion,
  ReasonCode,
} from '../../../src/protocol/index.js';
import { AUTH_CODES, DISCONNECT_CODES, PUBACK_CODES, PUBREL_CODES } from '../../helpers/arbitraries.js';
import { hex, varint } from '../../helpers/bytes.js';

const {
  MalformedPacket,
  ProtocolError: ProtocolErr,
  UnsupportedProtocolVersion,
  TopicNameInvalid,
  PacketTooLarge,
} = ReasonCode;

// ---------------------------------------------------------------------------------------------
// Building frames

/** A frame: the first byte, the remaining length computed from the body, the body (hex). */
const frame = (first: number, body: string): Buffer => {
  const b = hex(body);
  return Buffer.concat([Buffer.from([first]), varint(b.length), b]);
};

/** A length-prefixed string field (hex) from raw bytes given as hex. */
const field = (bytesHex: string): string => {
  const b = hex(bytesHex);
  return b.length.toString(16).padStart(4, '0') + b.toString('hex');
};
/** A length-prefixed string field (hex) from a JS string. */
const s = (text: string): string => field(Buffer.from(text, 'utf8').toString('hex'));

/** A 3.1.1 CONNECT: name MQTT, level 4, the given flags, keep alive 60, then `payload`. */
const connect4 = (flags: string, payload: string): Buffer =>
  frame(0x10, `${s('MQTT')} 04 ${flags} 003c ${payload}`);
/** A 5.0 CONNECT with the given properties block (hex, length included). */
const connect5 = (props: string, flags = '02', payload = s('c')): Buffer =>
  frame(0x10, `${s('MQTT')} 05 ${flags} 003c ${props} ${payload}`);
/** A 5.0 property block: its length, then the properties. */
const props = (body: string): string => varint(hex(body).length).toString('hex') + body;
/** A 5.0 QoS 0 PUBLISH to 'a' with the given properties and payload 'x'. */
const publish5 = (propsBody: string): Buffer => frame(0x30, `${s('a')} ${props(propsBody)} 78`);

// ---------------------------------------------------------------------------------------------
// Running cases

interface Expected {
  reasonCode: number;
  /** The normative statement; '' when the rule has no id. */
  specId: string;
}

function decoderFor(version: ProtocolVersion, maxPacketSize?: number): Decoder {
  return new Decoder(maxPacketSize === undefined ? { version } : { version, maxPacketSize });
}

function assertProtocolError(run: () => unknown, expected: Expected, how: string): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof ProtocolError, `${how}: a ProtocolError, got ${String(err)}`);
    assert.equal(
      err.reasonCode,
      expected.reasonCode,
      `${how}: reason code 0x${err.reasonCode.toString(16)} (${err.message})`,
    );
    assert.equal(err.specId, expected.specId, `${how}: spec id (${err.message})`);
    return true;
  });
}

/** Fed whole and byte by byte, `bytes` must fail with `expected`. */
function assertRejected(bytes: Buffer, version: ProtocolVersion, expected: Expected, label = ''): void {
  const prefix = label === '' ? '' : `${label}, `;
  assertProtocolError(() => decoderFor(version).decodeAll(bytes), expected, `${prefix}whole`);
  const decoder = decoderFor(version);
  assertProtocolError(
    () => {
      for (let i = 0; i < bytes.length; i++) decoder.decodeAll(bytes.subarray(i, i + 1));
    },
    expected,
    `${prefix}byte by byte`,
  );
}

function decodeOk(bytes: Buffer, version: ProtocolVersion): Packet {
  const packets = decoderFor(version).decodeAll(bytes);
  assert.equal(packets.length, 1);
  return packets[0]!;
}

interface Case extends Expected {
  name: string;
  version: ProtocolVersion;
  bytes: Buffer;
}

function cases(title: string, list: Case[]): void {
  describe(title, () => {
    for (const c of list) test(c.name, () => assertRejected(c.bytes, c.version, c));
  });
}

const malformed = (specId = ''): Expected => ({ reasonCode: MalformedPacket, specId });
const protocol = (specId = ''): Expected => ({ reasonCode: ProtocolErr, specId });

// ---------------------------------------------------------------------------------------------
// Fixed header

describe('fixed header', () => {
  /** Required flags per type; PUBLISH is handled apart. */
  const REQUIRED: Array<[PacketType, number, string]> = [
    [PacketType.Connect, 0, 'MQTT-2.1.3-1'],
    [PacketType.Connack, 0, 'MQTT-2.1.3-1'],
    [PacketType.Puback, 0, 'MQTT-2.1.3-1'],
    [PacketType.Pubrec, 0, 'MQTT-2.1.3-1'],
    [PacketType.Pubrel, 2, 'MQTT-3.6.1-1'],
    [PacketType.Pubcomp, 0, 'MQTT-2.1.3-1'],
    [PacketType.Subscribe, 2, 'MQTT-3.8.1-1'],
    [PacketType.Suback, 0, 'MQTT-2.1.3-1'],
    [PacketType.Unsubscribe, 2, 'MQTT-3.10.1-1'],
    [PacketType.Unsuback, 0, 'MQTT-2.1.3-1'],
    [PacketType.Pingreq, 0, 'MQTT-2.1.3-1'],
    [PacketType.Pingresp, 0, 'MQTT-2.1.3-1'],
    [PacketType.Disconnect, 0, 'MQTT-2.1.3-1'],
    [PacketType.Auth, 0, 'MQTT-2.1.3-1'],
  ];
  const bits = (n: number): string => n.toString(2).padStart(4, '0');

  for (const [type, required, specId] of REQUIRED) {
    const other = specId === 'MQTT-2.1.3-1' ? ' (3.1.1: [MQTT-2.2.2-1])' : '';
    test(`[${specId}]${other} ${PacketTypeName[type]} with reserved flags other than ${bits(required)} is malformed`, () => {
      const version: ProtocolVersion = type === PacketType.Auth ? 5 : 4;
      for (let flags = 0; flags < 16; flags++) {
        if (flags === required) continue;
        const first = (type << 4) | flags;
        // Rejected from the first byte alone, before the remaining length arrives...
        assertProtocolError(
          () => decoderFor(version).decodeAll(Buffer.from([first])),
          malformed(specId),
          bits(flags),
        );
        // ... and as a whole frame.
        assertRejected(Buffer.from([first, 0]), version, malformed(specId));
      }
    });
  }

  test('MQTT 3.1 allows DUP (1010) on a retried PUBREL, SUBSCRIBE and UNSUBSCRIBE, 3.1.1 does not', () => {
    const pubrel = hex('6a 02 0001');
    assert.deepEqual(decodeOk(pubrel, 3), {
      type: PacketType.Pubrel,
      packetId: 1,
      reasonCode: 0,
      properties: null,
    });
    const subscribe = frame(0x8a, `0001 ${s('a')} 01`);
    assert.equal(decodeOk(subscribe, 3).type, PacketType.Subscribe);
    const unsubscribe = frame(0xaa, `0001 ${s('a')}`);
    assert.equal(decodeOk(unsubscribe, 3).type, PacketType.Unsubscribe);
    assertRejected(pubrel, 4, malformed('MQTT-3.6.1-1'));
    assertRejected(subscribe, 4, malformed('MQTT-3.8.1-1'));
    assertRejected(unsubscribe, 5, malformed('MQTT-3.10.1-1'));
  });

  test('[MQTT-3.3.1-4] PUBLISH with QoS 3 is malformed (with and without DUP and RETAIN)', () => {
    for (const first of [0x36, 0x37, 0x3e, 0x3f]) {
      assertProtocolError(
        () => new Decoder().decodeAll(Buffer.from([first])),
        malformed('MQTT-3.3.1-4'),
        'first byte',
      );
      assertRejected(frame(first, `${s('a')} 0001`), 4, malformed('MQTT-3.3.1-4'));
    }
  });

  test('packet type 0 is reserved: malformed', () => {
    for (let flags = 0; flags < 16; flags++) assertRejected(Buffer.from([flags, 0]), 5, malformed());
  });

  test('AUTH (type 15) is malformed in MQTT 3.1 and 3.1.1', () => {
    assertRejected(hex('f0 00'), 4, malformed());
    assertRejected(hex('f0 00'), 3, malformed());
    assert.deepEqual(decodeOk(hex('f0 00'), 5), { type: PacketType.Auth, reasonCode: 0, properties: null });
  });

  test('[MQTT-1.5.5-1] a remaining length longer than four bytes is malformed', () => {
    assertRejected(hex('30 ff ff ff ff 7f'), 4, malformed('MQTT-1.5.5-1'));
    assertRejected(hex('c0 80 80 80 80 00'), 4, malformed('MQTT-1.5.5-1'));
  });

  test('the largest remaining length (268,435,455 = ff ff ff 7f) is accepted as a header', () => {
    const decoder = new Decoder({ version: 4 });
    decoder.feed(hex('30 ff ff ff 7f 00'), { onPacket: () => assert.fail('no packet yet') });
    assert.equal(decoder.buffered, 6);
  });

  test('[MQTT-3.2.2-15] a 10 MB packet is refused from its fixed header alone (maxPacketSize 1 MB)', () => {
    // 10 MB of remaining length: 80 80 80 05. Only the five header bytes are ever sent.
    const header = Buffer.concat([Buffer.from([0x30]), varint(10 * 1024 * 1024)]);
    assert.equal(header.length, 5);
    const decoder = decoderFor(4, 1024 * 1024);
    assertProtocolError(
      () => decoder.decodeAll(header),
      { reasonCode: PacketTooLarge, specId: 'MQTT-3.2.2-15' },
      'whole',
    );
    assert.ok(decoder.buffered <= 5, 'nothing of the body is buffered');
    // Byte by byte: the first four bytes are held (4 bytes), the fifth completes the header.
    const slow = decoderFor(4, 1024 * 1024);
    for (let i = 0; i < 4; i++) slow.decodeAll(header.subarray(i, i + 1));
    assert.equal(slow.buffered, 4);
    assertProtocolError(
      () => slow.decodeAll(header.subarray(4)),
      { reasonCode: PacketTooLarge, specId: 'MQTT-3.2.2-15' },
      'fifth byte',
    );
  });

  test('[MQTT-3.2.2-15] the maximum packet size counts the fixed header: max accepted, max + 1 refused', () => {
    const packet = frame(0x30, `${s('t')} ${'00'.repeat(100)}`);
    assert.equal(decodeOkWith(packet, packet.length).type, PacketType.Publish);
    assertProtocolError(
      () => decoderFor(4, packet.length - 1).decodeAll(packet),
      { reasonCode: PacketTooLarge, specId: 'MQTT-3.2.2-15' },
      'one byte too large',
    );
  });

  function decodeOkWith(bytes: Buffer, maxPacketSize: number): Packet {
    const packets = decoderFor(4, maxPacketSize).decodeAll(bytes);
    assert.equal(packets.length, 1);
    return packets[0]!;
  }
});

// ---------------------------------------------------------------------------------------------
// UTF-8 strings (1.5.4; 3.1.1: 1.5.3)

describe('UTF-8 encoded strings', () => {
  const ILL_FORMED: Array<[string, string]> = [
    ['an overlong encoding of "/" (C0 AF)', '61 c0 af'],
    ['an overlong encoding of U+0000 (C0 80)', 'c0 80'],
    ['a 3-byte overlong encoding (E0 80 AF)', 'e0 80 af'],
    ['a lone continuation byte (80)', '61 80 62'],
    ['an encoded surrogate U+D800 (ED A0 80)', 'ed a0 80'],
    ['an encoded surrogate U+DFFF (ED BF BF)', 'ed bf bf'],
    ['a truncated 3-byte sequence (E2 82)', '61 e2 82'],
    ['a truncated 4-byte sequence (F0 9F 98)', 'f0 9f 98'],
    ['a code point above U+10FFFF (F4 90 80 80)', 'f4 90 80 80'],
    ['an invalid byte (FF)', 'ff'],
  ];
  const PLACES: Array<[string, ProtocolVersion, (bytesHex: string) => Buffer]> = [
    ['the client identifier', 4, (b) => connect4('02', field(b))],
    ['the will topic', 4, (b) => connect4('06', `${s('c')} ${field(b)} ${s('x')}`)],
    ['the user name', 4, (b) => connect4('82', `${s('c')} ${field(b)}`)],
    ['the topic name', 4, (b) => frame(0x30, field(b))],
    ['a topic filter', 4, (b) => frame(0x82, `0001 ${field(b)} 00`)],
    ['an UNSUBSCRIBE topic filter', 5, (b) => frame(0xa2, `0001 00 ${field(b)}`)],
    ['a string property (Content Type)', 5, (b) => publish5(`03 ${field(b)}`)],
    ['a user property name', 5, (b) => connect5(props(`26 ${field(b)} ${s('v')}`))],
    ['a user property value', 5, (b) => connect5(props(`26 ${s('k')} ${field(b)}`))],
  ];

  for (const [where, version, build] of PLACES) {
    test(`[MQTT-1.5.4-1] (3.1.1: [MQTT-1.5.3-1]) ill-formed UTF-8 in ${where} is malformed`, () => {
      for (const [what, bytesHex] of ILL_FORMED) {
        assertRejected(build(bytesHex), version, malformed('MQTT-1.5.4-1'), what);
      }
    });

    test(`[MQTT-1.5.4-2] (3.1.1: [MQTT-1.5.3-2]) U+0000 in ${where} is malformed`, () => {
      assertRejected(build('61 00 62'), version, malformed('MQTT-1.5.4-2'));
      // Also next to non-ASCII characters (the decoder's second path).
      assertRejected(build('c3 a9 00'), version, malformed('MQTT-1.5.4-2'));
    });
  }

  test('[MQTT-1.5.4-3] (3.1.1: [MQTT-1.5.3-3]) a BOM (EF BB BF) is kept, not stripped', () => {
    const connect = decodeOk(connect4('02', field('ef bb bf 61')), 4);
    assert.equal(connect.type === PacketType.Connect && connect.clientId, '\uFEFFa');
    const publish = decodeOk(frame(0x30, `${field('ef bb bf')} 78`), 4);
    assert.equal(publish.type === PacketType.Publish && publish.topic, '\uFEFF');
    const up = decodeOk(connect5(props(`26 ${field('ef bb bf')} ${field('ef bb bf ef bb bf')}`)), 5);
    assert.deepEqual(up.type === PacketType.Connect && up.properties?.userProperties, [
      ['\uFEFF', '\uFEFF\uFEFF'],
    ]);
  });

  test('well-formed 4-byte characters and noncharacters are accepted', () => {
    const publish = decodeOk(frame(0x30, `${field('f0 9f 98 80 2f ef bf bf 2f f4 8f bf bf')}`), 4);
    assert.equal(publish.type === PacketType.Publish && publish.topic, '😀/\uFFFF/\u{10FFFF}');
  });
});

// ---------------------------------------------------------------------------------------------
// CONNECT and CONNACK

cases('CONNECT', [
  {
    name: '[MQTT-3.1.2-2] protocol name MQTT with level 3 is an unsupported protocol version',
    version: 4,
    bytes: frame(0x10, `${s('MQTT')} 03 02 003c ${s('c')}`),
    reasonCode: UnsupportedProtocolVersion,
    specId: 'MQTT-3.1.2-2',
  },
  {
    name: '[MQTT-3.1.2-2] protocol name MQIsdp with level 4 is an unsupported protocol version',
    version: 4,
    bytes: frame(0x10, `${s('MQIsdp')} 04 02 003c ${s('c')}`),
    reasonCode: UnsupportedProtocolVersion,
    specId: 'MQTT-3.1.2-2',
  },
  {
    name: '[MQTT-3.1.2-2] protocol level 6 is an unsupported protocol version',
    version: 4,
    bytes: frame(0x10, `${s('MQTT')} 06 02 003c ${s('c')}`),
    reasonCode: UnsupportedProtocolVersion,
    specId: 'MQTT-3.1.2-2',
  },
  {
    name: '[MQTT-3.1.2-1] protocol name "mqtt" (not "MQTT") is refused',
    version: 4,
    bytes: frame(0x10, `${s('mqtt')} 04 02 003c ${s('c')}`),
    reasonCode: UnsupportedProtocolVersion,
    specId: 'MQTT-3.1.2-1',
  },
  {
    name: '[MQTT-3.1.2-3] the reserved CONNECT flag (bit 0) set is malformed',
    version: 4,
    bytes: connect4('03', s('c')),
    ...malformed('MQTT-3.1.2-3'),
  },
  {
    name: '[MQTT-3.1.2-3] the reserved CONNECT flag set is malformed in 5.0 too',
    version: 5,
    bytes: connect5('00', '01'),
    ...malformed('MQTT-3.1.2-3'),
  },
  {
    name: '[MQTT-3.1.2-12] (3.1.1: [MQTT-3.1.2-14]) will QoS 3 is malformed',
    version: 4,
    bytes: connect4('1e', `${s('c')} ${s('w')} ${s('x')}`),
    ...malformed('MQTT-3.1.2-12'),
  },
  {
    name: '[MQTT-3.1.2-11] (3.1.1: [MQTT-3.1.2-13]) will QoS without the will flag is malformed',
    version: 4,
    bytes: connect4('0a', s('c')),
    ...malformed('MQTT-3.1.2-11'),
  },
  {
    name: '[MQTT-3.1.2-13] (3.1.1: [MQTT-3.1.2-15]) will retain without the will flag is malformed',
    version: 4,
    bytes: connect4('22', s('c')),
    ...malformed('MQTT-3.1.2-13'),
  },
  {
    name: '[MQTT-3.1.2-11] will QoS 3 without the will flag is malformed (5.0)',
    version: 5,
    bytes: connect5('00', '1a'),
    ...malformed('MQTT-3.1.2-11'),
  },
  {
    name: '[MQTT-3.1.2-22] (3.1.1 only) a password without a user name is malformed',
    version: 4,
    bytes: connect4('42', `${s('c')} ${s('pw')}`),
    ...malformed('MQTT-3.1.2-22'),
  },
  {
    name: '[MQTT-3.1.2-22] (3.1.1 only) a password without a user name is malformed in 3.1',
    version: 3,
    bytes: frame(0x10, `${s('MQIsdp')} 03 42 003c ${s('c')} ${s('pw')}`),
    ...malformed('MQTT-3.1.2-22'),
  },
  {
    name: 'a will topic with a wildcard is an invalid topic name (0x90)',
    version: 4,
    bytes: connect4('06', `${s('c')} ${s('a/#')} ${s('x')}`),
    reasonCode: TopicNameInvalid,
    specId: 'MQTT-3.1.3-11',
  },
  {
    name: 'an empty will topic is an invalid topic name (0x90)',
    version: 5,
    bytes: connect5('00', '06', `${s('c')} 00 ${s('')} ${s('x')}`),
    reasonCode: TopicNameInvalid,
    specId: 'MQTT-3.1.3-11',
  },
  {
    name: 'trailing bytes after the CONNECT payload are malformed',
    version: 4,
    bytes: connect4('02', `${s('c')} 00`),
    ...malformed(),
  },
  {
    name: 'a client identifier running past the end of the packet is malformed',
    version: 4,
    bytes: connect4('02', '0005 61'),
    ...malformed(),
  },
  {
    name: 'a CONNECT ending inside the keep alive is malformed',
    version: 4,
    bytes: frame(0x10, `${s('MQTT')} 04 02 00`),
    ...malformed(),
  },
  {
    name: 'a will flag without a will topic and payload is malformed',
    version: 4,
    bytes: connect4('06', s('c')),
    ...malformed(),
  },
  {
    name: 'a user name flag without a user name is malformed',
    version: 4,
    bytes: connect4('82', s('c')),
    ...malformed(),
  },
  {
    name: 'a 5.0 CONNECT without its property length is malformed',
    version: 5,
    bytes: frame(0x10, `${s('MQTT')} 05 02 003c`),
    ...malformed(),
  },
]);

describe('CONNECT, accepted forms', () => {
  test('5.0 allows a password without a user name ([MQTT-3.1.2-22] is 3.1.1 only)', () => {
    const p = decodeOk(connect5('00', '42', `${s('c')} ${s('pw')}`), 4);
    assert.ok(p.type === PacketType.Connect);
    assert.equal(p.username, null);
    assert.deepEqual(p.password, Buffer.from('pw'));
    assert.equal(p.protocolVersion, 5);
  });

  test('the bridge bit (0x80) of the protocol level is reported, not refused', () => {
    const p = decodeOk(frame(0x10, `${s('MQTT')} 84 02 003c ${s('c')}`), 4);
    assert.ok(p.type === PacketType.Connect);
    assert.equal(p.bridge, true);
    assert.equal(p.protocolVersion, 4);
  });
});

cases('CONNACK', [
  {
    name: '[MQTT-3.2.2-1] reserved CONNACK flag bits set are malformed',
    version: 4,
    bytes: hex('20 02 02 00'),
    ...malformed('MQTT-3.2.2-1'),
  },
  {
    name: '[MQTT-3.2.2-6] (3.1.1: [MQTT-3.2.2-4]) session present with a refusing reason code is a protocol error',
    version: 5,
    bytes: hex('20 03 01 80 00'),
    ...protocol('MQTT-3.2.2-6'),
  },
  {
    name: '[MQTT-3.2.2-6] (3.1.1: [MQTT-3.2.2-4]) session present with a non-zero return code (3.1.1)',
    version: 4,
    bytes: hex('20 02 01 05'),
    ...protocol('MQTT-3.2.2-6'),
  },
  {
    name: 'trailing bytes after a 3.1.1 CONNACK are malformed',
    version: 4,
    bytes: hex('20 03 00 00 00'),
    ...malformed(),
  },
  {
    name: 'a CONNACK ending after its flags is malformed',
    version: 4,
    bytes: hex('20 01 00'),
    ...malformed(),
  },
]);

// ---------------------------------------------------------------------------------------------
// PUBLISH

cases('PUBLISH', [
  {
    name: '[MQTT-3.3.1-2] DUP on a QoS 0 PUBLISH is malformed',
    version: 4,
    bytes: frame(0x38, `${s('a')} 78`),
    ...malformed('MQTT-3.3.1-2'),
  },
  {
    name: '[MQTT-3.3.2-2] a "+" in the topic name is an invalid topic name',
    version: 4,
    bytes: frame(0x30, `${s('a/+/b')} 78`),
    reasonCode: TopicNameInvalid,
    specId: 'MQTT-3.3.2-2',
  },
  {
    name: '[MQTT-3.3.2-2] a "#" in the topic name is an invalid topic name (5.0)',
    version: 5,
    bytes: frame(0x32, `${s('a/#')} 0001 00`),
    reasonCode: TopicNameInvalid,
    specId: 'MQTT-3.3.2-2',
  },
  {
    name: '[MQTT-4.7.3-1] an empty topic name is a protocol error in 3.1.1',
    version: 4,
    bytes: frame(0x30, `${s('')} 78`),
    ...protocol('MQTT-4.7.3-1'),
  },
  {
    name: '[MQTT-4.7.3-1] an empty topic name without a Topic Alias is a protocol error in 5.0',
    version: 5,
    bytes: frame(0x30, `${s('')} ${props(`02 0000003c`)} 78`),
    ...protocol('MQTT-4.7.3-1'),
  },
  {
    name: '[MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1]) a QoS 1 PUBLISH with packet identifier 0 is malformed',
    version: 4,
    bytes: frame(0x32, `${s('a')} 0000 78`),
    ...malformed('MQTT-2.2.1-3'),
  },
  {
    name: '[MQTT-2.2.1-3] a QoS 2 PUBLISH with packet identifier 0 is malformed (5.0)',
    version: 5,
    bytes: frame(0x34, `${s('a')} 0000 00`),
    ...malformed('MQTT-2.2.1-3'),
  },
  {
    name: 'a topic name running past the end of the packet is malformed',
    version: 4,
    bytes: frame(0x30, '0009 61 62'),
    ...malformed(),
  },
  {
    name: 'a QoS 1 PUBLISH ending inside its packet identifier is malformed',
    version: 4,
    bytes: frame(0x32, `${s('a')} 00`),
    ...malformed(),
  },
  {
    name: 'a 5.0 PUBLISH without its property length is malformed',
    version: 5,
    bytes: frame(0x30, s('a')),
    ...malformed(),
  },
]);

describe('PUBLISH, accepted forms', () => {
  test('5.0: an empty topic name with a Topic Alias is accepted', () => {
    const p = decodeOk(frame(0x30, `${s('')} ${props('23 0005')} 78`), 5);
    assert.deepEqual(p, {
      type: PacketType.Publish,
      topic: '',
      payload: Buffer.from('x'),
      qos: 0,
      retain: false,
      dup: false,
      packetId: 0,
      properties: { topicAlias: 5 },
    });
  });

  test('5.0: several subscription identifiers and repeated user properties keep their order', () => {
    const body = `${s('a')} ${props(`0b 01 26 ${s('k')} ${s('1')} 0b ff ff ff 7f 26 ${s('k')} ${s('2')}`)}`;
    const p = decodeOk(frame(0x30, body), 5);
    assert.ok(p.type === PacketType.Publish);
    assert.deepEqual(p.properties, {
      subscriptionIdentifiers: [1, 268_435_455],
      userProperties: [
        ['k', '1'],
        ['k', '2'],
      ],
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Properties (5.0, 2.2.2)

cases('properties', [
  {
    name: 'a property that appears twice (Message Expiry Interval) is a protocol error',
    version: 5,
    bytes: publish5('02 0000000a 02 0000000b'),
    ...protocol(),
  },
  {
    name: 'a property that appears twice (Session Expiry Interval in CONNECT) is a protocol error',
    version: 5,
    bytes: connect5(props('11 00000001 11 00000002')),
    ...protocol(),
  },
  {
    name: 'two Subscription Identifiers in a SUBSCRIBE are a protocol error',
    version: 5,
    bytes: frame(0x82, `0001 ${props('0b 01 0b 02')} ${s('a')} 00`),
    ...protocol(),
  },
  {
    name: 'a property not allowed in the packet type (Session Expiry Interval in PUBLISH) is malformed',
    version: 5,
    bytes: publish5('11 00000001'),
    ...malformed(),
  },
  {
    name: 'a property not allowed in the packet type (Topic Alias in CONNECT) is malformed',
    version: 5,
    bytes: connect5(props('23 0001')),
    ...malformed(),
  },
  {
    name: 'a will property in the CONNECT properties (Will Delay Interval) is malformed',
    version: 5,
    bytes: connect5(props('18 00000001')),
    ...malformed(),
  },
  {
    name: 'a CONNECT property in the will properties (Session Expiry Interval) is malformed',
    version: 5,
    bytes: connect5('00', '06', `${s('c')} ${props('11 00000001')} ${s('w')} ${s('x')}`),
    ...malformed(),
  },
  {
    name: 'an unknown property identifier (0x05) is malformed',
    version: 5,
    bytes: publish5('05 00'),
    ...malformed(),
  },
  { name: 'property identifier 0 is malformed', version: 5, bytes: publish5('00'), ...malformed() },
  {
    name: 'Payload Format Indicator 2 is a protocol error',
    version: 5,
    bytes: publish5('01 02'),
    ...protocol(),
  },
  {
    name: 'Receive Maximum 0 is a protocol error',
    version: 5,
    bytes: connect5(props('21 0000')),
    ...protocol(),
  },
  {
    name: '[MQTT-3.3.2-8] Topic Alias 0 is a protocol error with reason code 0x94 (topic alias invalid)',
    version: 5,
    bytes: publish5('23 0000'),
    reasonCode: ReasonCode.TopicAliasInvalid,
    specId: 'MQTT-3.3.2-8',
  },
  {
    name: 'Subscription Identifier 0 is a protocol error (SUBSCRIBE)',
    version: 5,
    bytes: frame(0x82, `0001 ${props('0b 00')} ${s('a')} 00`),
    ...protocol(),
  },
  {
    name: 'Subscription Identifier 0 is a protocol error (PUBLISH)',
    version: 5,
    bytes: publish5('0b 00'),
    ...protocol(),
  },
  {
    name: 'Maximum Packet Size 0 is a protocol error',
    version: 5,
    bytes: connect5(props('27 00000000')),
    ...protocol(),
  },
  {
    name: 'Request Problem Information 2 is a protocol error',
    version: 5,
    bytes: connect5(props('17 02')),
    ...protocol(),
  },
  {
    name: 'Maximum QoS 2 in a CONNACK is a protocol error',
    version: 5,
    bytes: frame(0x20, `00 00 ${props('24 02')}`),
    ...protocol(),
  },
  {
    name: 'Authentication Data without an Authentication Method is a protocol error',
    version: 5,
    bytes: connect5(props('16 0002 abcd')),
    ...protocol(),
  },
  {
    name: 'Authentication Data without an Authentication Method is a protocol error (AUTH)',
    version: 5,
    bytes: frame(0xf0, `18 ${props('16 0001 ab')}`),
    ...protocol(),
  },
  {
    name: '[MQTT-1.5.5-1] a Subscription Identifier longer than four bytes is malformed',
    version: 5,
    bytes: publish5('0b ff ff ff ff 01'),
    ...malformed('MQTT-1.5.5-1'),
  },
  {
    name: 'a property block running past the end of the packet is malformed',
    version: 5,
    bytes: frame(0x30, `${s('a')} 09 02 00`),
    ...malformed(),
  },
  {
    name: 'a property value running past the end of its property block is malformed',
    version: 5,
    bytes: frame(0x30, `${s('a')} 03 02 0000 0000 78`),
    ...malformed(),
  },
  {
    name: 'a user property without its value is malformed',
    version: 5,
    bytes: publish5(`26 ${s('k')}`),
    ...malformed(),
  },
]);

// ---------------------------------------------------------------------------------------------
// Acknowledgements

const invalidCodes = (valid: readonly number[]): number[] => {
  const out: number[] = [];
  for (let c = 0; c < 256; c++) if (!valid.includes(c)) out.push(c);
  return out;
};

describe('PUBACK, PUBREC, PUBREL, PUBCOMP', () => {
  const ACKS: Array<[number, readonly number[], string]> = [
    [0x40, PUBACK_CODES, 'MQTT-3.4.2-1'],
    [0x50, PUBACK_CODES, 'MQTT-3.5.2-1'],
    [0x62, PUBREL_CODES, 'MQTT-3.6.2-1'],
    [0x70, PUBREL_CODES, 'MQTT-3.7.2-1'],
  ];
  for (const [first, valid, specId] of ACKS) {
    const name = PacketTypeName[(first >> 4) as PacketType];
    test(`[${specId}] ${name} with a reason code outside its table is malformed`, () => {
      for (const code of invalidCodes(valid)) {
        const codeHex = code.toString(16).padStart(2, '0');
        assertRejected(hex(`${first.toString(16)} 03 0001 ${codeHex}`), 5, malformed(specId));
      }
      for (const code of valid) {
        const codeHex = code.toString(16).padStart(2, '0');
        assert.equal(
          (decodeOk(hex(`${first.toString(16)} 04 0001 ${codeHex} 00`), 5) as { reasonCode: number })
            .reasonCode,
          code,
        );
      }
    });

    test(`[MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1]) ${name} with packet identifier 0 is malformed`, () => {
      assertRejected(hex(`${first.toString(16)} 02 0000`), 4, malformed('MQTT-2.2.1-3'));
      assertRejected(hex(`${first.toString(16)} 02 0000`), 5, malformed('MQTT-2.2.1-3'));
    });

    test(`${name}: trailing bytes are malformed, a short body runs past the end`, () => {
      const f = first.toString(16);
      assertRejected(hex(`${f} 03 0001 00`), 4, malformed());
      assertRejected(hex(`${f} 05 0001 00 00 ff`), 5, malformed());
      assertRejected(hex(`${f} 01 00`), 4, malformed());
      assertRejected(hex(`${f} 05 0001 00 05 1f`), 5, malformed());
    });
  }
});

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK

cases('SUBSCRIBE', [
  {
    name: '[MQTT-3.8.3-2] (3.1.1: [MQTT-3.8.3-3]) a SUBSCRIBE without topic filters is a protocol error',
    version: 4,
    bytes: hex('82 02 0001'),
    ...protocol('MQTT-3.8.3-2'),
  },
  {
    name: '[MQTT-3.8.3-2] a 5.0 SUBSCRIBE without topic filters is a protocol error',
    version: 5,
    bytes: hex('82 03 0001 00'),
    ...protocol('MQTT-3.8.3-2'),
  },
  {
    name: '[MQTT-3.8.3-4] (3.1.1) requested QoS 3 is malformed',
    version: 4,
    bytes: frame(0x82, `0001 ${s('a')} 03`),
    ...malformed('MQTT-3.8.3-4'),
  },
  {
    name: '[MQTT-3.8.3-4] (3.1.1) reserved subscription option bits (7-2) set are malformed',
    version: 4,
    bytes: frame(0x82, `0001 ${s('a')} 04`),
    ...malformed('MQTT-3.8.3-4'),
  },
  {
    name: 'a 5.0 maximum QoS of 3 is a protocol error (3.8.3.1, no statement id)',
    version: 5,
    bytes: frame(0x82, `0001 00 ${s('a')} 03`),
    ...protocol(),
  },
  {
    name: '[MQTT-3.8.3-5] reserved subscription option bits (7-6) set are malformed',
    version: 5,
    bytes: frame(0x82, `0001 00 ${s('a')} 40`),
    ...malformed('MQTT-3.8.3-5'),
  },
  {
    name: '[MQTT-3.8.3-5] reserved subscription option bit 7 set is malformed',
    version: 5,
    bytes: frame(0x82, `0001 00 ${s('a')} 80`),
    ...malformed('MQTT-3.8.3-5'),
  },
  {
    name: 'retain handling 3 is a protocol error (3.8.3.1, no statement id)',
    version: 5,
    bytes: frame(0x82, `0001 00 ${s('a')} 30`),
    ...protocol(),
  },
  {
    name: '[MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1]) a SUBSCRIBE with packet identifier 0 is malformed',
    version: 4,
    bytes: frame(0x82, `0000 ${s('a')} 00`),
    ...malformed('MQTT-2.2.1-3'),
  },
  {
    name: 'a topic filter without its subscription options is malformed',
    version: 4,
    bytes: frame(0x82, `0001 ${s('a')}`),
    ...malformed(),
  },
  {
    name: 'a topic filter running past the end of the packet is malformed',
    version: 4,
    bytes: frame(0x82, '0001 0004 61'),
    ...malformed(),
  },
]);

cases('UNSUBSCRIBE', [
  {
    name: '[MQTT-3.10.3-2] an UNSUBSCRIBE without topic filters is a protocol error',
    version: 4,
    bytes: hex('a2 02 0001'),
    ...protocol('MQTT-3.10.3-2'),
  },
  {
    name: '[MQTT-3.10.3-2] a 5.0 UNSUBSCRIBE without topic filters is a protocol error',
    version: 5,
    bytes: hex('a2 03 0001 00'),
    ...protocol('MQTT-3.10.3-2'),
  },
  {
    name: '[MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1]) an UNSUBSCRIBE with packet identifier 0 is malformed',
    version: 5,
    bytes: frame(0xa2, `0000 00 ${s('a')}`),
    ...malformed('MQTT-2.2.1-3'),
  },
  {
    name: 'a topic filter running past the end of the packet is malformed',
    version: 4,
    bytes: frame(0xa2, '0001 0002 61'),
    ...malformed(),
  },
]);

cases('SUBACK and UNSUBACK', [
  {
    name: 'a SUBACK without reason codes is a protocol error',
    version: 4,
    bytes: hex('90 02 0001'),
    ...protocol(),
  },
  {
    name: 'a 5.0 UNSUBACK without reason codes is a protocol error',
    version: 5,
    bytes: hex('b0 03 0001 00'),
    ...protocol(),
  },
  {
    name: 'a 3.1.1 UNSUBACK with a payload is malformed',
    version: 4,
    bytes: hex('b0 03 0001 00'),
    ...malformed(),
  },
]);

// ---------------------------------------------------------------------------------------------
// PINGREQ, PINGRESP, DISCONNECT, AUTH

cases('PINGREQ, PINGRESP, DISCONNECT, AUTH', [
  { name: 'a PINGREQ with a body is malformed', version: 4, bytes: hex('c0 01 00'), ...malformed() },
  { name: 'a PINGRESP with a body is malformed', version: 5, bytes: hex('d0 02 00 00'), ...malformed() },
  { name: 'a 3.1.1 DISCONNECT with a body is malformed', version: 4, bytes: hex('e0 01 00'), ...malformed() },
  {
    name: 'a DISCONNECT property not allowed there (Topic Alias) is malformed',
    version: 5,
    bytes: frame(0xe0, `00 ${props('23 0001')}`),
    ...malformed(),
  },
  {
    name: 'trailing bytes after the DISCONNECT properties are malformed',
    version: 5,
    bytes: hex('e0 03 00 00 ff'),
    ...malformed(),
  },
  {
    name: 'an AUTH property not allowed there (Session Expiry Interval) is malformed',
    version: 5,
    bytes: frame(0xf0, `18 ${props(`15 ${s('m')} 11 00000001`)}`),
    ...malformed(),
  },
  {
    name: 'an Authentication Method twice in AUTH is a protocol error',
    version: 5,
    bytes: frame(0xf0, `18 ${props(`15 ${s('m')} 15 ${s('n')}`)}`),
    ...protocol(),
  },
]);

describe('DISCONNECT and AUTH reason codes', () => {
  test('[MQTT-3.14.2-1] a DISCONNECT with a reason code outside its table is malformed', () => {
    for (const code of invalidCodes(DISCONNECT_CODES)) {
      assertRejected(Buffer.from([0xe0, 1, code]), 5, malformed('MQTT-3.14.2-1'));
    }
    for (const code of DISCONNECT_CODES) {
      assert.deepEqual(decodeOk(Buffer.from([0xe0, 1, code]), 5), {
        type: PacketType.Disconnect,
        reasonCode: code,
        properties: null,
      });
    }
  });

  test('[MQTT-3.15.2-1] an AUTH with a reason code outside its table is malformed', () => {
    for (const code of invalidCodes(AUTH_CODES)) {
      assertRejected(Buffer.from([0xf0, 1, code]), 5, malformed('MQTT-3.15.2-1'));
    }
    for (const code of AUTH_CODES) {
      assert.equal((decodeOk(Buffer.from([0xf0, 1, code]), 5) as { reasonCode: number }).reasonCode, code);
    }
  });
});

describe('after an error', () => {
  test('valid packets before a malformed one in the same chunk are delivered first', () => {
    const decoder = new Decoder({ version: 4 });
    const seen: Packet[] = [];
    const stream = Buffer.concat([hex('c0 00'), hex('d0 00'), hex('38 03 0001 61')]);
    assertProtocolError(
      () => decoder.feed(stream, { onPacket: (p) => seen.push(p) }),
      malformed('MQTT-3.3.1-2'),
      'third packet',
    );
    assert.deepEqual(seen, [{ type: PacketType.Pingreq }, { type: PacketType.Pingresp }]);
  });
});
