/**
 * Conformance 09: handling errors (MQTT 5.0 sections 2.1.3, 2.2.1, 4.13; MQTT 3.1.1 sections
 * 2.2.2, 2.3.1, 4.8), over raw sockets, after a successful CONNECT.
 *
 * A 5.0 client gets a DISCONNECT with the reason code (0x81 malformed packet, 0x82 protocol
 * error), then the connection is closed [MQTT-4.13.1-1] [MQTT-4.13.2-1]; a 3.1.1 client is just
 * closed [MQTT-4.8.0-1 (3.1.1)]. Also: the variable byte integers the broker writes are as short
 * as they can be [MQTT-1.5.5-1].
 *
 * Test names cite the MQTT 5.0 statement first and the MQTT 3.1.1 one in brackets where its
 * number differs. One broker for the file, default settings.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReasonCode } from '../../src/protocol/index.js';
import { frame, str } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import { connect, expectRefusedAndClosed, quiet, u16, v5 } from '../helpers/conformance.js';
import { props, publishFrame } from '../helpers/mqtt5.js';

const NAME = { 4: '3.1.1', 5: '5.0' } as const;
const VERSIONS = [4, 5] as const;
const none = Buffer.alloc(0);

interface Bad {
  name: string;
  bytes: (v5: boolean) => Buffer;
  /** The reason code of the 5.0 DISCONNECT. */
  code: number;
  only?: 5;
}

const BAD: Bad[] = [
  {
    name: '[MQTT-2.1.3-1] (3.1.1 [MQTT-2.2.2-1] [MQTT-2.2.2-2]) PUBACK with flags 0001',
    bytes: () => frame(0x41, u16(1)),
    code: ReasonCode.MalformedPacket,
  },
  {
    name: '[MQTT-2.1.3-1] (3.1.1 [MQTT-2.2.2-1] [MQTT-2.2.2-2]) PUBREC with flags 1000',
    bytes: () => frame(0x58, u16(1)),
    code: ReasonCode.MalformedPacket,
  },
  {
    name: '[MQTT-2.1.3-1] (3.1.1 [MQTT-2.2.2-1] [MQTT-2.2.2-2]) PUBCOMP with flags 0010',
    bytes: () => frame(0x72, u16(1)),
    code: ReasonCode.MalformedPacket,
  },
  {
    name: '[MQTT-2.1.3-1] (3.1.1 [MQTT-2.2.2-1] [MQTT-2.2.2-2]) PINGREQ with flags 0001',
    bytes: () => Buffer.from([0xc1, 0x00]),
    code: ReasonCode.MalformedPacket,
  },
  {
    name: '[MQTT-3.6.1-1] PUBREL with flags 0000',
    bytes: () => frame(0x60, u16(1)),
    code: ReasonCode.MalformedPacket,
  },
  {
    name: '[MQTT-3.8.1-1] SUBSCRIBE with flags 0000',
    bytes: (v5) => frame(0x80, u16(1), v5 ? props() : none, str('e/t'), Buffer.from([0])),
    code: ReasonCode.MalformedPacket,
  },
  {
    name: '[MQTT-3.10.1-1] UNSUBSCRIBE with flags 0000',
    bytes: (v5) => frame(0xa0, u16(1), v5 ? props() : none, str('e/t')),
    code: ReasonCode.MalformedPacket,
  },
  {
    name: '[MQTT-3.15.1-1] AUTH with flags 0001',
    bytes: () => frame(0xf1, Buffer.from([0x19]), props()),
    code: ReasonCode.MalformedPacket,
    only: 5,
  },
  {
    name: '[MQTT-2.2.1-3] (3.1.1 [MQTT-2.3.1-1]) a QoS 1 PUBLISH with packet identifier 0',
    bytes: (v5) => frame(0x32, str('e/t'), u16(0), v5 ? props() : none, Buffer.from('x')),
    code: ReasonCode.MalformedPacket,
  },
  {
    name: '[MQTT-2.2.1-3] (3.1.1 [MQTT-2.3.1-1]) a SUBSCRIBE with packet identifier 0',
    bytes: (v5) => frame(0x82, u16(0), v5 ? props() : none, str('e/t'), Buffer.from([0])),
    code: ReasonCode.MalformedPacket,
  },
  {
    name: '[MQTT-2.2.1-3] (3.1.1 [MQTT-2.3.1-1]) an UNSUBSCRIBE with packet identifier 0',
    bytes: (v5) => frame(0xa2, u16(0), v5 ? props() : none, str('e/t')),
    code: ReasonCode.MalformedPacket,
  },
  {
    name: '[MQTT-4.13.1-1] (3.1.1 [MQTT-4.8.0-1]) a packet only a server sends (CONNACK)',
    bytes: (v5) => (v5 ? Buffer.from([0x20, 0x03, 0x00, 0x00, 0x00]) : Buffer.from([0x20, 0x02, 0x00, 0x00])),
    code: ReasonCode.ProtocolError,
  },
  {
    name: '[MQTT-4.13.1-1] (3.1.1 [MQTT-4.8.0-1]) a packet only a server sends (SUBACK)',
    bytes: () => frame(0x90, u16(1), Buffer.from([0x00])),
    code: ReasonCode.ProtocolError,
  },
];

describe('conformance 09: errors', () => {
  const b = brokerForSuite();

  for (const version of VERSIONS) {
    for (const c of BAD) {
      if (c.only !== undefined && c.only !== version) continue;
      const what = version === 5 ? `DISCONNECT 0x${c.code.toString(16)}, then closed` : 'closed';
      test(`[MQTT-4.13.2-1] ${c.name} (${NAME[version]}): ${what}`, async () => {
        const conn = await connect(b.port, { version, clientId: `err-${version}` });
        conn.send(c.bytes(version === 5));
        const code = await expectRefusedAndClosed(conn.raw);
        assert.equal(code, version === 5 ? c.code : null);
      });
    }
  }

  test('[MQTT-1.5.5-1] the broker writes the remaining length in the fewest bytes: 127 in one, 128 in two', async () => {
    const sub = await v5(b.port, 'err-varint');
    await sub.subscribe('e/v', 0);
    const pub = await v5(b.port, 'err-varint-pub');
    // 30 | remaining length | 00 03 'e/v' | 00 (properties) | payload: 2 + 3 + 1 + n bytes
    for (const [n, prefix] of [
      [121, '307f'],
      [122, '308001'],
    ] as const) {
      pub.send(publishFrame({ topic: 'e/v', props: [], payload: 'x'.repeat(n) }));
      const bytes = await sub.raw.readFrame();
      assert.equal(bytes.subarray(0, prefix.length / 2).toString('hex'), prefix, `payload of ${n} bytes`);
    }
    await quiet(pub.raw);
  });
});
