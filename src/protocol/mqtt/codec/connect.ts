/**
 * CONNECT and CONNACK (sections 3.1 and 3.2).
 *
 * The protocol level in a CONNECT decides how everything after it is read, so decodeConnect
 * returns it in the packet and the decoder switches version from the next packet on.
 */

import { malformed, ProtocolError, protocolError } from '../../errors.js';
import { topicNameProblem } from '../../topic.js';
import { PacketType, ProtocolVersion, type QoS, ReasonCode } from '../constants.js';
import type { ConnackPacket, ConnectPacket, Will } from '../packets.js';
import { propertiesSize, readProperties, WILL, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { utf8Size, varintSize, Writer } from '../writer.js';

const FLAG_CLEAN = 0x02;
const FLAG_WILL = 0x04;
const FLAG_WILL_RETAIN = 0x20;
const FLAG_PASSWORD = 0x40;
const FLAG_USERNAME = 0x80;
const FLAG_RESERVED = 0x01;
const LEVEL_BRIDGE_BIT = 0x80;

export function decodeConnect(r: Reader): ConnectPacket {
  const protocolName = r.utf8('protocol name');
  const rawLevel = r.u8('protocol level');
  const level = rawLevel & ~LEVEL_BRIDGE_BIT;
  const known =
    (protocolName === 'MQTT' && (level === ProtocolVersion.V4 || level === ProtocolVersion.V5)) ||
    (protocolName === 'MQIsdp' && level === ProtocolVersion.V3);
  if (!known) {
    throw new ProtocolError(
      ReasonCode.UnsupportedProtocolVersion,
      `unsupported protocol ${JSON.stringify(protocolName)} level ${level}`,
      protocolName === 'MQTT' || protocolName === 'MQIsdp' ? 'MQTT-3.1.2-2' : 'MQTT-3.1.2-1',
    );
  }
  const version = level as ProtocolVersion;
  const flags = r.u8('connect flags');
  if ((flags & FLAG_RESERVED) !== 0) throw malformed('the reserved connect flag is set', 'MQTT-3.1.2-3');
  const hasWill = (flags & FLAG_WILL) !== 0;
  const willQos = (flags >> 3) & 0x03;
  const willRetain = (flags & FLAG_WILL_RETAIN) !== 0;
  if (!hasWill && willQos !== 0) throw malformed('will QoS is set without a will', 'MQTT-3.1.2-11');
  if (!hasWill && willRetain) throw malformed('will retain is set without a will', 'MQTT-3.1.2-13');
  if (willQos === 3) throw malformed('will QoS is 3', 'MQTT-3.1.2-12');
  const hasPassword = (flags & FLAG_PASSWORD) !== 0;
  const hasUsername = (flags & FLAG_USERNAME) !== 0;
  if (version !== ProtocolVersion.V5 && hasPassword && !hasUsername) {
    throw malformed('a password without a user name', 'MQTT-3.1.2-22');
  }
  const keepalive = r.u16('keep alive');
  const properties = version === ProtocolVersion.V5 ? readProperties(r, PacketType.Connect) : null;
  const clientId = r.utf8('client identifier');
  let will: Will | null = null;
  if (hasWill) {
    const willProperties = version === ProtocolVersion.V5 ? readProperties(r, WILL) : null;
    const topic = r.utf8('will topic');
    const problem = topicNameProblem(topic);
    if (problem !== null)
      throw new ProtocolError(ReasonCode.TopicNameInvalid, `will topic: ${problem}`, 'MQTT-3.1.3-11');
    const payload = r.binary('will payload');
    will = { topic, payload, qos: willQos as QoS, retain: willRetain, properties: willProperties };
  }
  const username = hasUsername ? r.utf8('user name') : null;
  const password = hasPassword ? r.binary('password') : null;
  if (r.remaining !== 0) throw malformed('CONNECT has bytes after its payload');
  return {
    type: PacketType.Connect,
    protocolName,
    protocolVersion: version,
    bridge: (rawLevel & LEVEL_BRIDGE_BIT) !== 0,
    clean: (flags & FLAG_CLEAN) !== 0,
    keepalive,
    clientId,
    will,
    username,
    password,
    properties,
  };
}

export function encodeConnect(p: ConnectPacket): Buffer {
  const v5 = p.protocolVersion === ProtocolVersion.V5;
  const nameSize = utf8Size(p.protocolName);
  const idSize = utf8Size(p.clientId);
  const propsSize = v5 ? propertiesSize(p.properties, PacketType.Connect) : 0;
  let size = 2 + nameSize + 1 + 1 + 2 + 2 + idSize;
  if (v5) size += varintSize(propsSize) + propsSize;
  let willTopicSize = 0;
  let willPropsSize = 0;
  const will = p.will;
  if (will !== null) {
    willTopicSize = utf8Size(will.topic);
    if (v5) {
      willPropsSize = propertiesSize(will.properties, WILL);
      size += varintSize(willPropsSize) + willPropsSize;
    }
    size += 2 + willTopicSize + 2 + will.payload.length;
  }
  const userSize = p.username === null ? 0 : utf8Size(p.username);
  if (p.username !== null) size += 2 + userSize;
  if (p.password !== null) size += 2 + p.password.length;

  const w = new Writer(1 + varintSize(size) + size);
  w.header(PacketType.Connect << 4, size);
  w.utf8(p.protocolName, nameSize);
  w.u8(p.protocolVersion | (p.bridge ? LEVEL_BRIDGE_BIT : 0));
  let flags = 0;
  if (p.clean) flags |= FLAG_CLEAN;
  if (will !== null) {
    flags |= FLAG_WILL | (will.qos << 3);
    if (will.retain) flags |= FLAG_WILL_RETAIN;
  }
  if (p.password !== null) flags |= FLAG_PASSWORD;
  if (p.username !== null) flags |= FLAG_USERNAME;
  w.u8(flags);
  w.u16(p.keepalive);
  if (v5) writeProperties(w, p.properties, PacketType.Connect, propsSize);
  w.utf8(p.clientId, idSize);
  if (will !== null) {
    if (v5) writeProperties(w, will.properties, WILL, willPropsSize);
    w.utf8(will.topic, willTopicSize);
    w.binary(will.payload);
  }
  if (p.username !== null) w.utf8(p.username, userSize);
  if (p.password !== null) w.binary(p.password);
  return w.buf;
}

export function decodeConnack(r: Reader, version: ProtocolVersion): ConnackPacket {
  const flags = r.u8('connack flags');
  if ((flags & 0xfe) !== 0) throw malformed('reserved CONNACK flags are set', 'MQTT-3.2.2-1');
  const reasonCode = r.u8('connack reason code');
  const properties = version === ProtocolVersion.V5 ? readProperties(r, PacketType.Connack) : null;
  if (r.remaining !== 0) throw malformed('CONNACK has bytes after its variable header');
  if (reasonCode !== 0 && (flags & 0x01) !== 0) {
    throw protocolError('session present is set in a CONNACK that refuses the connection', 'MQTT-3.2.2-6');
  }
  return { type: PacketType.Connack, sessionPresent: (flags & 0x01) !== 0, reasonCode, properties };
}

export function encodeConnack(p: ConnackPacket, version: ProtocolVersion): Buffer {
  const v5 = version === ProtocolVersion.V5;
  const propsSize = v5 ? propertiesSize(p.properties, PacketType.Connack) : 0;
  const size = 2 + (v5 ? varintSize(propsSize) + propsSize : 0);
  const w = new Writer(1 + varintSize(size) + size);
  w.header(PacketType.Connack << 4, size);
  w.u8(p.sessionPresent ? 1 : 0);
  w.u8(p.reasonCode);
  if (v5) writeProperties(w, p.properties, PacketType.Connack, propsSize);
  return w.buf;
}
