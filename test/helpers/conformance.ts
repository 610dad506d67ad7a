/**
 * Helpers for the conformance suite (test/conformance): packets the tests need beyond those of
 * test/helpers/mqtt5.ts, built byte by byte, and the waits the suite relies on.
 *
 * Proving that something did NOT happen. The broker handles one connection's packets in order
 * and routes a PUBLISH synchronously, before it acknowledges it; so once a publisher has its
 * PUBACK (or a QoS 0 publisher its PINGRESP), every copy of the message has been written to each
 * subscriber's socket. A subscriber then sends PINGREQ: if the next packet it reads is PINGRESP,
 * nothing else was sent to it before. `quiet(raw)` does that; no test waits for a fixed time to
 * see that nothing arrives.
 *
 *   const sub = await v5(b.port, 'c-sub');
 *   await sub.subscribe('a/b', 1);
 *   pub.send(publishFrame({ topic: 'a/b', qos: 1, packetId: 1, props: [] }));
 *   await expectAck(pub, PacketType.Puback, 1);
 *   await quiet(sub);  // nothing was delivered
 */

import assert from 'node:assert/strict';
import {
  type ConnackPacket,
  type Packet,
  PacketType,
  type PublishPacket,
  type SubackPacket,
  type UnsubackPacket,
} from '../../src/protocol/index.js';
import { frame, hex, type RawClient, rawClient, str, within } from './broker.js';
import { type ConnectSpec, connectFrame, props } from './mqtt5.js';

/** PINGREQ, and the exact bytes of the PINGRESP that answers it [MQTT-3.12.4-1]. */
export const PINGREQ = hex('c0 00');
export const PINGRESP_HEX = 'd000';

/** A two-byte integer. */
export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/**
 * A SUBSCRIBE of several filters, each with its subscription options byte (QoS in bits 0-1; 5.0:
 * No Local 0x04, Retain As Published 0x08, Retain Handling << 4). `v5` adds the property block
 * (`properties`, e.g. a Subscription Identifier, already encoded).
 */
export function subscribeMany(
  packetId: number,
  filters: ReadonlyArray<readonly [filter: string | Buffer, options: number]>,
  v5: boolean,
  properties: Buffer[] = [],
): Buffer {
  const parts: Buffer[] = [u16(packetId)];
  if (v5) parts.push(props(...properties));
  for (const [filter, options] of filters) parts.push(str(filter), Buffer.from([options]));
  return frame(0x82, ...parts);
}

/** An UNSUBSCRIBE of `filters` (5.0: with an empty property block). */
export function unsubscribeFrame(
  packetId: number,
  filters: ReadonlyArray<string | Buffer>,
  v5: boolean,
): Buffer {
  const parts: Buffer[] = [u16(packetId)];
  if (v5) parts.push(props());
  for (const filter of filters) parts.push(str(filter));
  return frame(0xa2, ...parts);
}

/** A 5.0 ack (PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70) with a reason code. */
export function ackWithCode(first: number, packetId: number, reasonCode: number): Buffer {
  return frame(first, u16(packetId), Buffer.from([reasonCode]));
}

// ---- reading ----------------------------------------------------------------------------------

/** Reads the next packet and asserts its type. */
export async function expectPacket<T extends Packet['type']>(
  raw: RawClient,
  type: T,
): Promise<Extract<Packet, { type: T }>> {
  const p = await raw.readPacket();
  assert.equal(p.type, type, `expected packet type ${type}, got ${JSON.stringify(p)}`);
  return p as Extract<Packet, { type: T }>;
}

/** Reads the next packet: an acknowledgement of `type` for `packetId` with `reasonCode`. */
export async function expectAck(
  raw: RawClient,
  type: number,
  packetId: number,
  reasonCode = 0,
): Promise<void> {
  const p = await raw.readPacket();
  assert.ok('packetId' in p && p.type === type, `expected packet type ${type}, got ${JSON.stringify(p)}`);
  assert.equal(p.packetId, packetId, 'packet identifier');
  assert.equal((p as { reasonCode?: number }).reasonCode ?? 0, reasonCode, 'reason code');
}

/** Reads the next packet, which must be a PUBLISH. */
export function expectPublish(raw: RawClient): Promise<PublishPacket> {
  return expectPacket(raw, PacketType.Publish);
}

/**
 * Sends PINGREQ and expects PINGRESP as the very next bytes: nothing else was sent to this
 * client before (see the header).
 */
export async function quiet(raw: RawClient): Promise<void> {
  raw.send(PINGREQ);
  const next = await raw.readFrame();
  assert.equal(
    next.toString('hex'),
    PINGRESP_HEX,
    `expected nothing but PINGRESP, got ${next.toString('hex')}`,
  );
}

/**
 * Waits for the broker to close the connection. Anything it sent first must be a refusing
 * CONNACK or a DISCONNECT with a reason code of 0x80 or more [MQTT-4.13.2-1]; returns that
 * reason code, or null when it closed without a word.
 */
export async function expectRefusedAndClosed(raw: RawClient): Promise<number | null> {
  const rest = await raw.expectClose(undefined, true);
  if (rest.length === 0) return null;
  const type = rest[0]! >> 4;
  assert.ok(
    type === PacketType.Connack || type === PacketType.Disconnect,
    `the broker sent ${rest.toString('hex')} before closing`,
  );
  // CONNACK: 20 len flags code ...; DISCONNECT: e0 len code ...
  const code = type === PacketType.Connack ? rest[3]! : rest[2]!;
  // A refusing CONNACK may be in the 3.1.1 form (return codes 1 to 5) when the CONNECT was not
  // understood well enough to answer in the client's version.
  assert.ok(code >= 0x80 || (type === PacketType.Connack && code > 0), `code ${code}`);
  return code;
}

// ---- connecting -------------------------------------------------------------------------------

/** A raw client that has connected, with its CONNACK and two conveniences. */
export interface Conn {
  raw: RawClient;
  connack: ConnackPacket;
  /** Subscribes one filter with `options` and returns the SUBACK's reason codes. */
  subscribe(filter: string, options?: number, packetId?: number): Promise<number[]>;
  /** Sends raw bytes. */
  send(bytes: Buffer | string): void;
}

/** Opens a raw connection, sends a CONNECT built by hand, and reads the CONNACK (any code). */
export async function open(port: number, c: ConnectSpec): Promise<Conn> {
  const version = c.version ?? 5;
  const raw = await rawClient(port, version);
  raw.send(connectFrame(c));
  const connack = await expectPacket(raw, PacketType.Connack);
  return {
    raw,
    connack,
    async subscribe(filter, options = 0, packetId = 1) {
      raw.send(subscribeMany(packetId, [[filter, options]], version === 5));
      const suback: SubackPacket = await expectPacket(raw, PacketType.Suback);
      assert.equal(suback.packetId, packetId);
      return suback.reasonCodes;
    },
    send: (bytes) => raw.send(bytes),
  };
}

/** `open`, expecting CONNACK 0x00. */
export async function connect(port: number, c: ConnectSpec): Promise<Conn> {
  const conn = await open(port, c);
  assert.equal(conn.connack.reasonCode, 0, `CONNACK ${JSON.stringify(conn.connack)}`);
  return conn;
}

/** A 5.0 client with a clean start. */
export function v5(port: number, clientId: string, extra: Partial<ConnectSpec> = {}): Promise<Conn> {
  return connect(port, { version: 5, clientId, ...extra });
}

/** A 3.1.1 client with a clean session. */
export function v4(port: number, clientId: string, extra: Partial<ConnectSpec> = {}): Promise<Conn> {
  return connect(port, { version: 4, clientId, ...extra });
}

/** Reads the UNSUBACK that must come next. */
export function expectUnsuback(raw: RawClient): Promise<UnsubackPacket> {
  return expectPacket(raw, PacketType.Unsuback);
}

/** Resolves after `ms`: only where the behaviour under test is a clock (an expiry interval). */
export function elapse(ms: number): Promise<void> {
  return within(new Promise<void>((resolve) => setTimeout(resolve, ms)), ms + 5000, `${ms} ms`);
}
