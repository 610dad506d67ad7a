/**
 * encode -> decode round trips: for every packet type in every version, a generated valid
 * packet comes back deeply equal (Buffers compared by content), as exactly one packet, with
 * nothing left buffered. Also the PUBLISH hot-path helpers against the plain encoder.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  Decoder,
  encode,
  encodePublishFields,
  type Packet,
  PacketType,
  PacketTypeName,
  type ProtocolVersion,
  publishPacketIdOffset,
  withPacketId,
} from '../../../src/protocol/index.js';
import {
  examplePackets,
  packetArb,
  packetTypesFor,
  publishArb,
  VERSION_NAME,
  VERSIONS,
} from '../../helpers/arbitraries.js';

const RUNS = 300;

function decodeOne(bytes: Buffer, version: ProtocolVersion): Packet {
  const decoder = new Decoder({ version });
  const packets = decoder.decodeAll(bytes);
  assert.equal(packets.length, 1, 'one frame decodes to one packet');
  assert.equal(decoder.buffered, 0, 'nothing is left buffered after a whole frame');
  return packets[0]!;
}

for (const version of VERSIONS) {
  describe(`round trip, ${VERSION_NAME[version]}`, () => {
    for (const type of packetTypesFor(version)) {
      test(`${PacketTypeName[type]}: decode(encode(p)) deep-equals p`, () => {
        fc.assert(
          fc.property(packetArb(type, version), (packet) => {
            const bytes = encode(packet, version);
            assert.equal(bytes[0]! >> 4, type, 'the fixed header carries the packet type');
            assert.deepEqual(decodeOne(bytes, version), packet);
          }),
          { numRuns: RUNS },
        );
      });
    }

    test('the hand-written example of each type round-trips', () => {
      for (const packet of examplePackets(version)) {
        assert.deepEqual(decodeOne(encode(packet, version), version), packet, PacketTypeName[packet.type]);
      }
    });
  });
}

describe('PUBLISH hot-path helpers', () => {
  for (const version of VERSIONS) {
    const v5 = version === 5;

    test(`${VERSION_NAME[version]}: encodePublishFields produces the same bytes as encode`, () => {
      fc.assert(
        fc.property(publishArb(version), (p) => {
          const fields = encodePublishFields(
            p.topic,
            p.payload,
            p.qos,
            p.retain,
            p.dup,
            p.packetId,
            p.properties,
            v5,
          );
          assert.deepEqual(fields, encode(p, version));
        }),
        { numRuns: RUNS },
      );
    });

    test(`${VERSION_NAME[version]}: withPacketId re-identifies a QoS 1/2 frame and leaves the source alone`, () => {
      const qos12 = publishArb(version).filter((p) => p.qos > 0);
      const id = fc.integer({ min: 1, max: 0xffff });
      fc.assert(
        fc.property(qos12, id, fc.boolean(), (p, newId, dup) => {
          const frame = encode(p, version);
          const before = Buffer.from(frame);
          const copy = withPacketId(frame, newId, dup);
          assert.notEqual(copy, frame, 'a new buffer');
          assert.deepEqual(frame, before, 'the source frame is unchanged');
          assert.equal(copy.readUInt16BE(publishPacketIdOffset(frame)), newId);
          assert.deepEqual(decodeOne(copy, version), { ...p, packetId: newId, dup: p.dup || dup });
        }),
        { numRuns: RUNS },
      );
    });
  }

  test('withPacketId works with a 3-byte remaining length (70 KB payload)', () => {
    const p: Packet = {
      type: PacketType.Publish,
      topic: 'big/é',
      payload: Buffer.alloc(70 * 1024, 0xab),
      qos: 2,
      retain: true,
      dup: false,
      packetId: 1,
      properties: { userProperties: [['k', 'v']] },
    };
    const frame = encode(p, 5);
    assert.equal(frame[1]! & 0x80, 0x80, 'multi-byte remaining length');
    assert.deepEqual(decodeOne(withPacketId(frame, 0xbeef, true), 5), { ...p, packetId: 0xbeef, dup: true });
  });
});
