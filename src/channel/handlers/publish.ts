/**
 * PUBLISH from a client (section 3.3) and the QoS 2 release, PUBREL (3.6).
 *
 * QoS 0 is routed and forgotten. QoS 1 is routed, then acknowledged with PUBACK. QoS 2 is
 * routed once and answered with PUBREC; its packet id is remembered until PUBREL, so a resent
 * PUBLISH with the same id is acknowledged again but not routed twice [MQTT-4.3.3-10].
 * (With durable storage, issue 5, the acknowledgement waits for the commit.)
 */

import { Message } from '../../broker/message.js';
import {
  PacketType,
  type Properties,
  ProtocolError,
  type PublishPacket,
  type PubrelPacket,
  ReasonCode,
  topicLevels,
} from '../../protocol/index.js';
import { type Action, NO_ACTIONS } from '../actions.js';
import type { Channel } from '../channel.js';

export function handlePublish(ch: Channel, packet: PublishPacket): readonly Action[] {
  const settings = ch.settings;
  const v5 = ch.v5;
  if (packet.qos > settings.maxQosAllowed) {
    throw new ProtocolError(
      ReasonCode.QoSNotSupported,
      `QoS ${packet.qos} is above the maximum`,
      'MQTT-3.2.2-11',
    );
  }
  if (packet.retain && !settings.retainAvailable) {
    throw new ProtocolError(
      ReasonCode.RetainNotSupported,
      'retained messages are not available',
      'MQTT-3.2.2-14',
    );
  }
  let properties = packet.properties;
  if (properties !== null) {
    if (properties.topicAlias !== undefined) {
      // We advertise no Topic Alias Maximum yet, so any alias is out of range [MQTT-3.3.2-9].
      throw new ProtocolError(ReasonCode.TopicAliasInvalid, 'topic aliases are not accepted', 'MQTT-3.3.2-9');
    }
    properties = forwardable(properties);
  }
  if (topicLevels(packet.topic) > settings.maxTopicLevels) {
    throw new ProtocolError(ReasonCode.TopicNameInvalid, 'the topic has too many levels');
  }
  const session = ch.session!;
  const client = ch.client!;
  const metrics = ch.broker.metrics;
  metrics.packetsReceived++;

  if (packet.qos === 2) {
    if (session.awaitingRel.has(packet.packetId)) return [pubrec(packet.packetId, 0)];
    if (session.awaitingRel.size >= settings.maxAwaitingRel) {
      if (v5) return [pubrec(packet.packetId, ReasonCode.QuotaExceeded)];
      throw new ProtocolError(ReasonCode.QuotaExceeded, 'too many QoS 2 messages awaiting release');
    }
  }
  const message = new Message(
    packet.topic,
    packet.payload,
    packet.qos,
    packet.retain,
    properties,
    client.clientId,
  );
  const routed = ch.broker.publish(message, client);
  // 0x10 only when nothing matched; a message a hook took (CONSUMED, -1) is a success.
  const code = v5 && routed === 0 ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success;
  switch (packet.qos) {
    case 0:
      return NO_ACTIONS;
    case 1:
      return [
        {
          kind: 'send',
          packet: { type: PacketType.Puback, packetId: packet.packetId, reasonCode: code, properties: null },
        },
      ];
    case 2:
      session.awaitingRel.add(packet.packetId);
      return [pubrec(packet.packetId, code)];
  }
}

function pubrec(packetId: number, reasonCode: number): Action {
  return { kind: 'send', packet: { type: PacketType.Pubrec, packetId, reasonCode, properties: null } };
}

export function handlePubrel(ch: Channel, packet: PubrelPacket): readonly Action[] {
  const known = ch.session!.awaitingRel.delete(packet.packetId);
  const reasonCode = known || !ch.v5 ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound;
  return [
    {
      kind: 'send',
      packet: { type: PacketType.Pubcomp, packetId: packet.packetId, reasonCode, properties: null },
    },
  ];
}

/**
 * The properties a server forwards: everything but the Topic Alias, which is per connection
 * [MQTT-3.3.2-7], and Subscription Identifiers, which the server sets per subscription.
 */
function forwardable(p: Properties): Properties | null {
  if (p.topicAlias === undefined && p.subscriptionIdentifiers === undefined) return p;
  const { topicAlias: _alias, subscriptionIdentifiers: _ids, ...rest } = p;
  return Object.keys(rest).length === 0 ? null : rest;
}
