/**
 * SUBSCRIBE and UNSUBSCRIBE (sections 3.8 to 3.11). Each filter is answered on its own in the
 * SUBACK: granted QoS, or a failure (0x80 in 3.1.1; 0x8F, 0x9E, 0xA2, ... in 5.0), so one bad
 * filter does not cost the client its connection. Retained messages are sent after the SUBACK
 * according to Retain Handling [MQTT-3.3.1-9..11].
 */

import type { SubscriptionOptions } from '../../broker/types.js';
import {
  PacketType,
  ProtocolError,
  ReasonCode,
  SubackFailure,
  type SubscribePacket,
  type UnsubscribePacket,
  hasWildcard,
  parseSubscriptionFilter,
  topicLevels,
  type QoS,
} from '../../protocol/index.js';
import type { Action, RetainedRequest } from '../actions.js';
import type { Channel } from '../channel.js';

export function handleSubscribe(ch: Channel, packet: SubscribePacket): readonly Action[] {
  const session = ch.session!;
  const client = ch.client!;
  const settings = ch.settings;
  const v5 = ch.v5;
  const broker = ch.broker;
  const subscriptionId = packet.properties?.subscriptionIdentifiers?.[0] ?? 0;
  const codes: number[] = [];
  const retainedFor: RetainedRequest[] = [];
  for (const s of packet.subscriptions) {
    const parsed = parseSubscriptionFilter(s.topicFilter);
    let failure = 0;
    if (typeof parsed === 'string') failure = ReasonCode.TopicFilterInvalid;
    else if (parsed.group !== null) {
      if (v5 && s.noLocal) {
        throw new ProtocolError(
          ReasonCode.ProtocolError,
          'No Local on a shared subscription',
          'MQTT-3.8.3-4',
        );
      }
      failure = ReasonCode.SharedSubscriptionsNotSupported; // arrives with the protocol issue
    } else if (!settings.wildcardSubscription && hasWildcard(parsed.filter)) {
      failure = ReasonCode.WildcardSubscriptionsNotSupported;
    } else if (topicLevels(parsed.filter) > settings.maxTopicLevels) {
      failure = ReasonCode.TopicFilterInvalid;
    } else if (
      session.subscriptions.size >= settings.maxSubscriptions &&
      !session.subscriptions.has(s.topicFilter)
    ) {
      failure = ReasonCode.QuotaExceeded;
    }
    if (failure !== 0) {
      codes.push(v5 ? failure : SubackFailure);
      continue;
    }
    const qos = Math.min(s.qos, settings.maxQosAllowed) as QoS;
    const options: SubscriptionOptions = {
      qos,
      noLocal: s.noLocal,
      retainAsPublished: s.retainAsPublished,
      retainHandling: s.retainHandling,
      subscriptionId,
      shareGroup: null,
    };
    const existed = broker.subscribe(session, s.topicFilter, options);
    codes.push(qos);
    if (s.retainHandling === 0 || (s.retainHandling === 1 && !existed)) {
      retainedFor.push({ filter: s.topicFilter, options });
    }
    if (broker.hooks.has('session.subscribed'))
      broker.hooks.run('session.subscribed', client, s.topicFilter, options);
  }
  const actions: Action[] = [
    {
      kind: 'send',
      packet: { type: PacketType.Suback, packetId: packet.packetId, reasonCodes: codes, properties: null },
    },
  ];
  // Retained messages follow the SUBACK [MQTT-3.3.1-8] (see Channel.deliverRetained).
  if (retainedFor.length > 0) actions.push({ kind: 'retained', subscriptions: retainedFor });
  return actions;
}

export function handleUnsubscribe(ch: Channel, packet: UnsubscribePacket): readonly Action[] {
  const session = ch.session!;
  const client = ch.client!;
  const broker = ch.broker;
  const codes: number[] = [];
  for (const filter of packet.topicFilters) {
    const existed = broker.unsubscribe(session, filter);
    codes.push(existed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted);
    if (existed && broker.hooks.has('session.unsubscribed'))
      broker.hooks.run('session.unsubscribed', client, filter);
  }
  return [
    {
      kind: 'send',
      packet: { type: PacketType.Unsuback, packetId: packet.packetId, reasonCodes: codes, properties: null },
    },
  ];
}
