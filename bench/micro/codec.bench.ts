/**
 * Codec micro-benchmark: Aviary's MQTT codec (src/protocol) against mqtt-packet, the codec of
 * MQTT.js and Aedes, on the same bytes and the same logical packets.
 *
 *   npm run bench:codec                        # everything, a minute to a minute and a half
 *   npm run bench:codec -- --filter publish    # cases whose name contains "publish"
 *   npm run bench:codec -- --quick             # fewer, shorter rounds (a smoke run)
 *   npm run bench:codec -- --json out.json     # also write the raw per-round numbers
 *   npm run bench:codec -- --merge a.json b.json c.json
 *                                              # one table from several runs: the median of
 *                                              # each task's per-run medians
 *   npm run bench:codec -- --pool-size 8192    # run with another Buffer.poolSize: 8192 is Node's
 *                                              # default; the default here is 65536, what
 *                                              # `aviary start` sets (src/cli/aviary.ts). Both
 *                                              # codecs allocate with Buffer.allocUnsafe, so the
 *                                              # pool is the same for both.
 *
 * What is compared
 *   decode  `new Decoder({ version }).feed(frame, sink)` vs mqtt-packet's
 *           `parser({ protocolVersion }).parse(frame)` with a 'packet' listener. Both get the
 *           frame our encoder produced (checked below to be what mqtt-packet produces too, up
 *           to property order). "stream" cases feed one buffer holding 100 frames; their ops/s
 *           counts packets, not calls.
 *   encode  `encode(packet, version)` (and, for PUBLISH, the broker's hot path
 *           `encodePublishFields`) vs mqtt-packet's `generate(packet, { protocolVersion })`.
 *           All three return one contiguous Buffer holding the whole frame.
 *   header  ("no-copy encode", PUBLISH only) `encodePublishHeader(...)`, which encodes
 *           everything but the payload, then `sink.write(header); sink.write(payload)`, as the
 *           broker does for large payloads, vs mqtt-packet's no-copy
 *           `writeToStream(packet, sink, { protocolVersion })`, which makes several
 *           sink.write calls per packet (fixed header byte, remaining length, topic length,
 *           topic, packet id, each property piece, payload). Both write to the same kind of
 *           sink (ChunkSink), whose write does the same trivial work per chunk. Checked below:
 *           each side's chunks, concatenated, are the bytes of its own contiguous encoder, and
 *           the payload chunk is the payload Buffer itself.
 *
 * How it is measured
 *   Each task runs its own loop of n operations, n calibrated so that a round takes about
 *   --round-ms. Every task is warmed up first, all of them before any measurement, so the
 *   codecs are measured in the mixed steady state of a broker that sees every packet type, not
 *   in a monomorphic best case. Then --rounds rounds run; in each round every task runs once,
 *   in an order rotated per round, so slow drift and background load hit both codecs alike,
 *   each run preceded by a young-generation collection so that it does not pay for the
 *   previous task's garbage (--gc none|minor|full; minor is the default: a full collection
 *   also hands memory back, and the next task then pays to get it again).
 *   The figure is the median wall-clock ops/s over rounds; "iqr" is the interquartile range
 *   over the median, a noise indicator. Each round also records the process's CPU time
 *   (process.cpuUsage: all threads, so GC helper threads count): "CPU ratio" compares ops per
 *   CPU-second, which other processes competing for the cores disturb much less than wall
 *   time. Every result is folded into a checksum that is printed, so no work can be
 *   eliminated. Garbage collection is part of the cost: both codecs allocate a packet object
 *   (decode) or a buffer (encode) per operation.
 *
 * Buffer pool
 *   Buffer.poolSize is 65536 unless --pool-size says otherwise, because the broker command
 *   sets that (the library does not: an application embedding Aviary gets Node's 8192). The
 *   pool size is printed with the results and kept in the --json file; --merge refuses runs
 *   with different pool sizes.
 */

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as mqttPacket from 'mqtt-packet';
import {
  Decoder,
  encode,
  encodePublishFields,
  encodePublishHeader,
  type Packet,
  type PacketSink,
  PacketType,
  type Properties,
  ProtocolVersion,
  type PublishPacket,
  type QoS,
} from '../../src/protocol/index.js';

// ---------------------------------------------------------------------------------------------
// Command line

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    filter: { type: 'string' },
    merge: { type: 'boolean', default: false },
    'pool-size': { type: 'string' },
    rounds: { type: 'string' },
    'round-ms': { type: 'string' },
    'warmup-ms': { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    gc: { type: 'string', default: 'minor' },
  },
});
const ROUNDS = Number(args.rounds ?? (args.quick ? 3 : 9));
const ROUND_MS = Number(args['round-ms'] ?? (args.quick ? 15 : 40));
const WARMUP_MS = Number(args['warmup-ms'] ?? (args.quick ? 30 : 150));
const FILTER = args.filter?.toLowerCase();
/** What `aviary start` sets (src/cli/aviary.ts); Node's default is 8192. */
const BROKER_POOL_SIZE = 64 * 1024;
const POOL_SIZE = Number(args['pool-size'] ?? BROKER_POOL_SIZE);
if (!Number.isInteger(POOL_SIZE) || POOL_SIZE < 8) throw new Error(`bad --pool-size ${args['pool-size']}`);
// Takes effect from the next pool Node creates; the first one (8 KiB, made at start-up) is used
// up long before anything is timed.
Buffer.poolSize = POOL_SIZE;

// ---------------------------------------------------------------------------------------------
// The packets

const V4 = ProtocolVersion.V4;
const V5 = ProtocolVersion.V5;
type Version = typeof V4 | typeof V5;

/** mqtt-packet's packet objects, loosely typed: its typings lag its behaviour in places. */
type TheirPacket = mqttPacket.Packet;

interface Case {
  name: string;
  group: 'CONNECT' | 'PUBLISH' | 'SUBSCRIBE';
  version: Version;
  ours: Packet;
  theirs: TheirPacket;
  /** Frames per decode call (stream cases); encode is not measured for those. */
  frames: number;
}

const CLIENT_ID = 'aviary-bench-client-0001';
const TOPIC = 'sensors/building-7/floor-3/room-12/temperature';

function payloadOf(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

function connectCase(version: Version): Case {
  const v5 = version === V5;
  const willPayload = Buffer.from('{"status":"offline"}');
  const password = Buffer.from('s3cret-passw0rd!');
  const ours: Packet = {
    type: PacketType.Connect,
    protocolName: 'MQTT',
    protocolVersion: version,
    bridge: false,
    clean: true,
    keepalive: 60,
    clientId: CLIENT_ID,
    will: {
      topic: `clients/${CLIENT_ID}/status`,
      payload: willPayload,
      qos: 1,
      retain: true,
      properties: v5
        ? { messageExpiryInterval: 600, contentType: 'application/json', willDelayInterval: 30 }
        : null,
    },
    username: 'bench-user',
    password,
    properties: v5
      ? {
          sessionExpiryInterval: 3600,
          receiveMaximum: 100,
          maximumPacketSize: 1_048_576,
          topicAliasMaximum: 16,
          userProperties: [['client-type', 'bench']],
        }
      : null,
  };
  const theirs = {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: version,
    clean: true,
    keepalive: 60,
    clientId: CLIENT_ID,
    will: {
      topic: `clients/${CLIENT_ID}/status`,
      payload: willPayload,
      qos: 1,
      retain: true,
      ...(v5
        ? {
            properties: {
              willDelayInterval: 30,
              messageExpiryInterval: 600,
              contentType: 'application/json',
            },
          }
        : {}),
    },
    username: 'bench-user',
    password,
    ...(v5
      ? {
          properties: {
            sessionExpiryInterval: 3600,
            receiveMaximum: 100,
            maximumPacketSize: 1_048_576,
            topicAliasMaximum: 16,
            userProperties: { 'client-type': 'bench' },
          },
        }
      : {}),
  } as TheirPacket;
  return {
    name: `CONNECT ${v5 ? '5.0 +props' : '3.1.1'}, will, user/pass`,
    group: 'CONNECT',
    version,
    ours,
    theirs,
    frames: 1,
  };
}

type PublishFlavour = 'plain' | 'props' | 'alias';

const PROPS: Properties = {
  messageExpiryInterval: 3600,
  contentType: 'application/json',
  userProperties: [
    ['trace-id', '4bf92f3577b34da6a3ce929d0e0e4736'],
    ['source', 'gateway-12'],
  ],
};
const THEIR_PROPS = {
  messageExpiryInterval: 3600,
  contentType: 'application/json',
  userProperties: { 'trace-id': '4bf92f3577b34da6a3ce929d0e0e4736', source: 'gateway-12' },
};

function sizeName(size: number): string {
  return size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
}

function publishCase(version: Version, qos: QoS, size: number, flavour: PublishFlavour, frames = 1): Case {
  const payload = payloadOf(size);
  const topic = flavour === 'alias' ? '' : TOPIC;
  const properties: Properties | null =
    flavour === 'props' ? PROPS : flavour === 'alias' ? { topicAlias: 7 } : null;
  const theirProperties = flavour === 'props' ? THEIR_PROPS : flavour === 'alias' ? { topicAlias: 7 } : null;
  const packetId = qos > 0 ? 4242 : 0;
  const ours: PublishPacket = {
    type: PacketType.Publish,
    topic,
    payload,
    qos,
    retain: false,
    dup: false,
    packetId,
    properties,
  };
  const theirs = {
    cmd: 'publish',
    topic,
    payload,
    qos,
    retain: false,
    dup: false,
    ...(qos > 0 ? { messageId: packetId } : {}),
    ...(theirProperties !== null ? { properties: theirProperties } : {}),
  } as TheirPacket;
  const v =
    version === V5
      ? flavour === 'props'
        ? '5.0 +props'
        : flavour === 'alias'
          ? '5.0 alias'
          : '5.0'
      : '3.1.1';
  const name = `${frames > 1 ? `stream ${frames}x ` : ''}PUBLISH ${v} QoS ${qos} ${sizeName(size)}`;
  return { name, group: 'PUBLISH', version, ours, theirs, frames };
}

function subscribeCase(version: Version): Case {
  const v5 = version === V5;
  const filters: Array<[string, QoS]> = [
    ['sensors/+/temperature', 1],
    ['alerts/#', 2],
    [`clients/${CLIENT_ID}/cmd`, 0],
  ];
  const ours: Packet = {
    type: PacketType.Subscribe,
    packetId: 42,
    subscriptions: filters.map(([topicFilter, qos], i) => ({
      topicFilter,
      qos,
      noLocal: v5 && i === 2,
      retainAsPublished: v5 && i === 0,
      retainHandling: v5 && i === 1 ? 1 : 0,
    })),
    properties: v5 ? { subscriptionIdentifiers: [12], userProperties: [['app', 'bench']] } : null,
  };
  const theirs = {
    cmd: 'subscribe',
    messageId: 42,
    subscriptions: filters.map(([topic, qos], i) =>
      v5 ? { topic, qos, nl: i === 2, rap: i === 0, rh: i === 1 ? 1 : 0 } : { topic, qos },
    ),
    ...(v5 ? { properties: { subscriptionIdentifier: 12, userProperties: { app: 'bench' } } } : {}),
  } as TheirPacket;
  return {
    name: `SUBSCRIBE ${v5 ? '5.0 +props' : '3.1.1'}, 3 filters`,
    group: 'SUBSCRIBE',
    version,
    ours,
    theirs,
    frames: 1,
  };
}

function allCases(): Case[] {
  const cases: Case[] = [connectCase(V4), connectCase(V5)];
  for (const version of [V4, V5] as const) {
    for (const qos of [0, 1] as const) {
      for (const size of [16, 1024, 65_536]) {
        cases.push(publishCase(version, qos, size, version === V5 ? 'props' : 'plain'));
      }
    }
  }
  cases.push(publishCase(V5, 0, 16, 'alias'), publishCase(V5, 1, 1024, 'alias'));
  cases.push(subscribeCase(V4), subscribeCase(V5));
  cases.push(
    publishCase(V4, 1, 16, 'plain', 100),
    publishCase(V4, 0, 1024, 'plain', 100),
    publishCase(V5, 1, 16, 'props', 100),
  );
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Checks: both codecs must agree on every case before anything is timed

function fail(c: Case, message: string): never {
  throw new Error(`${c.name}: ${message}`);
}

function decodeOurs(bytes: Buffer, version: Version): Packet[] {
  return new Decoder({ version }).decodeAll(bytes);
}

function decodeTheirs(bytes: Buffer, version: Version): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const p = mqttPacket.parser({ protocolVersion: version });
  p.on('packet', (packet) => out.push(packet as unknown as Record<string, unknown>));
  p.on('error', (err) => {
    throw err;
  });
  p.parse(bytes);
  return out;
}

/**
 * The stream both no-copy encoders write to: a minimal Writable-like sink. Its write does the
 * same trivial work for every chunk, whoever writes it: count it, add its length, keep it.
 * mqtt-packet passes the topic and property strings as strings (their conversion to bytes is
 * left to the stream: for a net.Socket, in its writev); `length` is their byte length here
 * because all strings in these cases are ASCII. The sink has no cork(): writeToStream corks
 * a stream that has one and schedules its uncork with process.nextTick, per packet; the broker
 * corks its sockets too, and neither is encoding work.
 */
class ChunkSink {
  chunks = 0;
  length = 0;
  last: Buffer | string | null = null;
  write(chunk: Buffer | string, _encoding?: string): boolean {
    this.chunks++;
    this.length += chunk.length;
    this.last = chunk;
    return true;
  }
  /** writeToStream reports invalid packets by destroying the stream. */
  destroy(err?: Error): void {
    throw err ?? new Error('the stream was destroyed');
  }
}

/** A sink for the checks: keeps every chunk. */
class CollectingSink extends ChunkSink {
  all: Array<Buffer | string> = [];
  override write(chunk: Buffer | string): boolean {
    this.all.push(chunk);
    return super.write(chunk);
  }
  frame(): Buffer {
    return Buffer.concat(this.all.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
  }
}

function asStream(sink: ChunkSink): NodeJS.WritableStream {
  return sink as unknown as NodeJS.WritableStream;
}

/** The no-copy encoders, once each into a CollectingSink. */
function noCopyFrames(p: PublishPacket, theirs: TheirPacket, version: Version) {
  const ours = new CollectingSink();
  const v5 = version === V5;
  const properties = v5 ? p.properties : null;
  ours.write(
    encodePublishHeader(p.topic, p.payload.length, p.qos, p.retain, p.dup, p.packetId, properties, v5),
  );
  ours.write(p.payload);
  const their = new CollectingSink();
  mqttPacket.writeToStream(theirs, asStream(their), { protocolVersion: version });
  return { ours, theirs: their };
}

/**
 * The no-copy encoders must write the frames the contiguous encoders build: ours the very bytes
 * of encodePublishFields, mqtt-packet's the bytes of its generate (which is writeToStream into an
 * accumulating stream, then a concat). `contiguous` is our frame, already checked against
 * generate's; the decoders' agreement on it is checked in checkedFrame.
 */
function checkNoCopy(c: Case, contiguous: Buffer): void {
  if (c.ours.type !== PacketType.Publish) return;
  const { ours, theirs } = noCopyFrames(c.ours, c.theirs, c.version);
  if (ours.chunks !== 2 || ours.last !== c.ours.payload) fail(c, 'we do not write header, then payload');
  if (!ours.frame().equals(contiguous)) fail(c, 'encodePublishHeader + payload differs from encode');
  if (theirs.last !== c.ours.payload) fail(c, 'writeToStream copied the payload');
  const generated = mqttPacket.generate(c.theirs, { protocolVersion: c.version });
  if (!theirs.frame().equals(generated)) fail(c, 'writeToStream differs from generate');
  if (theirs.length !== contiguous.length) fail(c, 'writeToStream wrote the wrong number of bytes');
}

/** The frame both decoders are timed on; checks it against mqtt-packet's own encoding. */
function checkedFrame(c: Case): Buffer {
  const ours = encode(c.ours, c.version);
  const theirs = mqttPacket.generate(c.theirs, { protocolVersion: c.version });
  if (ours.length !== theirs.length) fail(c, `we encode ${ours.length} bytes, mqtt-packet ${theirs.length}`);
  // Property order may differ; without properties the frames must be identical.
  const hasProps = (c.ours as { properties?: unknown }).properties != null || c.group === 'CONNECT';
  if (!hasProps && !ours.equals(theirs)) fail(c, 'the frames differ');
  if (c.ours.type === PacketType.Publish) {
    const p = c.ours;
    const fast = encodePublishFields(
      p.topic,
      p.payload,
      p.qos,
      p.retain,
      p.dup,
      p.packetId,
      p.properties,
      c.version === V5,
    );
    if (!fast.equals(ours)) fail(c, 'encodePublishFields differs from encode');
  }
  // Each side decodes the other's frame, and both see the same packet.
  for (const frame of [ours, theirs]) {
    const [a] = decodeOurs(frame, c.version);
    const [b] = decodeTheirs(frame, c.version);
    if (a === undefined || b === undefined) fail(c, 'a decoder produced no packet');
    if (a.type === PacketType.Publish) {
      if (a.topic !== b.topic) fail(c, `topics differ: ${a.topic} / ${String(b.topic)}`);
      if (!a.payload.equals(b.payload as Buffer)) fail(c, 'payloads differ');
      if (a.packetId !== ((b.messageId as number | undefined) ?? 0)) fail(c, 'packet ids differ');
    } else if (a.type === PacketType.Connect) {
      if (a.clientId !== b.clientId || a.username !== b.username) fail(c, 'CONNECT fields differ');
    } else if (a.type === PacketType.Subscribe) {
      if (a.subscriptions.length !== (b.subscriptions as unknown[]).length) fail(c, 'filters differ');
    }
  }
  checkNoCopy(c, ours);
  if (c.frames === 1) return ours;
  const stream = Buffer.concat(Array.from({ length: c.frames }, () => ours));
  if (decodeOurs(stream, c.version).length !== c.frames) fail(c, 'we decode the wrong number of frames');
  if (decodeTheirs(stream, c.version).length !== c.frames) fail(c, 'mqtt-packet decodes the wrong number');
  return stream;
}

// ---------------------------------------------------------------------------------------------
// The timed tasks

/** Every result is folded in here and printed at the end, so no work is dead code. */
let checksum = 0;

interface Task {
  row: string;
  /** 'ours' | 'fields' | 'theirs' */
  who: Who;
  /** 'header' is the no-copy encode of PUBLISH (see the top of the file). */
  kind: 'decode' | 'encode' | 'header';
  /** Operations per call of run(1): packets per decode call for streams. */
  opsPerIteration: number;
  run: (n: number) => void;
  iterations: number;
  /** Wall-clock ops/s, one per round. */
  samples: number[];
  /** Ops per second of process CPU time, one per round. */
  cpuSamples: number[];
}

type Who = 'ours' | 'fields' | 'theirs';

class CountingSink implements PacketSink {
  count = 0;
  last: Packet | null = null;
  onPacket(packet: Packet): void {
    this.count++;
    this.last = packet;
  }
}

function decodeOursTask(frame: Buffer, version: Version): (n: number) => void {
  const decoder = new Decoder({ version });
  const sink = new CountingSink();
  return (n) => {
    for (let i = 0; i < n; i++) decoder.feed(frame, sink);
    checksum = (checksum + sink.count + (sink.last?.type ?? 0)) | 0;
  };
}

function decodeTheirsTask(frame: Buffer, version: Version): (n: number) => void {
  const parser = mqttPacket.parser({ protocolVersion: version });
  let count = 0;
  let last: mqttPacket.Packet | null = null;
  parser.on('packet', (packet) => {
    count++;
    last = packet;
  });
  parser.on('error', (err) => {
    throw err;
  });
  return (n) => {
    for (let i = 0; i < n; i++) parser.parse(frame);
    checksum = (checksum + count + ((last as mqttPacket.Packet | null)?.cmd.length ?? 0)) | 0;
  };
}

function encodeOursTask(packet: Packet, version: Version): (n: number) => void {
  return (n) => {
    let acc = 0;
    for (let i = 0; i < n; i++) acc += encode(packet, version).length;
    checksum = (checksum + acc) | 0;
  };
}

function encodeFieldsTask(p: PublishPacket, version: Version): (n: number) => void {
  const { topic, payload, qos, retain, dup, packetId } = p;
  const properties = version === V5 ? p.properties : null;
  const v5 = version === V5;
  return (n) => {
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += encodePublishFields(topic, payload, qos, retain, dup, packetId, properties, v5).length;
    }
    checksum = (checksum + acc) | 0;
  };
}

function encodeTheirsTask(packet: TheirPacket, version: Version): (n: number) => void {
  const opts = { protocolVersion: version };
  return (n) => {
    let acc = 0;
    for (let i = 0; i < n; i++) acc += mqttPacket.generate(packet, opts).length;
    checksum = (checksum + acc) | 0;
  };
}

function headerOursTask(p: PublishPacket, version: Version): (n: number) => void {
  const { topic, payload, qos, retain, dup, packetId } = p;
  const properties = version === V5 ? p.properties : null;
  const v5 = version === V5;
  const length = payload.length;
  const sink = new ChunkSink();
  return (n) => {
    for (let i = 0; i < n; i++) {
      sink.write(encodePublishHeader(topic, length, qos, retain, dup, packetId, properties, v5));
      sink.write(payload);
    }
    checksum = (checksum + sink.chunks + sink.length) | 0;
    sink.chunks = 0;
    sink.length = 0;
  };
}

function headerTheirsTask(packet: TheirPacket, version: Version): (n: number) => void {
  const opts = { protocolVersion: version };
  const sink = new ChunkSink();
  const stream = asStream(sink);
  return (n) => {
    for (let i = 0; i < n; i++) mqttPacket.writeToStream(packet, stream, opts);
    checksum = (checksum + sink.chunks + sink.length) | 0;
    sink.chunks = 0;
    sink.length = 0;
  };
}

function buildTasks(cases: Case[]): Task[] {
  const tasks: Task[] = [];
  const add = (row: string, who: Who, kind: Task['kind'], opsPerIteration: number, run: Task['run']) =>
    tasks.push({ row, who, kind, opsPerIteration, run, iterations: 1, samples: [], cpuSamples: [] });
  for (const c of cases) {
    const frame = checkedFrame(c);
    add(c.name, 'ours', 'decode', c.frames, decodeOursTask(frame, c.version));
    add(c.name, 'theirs', 'decode', c.frames, decodeTheirsTask(frame, c.version));
    if (c.frames > 1) continue;
    add(c.name, 'ours', 'encode', 1, encodeOursTask(c.ours, c.version));
    if (c.ours.type === PacketType.Publish)
      add(c.name, 'fields', 'encode', 1, encodeFieldsTask(c.ours, c.version));
    add(c.name, 'theirs', 'encode', 1, encodeTheirsTask(c.theirs, c.version));
    if (c.ours.type === PacketType.Publish) {
      add(c.name, 'ours', 'header', 1, headerOursTask(c.ours, c.version));
      add(c.name, 'theirs', 'header', 1, headerTheirsTask(c.theirs, c.version));
    }
  }
  return tasks;
}

// ---------------------------------------------------------------------------------------------
// The harness

/**
 * A collection before each timed run, so that no task pays for the garbage of the one before it
 * (the 64 KiB cases leave a lot of external memory behind). Each task still pays for its own
 * garbage: a round allocates far more than the young generation holds.
 */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as (options?: { type: 'major' | 'minor'; execution: 'sync' }) => void;
const GC_MODE = args.gc;
function collect(): void {
  if (GC_MODE === 'full') gc();
  else if (GC_MODE === 'minor') gc({ type: 'minor', execution: 'sync' });
}

function timeNs(run: (n: number) => void, n: number): number {
  const t0 = process.hrtime.bigint();
  run(n);
  return Number(process.hrtime.bigint() - t0);
}

/** Warms a task up for about WARMUP_MS and sets its iterations per round to about ROUND_MS. */
function warmUp(task: Task): void {
  collect();
  let n = 1;
  let spent = 0;
  let rate = 0; // iterations per ns, from the latest batch of at least 2 ms
  const deadline = WARMUP_MS * 1e6;
  while (spent < deadline || rate === 0) {
    const ns = timeNs(task.run, n);
    spent += ns;
    if (ns >= 2e6) rate = n / ns;
    if (ns < 10e6) n *= 2;
  }
  task.iterations = Math.max(1, Math.round(rate * ROUND_MS * 1e6));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return s[lo]! + (s[hi]! - s[lo]!) * (at - lo);
}

function runRounds(tasks: Task[]): void {
  for (let round = 0; round < ROUNDS; round++) {
    const shift = Math.floor((round * tasks.length) / ROUNDS);
    for (let k = 0; k < tasks.length; k++) {
      const task = tasks[(k + shift) % tasks.length]!;
      collect();
      const cpu0 = process.cpuUsage();
      const ns = timeNs(task.run, task.iterations);
      const cpu = process.cpuUsage(cpu0);
      const ops = task.iterations * task.opsPerIteration;
      task.samples.push((ops * 1e9) / ns);
      task.cpuSamples.push((ops * 1e6) / Math.max(1, cpu.user + cpu.system));
    }
    process.stderr.write(`  round ${round + 1}/${ROUNDS}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Reporting

function formatOps(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k`;
  return x.toFixed(0);
}

function iqr(xs: number[]): string {
  return `${(((quantile(xs, 0.75) - quantile(xs, 0.25)) / median(xs)) * 100).toFixed(1)}%`;
}

const ROOT = new URL('../../', import.meta.url);

function machine(): Record<string, string> {
  const cpus = os.cpus();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src/protocol'], {
      encoding: 'utf8',
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    if (dirty.trim() !== '') commit += ' (src/protocol has uncommitted changes)';
  } catch {
    // not a git checkout
  }
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: String(cpus.length),
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: `${process.version} (V8 ${process.versions.v8})`,
    'mqtt-packet': mqttPacketVersion(),
    commit,
    load: os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
  };
}

function mqttPacketVersion(): string {
  try {
    const url = new URL('node_modules/mqtt-packet/package.json', ROOT);
    return String(JSON.parse(readFileSync(url, 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

/** What the tables are made of: a task's identity and its per-round (or per-run) figures. */
interface Measured {
  row: string;
  who: Who;
  kind: Task['kind'];
  samples: number[];
  cpuSamples: number[];
}

interface Row {
  name: string;
  ours?: Measured;
  fields?: Measured;
  theirs?: Measured;
}

function rows(list: Measured[], kind: Task['kind']): Row[] {
  const out = new Map<string, Row>();
  for (const m of list) {
    if (m.kind !== kind) continue;
    const row = out.get(m.row) ?? { name: m.row };
    row[m.who] = m;
    out.set(m.row, row);
  }
  return [...out.values()];
}

const med = (m: Measured | undefined): number => (m === undefined ? Number.NaN : median(m.samples));
const cpuMed = (m: Measured | undefined): number => (m === undefined ? Number.NaN : median(m.cpuSamples));

/**
 * The ≥2x verdict of a PUBLISH row, from the table's ratio. For merged runs it also says in how
 * many of the runs, taken one by one, the ratio was 2x or more: "yes (2/3)". The table's ratio
 * is a ratio of medians taken over runs separately for each side, so a run that was slow
 * throughout (the machine, not the codec) can tip it; the per-run count shows when that happens.
 */
function goal(name: string, ratio: number, perRun: number[] | null): string {
  if (!name.includes('PUBLISH')) return '';
  const verdict = ratio >= 2 ? 'yes' : 'no';
  if (perRun === null) return verdict;
  return `${verdict} (${perRun.filter((x) => x >= 2).length}/${perRun.length})`;
}

/** Per-run ratios of a row of merged runs (samples are then the per-run medians, in run order). */
function perRunRatios(ours: Measured | undefined, theirs: Measured | undefined, fields?: Measured): number[] {
  if (ours === undefined || theirs === undefined) return [];
  return theirs.samples.map((t, i) => Math.max(ours.samples[i]!, fields?.samples[i] ?? 0) / t);
}

/** Column headings of the two-codec tables: decode, and the no-copy encode. */
const HEADINGS: Record<'decode' | 'header', [string, string]> = {
  decode: ['ours ops/s', 'mqtt-packet ops/s'],
  header: ['ours `encodePublishHeader` + write ops/s', 'mqtt-packet `writeToStream` ops/s'],
};

function printTable(title: string, list: Row[], kind: Task['kind'], merged: boolean): void {
  console.log(`\n### ${title}\n`);
  const withFields = kind === 'encode';
  if (withFields) {
    console.log(
      '| case | ours `encode` ops/s | ours `encodePublishFields` ops/s | mqtt-packet ops/s | ratio | fields ratio | CPU ratio | ≥2x | iqr ours / theirs |',
    );
    console.log('|---|--:|--:|--:|--:|--:|--:|:-:|--:|');
  } else {
    const [ours, theirs] = HEADINGS[kind];
    console.log(`| case | ${ours} | ${theirs} | ratio | CPU ratio | ≥2x | iqr ours / theirs |`);
    console.log('|---|--:|--:|--:|--:|:-:|--:|');
  }
  for (const r of list) {
    const ratio = med(r.ours) / med(r.theirs);
    const cpuRatio = cpuMed(r.ours) / cpuMed(r.theirs);
    const noise = `${r.ours ? iqr(r.ours.samples) : ''} / ${r.theirs ? iqr(r.theirs.samples) : ''}`;
    if (withFields) {
      const fieldsRatio = med(r.fields) / med(r.theirs);
      const fields = r.fields === undefined ? '' : formatOps(med(r.fields));
      const fr = r.fields === undefined ? '' : `${fieldsRatio.toFixed(2)}x`;
      // The broker's hot path is encodePublishFields; the verdict takes the better of the two.
      const best = r.fields === undefined ? ratio : Math.max(ratio, fieldsRatio);
      const runs = merged ? perRunRatios(r.ours, r.theirs, r.fields) : null;
      console.log(
        `| ${r.name} | ${formatOps(med(r.ours))} | ${fields} | ${formatOps(med(r.theirs))} | ${ratio.toFixed(2)}x | ${fr} | ${cpuRatio.toFixed(2)}x | ${goal(r.name, best, runs)} | ${noise} |`,
      );
    } else {
      const runs = merged ? perRunRatios(r.ours, r.theirs) : null;
      console.log(
        `| ${r.name} | ${formatOps(med(r.ours))} | ${formatOps(med(r.theirs))} | ${ratio.toFixed(2)}x | ${cpuRatio.toFixed(2)}x | ${goal(r.name, ratio, runs)} | ${noise} |`,
      );
    }
  }
}

function report(info: Record<string, string>, settings: string, list: Measured[], merged = false): void {
  console.log('\n## Codec micro-benchmark\n');
  for (const [k, v] of Object.entries(info)) console.log(`- ${k}: ${v}`);
  console.log(`- ${settings}`);
  printTable('Decode', rows(list, 'decode'), 'decode', merged);
  printTable('Encode (contiguous buffer)', rows(list, 'encode'), 'encode', merged);
  const header = rows(list, 'header');
  if (header.length > 0) printTable('No-copy encode (PUBLISH)', header, 'header', merged);
}

// ---------------------------------------------------------------------------------------------
// Main

function poolNote(size: number): string {
  if (size === BROKER_POOL_SIZE) return `${size} (as \`aviary start\` sets it), for both codecs`;
  if (size === 8192) return `${size} (Node's default), for both codecs`;
  return `${size}, for both codecs`;
}

interface RunFile {
  machine: Record<string, string>;
  settings: { rounds: number; roundMs: number; warmupMs: number; poolSize?: number };
  tasks: Array<Measured & { iterations: number }>;
}

function merge(files: string[]): void {
  const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as RunFile);
  const byTask = new Map<string, Measured>();
  for (const run of runs) {
    for (const t of run.tasks) {
      const key = `${t.kind}|${t.row}|${t.who}`;
      const m = byTask.get(key) ?? { row: t.row, who: t.who, kind: t.kind, samples: [], cpuSamples: [] };
      m.samples.push(median(t.samples));
      m.cpuSamples.push(median(t.cpuSamples));
      byTask.set(key, m);
    }
  }
  for (const m of byTask.values()) {
    // The per-run ratios pair the runs' figures by position.
    if (m.samples.length !== runs.length) throw new Error(`not every run measured ${m.kind} ${m.row}`);
  }
  const first = runs[0]!;
  // Runs before the pool size was recorded ran with Node's default.
  const pools = new Set(runs.map((r) => r.settings.poolSize ?? 8192));
  if (pools.size > 1) throw new Error(`the runs used different Buffer.poolSize: ${[...pools].join(', ')}`);
  const info = { ...first.machine };
  info.load = runs.map((r) => r.machine.load).join(' | ');
  const s = first.settings;
  report(
    info,
    `${runs.length} runs of ${s.rounds} rounds x ~${s.roundMs} ms per task after ${s.warmupMs} ms warm-up; ` +
      `Buffer.poolSize ${poolNote(s.poolSize ?? 8192)}; ` +
      'each figure is the median over runs of the per-run median; iqr is across runs; ' +
      '≥2x (k/n): k of the n runs met 2x on their own',
    [...byTask.values()],
    true,
  );
}

function main(): void {
  if (args.merge) {
    if (positionals.length === 0) throw new Error('--merge needs the JSON files of --json runs');
    merge(positionals);
    return;
  }
  const cases = allCases().filter((c) => FILTER === undefined || c.name.toLowerCase().includes(FILTER));
  if (cases.length === 0) {
    console.error(`no case matches --filter ${args.filter}`);
    process.exit(1);
  }
  const tasks = buildTasks(cases);
  process.stderr.write(
    `codec bench: ${cases.length} cases, ${tasks.length} tasks; warm-up ${WARMUP_MS} ms each, ` +
      `${ROUNDS} rounds of ~${ROUND_MS} ms per task\n`,
  );
  const loadBefore = os.loadavg()[0]!;
  for (const t of tasks) warmUp(t);
  runRounds(tasks);
  const info = machine();
  info.load = `${loadBefore.toFixed(2)} before, ${os.loadavg()[0]!.toFixed(2)} after (1-min load average)`;
  report(
    info,
    `${ROUNDS} rounds x ~${ROUND_MS} ms per task after ${WARMUP_MS} ms warm-up; ` +
      `Buffer.poolSize ${poolNote(Buffer.poolSize)}; median ops/s`,
    tasks,
  );
  console.log(`\n(checksum ${checksum})`);
  if (args.json !== undefined) {
    const raw: RunFile = {
      machine: info,
      settings: { rounds: ROUNDS, roundMs: ROUND_MS, warmupMs: WARMUP_MS, poolSize: Buffer.poolSize },
      tasks: tasks.map(({ row, who, kind, iterations, samples, cpuSamples }) => ({
        row,
        who,
        kind,
        iterations,
        samples,
        cpuSamples,
      })),
    };
    writeFileSync(args.json, `${JSON.stringify(raw, null, 2)}\n`);
  }
}

main();
