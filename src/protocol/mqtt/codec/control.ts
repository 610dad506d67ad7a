/**
 * PINGREQ, PINGRESP (3.12, 3.13), DISCONNECT (3.14) and AUTH (3.15, 5.0 only).
 * DISCONNECT and AUTH with a remaining length of 0 mean reason code 0 and no properties.
 */

import { malformed } from '../../errors.js';
import { PacketType, ProtocolVersion, ReasonCode } from '../constants.js';
import type { AuthPacket, DisconnectPacket, Properties } from '../packets.js';
import { propertiesSize, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { varintSize, Writer } from '../writer.js';

const R = ReasonCode;
/** Reason codes a DISCONNECT may carry (3.14.2.1). */
const DISCONNECT_CODES = new Set<number>([
  R.NormalDisconnection,
  R.DisconnectWithWillMessage,
  R.UnspecifiedError,
  R.MalformedPacket,
  R.ProtocolError,
  R.ImplementationSpecificError,
  R.NotAuthorized,
  R.ServerBusy,
  R.ServerShuttingDown,
  R.KeepAliveTimeout,
  R.SessionTakenOver,
  R.TopicFilterInvalid,
  R.TopicNameInvalid,
  R.ReceiveMaximumExceeded,
  R.TopicAliasInvalid,
  R.PacketTooLarge,
  R.MessageRateTooHigh,
  R.QuotaExceeded,
  R.AdministrativeAction,
  R.PayloadFormatInvalid,
  R.RetainNotSupported,
  R.QoSNotSupported,
  R.UseAnotherServer,
  R.ServerMoved,
  R.SharedSubscriptionsNotSupported,
  R.ConnectionRateExceeded,
  R.MaximumConnectTime,
  R.SubscriptionIdentifiersNotSupported,
  R.WildcardSubscriptionsNotSupported,
]);
const AUTH_CODES = new Set<number>([R.Success, R.ContinueAuthentication, R.ReAuthenticate]);

const PINGREQ = Buffer.from([PacketType.Pingreq << 4, 0]);
const PINGRESP = Buffer.from([PacketType.Pingresp << 4, 0]);

export function encodePingreq(): Buffer {
  return PINGREQ;
}

export function encodePingresp(): Buffer {
  return PINGRESP;
}

export function decodeDisconnect(r: Reader, version: ProtocolVersion): DisconnectPacket {
  let reasonCode = 0;
  let properties: Properties | null = null;
  if (version === ProtocolVersion.V5 && r.remaining > 0) {
    reasonCode = r.u8('reason code');
    if (!DISCONNECT_CODES.has(reasonCode)) {
      throw malformed(`reason code 0x${reasonCode.toString(16)} is not valid in DISCONNECT`, 'MQTT-3.14.2-1');
    }
    if (r.remaining > 0) properties = readProperties(r, PacketType.Disconnect);
  }
  if (r.remaining !== 0) throw malformed('DISCONNECT has bytes after its variable header');
  return { type: PacketType.Disconnect, reasonCode, properties };
}

export function decodeAuth(r: Reader): AuthPacket {
  let reasonCode = 0;
  let properties: Properties | null = null;
  if (r.remaining > 0) {
    reasonCode = r.u8('reason code');
    if (!AUTH_CODES.has(reasonCode))
      throw malformed(`reason code 0x${reasonCode.toString(16)} is not valid in AUTH`, 'MQTT-3.15.2-1');
    if (r.remaining > 0) properties = readProperties(r, PacketType.Auth);
  }
  if (r.remaining !== 0) throw malformed('AUTH has bytes after its variable header');
  return { type: PacketType.Auth, reasonCode, properties };
}

/** DISCONNECT (any version) and AUTH (5.0): reason code and properties, both optional. */
export function encodeReasonPacket(p: DisconnectPacket | AuthPacket, version: ProtocolVersion): Buffer {
  const first = p.type << 4;
  if (version !== ProtocolVersion.V5 || (p.reasonCode === 0 && p.properties === null)) {
    return Buffer.from([first, 0]);
  }
  const propsSize = propertiesSize(p.properties, p.type);
  const size = propsSize === 0 ? 1 : 1 + varintSize(propsSize) + propsSize;
  const w = new Writer(1 + varintSize(size) + size);
  w.header(first, size);
  w.u8(p.reasonCode);
  if (propsSize > 0) writeProperties(w, p.properties, p.type, propsSize);
  return w.buf;
}
