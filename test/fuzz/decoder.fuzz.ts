/**
 * Fuzz campaigns for the decoder, run by decoder.fuzz.test.ts inside a worker thread so that a
 * hang can be caught and reported (a synchronous infinite loop would otherwise stall the runner).
 *
 * Each input is fed to a fresh Decoder in a random chunking. A run may end only in packets or a
 * ProtocolError with one of the reason codes the decoder uses; any other exception (TypeError,
 * RangeError, an assertion) fails the campaign with fast-check's counterexample and seed. After
 * every chunk the decoder must hold at most maxPacketSize bytes, and every packet it emits must
 * survive encode -> decode unchanged (so it is a packet our own encoder can express).
 *
 * Campaigns:
 *   - random-bytes: arbitrary byte strings;
 *   - typed-garbage: a valid first byte and remaining length, then random body bytes, to get past
 *     the fixed header into the per-type decoders;
 *   - mutated-frames: streams of valid frames with bytes flipped, overwritten, inserted, deleted,
 *     duplicated or cut off.
 */

import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Decoder,
  encode,
  type Packet,
  PacketType,
  ProtocolError,
  type ProtocolVersion,
  ReasonCode,
} from '../../src/protocol/index.js';
import { anyPacketArb, packetTypesFor } from '../helpers/arbitraries.js';

export type CampaignName = 'random-bytes' | 'typed-garbage' | 'mutated-frames' | 'spin';

export interface CampaignOptions {
  numRuns: number;
  seed?: number;
}

export interface CampaignStats {
  runs: number;
  packets: number;
  /** ProtocolErrors by reason code (hex). */
  errors: Record<string, number>;
}

/** The reason codes the decoder may throw. */
const DECODER_CODES = new Set<number>([
  ReasonCode.MalformedPacket,
  ReasonCode.ProtocolError,
  ReasonCode.UnsupportedProtocolVersion,
  ReasonCode.TopicNameInvalid,
  ReasonCode.PacketTooLarge,
]);

const version = fc.constantFrom<ProtocolVersion>(3, 4, 5);
const maxPacketSize = fc.constantFrom(16, 64, 1024, 65_536);
/** Cut points (taken modulo the input length) or byte-by-byte feeding. */
const chunking = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.nat(), { maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constant('bytes' as const) },
);

function cutsFor(length: number, chunks: number[] | 'bytes'): number[] {
  if (chunks === 'bytes') return Array.from({ length: Math.max(length - 1, 0) }, (_, i) => i + 1);
  return chunks.map((n) => n % (length + 1)).sort((a, b) => a - b);
}

/** Feeds `input` in chunks and checks everything a run may end in. */
function check(
  input: Buffer,
  chunks: number[] | 'bytes',
  startVersion: ProtocolVersion,
  max: number,
  stats: CampaignStats,
): void {
  stats.runs++;
  const decoder = new Decoder({ version: startVersion, maxPacketSize: max });
  const decoded: Array<{ packet: Packet; version: ProtocolVersion }> = [];
  const sink = { onPacket: (packet: Packet) => decoded.push({ packet, version: decoder.version }) };
  let from = 0;
  try {
    for (const to of [...cutsFor(input.length, chunks), input.length]) {
      decoder.feed(input.subarray(from, to), sink);
      from = to;
      assert.ok(decoder.buffered <= max, `buffered ${decoder.buffered} > maxPacketSize ${max}`);
      assert.ok(decoder.buffered <= to, 'buffered more bytes than were fed');
    }
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    assert.ok(DECODER_CODES.has(err.reasonCode), `unexpected reason code 0x${err.reasonCode.toString(16)}`);
    const key = `0x${err.reasonCode.toString(16)}`;
    stats.errors[key] = (stats.errors[key] ?? 0) + 1;
  }
  stats.packets += decoded.length;
  for (const { packet, version: v } of decoded) {
    const again = new Decoder({ version: v }).decodeAll(encode(packet, v));
    assert.deepEqual(again, [packet], 'a decoded packet survives encode -> decode');
  }
}

/** A first byte with valid type and flags for the version. */
function validFirstByte(v: ProtocolVersion): fc.Arbitrary<number> {
  return fc.constantFrom(...packetTypesFor(v)).chain((type) => {
    if (type === PacketType.Publish)
      return fc.integer({ min: 0x30, max: 0x3f }).filter((b) => (b & 0x06) !== 0x06);
    const flags =
      type === PacketType.Pubrel || type === PacketType.Subscribe || type === PacketType.Unsubscribe ? 2 : 0;
    return fc.constant((type << 4) | flags);
  });
}

function withHeader(first: number, body: Uint8Array): Buffer {
  const len: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    len.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...len]), body]);
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; value: number }
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number; length: number }
  | { kind: 'truncate'; at: number };

/** Any byte, often one that means something to MQTT: NUL, '#', '+', '/', UTF-8 lead and trail bytes. */
const byte = fc.oneof(
  fc.integer({ min: 0, max: 255 }),
  fc.constantFrom(0x00, 0x23, 0x2b, 0x2f, 0x7f, 0x80, 0xbf, 0xc0, 0xed, 0xef, 0xf4, 0xff),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: byte }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: byte }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('duplicate' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 16 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(input: Buffer, mutations: Mutation[]): Buffer {
  let bytes = [...input];
  for (const m of mutations) {
    if (bytes.length === 0) break;
    const at = m.at % bytes.length;
    switch (m.kind) {
      case 'flip':
        bytes[at] = bytes[at]! ^ (1 << m.bit);
        break;
      case 'set':
        bytes[at] = m.value;
        break;
      case 'insert':
        bytes.splice(at, 0, m.value);
        break;
      case 'delete':
        bytes.splice(at, 1);
        break;
      case 'duplicate':
        bytes.splice(at, 0, ...bytes.slice(at, at + m.length));
        break;
      case 'truncate':
        bytes = bytes.slice(0, at);
        break;
    }
  }
  return Buffer.from(bytes);
}

export function runCampaign(name: CampaignName, options: CampaignOptions): CampaignStats {
  const stats: CampaignStats = { runs: 0, packets: 0, errors: {} };
  const params = { numRuns: options.numRuns, ...(options.seed === undefined ? {} : { seed: options.seed }) };
  switch (name) {
    case 'random-bytes':
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 300 }),
          chunking,
          version,
          maxPacketSize,
          (bytes, chunks, v, max) => check(Buffer.from(bytes), chunks, v, max, stats),
        ),
        params,
      );
      break;
    case 'typed-garbage': {
      const frame = version.chain((v) =>
        fc
          .tuple(validFirstByte(v), fc.uint8Array({ maxLength: 80 }))
          .map(([first, body]) => ({ v, bytes: withHeader(first, body) })),
      );
      fc.assert(
        fc.property(frame, chunking, maxPacketSize, ({ v, bytes }, chunks, max) =>
          check(bytes, chunks, v, max, stats),
        ),
        params,
      );
      break;
    }
    case 'mutated-frames': {
      const stream = version.chain((v) =>
        fc
          .array(anyPacketArb(v), { minLength: 1, maxLength: 4 })
          .map((packets) => ({ v, bytes: Buffer.concat(packets.map((p) => encode(p, v))) })),
      );
      const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });
      fc.assert(
        fc.property(stream, mutations, chunking, ({ v, bytes }, ms, chunks) =>
          check(mutate(bytes, ms), chunks, v, 65_536, stats),
        ),
        params,
      );
      break;
    }
    case 'spin':
      // Stands for a decoder that never returns: the test checks that the watchdog catches it.
      for (;;) stats.runs++;
  }
  return stats;
}
