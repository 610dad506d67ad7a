/**
 * The decoder is resumable: any chunking of the byte stream gives the same packets (STYLE.md,
 * habit 1). Each frame is split in two at every byte offset, fed byte by byte, and several
 * frames are concatenated and cut at random places. After every chunk the decoder must hold
 * exactly the bytes of the one incomplete frame, never more (so never more than one packet).
 *
 * Large frames cover the paths a small one cannot: a 70 KB PUBLISH (3-byte remaining length,
 * assembled in the pending buffer) and a 2 MB one (4-byte remaining length) whose fixed header is
 * itself split at every position.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  Decoder,
  encode,
  type Packet,
  PacketType,
  PacketTypeName,
  type ProtocolVersion,
  type PublishPacket,
} from '../../../src/protocol/index.js';
import { anyPacketArb, examplePackets, VERSION_NAME, VERSIONS } from '../../helpers/arbitraries.js';

/**
 * Feeds `stream` cut at `cuts` (sorted offsets) and returns the packets. After each chunk it
 * checks that `buffered` is exactly the received part of the frame in progress.
 */
function feedSplit(
  stream: Buffer,
  cuts: number[],
  frameStarts: number[],
  version: ProtocolVersion,
): Packet[] {
  const decoder = new Decoder({ version });
  const out: Packet[] = [];
  const sink = { onPacket: (p: Packet) => out.push(p) };
  let from = 0;
  for (const to of [...cuts, stream.length]) {
    decoder.feed(stream.subarray(from, to), sink);
    from = to;
    assertBuffered(decoder, to, frameStarts);
  }
  return out;
}

/** `frameStarts` lists where each frame begins, then the stream length. */
function assertBuffered(decoder: Decoder, offset: number, frameStarts: number[]): void {
  let start = 0;
  let end = 0;
  for (let i = 0; i < frameStarts.length; i++) {
    if (frameStarts[i]! <= offset) {
      start = frameStarts[i]!;
      end = frameStarts[i + 1] ?? start;
    }
  }
  assert.equal(decoder.buffered, offset - start, `bytes held after offset ${offset}`);
  assert.ok(decoder.buffered <= Math.max(end - start, 0), 'never more than the frame in progress');
}

function frameStartsOf(frames: Buffer[]): number[] {
  const starts = [0];
  for (const f of frames) starts.push(starts[starts.length - 1]! + f.length);
  return starts;
}

const range = (from: number, to: number, step = 1): number[] => {
  const out: number[] = [];
  for (let i = from; i < to; i += step) out.push(i);
  return out;
};

/** Compares packets; large payloads by Buffer.equals, which reports less on failure but is fast. */
function assertSamePackets(actual: Packet[], expected: Packet[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: packet count`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (e.type === PacketType.Publish && e.payload.length > 4096 && a.type === PacketType.Publish) {
      assert.ok(a.payload.equals(e.payload), `${what}: payload of packet ${i}`);
      assert.deepEqual({ ...a, payload: null }, { ...e, payload: null }, `${what}: packet ${i}`);
    } else {
      assert.deepEqual(a, e, `${what}: packet ${i}`);
    }
  }
}

function bigPublish(payloadSize: number): PublishPacket {
  return {
    type: PacketType.Publish,
    topic: 'bulk/é/😀',
    payload: Buffer.from(Uint8Array.from({ length: payloadSize }, (_, i) => i * 7)),
    qos: 1,
    retain: false,
    dup: false,
    packetId: 0x0a0b,
    properties: null,
  };
}

for (const version of VERSIONS) {
  describe(`split frames, ${VERSION_NAME[version]}`, () => {
    const medium: PublishPacket = {
      ...bigPublish(300),
      properties: version === 5 ? { topicAlias: 9 } : null,
    };
    const packets = [...examplePackets(version), medium];

    for (const packet of packets) {
      const frame = encode(packet, version);
      const label = `${PacketTypeName[packet.type]} (${frame.length} bytes)`;
      const starts = [0, frame.length];

      test(`${label}: split in two at every offset`, () => {
        for (let cut = 0; cut <= frame.length; cut++) {
          assertSamePackets(feedSplit(frame, [cut], starts, version), [packet], `cut at ${cut}`);
        }
      });

      test(`${label}: byte by byte`, () => {
        assertSamePackets(
          feedSplit(frame, range(1, frame.length), starts, version),
          [packet],
          'byte by byte',
        );
      });
    }

    test('medium PUBLISH has a 2-byte remaining length', () => {
      const frame = encode(medium, version);
      assert.equal(frame[1]! & 0x80, 0x80);
      assert.equal(frame[2]! & 0x80, 0);
    });

    test('several frames concatenated and cut at random places', () => {
      fc.assert(
        fc.property(
          fc.array(anyPacketArb(version), { minLength: 1, maxLength: 8 }),
          fc.array(fc.nat(), { maxLength: 12 }),
          (sent, rawCuts) => {
            const frames = sent.map((p) => encode(p, version));
            const stream = Buffer.concat(frames);
            const cuts = rawCuts.map((n) => n % (stream.length + 1)).sort((a, b) => a - b);
            assertSamePackets(feedSplit(stream, cuts, frameStartsOf(frames), version), sent, 'random cuts');
          },
        ),
        { numRuns: 300 },
      );
    });

    test('a 70 KB PUBLISH (3-byte remaining length) arrives in two chunks at many offsets', () => {
      const packet = bigPublish(70 * 1024);
      const frame = encode(packet, version);
      assert.equal(frame[3]! & 0x80, 0, 'a 3-byte remaining length');
      assert.equal(frame[2]! & 0x80, 0x80);
      const starts = [0, frame.length];
      // Every offset near the fixed header, topic and packet id and near the end; every 61st
      // in the payload (every offset of 70 KB would copy 5 GB).
      const cuts = [
        ...range(0, 512),
        ...range(512, frame.length - 512, 61),
        ...range(frame.length - 512, frame.length + 1),
      ];
      for (const cut of cuts)
        assertSamePackets(feedSplit(frame, [cut], starts, version), [packet], `cut at ${cut}`);
    });

    test('a 70 KB PUBLISH byte by byte, between two small frames', () => {
      const packet = bigPublish(70 * 1024);
      const sent: Packet[] = [{ type: PacketType.Pingreq }, packet, { type: PacketType.Pingresp }];
      const frames = sent.map((p) => encode(p, version));
      const stream = Buffer.concat(frames);
      assertSamePackets(
        feedSplit(stream, range(1, stream.length), frameStartsOf(frames), version),
        sent,
        'bytes',
      );
    });
  });
}

describe('split frames, large and cross-frame cases', () => {
  test('a 2 MB PUBLISH (4-byte remaining length) with its fixed header split at every position', () => {
    const packet = bigPublish(2_100_000);
    const frame = encode(packet, 4);
    assert.equal(frame[4]! & 0x80, 0, 'a 4-byte remaining length');
    assert.equal(frame[3]! & 0x80, 0x80);
    const starts = [0, frame.length];
    for (let cut = 0; cut <= 8; cut++) {
      assertSamePackets(feedSplit(frame, [cut], starts, 4), [packet], `cut at ${cut}`);
    }
    // The header one byte at a time, then the body in 64 KB pieces.
    const cuts = [...range(1, 8), ...range(8, frame.length, 65_536)];
    assertSamePackets(feedSplit(frame, cuts, starts, 4), [packet], 'header bytes, body pieces');
  });

  test('the decoder follows a 5.0 CONNECT even when the next frame is split (AUTH after CONNECT)', () => {
    const [connect] = examplePackets(5);
    const sent: Packet[] = [
      connect!,
      { type: PacketType.Auth, reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-1' } },
      { type: PacketType.Puback, packetId: 3, reasonCode: 0x10, properties: null },
    ];
    const frames = sent.map((p) => encode(p, 5));
    const stream = Buffer.concat(frames);
    // The decoder starts at 3.1.1 and switches on the CONNECT.
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new Decoder();
      const out = [...decoder.decodeAll(stream.subarray(0, cut)), ...decoder.decodeAll(stream.subarray(cut))];
      assertSamePackets(out, sent, `cut at ${cut}`);
      assert.equal(decoder.version, 5);
    }
  });
});
