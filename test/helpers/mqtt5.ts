/**
 * Packets built by hand, byte by byte, for the raw-socket tests of the channel and session
 * protocol features (test/integration/20-* .. 29-*): MQTT 5.0 properties, CONNECT with a will,
 * PUBLISH, SUBSCRIBE, AUTH. Nothing here uses the broker's encoder, so a test checks the
 * broker's reading of the wire format as a client library would write it.
 *
 *   raw.send(publishFrame({ topic: '', qos: 1, packetId: 7, props: [topicAlias(3)], payload: 'x' }));
 */

import type { ConnackPacket } from '../../src/protocol/index.js';
import { frame, hex, type RawClient, rawClient, str, varint } from './broker.js';

// ---- properties -------------------------------------------------------------------------------

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Each returns one encoded property (identifier byte, then its value). */
export const prop = {
  payloadFormatIndicator: (v: number) => Buffer.from([0x01, v]),
  messageExpiryInterval: (s: number) => Buffer.concat([Buffer.from([0x02]), u32(s)]),
  contentType: (t: string) => Buffer.concat([Buffer.from([0x03]), str(t)]),
  responseTopic: (t: string) => Buffer.concat([Buffer.from([0x08]), str(t)]),
  correlationData: (d: Buffer) => Buffer.concat([Buffer.from([0x09]), str(d)]),
  sessionExpiryInterval: (s: number) => Buffer.concat([Buffer.from([0x11]), u32(s)]),
  authenticationMethod: (m: string) => Buffer.concat([Buffer.from([0x15]), str(m)]),
  authenticationData: (d: Buffer | string) =>
    Buffer.concat([Buffer.from([0x16]), str(typeof d === 'string' ? Buffer.from(d) : d)]),
  requestProblemInformation: (v: number) => Buffer.from([0x17, v]),
  willDelayInterval: (s: number) => Buffer.concat([Buffer.from([0x18]), u32(s)]),
  requestResponseInformation: (v: number) => Buffer.from([0x19, v]),
  receiveMaximum: (n: number) => Buffer.concat([Buffer.from([0x21]), u16(n)]),
  topicAliasMaximum: (n: number) => Buffer.concat([Buffer.from([0x22]), u16(n)]),
  topicAlias: (n: number) => Buffer.concat([Buffer.from([0x23]), u16(n)]),
  userProperty: (k: string, v: string) => Buffer.concat([Buffer.from([0x26]), str(k), str(v)]),
  maximumPacketSize: (n: number) => Buffer.concat([Buffer.from([0x27]), u32(n)]),
};

/** A property block: its length as a variable byte integer, then the properties. */
export function props(...list: Buffer[]): Buffer {
  const body = Buffer.concat(list);
  return Buffer.concat([varint(body.length), body]);
}

// ---- packets ----------------------------------------------------------------------------------

export interface WillSpec {
  topic: string;
  payload: string | Buffer;
  qos?: 0 | 1 | 2;
  retain?: boolean;
  /** 5.0 will properties (each from `prop`). */
  props?: Buffer[];
}

export interface ConnectSpec {
  version?: 4 | 5;
  clientId: string;
  clean?: boolean;
  keepalive?: number;
  /** 5.0 CONNECT properties (each from `prop`). */
  props?: Buffer[];
  will?: WillSpec;
  username?: string;
  password?: string;
}

/** A CONNECT (3.1.1 or 5.0, default 5.0), with an optional will. */
export function connectFrame(c: ConnectSpec): Buffer {
  const version = c.version ?? 5;
  let flags = c.clean === false ? 0 : 0x02;
  const will = c.will;
  if (will !== undefined) flags |= 0x04 | ((will.qos ?? 0) << 3) | (will.retain ? 0x20 : 0);
  if (c.username !== undefined) flags |= 0x80;
  if (c.password !== undefined) flags |= 0x40;
  const parts: Buffer[] = [str('MQTT'), Buffer.from([version, flags]), u16(c.keepalive ?? 60)];
  if (version === 5) parts.push(props(...(c.props ?? [])));
  parts.push(str(c.clientId));
  if (will !== undefined) {
    if (version === 5) parts.push(props(...(will.props ?? [])));
    parts.push(
      str(will.topic),
      str(typeof will.payload === 'string' ? Buffer.from(will.payload) : will.payload),
    );
  }
  if (c.username !== undefined) parts.push(str(c.username));
  if (c.password !== undefined) parts.push(str(c.password));
  return frame(0x10, ...parts);
}

export interface PublishSpec {
  topic: string;
  qos?: 0 | 1 | 2;
  packetId?: number;
  retain?: boolean;
  dup?: boolean;
  /** 5.0 properties; leave undefined for a 3.1.1 PUBLISH. */
  props?: Buffer[];
  payload?: string | Buffer;
}

/** A PUBLISH; with `props` (even empty) it is a 5.0 one. */
export function publishFrame(p: PublishSpec): Buffer {
  const qos = p.qos ?? 0;
  const first = 0x30 | (qos << 1) | (p.retain ? 0x01 : 0) | (p.dup ? 0x08 : 0);
  const parts: Buffer[] = [str(p.topic)];
  if (qos > 0) parts.push(u16(p.packetId ?? 1));
  if (p.props !== undefined) parts.push(props(...p.props));
  const payload = p.payload ?? '';
  parts.push(typeof payload === 'string' ? Buffer.from(payload) : payload);
  return frame(first, ...parts);
}

/**
 * A SUBSCRIBE of one filter. `options` is the subscription options byte (QoS in bits 0-1; 5.0:
 * No Local 0x04, Retain As Published 0x08); `v5` adds the (empty) property block.
 */
export function subscribeFrame(packetId: number, filter: string, options: number, v5: boolean): Buffer {
  return frame(0x82, u16(packetId), v5 ? props() : hex(''), str(filter), Buffer.from([options]));
}

/** An ack (PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70) with the short form. */
export function ackFrame(first: number, packetId: number): Buffer {
  return frame(first, u16(packetId));
}

/** AUTH with a reason code and properties. */
export function authFrame(reasonCode: number, ...list: Buffer[]): Buffer {
  return frame(0xf0, Buffer.from([reasonCode]), props(...list));
}

/** DISCONNECT (5.0) with a reason code and properties. */
export function disconnectFrame(reasonCode: number, ...list: Buffer[]): Buffer {
  return frame(0xe0, Buffer.from([reasonCode]), props(...list));
}

// ---- connecting -------------------------------------------------------------------------------

/** Opens a raw connection, sends the CONNECT and returns the client and the broker's CONNACK. */
export async function rawOpen(
  port: number,
  c: ConnectSpec,
): Promise<{ raw: RawClient; connack: ConnackPacket }> {
  const raw = await rawClient(port, c.version ?? 5);
  raw.send(connectFrame(c));
  const connack = await raw.readPacket();
  if (connack.type !== 2) throw new Error(`expected a CONNACK, got ${JSON.stringify(connack)}`);
  return { raw, connack };
}

/** Opens a raw connection and expects a successful CONNACK. */
export async function rawOk(port: number, c: ConnectSpec): Promise<RawClient> {
  const { raw, connack } = await rawOpen(port, c);
  if (connack.reasonCode !== 0) throw new Error(`expected CONNACK 0, got ${JSON.stringify(connack)}`);
  return raw;
}

/**
 * Subscribes a raw client to one filter and reads the SUBACK (granted QoS `options & 3`). 3.1.1
 * and 5.0 SUBACKs differ by the property length byte.
 */
export async function rawSubscribe(raw: RawClient, filter: string, options = 0, packetId = 1): Promise<void> {
  raw.send(subscribeFrame(packetId, filter, options, raw.version === 5));
  const suback = await raw.readPacket();
  if (suback.type !== 9 || suback.reasonCodes[0] !== (options & 3)) {
    throw new Error(`unexpected SUBACK ${JSON.stringify(suback)}`);
  }
}
