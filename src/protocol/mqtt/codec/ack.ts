/**
 * PUBACK, PUBREC, PUBREL and PUBCOMP (sections 3.4 to 3.7): a packet identifier and, in 5.0,
 * an optional reason code and properties. In 5.0 a remaining length of 2 means reason code 0
 * and no properties (3.4.2.1); in 3.1 and 3.1.1 the remaining length is always 2.
 */

import { malformed } from '../../errors.js';
import { PacketType, ProtocolVersion, ReasonCode } from '../constants.js';
import type { AckPacket } from '../packets.js';
import { propertiesSize, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { varintSize, Writer } from '../writer.js';

type AckType = AckPacket['type'];

const R = ReasonCode;
/** Reason codes each acknowledgement may carry [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1]. */
const PUB_CODES = new Set<number>([
  R.Success,
  R.NoMatchingSubscribers,
  R.UnspecifiedError,
  R.ImplementationSpecificError,
  R.NotAuthorized,
  R.TopicNameInvalid,
  R.PacketIdentifierInUse,
  R.QuotaExceeded,
  R.PayloadFormatInvalid,
]);
const REL_CODES = new Set<number>([R.Success, R.PacketIdentifierNotFound]);
const REASON_CODE_IDS: Record<AckType, string> = {
  [PacketType.Puback]: 'MQTT-3.4.2-1',
  [PacketType.Pubrec]: 'MQTT-3.5.2-1',
  [PacketType.Pubrel]: 'MQTT-3.6.2-1',
  [PacketType.Pubcomp]: 'MQTT-3.7.2-1',
};

export function validAckReasonCode(type: AckType, code: number): boolean {
  return type === PacketType.Puback || type === PacketType.Pubrec ? PUB_CODES.has(code) : REL_CODES.has(code);
}

export function decodeAck(r: Reader, type: AckType, version: ProtocolVersion): AckPacket {
  const packetId = r.u16('packet identifier');
  if (packetId === 0) throw malformed('packet identifier 0', 'MQTT-2.2.1-3');
  let reasonCode = 0;
  let properties = null;
  if (version === ProtocolVersion.V5) {
    if (r.remaining > 0) {
      reasonCode = r.u8('reason code');
      if (!validAckReasonCode(type, reasonCode)) {
        throw malformed(
          `reason code 0x${reasonCode.toString(16)} is not valid in this acknowledgement`,
          REASON_CODE_IDS[type],
        );
      }
      if (r.remaining > 0) properties = readProperties(r, type);
    }
  }
  if (r.remaining !== 0) throw malformed('acknowledgement has bytes after its variable header');
  return { type, packetId, reasonCode, properties } as AckPacket;
}

const PUBREL_FLAGS = 0x02;

export function encodeAck(p: AckPacket, version: ProtocolVersion): Buffer {
  const first = (p.type << 4) | (p.type === PacketType.Pubrel ? PUBREL_FLAGS : 0);
  if (version !== ProtocolVersion.V5 || (p.reasonCode === 0 && p.properties === null)) {
    const b = Buffer.allocUnsafe(4);
    b[0] = first;
    b[1] = 2;
    b[2] = p.packetId >>> 8;
    b[3] = p.packetId & 0xff;
    return b;
  }
  const propsSize = propertiesSize(p.properties, p.type);
  const size = propsSize === 0 ? 3 : 3 + varintSize(propsSize) + propsSize;
  const w = new Writer(1 + varintSize(size) + size);
  w.header(first, size);
  w.u16(p.packetId);
  w.u8(p.reasonCode);
  if (propsSize > 0) writeProperties(w, p.properties, p.type, propsSize);
  return w.buf;
}
