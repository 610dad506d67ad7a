/**
 * The load generator's MQTT client: a raw TCP socket and Aviary's own codec (src/protocol),
 * nothing else. mqtt.js allocates and emits per packet and tops out well below what a broker
 * handles on this machine; here a publisher writes many pre-encoded PUBLISH frames in one
 * `write`, and a subscriber decodes in place and answers a whole chunk's QoS 1 messages with
 * one `write` of PUBACKs.
 *
 * The client speaks only what the benchmark needs: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH
 * both ways, PUBACK, PUBREC, PUBREL and PUBCOMP both ways (the owner answers them: load-worker.ts
 * batches its acks per chunk), PINGREQ/PINGRESP, DISCONNECT. A packet it did not expect, a
 * refused CONNECT or a failed subscription is an error the scenario reports, never ignored.
 */

import net from 'node:net';
import {
  Decoder,
  encode,
  encodePublishFields,
  type Packet,
  PacketType,
  type ProtocolVersion,
  publishPacketIdOffset,
  type QoS,
  ReasonCode,
} from '../../src/protocol/index.js';

/** First reason code that means failure in a SUBACK (3.1.1's 0x80 and every 5.0 error). */
const SUBACK_FAILURE = ReasonCode.UnspecifiedError;
/** Keep alive announced in CONNECT by default: longer than any run, so no PINGREQ is needed. */
export const KEEPALIVE_SECONDS = 300;
/** Receive Maximum when a 5.0 CONNACK does not state one: 65,535 (MQTT 5.0, 3.2.2.3.3). */
const DEFAULT_RECEIVE_MAXIMUM = 65_535;
/** Most filters in one SUBSCRIBE when a client subscribes to many. */
export const FILTERS_PER_SUBSCRIBE = 100;

/** The acknowledgements of QoS 1 and 2 (PUBACK, PUBREC, PUBREL, PUBCOMP), as the owner sees them. */
export type AckPacket = Packet & {
  type:
    | typeof PacketType.Puback
    | typeof PacketType.Pubrec
    | typeof PacketType.Pubrel
    | typeof PacketType.Pubcomp;
};

/** Receives the packets a connection did not consume itself (PUBLISH and its acknowledgements). */
export interface ClientHandler {
  onPublish(client: Client, packet: Packet & { type: typeof PacketType.Publish }): void;
  /** PUBACK, PUBREC, PUBREL or PUBCOMP (packet.type says which). */
  onAck(client: Client, packet: AckPacket): void;
  /** Called once per received chunk, after its packets: the moment to flush batched acks. */
  onChunkEnd(client: Client): void;
  onError(client: Client, error: Error): void;
}

export interface ClientOptions {
  port: number;
  host: string;
  /** Source address (127.0.0.x) so that many connections do not exhaust one address's ports. */
  localAddress?: string;
  clientId: string;
  version: ProtocolVersion;
  handler: ClientHandler;
  /**
   * Above 0: ask for a persistent session, kept this many seconds after a disconnect. 3.1.1
   * sends Clean Session 0 (the broker's own expiry applies); 5.0 sends Clean Start 1 with this
   * Session Expiry Interval [MQTT-3.1.2-23]. 0 or absent: a clean session.
   */
  sessionExpirySeconds?: number;
  /** Keep Alive announced in CONNECT, in seconds (default KEEPALIVE_SECONDS). */
  keepaliveSeconds?: number;
}

type Waiter = { resolve: (packet: Packet) => void; reject: (error: Error) => void };

/** Monotonic microseconds, the same clock in every thread of the process. */
export function nowMicros(): number {
  const t = process.hrtime();
  return t[0] * 1e6 + t[1] / 1e3;
}

export class Client {
  readonly socket: net.Socket;
  readonly clientId: string;
  readonly version: ProtocolVersion;
  /** Index of this client in its role (publisher or subscriber index); set by the owner. */
  index = -1;
  private readonly decoder: Decoder;
  private readonly handler: ClientHandler;
  /** CONNACK, SUBACK and PINGRESP waiters, in the order their packets are due. */
  private readonly waiters = new Map<string, Waiter[]>();
  private nextSubscribeId = 1;
  closed = false;
  /**
   * The broker's Receive Maximum from a 5.0 CONNACK: the most QoS 1 and 2 PUBLISHes this client
   * may have unacknowledged [MQTT-3.3.4-9]; 65,535 when absent and in 3.1.1 (no such limit).
   */
  receiveMaximum = DEFAULT_RECEIVE_MAXIMUM;

  private constructor(socket: net.Socket, options: ClientOptions) {
    this.socket = socket;
    this.clientId = options.clientId;
    this.version = options.version;
    this.handler = options.handler;
    this.decoder = new Decoder({ version: options.version });
    socket.setNoDelay(true);
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => {
      const wasClosed = this.closed;
      this.closed = true;
      if (!wasClosed) this.fail(new Error(`${this.clientId}: connection closed by the broker`));
    });
  }

  /**
   * Bytes read from the socket. The socket reads into one static buffer per thread (`onread`),
   * which spares Node's per-read allocation and its stream machinery: the generator must stay
   * cheap when a broker writes every packet in its own segment. The decoder keeps views into
   * what it is fed when a packet is incomplete, so the bytes are copied out first.
   */
  private onRead(length: number, buffer: Buffer): void {
    const chunk = Buffer.allocUnsafe(length);
    buffer.copy(chunk, 0, 0, length);
    try {
      this.decoder.feed(chunk, this);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    this.handler.onChunkEnd(this);
  }

  /** Opens the TCP connection and completes CONNECT/CONNACK. */
  static async connect(options: ClientOptions): Promise<Client> {
    const box: { client: Client | null; early: Buffer[] } = { client: null, early: [] };
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({
        port: options.port,
        host: options.host,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
        onread: {
          buffer: readBuffer,
          // Returning false would pause the socket.
          callback: (length: number, buffer: Uint8Array): boolean => {
            if (box.client !== null) box.client.onRead(length, buffer as Buffer);
            else box.early.push(Buffer.from(buffer.subarray(0, length)));
            return true;
          },
        },
      });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    const client = new Client(socket, options);
    box.client = client;
    for (const b of box.early.splice(0)) client.onRead(b.length, b);
    const connack = client.expect('connack');
    const expiry = options.sessionExpirySeconds ?? 0;
    const v5 = options.version === 5;
    socket.write(
      encode(
        {
          type: PacketType.Connect,
          protocolName: 'MQTT',
          protocolVersion: options.version,
          bridge: false,
          // 3.1.1: a persistent session is Clean Session 0; 5.0 starts clean and sets the expiry.
          clean: expiry === 0 || v5,
          keepalive: options.keepaliveSeconds ?? KEEPALIVE_SECONDS,
          clientId: options.clientId,
          will: null,
          username: null,
          password: null,
          properties: v5 && expiry > 0 ? { sessionExpiryInterval: expiry } : null,
        },
        options.version,
      ),
    );
    const packet = await connack;
    if (packet.type !== PacketType.Connack || packet.reasonCode !== ReasonCode.Success) {
      socket.destroy();
      throw new Error(`${options.clientId}: CONNECT refused (${JSON.stringify(packet)})`);
    }
    client.receiveMaximum = packet.properties?.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM;
    return client;
  }

  /** Subscribes to the filters (in SUBSCRIBE packets of FILTERS_PER_SUBSCRIBE); all must be granted. */
  async subscribe(filters: readonly string[], qos: QoS): Promise<void> {
    const pending: Promise<Packet>[] = [];
    for (let i = 0; i < filters.length; i += FILTERS_PER_SUBSCRIBE) {
      const packetId = this.nextSubscribeId++;
      pending.push(this.expect('suback'));
      this.socket.write(
        encode(
          {
            type: PacketType.Subscribe,
            packetId,
            subscriptions: filters.slice(i, i + FILTERS_PER_SUBSCRIBE).map((topicFilter) => ({
              topicFilter,
              qos,
              noLocal: false,
              retainAsPublished: false,
              retainHandling: 0,
            })),
            properties: null,
          },
          this.version,
        ),
      );
    }
    for (const p of await Promise.all(pending)) {
      if (p.type !== PacketType.Suback) throw new Error(`${this.clientId}: expected SUBACK`);
      const refused = p.reasonCodes.filter((c) => c >= SUBACK_FAILURE);
      if (refused.length > 0) {
        throw new Error(
          `${this.clientId}: ${refused.length} subscriptions refused (0x${refused[0]!.toString(16)})`,
        );
      }
    }
  }

  /** One PINGREQ/PINGRESP round trip; resolves with its duration in microseconds. */
  async ping(): Promise<number> {
    const started = nowMicros();
    const done = this.expect('pingresp');
    this.socket.write(PINGREQ);
    await done;
    return nowMicros() - started;
  }

  /** Sends DISCONNECT and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end(disconnectFrame(this.version));
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    });
  }

  /** PacketSink: the decoder calls this for every packet of a chunk. */
  onPacket(packet: Packet): void {
    switch (packet.type) {
      case PacketType.Publish:
        this.handler.onPublish(this, packet);
        return;
      case PacketType.Puback:
      case PacketType.Pubrec:
      case PacketType.Pubrel:
      case PacketType.Pubcomp:
        this.handler.onAck(this, packet);
        return;
      case PacketType.Connack:
        this.settle('connack', packet);
        return;
      case PacketType.Suback:
        this.settle('suback', packet);
        return;
      case PacketType.Pingresp:
        this.settle('pingresp', packet);
        return;
      default:
        this.fail(new Error(`${this.clientId}: unexpected packet type ${packet.type}`));
    }
  }

  private expect(kind: string): Promise<Packet> {
    return new Promise((resolve, reject) => {
      let list = this.waiters.get(kind);
      if (list === undefined) this.waiters.set(kind, (list = []));
      list.push({ resolve, reject });
    });
  }

  private settle(kind: string, packet: Packet): void {
    const waiter = this.waiters.get(kind)?.shift();
    if (waiter === undefined) this.fail(new Error(`${this.clientId}: unsolicited ${kind}`));
    else waiter.resolve(packet);
  }

  private fail(error: Error): void {
    const hadWaiters = [...this.waiters.values()].some((l) => l.length > 0);
    for (const list of this.waiters.values()) for (const w of list.splice(0)) w.reject(error);
    if (!this.closed) {
      this.closed = true;
      this.socket.destroy();
    }
    if (!hadWaiters) this.handler.onError(this, error);
  }
}

const CLOSE_GRACE_MS = 2000;
/** Largest read; Node's own default for stream reads. */
const READ_BUFFER_SIZE = 64 * 1024;
/** Shared by every socket of the thread: onread callbacks run one at a time. */
const readBuffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
const PINGREQ = encode({ type: PacketType.Pingreq }, 4);

function disconnectFrame(version: ProtocolVersion): Buffer {
  return encode(
    { type: PacketType.Disconnect, reasonCode: ReasonCode.NormalDisconnection, properties: null },
    version,
  );
}

/**
 * A PUBLISH frame used as a template: encoded once by the codec, then copied and patched in
 * place for each message (packet id and the payload header, track.ts), which costs a memcpy of
 * the frame instead of an encode.
 */
export class PublishTemplate {
  readonly frame: Buffer;
  readonly payloadOffset: number;
  /** Offset of the packet id (QoS 1), or -1. */
  readonly packetIdOffset: number;

  constructor(topic: string, payloadSize: number, qos: QoS, retain: boolean, version: ProtocolVersion) {
    this.frame = encodePublishFields(
      topic,
      Buffer.alloc(payloadSize),
      qos,
      retain,
      false,
      qos > 0 ? 1 : 0,
      null,
      version === 5,
    );
    this.payloadOffset = this.frame.length - payloadSize;
    this.packetIdOffset = qos > 0 ? publishPacketIdOffset(this.frame) : -1;
  }
}

/**
 * PUBACK, PUBREC, PUBREL and PUBCOMP for packet id 1, patched per ack: 4 bytes each in both
 * 3.1.1 and 5.0 (a 5.0 Reason Code 0 with no properties may be omitted: [MQTT-3.4.2-1] and
 * the same rule for PUBREC/PUBREL/PUBCOMP). PUBREL's fixed header carries flags 0b0010
 * [MQTT-3.6.1-1], which the encoder sets.
 */
function ackTemplate(type: AckPacket['type']): Buffer {
  return encode({ type, packetId: 1, reasonCode: ReasonCode.Success, properties: null } as AckPacket, 5);
}
export const PUBACK_TEMPLATE = ackTemplate(PacketType.Puback);
export const PUBREC_TEMPLATE = ackTemplate(PacketType.Pubrec);
export const PUBREL_TEMPLATE = ackTemplate(PacketType.Pubrel);
export const PUBCOMP_TEMPLATE = ackTemplate(PacketType.Pubcomp);
export const ACK_SIZE = PUBACK_TEMPLATE.length;
/** Offset of the packet id in an ack (after the type byte and the 1-byte remaining length). */
export const ACK_ID_OFFSET = 2;

/**
 * Acks gathered while a chunk is decoded and written in one `write` at its end: PUBACKs or
 * PUBRECs and PUBCOMPs from a subscriber, PUBRELs from a publisher.
 */
export class AckBatch {
  private buf = Buffer.allocUnsafe(ACK_SIZE * 64);
  count = 0;

  add(template: Buffer, packetId: number): void {
    if ((this.count + 1) * ACK_SIZE > this.buf.length) {
      const grown = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(grown, 0, 0, this.count * ACK_SIZE);
      this.buf = grown;
    }
    const at = this.count * ACK_SIZE;
    template.copy(this.buf, at);
    this.buf[at + ACK_ID_OFFSET] = packetId >>> 8;
    this.buf[at + ACK_ID_OFFSET + 1] = packetId & 0xff;
    this.count++;
  }

  /** Writes what was gathered (a fresh buffer: the socket keeps a reference until flushed). */
  flush(socket: { write(b: Buffer): boolean }): void {
    if (this.count === 0) return;
    socket.write(Buffer.from(this.buf.subarray(0, this.count * ACK_SIZE)));
    this.count = 0;
  }
}
