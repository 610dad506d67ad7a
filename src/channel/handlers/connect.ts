/**
 * CONNECT (section 3.1): client identifier rules, the client.connect and client.authenticate
 * hooks, opening (or taking over) the session, and the CONNACK with the server's capabilities.
 *
 * A 5.0 CONNECT with an Authentication Method is authenticated by the `client.enhanced_auth`
 * hook instead of `client.authenticate`, possibly over several AUTH exchanges (auth.ts, section
 * 4.12): the channel stays Connecting, keeps the CONNECT in `pendingConnect`, and
 * `handleConnectAuth` takes each AUTH from the client until the hook answers success (then
 * `completeConnect` sends the CONNACK) or failure.
 *
 * A will delayed by an earlier connection of this client id (wills.ts) is cancelled when the
 * session goes on [MQTT-3.1.3-9] and published now when Clean Start ends it.
 */

import { randomBytes } from 'node:crypto';
import { Broker } from '../../broker/broker.js';
import type { AuthResult, EnhancedAuthResult } from '../../broker/hooks.js';
import { ownWill, publishWill } from '../../broker/wills.js';
import {
  type AuthPacket,
  type ConnectPacket,
  ConnectReturnCode,
  Limits,
  type Properties,
  ProtocolVersion,
  ReasonCode,
} from '../../protocol/index.js';
import { type Action, ChannelState, ExplainedError } from '../actions.js';
import type { Channel } from '../channel.js';
import type { PeerCertInfo } from '../link.js';
import type { PeerCertSource } from '../settings.js';
import { authPacket, authStep, checkAuth } from './auth.js';

/** A CONNECT accepted so far, waiting for its enhanced authentication to finish. */
export interface PendingConnect {
  packet: ConnectPacket;
  /** The client id was assigned by the broker (5.0: sent back in the CONNACK). */
  assigned: boolean;
  /** CONNACK properties gathered so far (the client.connect hook may add some). */
  connackProps: Properties;
}

/** Receive Maximum is a two-byte integer; its largest value is what an absent one means. */
const MAX_RECEIVE_MAXIMUM = 65_535;

/** 5.0 reason code -> 3.1.1 CONNACK return code for refusals. */
function v4ReturnCode(reasonCode: number): number {
  switch (reasonCode) {
    case ReasonCode.UnsupportedProtocolVersion:
      return ConnectReturnCode.UnacceptableProtocolVersion;
    case ReasonCode.ClientIdentifierNotValid:
      return ConnectReturnCode.IdentifierRejected;
    case ReasonCode.BadUserNameOrPassword:
      return ConnectReturnCode.BadUserNameOrPassword;
    case ReasonCode.NotAuthorized:
    case ReasonCode.Banned:
      return ConnectReturnCode.NotAuthorized;
    default:
      return ConnectReturnCode.ServerUnavailable;
  }
}

/** The certificate field a `peer_cert_as_*` setting names, or null (disabled, no certificate, no CN). */
function peerCertField(cert: PeerCertInfo | null, source: PeerCertSource): string | null {
  if (cert === null || source === 'disabled') return null;
  return source === 'cn' ? cert.cn : cert.dn;
}

function refuse(ch: Channel, reasonCode: number, reason: string): Action[] {
  ch.closeReason = reason;
  ch.state = ChannelState.Disconnected;
  const code = ch.v5 ? reasonCode : v4ReturnCode(reasonCode);
  return [ch.connack(code), { kind: 'close', reason }];
}

export async function handleConnect(ch: Channel, packet: ConnectPacket): Promise<readonly Action[]> {
  ch.state = ChannelState.Connecting;
  ch.version = packet.protocolVersion;
  const settings = ch.settings;
  const v5 = ch.v5;
  const props = packet.properties;

  // EMQX's mqtt.peer_cert_as_username / peer_cert_as_clientid: a verified TLS client
  // certificate (its CN or whole subject) names the client instead of the CONNECT's fields.
  const link = ch.link;
  const cert = link.peerCert ?? null;
  const username = peerCertField(cert, settings.peerCertAsUsername) ?? packet.username;

  // Client identifier [MQTT-3.1.3-5..8].
  let clientId = peerCertField(cert, settings.peerCertAsClientId) ?? packet.clientId;
  let assigned = clientId !== packet.clientId;
  if (settings.useUsernameAsClientId && username !== null && username !== '') {
    // EMQX's mqtt.use_username_as_clientid; a 5.0 client is told its new id in the CONNACK.
    assigned = username !== packet.clientId;
    clientId = username;
  }
  if (clientId.length === 0) {
    const mayAssign = v5 || (packet.protocolVersion === ProtocolVersion.V4 && packet.clean);
    if (!mayAssign) return refuse(ch, ReasonCode.ClientIdentifierNotValid, 'client_id_rejected');
    clientId = `aviary-${randomBytes(8).toString('hex')}`;
    assigned = true;
  } else if (clientId.length > settings.maxClientIdLen) {
    return refuse(ch, ReasonCode.ClientIdentifierNotValid, 'client_id_too_long');
  }

  const client = Broker.clientInfo(packet, clientId, link);
  client.username = username;
  // What the transport proved, for authentication (${cert_common_name}, PSK, cookies).
  if (cert !== null) client.peerCert = cert;
  if (link.pskIdentity != null) client.pskIdentity = link.pskIdentity;
  if (link.upgrade != null) client.upgradeHeaders = link.upgrade.headers;
  ch.client = client;
  const hooks = ch.broker.hooks;
  const connackProps: Properties = {};
  if (hooks.has('client.connect')) {
    const acc = hooks.fold('client.connect', { reasonCode: 0, properties: connackProps }, client, packet);
    if (acc.reasonCode !== 0) return refuse(ch, acc.reasonCode, 'connect_hook_refused');
  }
  // Request Problem Information: 0 keeps Reason Strings off acks [MQTT-3.1.2-29].
  if (v5) ch.problemInfo = props?.requestProblemInformation !== 0;
  const pending: PendingConnect = { packet, assigned, connackProps };

  const method = props?.authenticationMethod;
  if (method !== undefined) {
    // Enhanced authentication (section 4.12) decides instead of client.authenticate.
    ch.authMethod = method;
    ch.pendingConnect = pending;
    let result = authStep(ch, 'connect', props?.authenticationData ?? null);
    if (result instanceof Promise) result = await result;
    return afterConnectAuth(ch, result);
  }
  if (hooks.has('client.authenticate')) {
    let auth: AuthResult;
    try {
      auth = await hooks.foldAsync('client.authenticate', { result: 'ignore' }, client, packet.password);
    } catch (error) {
      // A provider that fails (its database is down) refuses rather than lets in: 0x88 Server
      // unavailable (3.1.1: 0x03), reported through onHookError.
      ch.broker.options.onHookError?.('client.authenticate', error);
      if (ch.state !== ChannelState.Connecting) return [];
      ch.broker.metrics.clientAuthFailure++;
      return refuse(ch, ReasonCode.ServerUnavailable, 'authenticate_failed');
    }
    if (ch.state !== ChannelState.Connecting) return []; // the connection went away meanwhile
    if (auth.result === 'deny') {
      ch.broker.metrics.clientAuthFailure++;
      return refuse(ch, auth.reasonCode ?? ReasonCode.BadUserNameOrPassword, 'not_authorized');
    }
    client.isSuperuser = auth.isSuperuser === true;
  }
  return completeConnect(ch, pending, null);
}

/**
 * AUTH from the client before the CONNACK: the next step of the CONNECT's enhanced
 * authentication [MQTT-4.12.0-3]. Any other packet but DISCONNECT is a protocol error then
 * [MQTT-3.1.2-30] (the channel sees to that).
 */
export function handleConnectAuth(
  ch: Channel,
  packet: AuthPacket,
): readonly Action[] | Promise<readonly Action[]> {
  const data = checkAuth(ch, packet);
  if (packet.reasonCode !== ReasonCode.ContinueAuthentication || ch.authExchange !== 'connect') {
    throw new ExplainedError(
      ReasonCode.ProtocolError,
      `AUTH 0x${packet.reasonCode.toString(16)} during the authentication of a CONNECT`,
      'MQTT-4.12.0-3',
    );
  }
  const result = authStep(ch, 'continue', data);
  if (result instanceof Promise) return result.then((r) => afterConnectAuth(ch, r));
  return afterConnectAuth(ch, result);
}

/** The hook's answer to a step of the CONNECT's enhanced authentication. */
function afterConnectAuth(ch: Channel, r: EnhancedAuthResult): readonly Action[] {
  if (ch.state !== ChannelState.Connecting) return []; // the connection went away meanwhile
  switch (r.result) {
    case 'continue':
      ch.authExchange = 'connect';
      return [authPacket(ch, ReasonCode.ContinueAuthentication, r.data)]; // [MQTT-4.12.0-2]
    case 'success': {
      ch.authExchange = 'none';
      ch.client!.isSuperuser = r.isSuperuser === true;
      const pending = ch.pendingConnect!;
      ch.pendingConnect = null;
      return completeConnect(ch, pending, r);
    }
    case 'failure':
      ch.broker.metrics.clientAuthFailure++;
      return refuse(ch, ReasonCode.NotAuthorized, 'not_authorized'); // [MQTT-4.12.0-4]
    default:
      // No callback knows the method [MQTT-4.12.0-1].
      return refuse(ch, ReasonCode.BadAuthenticationMethod, 'bad_authentication_method');
  }
}

/**
 * Finishes an accepted CONNECT: negotiated limits, the will, the session (taking it over from a
 * live connection), and the CONNACK with the server's capabilities. `auth` is the successful
 * answer of an enhanced authentication, whose method (and data) the CONNACK carries
 * [MQTT-4.12.0-5].
 */
function completeConnect(
  ch: Channel,
  pending: PendingConnect,
  auth: EnhancedAuthResult | null,
): readonly Action[] {
  const { packet, assigned, connackProps } = pending;
  const settings = ch.settings;
  const v5 = ch.v5;
  const props = packet.properties;
  const client = ch.client!;
  const clientId = client.clientId;

  // Keep alive: 5.0 servers may impose their own [MQTT-3.2.2-21].
  ch.keepalive = packet.keepalive;
  if (v5 && settings.serverKeepalive !== null) {
    ch.keepalive = settings.serverKeepalive;
    client.keepalive = settings.serverKeepalive; // as agreed, for $SYS and the API
    connackProps.serverKeepAlive = settings.serverKeepalive;
  }
  if (v5 && props?.maximumPacketSize !== undefined) ch.clientMaxPacketSize = props.maximumPacketSize;
  if (v5 && props?.receiveMaximum !== undefined) ch.receiveMaximum = props.receiveMaximum;
  // The client's Topic Alias Maximum: aliases the broker may use towards it [MQTT-3.1.2-26/27].
  const clientAliasMax = v5 ? (props?.topicAliasMaximum ?? 0) : 0;
  if (clientAliasMax > 0) {
    ch.clientTopicAliasMax = clientAliasMax;
    ch.aliasesOut = new Map();
  }
  const will = packet.will;
  if (will !== null) {
    // A will the server could not publish refuses the connection [MQTT-3.2.2-12] [MQTT-3.2.2-13].
    if (will.qos > settings.maxQosAllowed)
      return refuse(ch, ReasonCode.QoSNotSupported, 'will_qos_not_supported');
    if (will.retain && !settings.retainAvailable)
      return refuse(ch, ReasonCode.RetainNotSupported, 'will_retain_not_supported');
  }
  ch.will = will === null ? null : ownWill(will);

  const { session, present } = ch.broker.openSession(client, packet.clean, ch);
  ch.session = session;
  // A will still waiting for its delay from an earlier connection of this client id: the
  // session goes on, so it is cancelled [MQTT-3.1.3-9]; or Clean Start (or expiry) ended the
  // session, so it is published now (section 3.1.3.2.2).
  const waiting = ch.broker.wills.take(clientId);
  if (waiting !== null && (packet.clean || !present)) publishWill(ch.broker, waiting.client, waiting.will);
  session.ignoreLoop = !v5 && settings.ignoreLoopDeliver;
  session.upgradeQos = settings.upgradeQos;
  // Session expiry: 5.0 from CONNECT, 3.1.1 from config when Clean Session is 0.
  const expiry = v5 ? (props?.sessionExpiryInterval ?? 0) : packet.clean ? 0 : settings.sessionExpiryInterval;
  ch.connectExpiry = expiry;
  client.expiryInterval = expiry; // as agreed, for $SYS and the API
  session.expiryInterval = expiry;
  ch.broker.sessionConfigured(session); // a session with an interval persists (durable store)
  ch.state = ChannelState.Connected;
  ch.broker.metrics.clientConnected++;

  if (v5) {
    if (assigned) connackProps.assignedClientIdentifier = clientId;
    if (settings.maxPacketSize < Limits.MaxPacketSize)
      connackProps.maximumPacketSize = settings.maxPacketSize;
    // Absent means 65535 (section 3.2.2.3.3).
    if (settings.receiveMaximum < MAX_RECEIVE_MAXIMUM) connackProps.receiveMaximum = settings.receiveMaximum;
    // Absent means 0: no aliases [MQTT-3.2.2-18].
    if (settings.maxTopicAlias > 0) connackProps.topicAliasMaximum = settings.maxTopicAlias;
    if (!settings.retainAvailable) connackProps.retainAvailable = 0;
    if (settings.maxQosAllowed < 2) connackProps.maximumQoS = settings.maxQosAllowed as 0 | 1;
    if (!settings.wildcardSubscription) connackProps.wildcardSubscriptionAvailable = 0;
    if (!settings.sharedSubscription) connackProps.sharedSubscriptionAvailable = 0; // 3.2.2.3.17
    // Only when asked: 0 or absent means none [MQTT-3.1.2-28].
    if (props?.requestResponseInformation === 1 && settings.responseInformation !== '') {
      connackProps.responseInformation = settings.responseInformation;
    }
    if (auth !== null) {
      connackProps.authenticationMethod = ch.authMethod!; // [MQTT-4.12.0-5]
      if (auth.data !== undefined) connackProps.authenticationData = auth.data;
    }
  }
  const sessionPresent = present && !packet.clean; // [MQTT-3.2.2-2]
  const hasProps = Object.keys(connackProps).length > 0;
  return [
    ch.connack(ReasonCode.Success, sessionPresent, v5 && hasProps ? connackProps : null),
    { kind: 'attach' },
  ];
}
