/**
 * PUBLISH (section 3.3): the packet of the hot path.
 *
 * Decoding leaves the payload as a view into the received bytes. Encoding writes the whole
 * frame into one allocation; for fan-out the same frame is written to every subscriber that
 * takes the same wire form, and for QoS 1/2 a copy gets its packet identifier patched in place
 * (`withPacketId`), so the topic, properties and payload are encoded once per message, not once
 * per subscriber.
 */

import { malformed, ProtocolError } from '../../errors.js';
import { PacketType, ProtocolVersion, type QoS, ReasonCode } from '../constants.js';
import type { Properties, PublishPacket } from '../packets.js';
import { propertiesSize, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { utf8Size, varintSize, Writer } from '../writer.js';

const FLAG_DUP = 0x08;
const FLAG_RETAIN = 0x01;
const PLUS = 0x2b;
const HASH = 0x23;

export function decodePublish(r: Reader, flags: number, version: ProtocolVersion): PublishPacket {
  const qos = ((flags >> 1) & 0x03) as QoS; // QoS 3 is rejected from the fixed header
  const dup = (flags & FLAG_DUP) !== 0;
  if (dup && qos === 0) throw malformed('DUP is set on a QoS 0 PUBLISH', 'MQTT-3.3.1-2');
  const topic = r.utf8('topic name');
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === PLUS || c === HASH) {
      throw new ProtocolError(
        ReasonCode.TopicNameInvalid,
        'the topic name contains a wildcard',
        'MQTT-3.3.2-2',
      );
    }
  }
  let packetId = 0;
  if (qos > 0) {
    packetId = r.u16('packet identifier');
    if (packetId === 0) throw malformed('a QoS 1 or 2 PUBLISH has packet identifier 0', 'MQTT-2.2.1-3');
  }
  let properties: Properties | null = null;
  if (version === ProtocolVersion.V5) properties = readProperties(r, PacketType.Publish);
  if (topic.length === 0 && properties?.topicAlias === undefined) {
    // 3.1.1 requires a topic [MQTT-4.7.3-1]; 5.0 allows an empty one only with a Topic Alias.
    throw new ProtocolError(
      ReasonCode.ProtocolError,
      'PUBLISH with an empty topic name and no topic alias',
      'MQTT-4.7.3-1',
    );
  }
  return {
    type: PacketType.Publish,
    topic,
    payload: r.rest(),
    qos,
    retain: (flags & FLAG_RETAIN) !== 0,
    dup,
    packetId,
    properties,
  };
}

/** Encodes a whole PUBLISH frame into one buffer. */
export function encodePublish(p: PublishPacket, version: ProtocolVersion): Buffer {
  return encodePublishFields(
    p.topic,
    p.payload,
    p.qos,
    p.retain,
    p.dup,
    p.packetId,
    version === ProtocolVersion.V5 ? p.properties : null,
    version === ProtocolVersion.V5,
  );
}

/**
 * The same as encodePublish, from separate fields, so the hot path encodes a message for a
 * subscriber's wire form (its QoS, retain flag, properties) without building a packet object.
 */
export function encodePublishFields(
  topic: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  dup: boolean,
  packetId: number,
  properties: Properties | null,
  v5: boolean,
): Buffer {
  const w = writeHeader(topic, payload.length, qos, retain, dup, packetId, properties, v5, true);
  w.bytes(payload);
  return w.buf;
}

/**
 * Everything of a PUBLISH frame but its payload: fixed header (with the remaining length that
 * counts the payload), topic, packet id and properties. Writing this header and then the
 * payload Buffer itself to a corked socket sends the same bytes as encodePublishFields without
 * copying the payload, so a large payload fanned out to many subscribers is never copied.
 * withPacketId works on headers as on whole frames.
 */
export function encodePublishHeader(
  topic: string,
  payloadLength: number,
  qos: QoS,
  retain: boolean,
  dup: boolean,
  packetId: number,
  properties: Properties | null,
  v5: boolean,
): Buffer {
  return writeHeader(topic, payloadLength, qos, retain, dup, packetId, properties, v5, false).buf;
}

function writeHeader(
  topic: string,
  payloadLength: number,
  qos: QoS,
  retain: boolean,
  dup: boolean,
  packetId: number,
  properties: Properties | null,
  v5: boolean,
  withPayload: boolean,
): Writer {
  const topicSize = utf8Size(topic);
  const propsSize = v5 ? propertiesSize(properties, PacketType.Publish) : 0;
  let size = 2 + topicSize + payloadLength;
  if (qos > 0) size += 2;
  if (v5) size += varintSize(propsSize) + propsSize;
  const total = 1 + varintSize(size) + size;
  const w = new Writer(withPayload ? total : total - payloadLength);
  let first = (PacketType.Publish << 4) | (qos << 1);
  if (dup) first |= FLAG_DUP;
  if (retain) first |= FLAG_RETAIN;
  w.header(first, size);
  w.utf8(topic, topicSize);
  if (qos > 0) w.u16(packetId);
  if (v5) writeProperties(w, properties, PacketType.Publish, propsSize);
  return w;
}

/** Offset of the packet identifier in an encoded QoS 1/2 PUBLISH frame. */
export function publishPacketIdOffset(frame: Buffer): number {
  let pos = 1;
  while ((frame[pos++]! & 0x80) !== 0) {}
  const topicLength = (frame[pos]! << 8) | frame[pos + 1]!;
  return pos + 2 + topicLength;
}

/**
 * A copy of an encoded QoS 1/2 PUBLISH frame with another packet identifier (and optionally
 * the DUP flag). The source frame is never mutated: it may already be queued on sockets.
 */
export function withPacketId(frame: Buffer, packetId: number, dup = false): Buffer {
  const copy = Buffer.allocUnsafe(frame.length);
  frame.copy(copy, 0);
  const at = publishPacketIdOffset(frame);
  copy[at] = packetId >>> 8;
  copy[at + 1] = packetId & 0xff;
  if (dup) copy[0] = copy[0]! | FLAG_DUP;
  return copy;
}
