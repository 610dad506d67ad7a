/**
 * The channel: one MQTT connection's protocol state machine (after EMQX's emqx_channel).
 *
 * `handleIn(packet)` takes a decoded packet and returns the actions the connection performs:
 * packets to send, the session to attach, the connection to close. It does no I/O itself, so
 * protocol behaviour is tested without sockets. CONNECT may wait on hooks (authentication), so
 * its handler returns a Promise; the connection holds later packets until it settles.
 *
 * Messages routed to this client arrive through the session, which calls the channel's Outlet
 * methods; those encode for this client's protocol version and write to the link directly (the
 * hot path: no action objects per delivered message). A message encoded for one wire form is
 * cached on the message and reused for every subscriber that takes the same form.
 *
 * Topic aliases (5.0, section 3.3.2.3.4) are per connection and per direction: `aliasesIn` holds
 * what the client set (handlers/publish.ts resolves them); `aliasesOut` what the broker set
 * towards a client that accepts aliases (its CONNECT's Topic Alias Maximum > 0). Such a client
 * gets every PUBLISH encoded for it alone (the first message on a topic sets the next free
 * alias, later ones send only the alias); clients without aliases keep sharing cached frames.
 * Aliases are assigned until the client's maximum is reached, then topics go in full.
 *
 * `tick(now)` runs once a second from the connection sweep: it resends unacknowledged QoS 1/2
 * deliveries to MQTT 3.x clients after `retryInterval` (5.0 allows resending only on reconnect
 * [MQTT-4.4.0-1]) and forgets incoming QoS 2 ids not released within `awaitRelTimeout`.
 *
 * The handlers for each packet type live in handlers/*.ts; this file holds the state and the
 * one dispatch switch, and the one place an error becomes a CONNACK or DISCONNECT.
 */

import type { Broker, LiveChannel } from '../broker/broker.js';
import { frameKey, type Message } from '../broker/message.js';
import type { ClientInfo } from '../broker/types.js';
import {
  ConnectReturnCode,
  encode as encodeFor,
  encodePublishFields,
  encodePublishHeader,
  type Packet,
  PacketType,
  type Properties,
  ProtocolError,
  ProtocolVersion,
  type QoS,
  ReasonCode,
  type Will,
  withPacketId,
} from '../protocol/index.js';
import type { Outlet, Session } from '../session/session.js';
import { handleAck } from './handlers/ack.js';
import { handleAuth } from './handlers/auth.js';
import { handleConnect, handleConnectAuth, type PendingConnect } from './handlers/connect.js';
import { handlePublish, handlePubrel } from './handlers/publish.js';
import { handleSubscribe, handleUnsubscribe } from './handlers/subscribe.js';
import { type Action, ChannelState, ExplainedError, NO_ACTIONS, type RetainedRequest } from './actions.js';
import type { Link } from './link.js';

export { type Action, ChannelState, ExplainedError, NO_ACTIONS, type RetainedRequest } from './actions.js';
import type { ChannelSettings } from './settings.js';

/**
 * Bytes waiting in a connection's socket buffer beyond which QoS 0 deliveries to it are dropped
 * (QoS 1/2 wait in the session queue instead, bounded by the inflight window and max_mqueue_len).
 */
export const SLOW_CONSUMER_BYTES = 8 * 1024 * 1024;

/**
 * Payloads from this size on are written as a separate buffer after their PUBLISH header (one
 * writev with the socket corked), so fan-out never copies them; smaller ones are copied into one
 * frame, which is cheaper than an extra iovec. Measured in bench/micro/codec.bench.ts.
 */
export const SPLIT_PAYLOAD_BYTES = 4096;

/** What performs a channel's actions outside a packet's handling (the connection). */
export interface ChannelOwner {
  perform(actions: readonly Action[]): void;
}

export class Channel implements Outlet, LiveChannel {
  state: ChannelState = ChannelState.Idle;
  version: ProtocolVersion = ProtocolVersion.V4;
  client: ClientInfo | null = null;
  session: Session | null = null;
  will: Will | null = null;
  /** Keep alive in seconds as agreed (0: none). */
  keepalive = 0;
  /** Largest packet the client accepts (5.0 Maximum Packet Size) [MQTT-3.1.2-24]. */
  clientMaxPacketSize = Number.POSITIVE_INFINITY;
  /** The client's Receive Maximum: QoS 1/2 messages it accepts in flight (5.0; 65535 otherwise). */
  receiveMaximum = 65_535;
  /** Session Expiry Interval given at CONNECT (5.0), for the DISCONNECT rule [MQTT-3.14.2-2]. */
  connectExpiry = 0;
  /** Set when the close was our decision (a reason for logs and $SYS), null otherwise. */
  closeReason: string | null = null;
  /** Request Problem Information (5.0): Reason Strings may go on acks [MQTT-3.1.2-29]. */
  problemInfo = true;
  /** Topic aliases the client set on this connection (alias -> topic) [MQTT-3.3.2-7]. */
  aliasesIn: Map<number, string> | null = null;
  /** Topic aliases the broker set towards the client (topic -> alias); null: it takes none. */
  aliasesOut: Map<string, number> | null = null;
  /** The client's Topic Alias Maximum: the highest alias the broker may send [MQTT-3.3.2-11]. */
  clientTopicAliasMax = 0;
  /** Enhanced authentication: the Authentication Method of the CONNECT, null without one. */
  authMethod: string | null = null;
  /** An AUTH exchange waiting for the client's AUTH 0x18: before the CONNACK, or a re-auth. */
  authExchange: 'none' | 'connect' | 'reauth' = 'none';
  /** The CONNECT waiting for its enhanced authentication to finish. */
  pendingConnect: PendingConnect | null = null;
  // Per-connection counters with EMQX's names (the management API's client object): plain
  // numbers, a few increments per packet. The receiving side is counted by the connection.
  /** recv_oct, recv_cnt: bytes read and socket reads (chunks). */
  recvOct = 0;
  recvCnt = 0;
  /** recv_pkt, recv_msg: MQTT packets decoded, and of them PUBLISH. */
  recvPkt = 0;
  recvMsg = 0;
  /** send_oct, send_cnt: bytes and writes handed to the transport (a writev may carry several). */
  sendOct = 0;
  sendCnt = 0;
  /** send_pkt, send_msg: MQTT packets sent, and of them PUBLISH. */
  sendPkt = 0;
  sendMsg = 0;

  constructor(
    readonly broker: Broker,
    readonly link: Link,
    readonly settings: ChannelSettings,
    /**
     * Performs the actions when the broker kicks this channel (takeover, admin): the connection
     * (an object, not a closure, so an idle connection holds none).
     */
    private readonly owner: ChannelOwner,
  ) {}

  get v5(): boolean {
    return this.version === ProtocolVersion.V5;
  }

  /** The dispatch switch: one handler per packet type. */
  handleIn(packet: Packet): readonly Action[] | Promise<readonly Action[]> {
    if (this.state === ChannelState.Idle) {
      if (packet.type !== PacketType.Connect) {
        throw new ProtocolError(ReasonCode.ProtocolError, 'the first packet must be CONNECT', 'MQTT-3.1.0-1');
      }
      return handleConnect(this, packet);
    }
    if (this.state === ChannelState.Connecting) {
      // Only an enhanced authentication exchange takes packets before the CONNACK; otherwise the
      // connection holds them back while CONNECT is pending.
      return this.authMethod !== null ? this.handleAuthenticating(packet) : NO_ACTIONS;
    }
    if (this.state !== ChannelState.Connected) return NO_ACTIONS;
    switch (packet.type) {
      case PacketType.Publish:
        return handlePublish(this, packet);
      case PacketType.Puback:
      case PacketType.Pubrec:
      case PacketType.Pubcomp:
        return handleAck(this, packet);
      case PacketType.Pubrel:
        return handlePubrel(this, packet);
      case PacketType.Subscribe:
        return handleSubscribe(this, packet);
      case PacketType.Unsubscribe:
        return handleUnsubscribe(this, packet);
      case PacketType.Pingreq:
        return [{ kind: 'send', packet: { type: PacketType.Pingresp } }];
      case PacketType.Disconnect:
        return this.handleDisconnect(packet.reasonCode, packet.properties);
      case PacketType.Connect:
        throw new ProtocolError(
          ReasonCode.ProtocolError,
          'a second CONNECT on one connection',
          'MQTT-3.1.0-2',
        );
      case PacketType.Auth:
        return handleAuth(this, packet);
      default:
        throw new ProtocolError(
          ReasonCode.ProtocolError,
          `a client must not send packet type ${packet.type} to a server`,
        );
    }
  }

  /**
   * A packet while the CONNECT's enhanced authentication goes on: AUTH continues it, DISCONNECT
   * ends it; anything else is a protocol error [MQTT-3.1.2-30].
   */
  private handleAuthenticating(packet: Packet): readonly Action[] | Promise<readonly Action[]> {
    if (packet.type === PacketType.Auth) return handleConnectAuth(this, packet);
    if (packet.type === PacketType.Disconnect) {
      this.closeReason = 'normal';
      return [{ kind: 'close', reason: 'normal' }];
    }
    throw new ExplainedError(
      ReasonCode.ProtocolError,
      'only AUTH or DISCONNECT may come before the CONNACK when the CONNECT has an Authentication Method',
      'MQTT-3.1.2-30',
    );
  }

  private handleDisconnect(reasonCode: number, properties: Properties | null): readonly Action[] {
    const expiry = properties?.sessionExpiryInterval;
    if (expiry !== undefined && this.session !== null) {
      if (this.connectExpiry === 0 && expiry !== 0) {
        throw new ProtocolError(
          ReasonCode.ProtocolError,
          'DISCONNECT sets a session expiry interval where CONNECT had 0',
          'MQTT-3.14.2-2',
        );
      }
      this.session.expiryInterval = expiry;
      this.broker.sessionConfigured(this.session);
    }
    // A normal DISCONNECT discards the will; 0x04 asks for it to be published [MQTT-3.14.4-3].
    if (reasonCode !== ReasonCode.DisconnectWithWillMessage) this.will = null;
    this.closeReason = 'normal';
    return [{ kind: 'close', reason: 'normal' }];
  }

  /**
   * The one place an error becomes packets: before CONNACK a refusing CONNACK (3.1.1 return
   * codes for old clients), after it a DISCONNECT with the reason code (5.0 only; older versions
   * just close) [MQTT-4.13.1-1].
   */
  actionsForError(error: ProtocolError): readonly Action[] {
    const reason = `protocol_error:0x${error.reasonCode.toString(16)}`;
    this.closeReason = reason;
    const explained = error instanceof ExplainedError ? this.reasonProperties(error.message) : null;
    if (this.state === ChannelState.Idle || this.state === ChannelState.Connecting) {
      if (error.reasonCode === ReasonCode.UnsupportedProtocolVersion && !this.v5) {
        return [this.connack(ConnectReturnCode.UnacceptableProtocolVersion), { kind: 'close', reason }];
      }
      this.state = ChannelState.Disconnected;
      if (this.v5) return [this.connack(error.reasonCode, false, explained), { kind: 'close', reason }];
      return [{ kind: 'close', reason }];
    }
    if (this.v5) {
      return [
        {
          kind: 'send',
          packet: { type: PacketType.Disconnect, reasonCode: error.reasonCode, properties: explained },
        },
        { kind: 'close', reason },
      ];
    }
    return [{ kind: 'close', reason }];
  }

  /**
   * The server ends the connection: DISCONNECT with `reasonCode` (5.0; with `explanation` as its
   * Reason String when the client allows them), then close [MQTT-4.13.2-1].
   */
  disconnect(reasonCode: number, closeReason: string, explanation: string): Action[] {
    this.closeReason = closeReason;
    const actions: Action[] = [];
    if (this.v5) {
      const properties = this.reasonProperties(explanation);
      actions.push({ kind: 'send', packet: { type: PacketType.Disconnect, reasonCode, properties } });
    }
    actions.push({ kind: 'close', reason: closeReason });
    return actions;
  }

  /**
   * `{ reasonString }` for an error ack or DISCONNECT, or null when the client is not 5.0 or
   * asked for no problem information (Request Problem Information 0) [MQTT-3.1.2-29].
   */
  reasonProperties(reasonString: string): Properties | null {
    return this.v5 && this.problemInfo ? { reasonString } : null;
  }

  /**
   * The periodic work of a connected channel (the connection sweep calls it once a second):
   * resends to MQTT 3.x clients what they left unacknowledged for `retryInterval` (never to 5.0
   * clients [MQTT-4.4.0-1]), and forgets incoming QoS 2 ids not released in `awaitRelTimeout`.
   */
  tick(now: number): void {
    const session = this.session;
    if (session === null || this.state !== ChannelState.Connected) return;
    const settings = this.settings;
    // No resend to a client that is not reading what it already has (bounded memory, as for QoS 0).
    if (
      !this.v5 &&
      session.inflightCount > 0 &&
      Number.isFinite(settings.retryInterval) &&
      this.link.pendingBytes <= SLOW_CONSUMER_BYTES
    ) {
      session.retry(now, settings.retryInterval);
    }
    if (session.awaitingRelCount > 0 && Number.isFinite(settings.awaitRelTimeout)) {
      session.expireAwaitingRel(now, settings.awaitRelTimeout);
    }
  }

  connack(reasonCode: number, sessionPresent = false, properties: Properties | null = null): Action {
    return { kind: 'send', packet: { type: PacketType.Connack, sessionPresent, reasonCode, properties } };
  }

  /** The broker ends this connection (takeover or admin kick). */
  kick(reasonCode: number, reason: string): void {
    this.closeReason = reason;
    const actions: Action[] = [];
    if (this.v5 && this.state === ChannelState.Connected) {
      actions.push({ kind: 'send', packet: { type: PacketType.Disconnect, reasonCode, properties: null } });
    }
    actions.push({ kind: 'close', reason });
    this.owner.perform(actions);
  }

  /** Retained messages for new subscriptions, with the retain flag set [MQTT-3.3.1-8]. */
  deliverRetained(requests: readonly RetainedRequest[]): void {
    const session = this.session;
    if (session === null) return;
    for (const { filter, options } of requests) {
      const subIds = options.subscriptionId === 0 ? null : [options.subscriptionId];
      for (const message of this.broker.retainedMatching(filter)) {
        session.deliver(message, session.deliveryQos(options.qos, message.qos), true, subIds);
      }
    }
  }

  // ---- Outlet: deliveries from the session --------------------------------------------------

  sendPublish(
    message: Message,
    qos: QoS,
    retain: boolean,
    packetId: number,
    dup: boolean,
    subIds: number[] | null,
  ): void {
    if (qos === 0 && this.link.pendingBytes > SLOW_CONSUMER_BYTES) {
      // A client that does not read: shed QoS 0 rather than buffer without bound (DESIGN.md).
      this.broker.metrics.messagesDropped++;
      this.broker.metrics.deliveryDroppedQueueFull++;
      return;
    }
    const v5 = this.v5;
    const payload = message.payload;
    // Large payloads are written after their own header instead of copied into each frame.
    const split = payload.length >= SPLIT_PAYLOAD_BYTES;
    let head: Buffer;
    let properties = message.properties;
    const expiry = properties?.messageExpiryInterval;
    let left = 0;
    if (expiry !== undefined) {
      // Expired messages are not delivered [MQTT-3.3.2-5]; the rest carry the interval left
      // when sent, not when received [MQTT-3.3.2-6]. A QoS 2 PUBLISH already sent is resent
      // whatever its age [MQTT-4.3.3-7] (with what is left, at least 0).
      left = expiry - Math.floor((Date.now() - message.timestamp) / 1000);
      if (left <= 0 && dup && qos === 2) left = 0;
      else if (left <= 0) {
        this.broker.metrics.messagesDropped++;
        this.broker.metrics.messagesDroppedExpired++;
        if (packetId !== 0) this.session?.complete(packetId);
        return;
      }
    }
    if (!v5) properties = null;
    const aliases = this.aliasesOut;
    let alias = 0;
    let newAlias = false;
    if (subIds === null && aliases === null && (expiry === undefined || !v5)) {
      const frames = (message.frames ??= []);
      const key = frameKey(v5, qos, retain);
      let base = frames[key];
      if (base === undefined) {
        base = split
          ? encodePublishHeader(message.topic, payload.length, qos, retain, false, 1, properties, v5)
          : encodePublishFields(message.topic, payload, qos, retain, false, 1, properties, v5);
        frames[key] = base;
      }
      head = qos === 0 ? base : withPacketId(base, packetId, dup);
    } else {
      let topic = message.topic;
      if (v5) {
        properties = { ...properties };
        if (subIds !== null) properties.subscriptionIdentifiers = subIds;
        if (expiry !== undefined) properties.messageExpiryInterval = left;
        if (aliases !== null) {
          // A known topic goes as its alias alone; a new one takes the next free alias, up to the
          // client's maximum [MQTT-3.3.2-11]; past it, topics go in full.
          const known = aliases.get(topic);
          if (known !== undefined) {
            alias = known;
            topic = '';
          } else if (aliases.size < this.clientTopicAliasMax) {
            alias = aliases.size + 1;
            newAlias = true;
          }
          if (alias !== 0) properties.topicAlias = alias;
        }
      }
      head = split
        ? encodePublishHeader(topic, payload.length, qos, retain, dup, packetId, properties, v5)
        : encodePublishFields(topic, payload, qos, retain, dup, packetId, properties, v5);
    }
    const size = split ? head.length + payload.length : head.length;
    if (size > this.clientMaxPacketSize) {
      // Too large for the client: drop it as if sent [MQTT-3.1.2-25].
      this.broker.metrics.messagesDropped++;
      this.broker.metrics.messagesDroppedTooLarge++;
      if (packetId !== 0) this.session?.complete(packetId);
      return;
    }
    // The alias is the client's once it has the PUBLISH that sets it.
    if (newAlias) aliases!.set(message.topic, alias);
    this.broker.metrics.publishSent(message.topic, qos, size);
    this.sendOct += size;
    this.sendPkt++;
    this.sendMsg++;
    this.link.write(head);
    this.sendCnt++;
    if (split) {
      this.link.write(payload);
      this.sendCnt++;
    }
    const hooks = this.broker.hooks;
    if (hooks.has('message.delivered') && this.client !== null) {
      hooks.run('message.delivered', this.client, message);
    }
  }

  sendPubrel(packetId: number): void {
    this.writePacket({ type: PacketType.Pubrel, packetId, reasonCode: 0, properties: null });
  }

  /** Encodes and writes one packet (the actions' sends, resends). */
  writePacket(packet: Packet): void {
    let frame = encodeFor(packet, this.version);
    if (frame.length > this.clientMaxPacketSize && packet.type !== PacketType.Publish) {
      // A Reason String or User Properties are left out rather than exceed the client's Maximum
      // Packet Size [MQTT-3.4.2-2] [MQTT-3.14.2-3] (and the like for every packet type).
      const p = 'properties' in packet ? packet.properties : null;
      if (p !== null && (p.reasonString !== undefined || p.userProperties !== undefined)) {
        const { reasonString: _r, userProperties: _u, ...rest } = p;
        const properties = Object.keys(rest).length === 0 ? null : rest;
        frame = encodeFor({ ...packet, properties } as Packet, this.version);
      }
    }
    this.broker.metrics.packetSent(packet, frame.length);
    this.sendOct += frame.length;
    this.sendPkt++;
    this.sendCnt++;
    if (packet.type === PacketType.Publish) this.sendMsg++;
    this.link.write(frame);
  }
}
