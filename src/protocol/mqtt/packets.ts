/**
 * The MQTT control packets as a discriminated union on `type`, one shape for all three
 * protocol versions. Fields that a version does not carry are left at their neutral value
 * (`properties: null`, `reasonCode: 0`), so code that handles a packet needs no version checks
 * to read it.
 *
 * Buffers (payload, password, correlation data) that come out of the decoder are views into
 * the received chunk: copy one (`Buffer.from(view)`) before keeping it beyond the current turn.
 */

import type { PacketType, ProtocolVersion, QoS } from './constants.js';

/** User properties keep their order and may repeat a name [MQTT-3.3.2-17/18]. */
export type UserProperties = Array<[name: string, value: string]>;

/**
 * Every MQTT 5.0 property. Which ones a packet may carry is checked by the codec against the
 * table in properties.ts.
 */
export interface Properties {
  payloadFormatIndicator?: 0 | 1;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  /** In PUBLISH several may be present (one per matching subscription); in SUBSCRIBE one. */
  subscriptionIdentifiers?: number[];
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Buffer;
  requestProblemInformation?: 0 | 1;
  willDelayInterval?: number;
  requestResponseInformation?: 0 | 1;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQoS?: 0 | 1;
  retainAvailable?: 0 | 1;
  userProperties?: UserProperties;
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: 0 | 1;
  subscriptionIdentifierAvailable?: 0 | 1;
  sharedSubscriptionAvailable?: 0 | 1;
}

export interface Will {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** Will properties (5.0 only). */
  properties: Properties | null;
}

export interface ConnectPacket {
  type: typeof PacketType.Connect;
  /** "MQIsdp" for 3.1, "MQTT" for 3.1.1 and 5.0. */
  protocolName: string;
  protocolVersion: ProtocolVersion;
  /** Bit 0x80 of the protocol level: a bridge announcing itself (Mosquitto's try_private). */
  bridge: boolean;
  /** Clean Session (3.1, 3.1.1) or Clean Start (5.0). */
  clean: boolean;
  keepalive: number;
  clientId: string;
  will: Will | null;
  username: string | null;
  password: Buffer | null;
  properties: Properties | null;
}

export interface ConnackPacket {
  type: typeof PacketType.Connack;
  sessionPresent: boolean;
  /** A ReasonCode in 5.0, a ConnectReturnCode in 3.1 and 3.1.1. */
  reasonCode: number;
  properties: Properties | null;
}

export interface PublishPacket {
  type: typeof PacketType.Publish;
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** 0 for QoS 0. */
  packetId: number;
  properties: Properties | null;
}

interface AckShape {
  packetId: number;
  /** Always 0 in 3.1 / 3.1.1. */
  reasonCode: number;
  properties: Properties | null;
}

export interface PubackPacket extends AckShape {
  type: typeof PacketType.Puback;
}
export interface PubrecPacket extends AckShape {
  type: typeof PacketType.Pubrec;
}
export interface PubrelPacket extends AckShape {
  type: typeof PacketType.Pubrel;
}
export interface PubcompPacket extends AckShape {
  type: typeof PacketType.Pubcomp;
}

export type RetainHandling = 0 | 1 | 2;

export interface Subscription {
  topicFilter: string;
  qos: QoS;
  /** 5.0 only; false otherwise. */
  noLocal: boolean;
  /** 5.0 only; false otherwise. */
  retainAsPublished: boolean;
  /** 5.0 only; 0 otherwise. */
  retainHandling: RetainHandling;
}

export interface SubscribePacket {
  type: typeof PacketType.Subscribe;
  packetId: number;
  subscriptions: Subscription[];
  properties: Properties | null;
}

export interface SubackPacket {
  type: typeof PacketType.Suback;
  packetId: number;
  /** Granted QoS or a failure code, one per requested subscription. */
  reasonCodes: number[];
  properties: Properties | null;
}

export interface UnsubscribePacket {
  type: typeof PacketType.Unsubscribe;
  packetId: number;
  topicFilters: string[];
  properties: Properties | null;
}

export interface UnsubackPacket {
  type: typeof PacketType.Unsuback;
  packetId: number;
  /** One per topic filter in 5.0; empty in 3.1 / 3.1.1, whose UNSUBACK has no payload. */
  reasonCodes: number[];
  properties: Properties | null;
}

export interface PingreqPacket {
  type: typeof PacketType.Pingreq;
}

export interface PingrespPacket {
  type: typeof PacketType.Pingresp;
}

export interface DisconnectPacket {
  type: typeof PacketType.Disconnect;
  /** Always 0 in 3.1 / 3.1.1. */
  reasonCode: number;
  properties: Properties | null;
}

export interface AuthPacket {
  type: typeof PacketType.Auth;
  reasonCode: number;
  properties: Properties | null;
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | PubrecPacket
  | PubrelPacket
  | PubcompPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;

export type AckPacket = PubackPacket | PubrecPacket | PubrelPacket | PubcompPacket;
