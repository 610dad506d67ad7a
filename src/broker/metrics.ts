/**
 * Broker counters, named after EMQX's metrics (`apps/emqx/include/emqx_metrics.hrl`:
 * `bytes.received`, `packets.publish.sent`, `messages.qos1.received`, `messages.dropped`, ...)
 * so $SYS topics, the HTTP API and Prometheus (later issues) publish them under EMQX's names.
 *
 * Plain numeric fields on one object: incrementing one costs nothing on the hot path. Counting
 * happens in a few places only:
 *  - bytes received: per chunk read (MqttConnection.onData);
 *  - packets received, by type: per decoded packet (`packetReceived`, MqttConnection.onPacket);
 *  - packets sent, by type, and their bytes: per packet written (`packetSent`,
 *    Channel.writePacket) and per PUBLISH delivered (`publishSent`, Channel.sendPublish);
 *  - messages received and dropped without subscribers: Broker.publish;
 *  - messages dropped on the way to a subscriber: Broker's session drop callback
 *    (`sessionDropped`) and Channel.sendPublish (too large, expired, slow consumer).
 *
 * Honest numbers. The broker's own `$SYS` messages are not client traffic: they count in no
 * message or packet counter (EMQX's `emqx_message:is_sys/1` rule: not `messages.received`, not
 * `messages.dropped.no_subscribers`, not `messages.retained`; a `$SYS` PUBLISH written to a
 * subscriber is not in `packets.sent` or `messages.sent`). Their bytes are in `bytes.sent`,
 * which counts what went over the sockets.
 *
 * One deliberate difference from EMQX: `messages.dropped` counts every message the broker
 * dropped, whatever the reason (EMQX counts only the drops before routing there, and the drops
 * on the way to a subscriber under `delivery.dropped`). The reasons are broken down in
 * `messages.dropped.no_subscribers` and `delivery.dropped.*`, as in EMQX.
 */

import { type Packet, PacketType, type QoS, ReasonCode } from '../protocol/index.js';

/** `$`, the first character of every topic the broker reserves. */
const DOLLAR = 0x24;
/** Prefix of the broker's system topics. */
export const SYS_PREFIX = '$SYS/';

/** A `$SYS/...` topic (EMQX's is_sys): cheap enough for the hot path (one char compare first). */
export function isSysTopic(topic: string): boolean {
  return topic.charCodeAt(0) === DOLLAR && topic.startsWith(SYS_PREFIX);
}

/** 3.1 / 3.1.1 CONNACK return codes that mean an authentication failure. */
const V4_BAD_CREDENTIALS = 0x04;
const V4_NOT_AUTHORIZED = 0x05;
/** Reason codes from this value on are failures (MQTT 5.0 section 2.4; 3.1.1 SUBACK 0x80). */
const FAILURE = ReasonCode.UnspecifiedError;
const isFailure = (reasonCode: number): boolean => reasonCode >= FAILURE;

export class Metrics {
  // ---- bytes ----
  bytesReceived = 0;
  bytesSent = 0;

  // ---- packets ----
  packetsReceived = 0;
  packetsSent = 0;
  packetsConnectReceived = 0;
  packetsConnackSent = 0;
  packetsConnackError = 0;
  packetsConnackAuthError = 0;
  packetsPublishReceived = 0;
  packetsPublishSent = 0;
  packetsPublishError = 0;
  packetsPublishAuthError = 0;
  packetsPubackReceived = 0;
  packetsPubackSent = 0;
  packetsPubrecReceived = 0;
  packetsPubrecSent = 0;
  packetsPubrelReceived = 0;
  packetsPubrelSent = 0;
  packetsPubcompReceived = 0;
  packetsPubcompSent = 0;
  packetsSubscribeReceived = 0;
  packetsSubscribeError = 0;
  packetsSubscribeAuthError = 0;
  packetsSubackSent = 0;
  packetsUnsubscribeReceived = 0;
  packetsUnsubscribeError = 0;
  packetsUnsubackSent = 0;
  packetsPingreqReceived = 0;
  packetsPingrespSent = 0;
  packetsDisconnectReceived = 0;
  packetsDisconnectSent = 0;
  packetsAuthReceived = 0;
  packetsAuthSent = 0;
  /** Packets that failed to decode or broke a protocol rule (an Aviary addition). */
  packetsMalformed = 0;

  // ---- messages ----
  messagesReceived = 0;
  messagesQos0Received = 0;
  messagesQos1Received = 0;
  messagesQos2Received = 0;
  messagesSent = 0;
  messagesQos0Sent = 0;
  messagesQos1Sent = 0;
  messagesQos2Sent = 0;
  /** Every message dropped, for any reason (see the header). */
  messagesDropped = 0;
  messagesDroppedNoSubscribers = 0;
  messagesRetained = 0;
  /** Retained messages not kept: payload over retainer.max_payload_size / store full. */
  retainedDroppedTooLarge = 0;
  retainedDroppedFull = 0;
  /** Messages taken for delayed publish ($delayed/<seconds>/<topic>, src/broker/delayed.ts). */
  messagesDelayed = 0;
  messagesDelivered = 0;
  messagesAcked = 0;

  // ---- drops on the way to a subscriber (EMQX's delivery.dropped.*) ----
  /** Larger than the subscriber's Maximum Packet Size [MQTT-3.1.2-25]. */
  messagesDroppedTooLarge = 0;
  /** Message Expiry Interval passed before it could be sent [MQTT-3.3.2-5]. */
  messagesDroppedExpired = 0;
  /** A full session queue, or QoS 0 shed for a client that does not read. */
  deliveryDroppedQueueFull = 0;
  /** QoS 0 for an offline session that does not store QoS 0 (mqtt.mqueue_store_qos0 = false). */
  deliveryDroppedQos0 = 0;

  // ---- sessions (EMQX's session.*; counted by Broker.openSession / discardSession) ----
  sessionCreated = 0;
  sessionResumed = 0;
  sessionTakenover = 0;
  /** An existing session thrown away by a Clean Start. */
  sessionDiscarded = 0;
  /** A session that ended: its connection closed with expiry 0, it expired, or it was kicked. */
  sessionTerminated = 0;

  // ---- clients ----
  clientConnected = 0;
  clientDisconnected = 0;
  clientAuthFailure = 0;

  // ---- authorization (src/authz; EMQX's authorization.*) ----
  /** Checks answered allow / deny (from a rule, the cache, a superuser, or `no_match`). */
  authorizationAllow = 0;
  authorizationDeny = 0;
  /** Checks answered from the per-client cache / that had to ask the sources. */
  authorizationCacheHit = 0;
  authorizationCacheMiss = 0;
  /** Checks skipped because the client is a superuser. */
  authorizationSuperuser = 0;
  /** Checks where no source had a matching rule (`authorization.no_match` decided). */
  authorizationNomatch = 0;
  /** Checks where a source's rule allowed / denied. */
  authorizationMatchedAllow = 0;
  authorizationMatchedDeny = 0;

  // ---- security (src/security; Aviary's additions) ----
  /** CONNECTs refused because the client is banned (CONNACK 0x8A; 3.1.1: 0x05). */
  bannedRefused = 0;
  /** Connected clients kicked because a ban that matches them was added. */
  bannedKicked = 0;
  /** Client ids banned by flapping detection. */
  flappingBanned = 0;
  /** Times a client's message quota (messages_rate) ran out and its reading was paused. */
  limiterMessagesExceeded = 0;
  /** Times a client's byte quota (bytes_rate) ran out and its reading was paused. */
  limiterBytesExceeded = 0;
  /** Milliseconds of reading paused by rate limits, summed over clients. */
  limiterPausedMs = 0;

  /** A message entered the broker (Broker.publish), not counting the broker's own $SYS ones. */
  messageReceived(qos: QoS): void {
    this.messagesReceived++;
    if (qos === 0) this.messagesQos0Received++;
    else if (qos === 1) this.messagesQos1Received++;
    else this.messagesQos2Received++;
  }

  /** A message matched no subscription. */
  droppedNoSubscribers(): void {
    this.messagesDropped++;
    this.messagesDroppedNoSubscribers++;
  }

  /** A session dropped a message: its queue was full, or QoS 0 while offline. */
  sessionDropped(reason: string): void {
    this.messagesDropped++;
    if (reason === 'queue_full') this.deliveryDroppedQueueFull++;
    else if (reason === 'qos0_offline') this.deliveryDroppedQos0++;
  }

  /** A packet arrived from a client (every decoded packet, before it is handled). */
  packetReceived(packet: Packet): void {
    this.packetsReceived++;
    switch (packet.type) {
      case PacketType.Connect:
        this.packetsConnectReceived++;
        break;
      case PacketType.Publish:
        this.packetsPublishReceived++;
        break;
      case PacketType.Puback:
        this.packetsPubackReceived++;
        break;
      case PacketType.Pubrec:
        this.packetsPubrecReceived++;
        break;
      case PacketType.Pubrel:
        this.packetsPubrelReceived++;
        break;
      case PacketType.Pubcomp:
        this.packetsPubcompReceived++;
        break;
      case PacketType.Subscribe:
        this.packetsSubscribeReceived++;
        break;
      case PacketType.Unsubscribe:
        this.packetsUnsubscribeReceived++;
        break;
      case PacketType.Pingreq:
        this.packetsPingreqReceived++;
        break;
      case PacketType.Disconnect:
        this.packetsDisconnectReceived++;
        break;
      case PacketType.Auth:
        this.packetsAuthReceived++;
        break;
    }
  }

  /**
   * A packet other than a delivered PUBLISH was written (`bytes`: its encoded size). Failure
   * reason codes count as EMQX counts them: a CONNACK refusal in `packets.connack.error` (and
   * `.auth_error` for bad credentials / not authorized), a PUBACK or PUBREC failure in
   * `packets.publish.error`, a SUBACK / UNSUBACK with a failure in `packets.(un)subscribe.error`
   * (and a SUBACK with 0x87 in `packets.subscribe.auth_error`), once per packet.
   */
  packetSent(packet: Packet, bytes: number): void {
    if (packet.type === PacketType.Publish) {
      // A PUBLISH written as a plain packet rather than delivered: count it like a delivery.
      this.publishSent(packet.topic, packet.qos, bytes);
      return;
    }
    this.bytesSent += bytes;
    this.packetsSent++;
    switch (packet.type) {
      case PacketType.Connack: {
        this.packetsConnackSent++;
        const rc = packet.reasonCode;
        if (rc !== ReasonCode.Success) this.packetsConnackError++;
        if (
          rc === ReasonCode.NotAuthorized ||
          rc === ReasonCode.BadUserNameOrPassword ||
          rc === V4_NOT_AUTHORIZED ||
          rc === V4_BAD_CREDENTIALS
        ) {
          this.packetsConnackAuthError++;
        }
        break;
      }
      case PacketType.Puback:
        this.packetsPubackSent++;
        this.publishAckSent(packet.reasonCode);
        break;
      case PacketType.Pubrec:
        this.packetsPubrecSent++;
        this.publishAckSent(packet.reasonCode);
        break;
      case PacketType.Pubrel:
        this.packetsPubrelSent++;
        break;
      case PacketType.Pubcomp:
        this.packetsPubcompSent++;
        break;
      case PacketType.Suback: {
        this.packetsSubackSent++;
        const codes = packet.reasonCodes;
        if (codes.some(isFailure)) this.packetsSubscribeError++;
        if (codes.includes(ReasonCode.NotAuthorized)) this.packetsSubscribeAuthError++;
        break;
      }
      case PacketType.Unsuback:
        this.packetsUnsubackSent++;
        if (packet.reasonCodes.some(isFailure)) this.packetsUnsubscribeError++;
        break;
      case PacketType.Pingresp:
        this.packetsPingrespSent++;
        break;
      case PacketType.Disconnect:
        this.packetsDisconnectSent++;
        break;
      case PacketType.Auth:
        this.packetsAuthSent++;
        break;
    }
  }

  /** A PUBLISH was written to a subscriber (`bytes`: header and payload). */
  publishSent(topic: string, qos: QoS, bytes: number): void {
    this.bytesSent += bytes;
    // EMQX's inc_sent/1: a $SYS PUBLISH is not counted as a packet or message (its bytes are).
    if (isSysTopic(topic)) return;
    this.packetsSent++;
    this.packetsPublishSent++;
    this.messagesSent++;
    this.messagesDelivered++;
    if (qos === 0) this.messagesQos0Sent++;
    else if (qos === 1) this.messagesQos1Sent++;
    else this.messagesQos2Sent++;
  }

  private publishAckSent(reasonCode: number): void {
    if (reasonCode < FAILURE) return;
    this.packetsPublishError++;
    if (reasonCode === ReasonCode.NotAuthorized) this.packetsPublishAuthError++;
  }

  /**
   * EMQX-style names and values, e.g. { 'messages.received': 10 }: what `$SYS/.../metrics/*`
   * publishes (names with dots turned into slashes) and what the API will serve.
   */
  toJSON(): Record<string, number> {
    const deliveryDropped =
      this.messagesDroppedTooLarge +
      this.messagesDroppedExpired +
      this.deliveryDroppedQueueFull +
      this.deliveryDroppedQos0;
    return {
      'bytes.received': this.bytesReceived,
      'bytes.sent': this.bytesSent,
      'packets.received': this.packetsReceived,
      'packets.sent': this.packetsSent,
      'packets.connect.received': this.packetsConnectReceived,
      'packets.connack.sent': this.packetsConnackSent,
      'packets.connack.error': this.packetsConnackError,
      'packets.connack.auth_error': this.packetsConnackAuthError,
      'packets.publish.received': this.packetsPublishReceived,
      'packets.publish.sent': this.packetsPublishSent,
      'packets.publish.error': this.packetsPublishError,
      'packets.publish.auth_error': this.packetsPublishAuthError,
      'packets.puback.received': this.packetsPubackReceived,
      'packets.puback.sent': this.packetsPubackSent,
      'packets.pubrec.received': this.packetsPubrecReceived,
      'packets.pubrec.sent': this.packetsPubrecSent,
      'packets.pubrel.received': this.packetsPubrelReceived,
      'packets.pubrel.sent': this.packetsPubrelSent,
      'packets.pubcomp.received': this.packetsPubcompReceived,
      'packets.pubcomp.sent': this.packetsPubcompSent,
      'packets.subscribe.received': this.packetsSubscribeReceived,
      'packets.subscribe.error': this.packetsSubscribeError,
      'packets.subscribe.auth_error': this.packetsSubscribeAuthError,
      'packets.suback.sent': this.packetsSubackSent,
      'packets.unsubscribe.received': this.packetsUnsubscribeReceived,
      'packets.unsubscribe.error': this.packetsUnsubscribeError,
      'packets.unsuback.sent': this.packetsUnsubackSent,
      'packets.pingreq.received': this.packetsPingreqReceived,
      'packets.pingresp.sent': this.packetsPingrespSent,
      'packets.disconnect.received': this.packetsDisconnectReceived,
      'packets.disconnect.sent': this.packetsDisconnectSent,
      'packets.auth.received': this.packetsAuthReceived,
      'packets.auth.sent': this.packetsAuthSent,
      'packets.malformed': this.packetsMalformed,
      'messages.received': this.messagesReceived,
      'messages.sent': this.messagesSent,
      'messages.qos0.received': this.messagesQos0Received,
      'messages.qos0.sent': this.messagesQos0Sent,
      'messages.qos1.received': this.messagesQos1Received,
      'messages.qos1.sent': this.messagesQos1Sent,
      'messages.qos2.received': this.messagesQos2Received,
      'messages.qos2.sent': this.messagesQos2Sent,
      'messages.dropped': this.messagesDropped,
      'messages.dropped.no_subscribers': this.messagesDroppedNoSubscribers,
      'messages.retained': this.messagesRetained,
      'retained.dropped.too_large': this.retainedDroppedTooLarge,
      'retained.dropped.full': this.retainedDroppedFull,
      'messages.delayed': this.messagesDelayed,
      'messages.delivered': this.messagesDelivered,
      'messages.acked': this.messagesAcked,
      'delivery.dropped': deliveryDropped,
      'delivery.dropped.too_large': this.messagesDroppedTooLarge,
      'delivery.dropped.qos0_msg': this.deliveryDroppedQos0,
      'delivery.dropped.queue_full': this.deliveryDroppedQueueFull,
      'delivery.dropped.expired': this.messagesDroppedExpired,
      'session.created': this.sessionCreated,
      'session.resumed': this.sessionResumed,
      'session.takenover': this.sessionTakenover,
      'session.discarded': this.sessionDiscarded,
      'session.terminated': this.sessionTerminated,
      'client.connected': this.clientConnected,
      'client.disconnected': this.clientDisconnected,
      'authentication.failure': this.clientAuthFailure,
      'authorization.allow': this.authorizationAllow,
      'authorization.deny': this.authorizationDeny,
      'authorization.cache_hit': this.authorizationCacheHit,
      'authorization.cache_miss': this.authorizationCacheMiss,
      'authorization.superuser': this.authorizationSuperuser,
      'authorization.nomatch': this.authorizationNomatch,
      'authorization.matched.allow': this.authorizationMatchedAllow,
      'authorization.matched.deny': this.authorizationMatchedDeny,
      'banned.refused': this.bannedRefused,
      'banned.kicked': this.bannedKicked,
      'flapping.banned': this.flappingBanned,
      'limiter.messages.exceeded': this.limiterMessagesExceeded,
      'limiter.bytes.exceeded': this.limiterBytesExceeded,
      'limiter.paused_ms': this.limiterPausedMs,
    };
  }
}
