/**
 * The MQTT encoder: one packet object in, one Buffer out, for any version. The dispatch switch
 * here is the only place that maps a packet type to its encoder (codec/*.ts hold them).
 * For the publish hot path use codec/publish.ts directly (encodePublishFields, withPacketId).
 */

import { encodeAck } from './codec/ack.js';
import { encodeConnack, encodeConnect } from './codec/connect.js';
import { encodePingreq, encodePingresp, encodeReasonPacket } from './codec/control.js';
import { encodePublish } from './codec/publish.js';
import { encodeSuback, encodeSubscribe, encodeUnsuback, encodeUnsubscribe } from './codec/subscribe.js';
import { PacketType, type ProtocolVersion } from './constants.js';
import type { Packet } from './packets.js';

export function encode(packet: Packet, version: ProtocolVersion): Buffer {
  switch (packet.type) {
    case PacketType.Connect:
      return encodeConnect(packet);
    case PacketType.Connack:
      return encodeConnack(packet, version);
    case PacketType.Publish:
      return encodePublish(packet, version);
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return encodeAck(packet, version);
    case PacketType.Subscribe:
      return encodeSubscribe(packet, version);
    case PacketType.Suback:
      return encodeSuback(packet, version);
    case PacketType.Unsubscribe:
      return encodeUnsubscribe(packet, version);
    case PacketType.Unsuback:
      return encodeUnsuback(packet, version);
    case PacketType.Pingreq:
      return encodePingreq();
    case PacketType.Pingresp:
      return encodePingresp();
    case PacketType.Disconnect:
    case PacketType.Auth:
      return encodeReasonPacket(packet, version);
  }
}
