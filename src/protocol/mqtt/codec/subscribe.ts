/**
 * SUBSCRIBE and SUBACK (sections 3.8 and 3.9), UNSUBSCRIBE and UNSUBACK (3.10 and 3.11).
 *
 * The decoder checks the wire format only: a well-formed filter string, the options byte, at
 * least one filter. Whether a filter is a valid topic filter is answered per filter in the
 * SUBACK (0x8F in 5.0, 0x80 in 3.1.1) by the channel, not by closing the connection.
 */

import { malformed, protocolError } from '../../errors.js';
import { PacketType, ProtocolVersion, type QoS } from '../constants.js';
import type {
  RetainHandling,
  SubackPacket,
  SubscribePacket,
  Subscription,
  UnsubackPacket,
  UnsubscribePacket,
} from '../packets.js';
import { propertiesSize, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { utf8Size, varintSize, Writer } from '../writer.js';

const OPT_NO_LOCAL = 0x04;
const OPT_RETAIN_AS_PUBLISHED = 0x08;
const V5_RESERVED = 0xc0;
const V4_RESERVED = 0xfc;
const SUBSCRIBE_FLAGS = 0x02;

export function decodeSubscribe(r: Reader, version: ProtocolVersion): SubscribePacket {
  const v5 = version === ProtocolVersion.V5;
  const packetId = r.u16('packet identifier');
  if (packetId === 0) throw malformed('SUBSCRIBE has packet identifier 0', 'MQTT-2.2.1-3');
  const properties = v5 ? readProperties(r, PacketType.Subscribe) : null;
  const subscriptions: Subscription[] = [];
  while (r.remaining > 0) {
    const topicFilter = r.utf8('topic filter');
    const options = r.u8('subscription options');
    const qos = options & 0x03;
    if (v5) {
      if ((options & V5_RESERVED) !== 0)
        throw malformed('reserved subscription option bits are set', 'MQTT-3.8.3-5');
      // 5.0 names no statement for these two (3.8.3.1): both are protocol errors.
      if (qos === 3) throw protocolError('subscription QoS is 3');
      const retainHandling = (options >> 4) & 0x03;
      if (retainHandling === 3) throw protocolError('retain handling is 3');
      subscriptions.push({
        topicFilter,
        qos: qos as QoS,
        noLocal: (options & OPT_NO_LOCAL) !== 0,
        retainAsPublished: (options & OPT_RETAIN_AS_PUBLISHED) !== 0,
        retainHandling: retainHandling as RetainHandling,
      });
    } else {
      if (qos === 3) throw malformed('subscription QoS is 3', 'MQTT-3.8.3-4');
      if ((options & V4_RESERVED) !== 0)
        throw malformed('reserved subscription option bits are set', 'MQTT-3.8.3-4');
      subscriptions.push({
        topicFilter,
        qos: qos as QoS,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      });
    }
  }
  if (subscriptions.length === 0) throw protocolError('SUBSCRIBE has no topic filter', 'MQTT-3.8.3-2');
  return { type: PacketType.Subscribe, packetId, subscriptions, properties };
}

export function encodeSubscribe(p: SubscribePacket, version: ProtocolVersion): Buffer {
  const v5 = version === ProtocolVersion.V5;
  const propsSize = v5 ? propertiesSize(p.properties, PacketType.Subscribe) : 0;
  let size = 2 + (v5 ? varintSize(propsSize) + propsSize : 0);
  const sizes: number[] = [];
  for (const s of p.subscriptions) {
    const n = utf8Size(s.topicFilter);
    sizes.push(n);
    size += 2 + n + 1;
  }
  const w = new Writer(1 + varintSize(size) + size);
  w.header((PacketType.Subscribe << 4) | SUBSCRIBE_FLAGS, size);
  w.u16(p.packetId);
  if (v5) writeProperties(w, p.properties, PacketType.Subscribe, propsSize);
  p.subscriptions.forEach((s, i) => {
    w.utf8(s.topicFilter, sizes[i]!);
    let options = s.qos;
    if (v5) {
      if (s.noLocal) options |= OPT_NO_LOCAL;
      if (s.retainAsPublished) options |= OPT_RETAIN_AS_PUBLISHED;
      options |= s.retainHandling << 4;
    }
    w.u8(options);
  });
  return w.buf;
}

export function decodeSuback(r: Reader, version: ProtocolVersion): SubackPacket {
  const packetId = r.u16('packet identifier');
  const properties = version === ProtocolVersion.V5 ? readProperties(r, PacketType.Suback) : null;
  const reasonCodes: number[] = [];
  while (r.remaining > 0) reasonCodes.push(r.u8('reason code'));
  if (reasonCodes.length === 0) throw protocolError('SUBACK has no reason code');
  return { type: PacketType.Suback, packetId, reasonCodes, properties };
}

export function encodeSuback(p: SubackPacket, version: ProtocolVersion): Buffer {
  return encodeCodes(
    PacketType.Suback,
    p.packetId,
    p.reasonCodes,
    p.properties,
    version === ProtocolVersion.V5,
  );
}

export function decodeUnsubscribe(r: Reader, version: ProtocolVersion): UnsubscribePacket {
  const packetId = r.u16('packet identifier');
  if (packetId === 0) throw malformed('UNSUBSCRIBE has packet identifier 0', 'MQTT-2.2.1-3');
  const properties = version === ProtocolVersion.V5 ? readProperties(r, PacketType.Unsubscribe) : null;
  const topicFilters: string[] = [];
  while (r.remaining > 0) topicFilters.push(r.utf8('topic filter'));
  if (topicFilters.length === 0) throw protocolError('UNSUBSCRIBE has no topic filter', 'MQTT-3.10.3-2');
  return { type: PacketType.Unsubscribe, packetId, topicFilters, properties };
}

export function encodeUnsubscribe(p: UnsubscribePacket, version: ProtocolVersion): Buffer {
  const v5 = version === ProtocolVersion.V5;
  const propsSize = v5 ? propertiesSize(p.properties, PacketType.Unsubscribe) : 0;
  let size = 2 + (v5 ? varintSize(propsSize) + propsSize : 0);
  const sizes = p.topicFilters.map(utf8Size);
  for (const n of sizes) size += 2 + n;
  const w = new Writer(1 + varintSize(size) + size);
  w.header((PacketType.Unsubscribe << 4) | SUBSCRIBE_FLAGS, size);
  w.u16(p.packetId);
  if (v5) writeProperties(w, p.properties, PacketType.Unsubscribe, propsSize);
  for (let i = 0; i < sizes.length; i++) w.utf8(p.topicFilters[i]!, sizes[i]!);
  return w.buf;
}

export function decodeUnsuback(r: Reader, version: ProtocolVersion): UnsubackPacket {
  const packetId = r.u16('packet identifier');
  const v5 = version === ProtocolVersion.V5;
  const properties = v5 ? readProperties(r, PacketType.Unsuback) : null;
  const reasonCodes: number[] = [];
  if (v5) {
    while (r.remaining > 0) reasonCodes.push(r.u8('reason code'));
    if (reasonCodes.length === 0) throw protocolError('UNSUBACK has no reason code');
  } else if (r.remaining !== 0) {
    throw malformed('UNSUBACK has bytes after its packet identifier');
  }
  return { type: PacketType.Unsuback, packetId, reasonCodes, properties };
}

export function encodeUnsuback(p: UnsubackPacket, version: ProtocolVersion): Buffer {
  const v5 = version === ProtocolVersion.V5;
  return encodeCodes(PacketType.Unsuback, p.packetId, v5 ? p.reasonCodes : [], p.properties, v5);
}

function encodeCodes(
  type: typeof PacketType.Suback | typeof PacketType.Unsuback,
  packetId: number,
  codes: number[],
  properties: SubackPacket['properties'],
  v5: boolean,
): Buffer {
  const propsSize = v5 ? propertiesSize(properties, type) : 0;
  const size = 2 + (v5 ? varintSize(propsSize) + propsSize : 0) + codes.length;
  const w = new Writer(1 + varintSize(size) + size);
  w.header(type << 4, size);
  w.u16(packetId);
  if (v5) writeProperties(w, properties, type, propsSize);
  for (const c of codes) w.u8(c);
  return w.buf;
}
