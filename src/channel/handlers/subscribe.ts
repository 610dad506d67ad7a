/**
 * SUBSCRIBE and UNSUBSCRIBE (sections 3.8 to 3.11). Each filter is answered on its own in the
 * SUBACK: granted QoS, or a failure (0x80 in 3.1.1; 0x87, 0x8F, 0x9E, 0xA2, ... in 5.0), so one
 * bad filter does not cost the client its connection. Retained messages are sent after the
 * SUBACK according to Retain Handling [MQTT-3.3.1-9..11], never for a shared subscription.
 *
 * A SUBSCRIBE goes in two steps. First every filter is checked (syntax, shared and wildcard
 * subscriptions enabled, topic levels); then, if a `client.authorize` callback is registered,
 * each filter that passed is put to it as `{ action: 'subscribe', topic, qos, retain: false }`,
 * where `topic` is the filter without its `$share/<group>/` or `$queue/` prefix (as EMQX
 * does), and a 'deny' becomes 0x87 Not Authorized (3.1.1: 0x80). The handler stays synchronous
 * unless a callback returns a Promise; then the connection holds the packets that follow until
 * the SUBACK is decided (see connection.ts). A callback that throws or rejects denies the filter
 * (and is reported through the broker's onHookError): authorization fails closed. With
 * `authorization.deny_action = disconnect` (Broker.denyAction) a denied filter ends the
 * connection instead: DISCONNECT 0x87 (5.0), no SUBACK, nothing subscribed.
 *
 * Exclusive subscriptions (EMQX, `mqtt.exclusive_subscription`): `$exclusive/<filter>` is an
 * ordinary subscription to `<filter>` (stored, authorized, matched and unsubscribed under
 * `<filter>`), which only one session broker-wide may hold at a time. Another session's
 * `$exclusive/<filter>` gets 0x97 Quota Exceeded; with the feature off, 0x8F Topic Filter
 * Invalid (3.1.1: 0x80 for both). The claim is made last, once every other check passed, so a
 * refused filter claims nothing. The broker frees it (broker.ts) when the holder unsubscribes
 * `<filter>` (either spelling) or its session ends; a plain subscription to `<filter>` by
 * anyone else is not affected, as in EMQX. See docs/exclusive-subscriptions.md.
 */

import { authorizeSubscribe, type Verdict } from '../../broker/authorize.js';
import type { SubscriptionOptions } from '../../broker/types.js';
import {
  type ParsedFilter,
  PacketType,
  ProtocolError,
  type QoS,
  ReasonCode,
  SubackFailure,
  type SubscribePacket,
  type UnsubscribePacket,
  hasWildcard,
  parseExclusiveFilter,
  parseSubscriptionFilter,
  topicLevels,
} from '../../protocol/index.js';
import { type Action, ChannelState, NO_ACTIONS, type RetainedRequest } from '../actions.js';
import type { Channel } from '../channel.js';

const ALLOW: Verdict = 'allow';

export function handleSubscribe(
  ch: Channel,
  packet: SubscribePacket,
): readonly Action[] | Promise<readonly Action[]> {
  const subscriptions = packet.subscriptions;
  const parsed: Array<ParsedFilter | null> = [];
  // 0: may be granted; otherwise the 5.0 reason code of the refusal.
  const failures: number[] = [];
  // Which filters are `$exclusive/<filter>`; parsed[i].filter is then the filter without it.
  const exclusive: boolean[] = [];
  for (const s of subscriptions) {
    const x = parseExclusiveFilter(s.topicFilter);
    if (x !== null) {
      const p =
        typeof x === 'string' || !ch.settings.exclusiveSubscription
          ? null
          : { filter: x.filter, group: null };
      parsed.push(p);
      failures.push(p === null ? ReasonCode.TopicFilterInvalid : check(ch, p, s.noLocal));
      exclusive.push(p !== null);
      continue;
    }
    const p = parseSubscriptionFilter(s.topicFilter);
    parsed.push(typeof p === 'string' ? null : p);
    failures.push(typeof p === 'string' ? ReasonCode.TopicFilterInvalid : check(ch, p, s.noLocal));
    exclusive.push(false);
  }
  const hooks = ch.broker.hooks;
  if (!hooks.has('client.authorize') && !hooks.has('client.subscribe'))
    return subscribeAll(ch, packet, parsed, failures, exclusive);

  const verdicts: Array<Verdict | Promise<Verdict>> = [];
  let waiting = false;
  for (let i = 0; i < subscriptions.length; i++) {
    const p = parsed[i];
    if (failures[i] !== 0 || p === null || p === undefined) {
      verdicts.push(ALLOW); // refused already; not put to the callbacks
      continue;
    }
    const request = {
      action: 'subscribe' as const,
      topic: p.filter,
      qos: subscriptions[i]!.qos,
      retain: false,
    };
    const verdict = authorizeSubscribe(ch.broker, ch.client!, request);
    if (verdict instanceof Promise) waiting = true;
    verdicts.push(verdict);
  }
  if (!waiting) {
    if (deny(failures, verdicts as Verdict[]) && ch.broker.denyAction === 'disconnect') return disconnect(ch);
    return subscribeAll(ch, packet, parsed, failures, exclusive);
  }
  return Promise.all(verdicts).then((settled) => {
    // The connection may have gone while a callback was thinking: subscribe nothing then.
    if (ch.state !== ChannelState.Connected) return NO_ACTIONS;
    if (deny(failures, settled) && ch.broker.denyAction === 'disconnect') return disconnect(ch);
    return subscribeAll(ch, packet, parsed, failures, exclusive);
  });
}

/** The checks that need no callback; returns 0 or the 5.0 reason code of the refusal. */
function check(ch: Channel, p: ParsedFilter, noLocal: boolean): number {
  const settings = ch.settings;
  if (p.group !== null) {
    if (ch.v5 && noLocal) {
      throw new ProtocolError(ReasonCode.ProtocolError, 'No Local on a shared subscription', 'MQTT-3.8.3-4');
    }
    if (!settings.sharedSubscription) return ReasonCode.SharedSubscriptionsNotSupported;
  }
  if (!settings.wildcardSubscription && hasWildcard(p.filter)) {
    return ReasonCode.WildcardSubscriptionsNotSupported;
  }
  if (topicLevels(p.filter) > settings.maxTopicLevels) return ReasonCode.TopicFilterInvalid;
  return 0;
}

/** Marks the denied filters 0x87; true if any was denied. */
function deny(failures: number[], verdicts: readonly Verdict[]): boolean {
  let any = false;
  for (let i = 0; i < failures.length; i++) {
    if (failures[i] === 0 && verdicts[i] === 'deny') {
      failures[i] = ReasonCode.NotAuthorized;
      any = true;
    }
  }
  return any;
}

/**
 * `authorization.deny_action = disconnect` and a filter was denied: no SUBACK, nothing
 * subscribed; DISCONNECT 0x87 (5.0) and close, as EMQX's process_subscribe does.
 */
function disconnect(ch: Channel): readonly Action[] {
  return ch.disconnect(ReasonCode.NotAuthorized, 'not_authorized', 'not authorized to subscribe');
}

/** Subscribes every filter not refused and builds the SUBACK and the retained request. */
function subscribeAll(
  ch: Channel,
  packet: SubscribePacket,
  parsed: ReadonlyArray<ParsedFilter | null>,
  failures: readonly number[],
  exclusive: readonly boolean[],
): readonly Action[] {
  const session = ch.session!;
  const client = ch.client!;
  const settings = ch.settings;
  const v5 = ch.v5;
  const broker = ch.broker;
  const subscriptionId = packet.properties?.subscriptionIdentifiers?.[0] ?? 0;
  const codes: number[] = [];
  const retainedFor: RetainedRequest[] = [];
  const subscriptions = packet.subscriptions;
  for (let i = 0; i < subscriptions.length; i++) {
    const s = subscriptions[i]!;
    const p = parsed[i];
    let failure = failures[i] ?? ReasonCode.UnspecifiedError;
    // The filter as the session keeps it: an exclusive one without its `$exclusive/` prefix.
    const isExclusive = exclusive[i] === true && p !== null && p !== undefined;
    const filter = isExclusive ? p.filter : s.topicFilter;
    if (
      failure === 0 &&
      session.subscriptions.size >= settings.maxSubscriptions &&
      !session.subscriptions.has(filter)
    ) {
      failure = ReasonCode.QuotaExceeded;
    }
    // Held by another session: 0x97, as EMQX answers.
    if (failure === 0 && isExclusive && !broker.claimExclusive(session, filter)) {
      failure = ReasonCode.QuotaExceeded;
    }
    if (failure !== 0 || p === null || p === undefined) {
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
      shareGroup: p.group,
    };
    const existed = broker.subscribe(session, filter, options);
    codes.push(qos);
    // Retained messages go to new non-shared subscriptions only (5.0 sections 3.3.1.3, 4.8.2).
    if (p.group === null && (s.retainHandling === 0 || (s.retainHandling === 1 && !existed))) {
      retainedFor.push({ filter, options });
    }
    if (broker.hooks.has('session.subscribed'))
      broker.hooks.run('session.subscribed', client, filter, options);
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
  const exclusiveOn = ch.settings.exclusiveSubscription;
  for (const raw of packet.topicFilters) {
    // `$exclusive/<filter>` unsubscribes `<filter>` (and frees it, broker.unsubscribe).
    const x = exclusiveOn ? parseExclusiveFilter(raw) : null;
    const filter = x !== null && typeof x !== 'string' ? x.filter : raw;
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
