/**
 * PUBLISH from a client (section 3.3) and the QoS 2 release, PUBREL (3.6).
 *
 * In order: the server's limits (QoS, retain); the topic alias (5.0: an alias with a topic sets
 * it, an alias alone stands for its topic; per connection [MQTT-3.3.2-7]); the Receive Maximum
 * (5.0: a client with more QoS 1/2 publications unacknowledged than the CONNACK allowed gets
 * DISCONNECT 0x93 [MQTT-3.3.4-7]); authorization (the `client.authorize` fold hook, asked only
 * when a callback is registered); then routing and the acknowledgement.
 *
 * QoS 0 is routed and forgotten. QoS 1 is routed, then acknowledged with PUBACK. QoS 2 is
 * routed once and answered with PUBREC; its packet id is remembered until PUBREL, so a resent
 * PUBLISH with the same id is acknowledged again but not routed twice [MQTT-4.3.3-10].
 * (With durable storage, issue 5, the acknowledgement waits for the commit.)
 *
 * A denied publish is not routed: QoS 0 is dropped, QoS 1 gets PUBACK 0x87 and QoS 2 PUBREC 0x87
 * (5.0; with a Reason String unless the client asked for none); a 3.x client gets its plain
 * PUBACK / PUBREC and the message is dropped, as Mosquitto and EMQX (deny_action = ignore) do.
 * An authorization callback that answers asynchronously makes this handler return a Promise;
 * the connection holds the packets that follow until it settles, so their order is kept. A
 * callback that throws or rejects denies (authorization fails closed, authorize.ts).
 *
 * Strict mode (`mqtt.strict_mode`, off by default: one boolean test then). A 5.0 PUBLISH whose
 * Payload Format Indicator is 1 promises well-formed UTF-8; "the receiver MAY validate that the
 * Payload is of the format indicated, and if it is not send a PUBACK, PUBREC, or DISCONNECT with
 * Reason Code of 0x99" (5.0 section 3.3.2.3.2). In strict mode we do: QoS 1 gets PUBACK 0x99,
 * QoS 2 PUBREC 0x99 (the connection stays), and QoS 0, which has no acknowledgement to carry the
 * code, gets DISCONNECT 0x99, the one way the specification gives to tell the client. The
 * message is not routed, nor retained.
 */

import { isUtf8 } from 'node:buffer';

import { authorize } from '../../broker/authorize.js';
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
import { type Action, ChannelState, ExplainedError, NO_ACTIONS } from '../actions.js';
import type { Channel } from '../channel.js';

export function handlePublish(
  ch: Channel,
  packet: PublishPacket,
): readonly Action[] | Promise<readonly Action[]> {
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
  let topic = packet.topic;
  let properties = packet.properties;
  if (properties !== null) {
    if (properties.subscriptionIdentifiers !== undefined) {
      throw new ExplainedError(
        ReasonCode.ProtocolError,
        'a PUBLISH from a client carries a Subscription Identifier',
        'MQTT-3.3.4-6',
      );
    }
    const alias = properties.topicAlias;
    if (alias !== undefined) topic = resolveAlias(ch, alias, topic);
    properties = forwardable(properties);
  }
  if (topicLevels(topic) > settings.maxTopicLevels) {
    throw new ProtocolError(ReasonCode.TopicNameInvalid, 'the topic has too many levels');
  }
  const session = ch.session!;
  const packetId = packet.packetId;

  if (packet.qos === 2) {
    if (session.isAwaitingRel(packetId)) return [pubrec(packetId, ReasonCode.Success, null)];
    if (v5 && session.receiving >= settings.receiveMaximum) {
      // More unacknowledged QoS 1/2 publications than our CONNACK's Receive Maximum [MQTT-3.3.4-7].
      throw new ExplainedError(
        ReasonCode.ReceiveMaximumExceeded,
        `more than Receive Maximum (${settings.receiveMaximum}) QoS 2 publications awaiting PUBREL`,
        'MQTT-3.3.4-7',
      );
    }
    if (session.awaitingRelCount >= settings.maxAwaitingRel) {
      if (v5) {
        const reason = ch.reasonProperties('too many QoS 2 messages awaiting release (max_awaiting_rel)');
        return [pubrec(packetId, ReasonCode.QuotaExceeded, reason)];
      }
      throw new ProtocolError(ReasonCode.QuotaExceeded, 'too many QoS 2 messages awaiting release');
    }
  }

  if (settings.strictMode && properties !== null && properties.payloadFormatIndicator === 1) {
    if (!isUtf8(packet.payload)) return invalidPayload(ch, packet);
  }

  const broker = ch.broker;
  if (broker.hooks.has('client.authorize')) {
    const decision = authorize(broker, ch.client!, {
      action: 'publish',
      topic,
      qos: packet.qos,
      retain: packet.retain,
    });
    if (decision instanceof Promise) {
      return decision.then((d) => {
        // The connection may have gone while a callback was thinking: route nothing then.
        if (ch.state !== ChannelState.Connected) return NO_ACTIONS;
        return d === 'allow' ? route(ch, packet, topic, properties) : denied(ch, packet, topic);
      });
    }
    if (decision !== 'allow') return denied(ch, packet, topic);
  }
  return route(ch, packet, topic, properties);
}

/**
 * The topic of a PUBLISH with a Topic Alias (section 3.3.4): 0 or above our Topic Alias Maximum
 * is invalid (0x94) [MQTT-3.3.2-8] [MQTT-3.3.2-12]; with a topic the alias is (re)set to it; alone
 * it stands for the topic it was set to on this connection, and one never set is a protocol error
 * (0x82): mappings do not outlive their connection [MQTT-3.3.2-7].
 */
function resolveAlias(ch: Channel, alias: number, topic: string): string {
  const max = ch.settings.maxTopicAlias;
  if (alias === 0 || alias > max) {
    throw new ExplainedError(
      ReasonCode.TopicAliasInvalid,
      alias === 0
        ? 'Topic Alias 0 is not allowed'
        : `Topic Alias ${alias} is above the Topic Alias Maximum ${max}`,
      alias === 0 ? 'MQTT-3.3.2-8' : 'MQTT-3.3.2-9',
    );
  }
  if (topic.length > 0) {
    (ch.aliasesIn ??= new Map()).set(alias, topic);
    return topic;
  }
  const known = ch.aliasesIn?.get(alias);
  if (known === undefined) {
    throw new ExplainedError(
      ReasonCode.ProtocolError,
      `Topic Alias ${alias} was not set on this connection`,
      'MQTT-3.3.2-7',
    );
  }
  return known;
}

/** Routes an authorized publish and answers it according to its QoS. */
function route(
  ch: Channel,
  packet: PublishPacket,
  topic: string,
  properties: Properties | null,
): readonly Action[] {
  const client = ch.client!;
  const message = new Message(topic, packet.payload, packet.qos, packet.retain, properties, client.clientId);
  const routed = ch.broker.publish(message, client);
  // 0x10 only when nothing matched; a message a hook took (CONSUMED, -1) is a success.
  const code = ch.v5 && routed === 0 ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success;
  switch (packet.qos) {
    case 0:
      return NO_ACTIONS;
    case 1:
      return [puback(packet.packetId, code, null)];
    case 2:
      ch.session!.addAwaitingRel(packet.packetId, Date.now());
      return [pubrec(packet.packetId, code, null)];
  }
}

/**
 * A publish `client.authorize` denied: not routed. 5.0 learns why (0x87); 3.x has no way to say
 * it, so the acknowledgement is the usual one (the message is dropped all the same). With
 * `authorization.deny_action = disconnect` the connection ends instead, at any QoS: DISCONNECT
 * 0x87 (5.0) and close; the will is published (EMQX's handle_out(disconnect, ?RC_NOT_AUTHORIZED)).
 */
function denied(ch: Channel, packet: PublishPacket, topic: string): readonly Action[] {
  if (ch.broker.denyAction === 'disconnect') {
    return ch.disconnect(ReasonCode.NotAuthorized, 'not_authorized', `not authorized to publish to ${topic}`);
  }
  if (packet.qos === 0) return NO_ACTIONS;
  const code = ch.v5 ? ReasonCode.NotAuthorized : ReasonCode.Success;
  const reason = ch.reasonProperties(`not authorized to publish to ${topic}`);
  return packet.qos === 1 ? [puback(packet.packetId, code, reason)] : [pubrec(packet.packetId, code, reason)];
}

/**
 * Strict mode: the payload is not the UTF-8 its Payload Format Indicator announced (5.0 section
 * 3.3.2.3.2): not routed; 0x99 in the PUBACK / PUBREC, or a DISCONNECT 0x99 for QoS 0.
 */
function invalidPayload(ch: Channel, packet: PublishPacket): readonly Action[] {
  const why = 'the payload is not well-formed UTF-8 though its Payload Format Indicator is 1';
  if (packet.qos === 0) throw new ExplainedError(ReasonCode.PayloadFormatInvalid, why);
  const reason = ch.reasonProperties(why);
  const code = ReasonCode.PayloadFormatInvalid;
  return packet.qos === 1 ? [puback(packet.packetId, code, reason)] : [pubrec(packet.packetId, code, reason)];
}

function puback(packetId: number, reasonCode: number, properties: Properties | null): Action {
  return { kind: 'send', packet: { type: PacketType.Puback, packetId, reasonCode, properties } };
}

function pubrec(packetId: number, reasonCode: number, properties: Properties | null): Action {
  return { kind: 'send', packet: { type: PacketType.Pubrec, packetId, reasonCode, properties } };
}

export function handlePubrel(ch: Channel, packet: PubrelPacket): readonly Action[] {
  const known = ch.session!.release(packet.packetId);
  const reasonCode = known || !ch.v5 ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound;
  const properties = known
    ? null
    : ch.reasonProperties('no QoS 2 message awaits release with this packet id');
  return [
    {
      kind: 'send',
      packet: { type: PacketType.Pubcomp, packetId: packet.packetId, reasonCode, properties },
    },
  ];
}

/**
 * The properties a server forwards: everything but the Topic Alias, which is per connection
 * [MQTT-3.3.2-7]. (Subscription Identifiers, which the server sets per subscription, were refused
 * above.)
 */
function forwardable(p: Properties): Properties | null {
  if (p.topicAlias === undefined) return p;
  const { topicAlias: _alias, ...rest } = p;
  return Object.keys(rest).length === 0 ? null : rest;
}
