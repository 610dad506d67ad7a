/**
 * Helpers for integration tests: a real broker on an ephemeral port, raw sockets that send and
 * expect exact bytes, and MQTT.js clients.
 *
 *   const b = await startBroker({ mqtt: { idle_timeout: '1s' } });
 *   const raw = await rawClient(b.port);
 *   raw.send('10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00');
 *   assert.deepEqual(await raw.readHex(4), '20020000');
 *   const c = await connectClient(b.port, 5);
 *   ...
 *   after(async () => { await closeClients(); await b.close(); });
 *
 * Nothing here waits for a fixed time: every wait is for an event, with a generous timeout that
 * only turns a hang into a clear failure. Every client made here is remembered and closed by
 * closeClients().
 */

import { once, type EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect, type Socket } from 'node:net';
import mqtt, {
  type IClientOptions,
  type IConnackPacket,
  type MqttClient,
  type Packet as MqttPacket,
} from 'mqtt';
import type { ClientInfo } from '../../src/broker/types.js';
import type { AviaryConfigInput } from '../../src/config/index.js';
import { type AviaryBroker, type CreateBrokerOptions, createBroker } from '../../src/main.js';
import { Decoder, encode, type Packet, ProtocolVersion } from '../../src/protocol/index.js';
import { hex, varint } from './bytes.js';

export { hex, varint } from './bytes.js';

/** Default timeout of every wait in these helpers: long enough for a loaded CI machine. */
export const WAIT_MS = 5000;

// ---- waiting ----------------------------------------------------------------------------------

/** Rejects with `message` if `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${message}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The arguments of the next `event` on `emitter`; rejects on 'error' or after `ms`. */
export function waitFor<T extends unknown[] = unknown[]>(
  emitter: EventEmitter,
  event: string,
  ms = WAIT_MS,
): Promise<T> {
  return within(once(emitter, event) as Promise<T>, ms, `waiting for '${event}'`);
}

/** Polls `predicate` (every 10 ms) until it is true; rejects after `ms` naming `what`. */
export async function waitUntil(predicate: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---- the broker -------------------------------------------------------------------------------

export interface StartedBroker {
  aviary: AviaryBroker;
  port: number;
  /** mqtt://127.0.0.1:<port> */
  url: string;
  close(): Promise<void>;
}

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function merge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlain(b) && isPlain(v) ? merge(b, v) : v;
  }
  return out;
}

/**
 * Starts a broker with one TCP listener on 127.0.0.1 and an ephemeral port, logs off (unless
 * `config` turns them on or `options.logger` captures them), over `config`.
 */
export async function startBroker(
  config: AviaryConfigInput = {},
  options: CreateBrokerOptions = {},
): Promise<StartedBroker> {
  const base: Plain = {
    // The default ws listener (8083) only where a test enables it, then on an ephemeral port.
    listeners: {
      tcp: { default: { bind: '127.0.0.1:0' } },
      ws: { default: { enable: false, bind: '127.0.0.1:0' } },
    },
    log: { console: { enable: false } },
    // The management API (port 18083 by default) only where a test asks for it (test/helpers/api.ts).
    dashboard: { listeners: { http: { enable: false } } },
  };
  // The default store (SQLite) in a directory of its own, removed on close, unless the test
  // chooses the data directory itself (restart tests) or the backend.
  const given = config as Plain;
  const ownDir =
    (given.node as Plain | undefined)?.data_dir === undefined
      ? mkdtempSync(join(tmpdir(), 'aviary-test-'))
      : null;
  if (ownDir !== null) base.node = { data_dir: ownDir };
  const aviary = createBroker(merge(base, given) as AviaryConfigInput, options);
  await aviary.listen();
  const port = aviary.addresses()[0]!.port;
  let closing: Promise<void> | null = null;
  return {
    aviary,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    close: () =>
      (closing ??= aviary.close().finally(() => {
        if (ownDir !== null) rmSync(ownDir, { recursive: true, force: true });
      })),
  };
}

/** Resolves with the reason of the next `client.disconnected` hook call for `clientId`. */
export function nextDisconnect(aviary: AviaryBroker, clientId: string, ms = WAIT_MS): Promise<string> {
  return within(
    new Promise<string>((resolve) => {
      const cb = (client: ClientInfo, reason: string): void => {
        if (client.clientId !== clientId) return;
        aviary.hooks.remove('client.disconnected', cb);
        resolve(reason);
      };
      aviary.hooks.add('client.disconnected', cb);
    }),
    ms,
    `the broker to see client ${clientId} disconnect`,
  );
}

// ---- bytes ------------------------------------------------------------------------------------

/** An MQTT UTF-8 string field: two length bytes, then the bytes. */
export function str(s: string | Buffer): Buffer {
  const body = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([len, body]);
}

/** A whole packet: the first byte, the remaining length, then the parts (Buffers or hex text). */
export function frame(first: number, ...parts: Array<Buffer | string>): Buffer {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? hex(p) : p)));
  return Buffer.concat([Buffer.from([first]), varint(body.length), body]);
}

export interface RawConnect {
  version: 3 | 4 | 5;
  clientId?: string;
  clean?: boolean;
  keepalive?: number;
  /** 5.0 CONNECT properties, already encoded (without their length). */
  properties?: Buffer;
}

/** A CONNECT built by hand (not by our encoder), byte by byte. */
export function connectBytes(c: RawConnect): Buffer {
  const name = c.version === 3 ? str('MQIsdp') : str('MQTT');
  const flags = c.clean === false ? 0x00 : 0x02;
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(c.keepalive ?? 60);
  const props =
    c.version === 5 ? Buffer.concat([varint(c.properties?.length ?? 0), c.properties ?? hex('')]) : hex('');
  return frame(0x10, name, Buffer.from([c.version, flags]), keepalive, props, str(c.clientId ?? ''));
}

// ---- raw sockets ------------------------------------------------------------------------------

const rawClients = new Set<RawClient>();
const mqttClients = new Set<MqttClient>();

/**
 * A TCP socket that sends bytes and reads what comes back, either as raw bytes or decoded into
 * packets with our Decoder (for the protocol version given to `rawClient` or set later).
 */
export class RawClient {
  private buffered = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private ended = false;
  readonly closed: Promise<void>;

  constructor(
    readonly socket: Socket,
    public version: ProtocolVersion,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake();
    });
    socket.on('error', () => {}); // a reset by the broker shows up as 'close'
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Sends bytes: a Buffer, or hex text. */
  send(bytes: Buffer | string): void {
    this.socket.write(typeof bytes === 'string' ? hex(bytes) : bytes);
  }

  /** Encodes a packet with our encoder for this client's version and sends it. */
  sendPacket(packet: Packet): void {
    this.socket.write(encode(packet, this.version));
  }

  /** Sends a hand-built CONNECT and sets this client's version to it. */
  sendConnect(c: RawConnect): void {
    this.version = c.version;
    this.send(connectBytes(c));
  }

  /** Waits until `predicate` holds over the buffered bytes, or the socket is closed. */
  private async waitBytes(predicate: () => boolean, what: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      if (this.ended) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await within(
        new Promise<void>((resolve) => {
          this.waiter = resolve;
        }),
        left,
        what,
      );
    }
  }

  /** The next `n` bytes received. */
  async read(n: number, ms = WAIT_MS): Promise<Buffer> {
    await this.waitBytes(() => this.buffered.length >= n, `${n} bytes`, ms);
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  /** The next `n` bytes received, as lowercase hex without spaces. */
  async readHex(n: number, ms = WAIT_MS): Promise<string> {
    return (await this.read(n, ms)).toString('hex');
  }

  /** Size of the packet at the start of the buffer, or 0 if its fixed header is incomplete. */
  private frameLength(): number {
    const b = this.buffered;
    let remaining = 0;
    let multiplier = 1;
    for (let i = 1; i < b.length && i <= 4; i++) {
      remaining += (b[i]! & 0x7f) * multiplier;
      if ((b[i]! & 0x80) === 0) return b.length >= i + 1 + remaining ? i + 1 + remaining : 0;
      multiplier *= 128;
    }
    return 0;
  }

  /** The bytes of the next whole packet received. */
  async readFrame(ms = WAIT_MS): Promise<Buffer> {
    await this.waitBytes(() => this.frameLength() > 0, 'a packet', ms);
    return this.read(this.frameLength(), ms);
  }

  /** The next packet received, decoded with our Decoder for this client's version. */
  async readPacket(ms = WAIT_MS): Promise<Packet> {
    const bytes = await this.readFrame(ms);
    const packets = new Decoder({ version: this.version }).decodeAll(bytes);
    if (packets.length !== 1) throw new Error(`expected one packet in ${bytes.toString('hex')}`);
    return packets[0]!;
  }

  /**
   * Waits for the broker to close the connection; rejects if it sends anything before closing
   * (unless `allowBytes`) or does not close within `ms`. Returns the bytes left unread.
   */
  async expectClose(ms = WAIT_MS, allowBytes = false): Promise<Buffer> {
    await within(this.closed, ms, 'the broker to close the connection');
    const rest = this.buffered;
    if (!allowBytes && rest.length > 0) {
      throw new Error(`the broker sent ${rest.toString('hex')} before closing; expected nothing`);
    }
    return rest;
  }

  /** Bytes received and not read yet. */
  get unread(): Buffer {
    return this.buffered;
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    rawClients.delete(this);
    return this.closed;
  }
}

/** Opens a raw TCP connection to the broker. */
export async function rawClient(
  port: number,
  version: ProtocolVersion = ProtocolVersion.V4,
): Promise<RawClient> {
  const socket = netConnect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  const client = new RawClient(socket, version);
  rawClients.add(client);
  await waitFor(socket, 'connect');
  return client;
}

/** Opens a raw connection, sends a CONNECT and expects a successful CONNACK. */
export async function rawConnected(port: number, c: RawConnect): Promise<RawClient> {
  const raw = await rawClient(port, c.version);
  raw.sendConnect(c);
  const connack = await raw.readPacket();
  if (connack.type !== 2 || connack.reasonCode !== 0) {
    throw new Error(`expected a successful CONNACK, got ${JSON.stringify(connack)}`);
  }
  return raw;
}

// ---- MQTT.js clients --------------------------------------------------------------------------

export type Version = 3 | 4 | 5;
export const VERSIONS: readonly Version[] = [3, 4, 5];
export const VERSION_NAME: Record<Version, string> = { 3: '3.1', 4: '3.1.1', 5: '5.0' };

let clientSeq = 0;

/** A unique client id that fits MQTT 3.1's 23 characters. */
export function clientId(prefix = 'c'): string {
  return `${prefix.slice(0, 12)}-${process.pid % 1000}-${++clientSeq}`;
}

/**
 * An MQTT.js client for `version` that does not reconnect, not yet connected (attach listeners,
 * then await `connected(client)`).
 */
export function openClient(port: number, version: Version, options: IClientOptions = {}): MqttClient {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port,
    protocolVersion: version,
    protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
    clientId: clientId(`v${version}`),
    reconnectPeriod: 0,
    connectTimeout: WAIT_MS,
    ...options,
  });
  client.on('error', () => {}); // asserted through connected() and the calls' callbacks
  mqttClients.add(client);
  return client;
}

/** The CONNACK of a client made by openClient; rejects on an error, a close or a timeout. */
export function connected(client: MqttClient, ms = WAIT_MS): Promise<IConnackPacket> {
  return within(
    new Promise<IConnackPacket>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      const onClose = (): void => reject(new Error('the connection closed before CONNACK'));
      client.once('error', onError);
      client.once('close', onClose);
      client.once('connect', (connack: IConnackPacket) => {
        client.off('error', onError);
        client.off('close', onClose);
        resolve(connack);
      });
    }),
    ms,
    `client ${client.options.clientId} to connect`,
  );
}

/** An MQTT.js client for `version`, connected. */
export async function connectClient(
  port: number,
  version: Version,
  options: IClientOptions = {},
): Promise<MqttClient> {
  const client = openClient(port, version, options);
  await connected(client);
  return client;
}

export interface Received {
  topic: string;
  payload: Buffer;
  packet: mqtt.IPublishPacket;
}

/** Collects every message a client receives, from the moment it is called. */
export class Inbox {
  readonly messages: Received[] = [];
  private waiter: (() => void) | null = null;

  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, packet });
      const w = this.waiter;
      this.waiter = null;
      w?.();
    });
  }

  /** Waits until `n` messages have arrived in total; returns all of them. */
  async count(n: number, ms = WAIT_MS): Promise<Received[]> {
    const deadline = Date.now() + ms;
    while (this.messages.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await within(
        new Promise<void>((resolve) => {
          this.waiter = resolve;
        }),
        left,
        `${n} messages`,
      ).catch(() => {});
    }
    if (this.messages.length < n) {
      const got = this.messages.map((m) => `${m.topic}:${m.payload.toString()}`).join(', ');
      throw new Error(
        `timed out after ${ms} ms: ${this.client.options.clientId} got ${this.messages.length} of ${n} messages [${got}]`,
      );
    }
    return this.messages.slice();
  }

  /**
   * Waits for a message on `topic` (a sentinel published after the messages under test) and
   * returns everything received up to and including it, in order. A message that should not
   * arrive and was published before the sentinel by the same publisher would be in the list.
   */
  async until(topic: string, ms = WAIT_MS): Promise<Received[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.messages.findIndex((m) => m.topic === topic);
      if (i >= 0) return this.messages.splice(0, i + 1);
      const left = deadline - Date.now();
      if (left <= 0) {
        const got = this.messages.map((m) => m.topic).join(', ');
        throw new Error(`timed out after ${ms} ms waiting for a message on ${topic}; got [${got}]`);
      }
      await within(
        new Promise<void>((resolve) => {
          this.waiter = resolve;
        }),
        left,
        `a message on ${topic}`,
      ).catch(() => {});
    }
  }
}

/** Subscribes and resolves with the granted QoS / reason codes. */
export async function subscribe(
  client: MqttClient,
  filter: string | string[],
  options: mqtt.IClientSubscribeOptions = { qos: 0 },
): Promise<number[]> {
  const granted = await within(client.subscribeAsync(filter, options), WAIT_MS, `SUBACK for ${filter}`);
  return granted.map((g) => g.qos);
}

/** Publishes and resolves once the QoS flow is complete (at once for QoS 0). */
export async function publish(
  client: MqttClient,
  topic: string,
  payload: string | Buffer,
  options: mqtt.IClientPublishOptions = {},
): Promise<MqttPacket | undefined> {
  return within(client.publishAsync(topic, payload, options), WAIT_MS, `publishing to ${topic}`);
}

/** Closes (forcibly) every client these helpers made and still open. */
export async function closeClients(): Promise<void> {
  const mq = [...mqttClients];
  mqttClients.clear();
  const raws = [...rawClients];
  rawClients.clear();
  await Promise.all([
    ...mq.map((c) => within(c.endAsync(true), WAIT_MS, 'closing an MQTT.js client').catch(() => {})),
    ...raws.map((r) => r.destroy()),
  ]);
}
