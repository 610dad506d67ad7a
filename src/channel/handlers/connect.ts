/**
 * CONNECT (section 3.1): client identifier rules, the client.connect and client.authenticate
 * hooks, opening (or taking over) the session, and the CONNACK with the server's capabilities.
 */

import { randomBytes } from 'node:crypto';
import { Broker } from '../../broker/broker.js';
import {
  type ConnectPacket,
  ConnectReturnCode,
  type Properties,
  ProtocolVersion,
  ReasonCode,
} from '../../protocol/index.js';
import { type Action, ChannelState } from '../actions.js';
import type { Channel } from '../channel.js';

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

  // Client identifier [MQTT-3.1.3-5..8].
  let clientId = packet.clientId;
  let assigned = false;
  if (clientId.length === 0) {
    const mayAssign = v5 || (packet.protocolVersion === ProtocolVersion.V4 && packet.clean);
    if (!mayAssign) return refuse(ch, ReasonCode.ClientIdentifierNotValid, 'client_id_rejected');
    clientId = `aviary-${randomBytes(8).toString('hex')}`;
    assigned = true;
  } else if (clientId.length > settings.maxClientIdLen) {
    return refuse(ch, ReasonCode.ClientIdentifierNotValid, 'client_id_too_long');
  }
  if (props?.authenticationMethod !== undefined) {
    // Enhanced authentication (AUTH exchange) is not supported yet [MQTT-4.12.0-1].
    return refuse(ch, ReasonCode.BadAuthenticationMethod, 'bad_authentication_method');
  }

  const client = Broker.clientInfo(packet, clientId, ch.link);
  ch.client = client;
  const hooks = ch.broker.hooks;
  const connackProps: Properties = {};
  if (hooks.has('client.connect')) {
    const acc = hooks.fold('client.connect', { reasonCode: 0, properties: connackProps }, client, packet);
    if (acc.reasonCode !== 0) return refuse(ch, acc.reasonCode, 'connect_hook_refused');
  }
  if (hooks.has('client.authenticate')) {
    const auth = await hooks.foldAsync('client.authenticate', { result: 'ignore' }, client, packet.password);
    if (ch.state !== ChannelState.Connecting) return []; // the connection went away meanwhile
    if (auth.result === 'deny') {
      ch.broker.metrics.clientAuthFailure++;
      return refuse(ch, auth.reasonCode ?? ReasonCode.BadUserNameOrPassword, 'not_authorized');
    }
    client.isSuperuser = auth.isSuperuser === true;
  }

  // Keep alive: 5.0 servers may impose their own [MQTT-3.2.2-21].
  ch.keepalive = packet.keepalive;
  if (v5 && settings.serverKeepalive !== null) {
    ch.keepalive = settings.serverKeepalive;
    connackProps.serverKeepAlive = settings.serverKeepalive;
  }
  if (v5 && props?.maximumPacketSize !== undefined) ch.clientMaxPacketSize = props.maximumPacketSize;
  if (v5 && props?.receiveMaximum !== undefined) ch.receiveMaximum = props.receiveMaximum;
  const will = packet.will;
  if (will !== null) {
    // A will the server could not publish refuses the connection [MQTT-3.2.2-12] [MQTT-3.2.2-13].
    if (will.qos > settings.maxQosAllowed)
      return refuse(ch, ReasonCode.QoSNotSupported, 'will_qos_not_supported');
    if (will.retain && !settings.retainAvailable)
      return refuse(ch, ReasonCode.RetainNotSupported, 'will_retain_not_supported');
  }
  ch.will = will;

  const { session, present } = ch.broker.openSession(client, packet.clean, ch);
  ch.session = session;
  // Session expiry: 5.0 from CONNECT, 3.1.1 from config when Clean Session is 0.
  const expiry = v5 ? (props?.sessionExpiryInterval ?? 0) : packet.clean ? 0 : settings.sessionExpiryInterval;
  ch.connectExpiry = expiry;
  session.expiryInterval = expiry;
  ch.state = ChannelState.Connected;
  ch.broker.metrics.clientConnected++;

  if (v5) {
    if (assigned) connackProps.assignedClientIdentifier = clientId;
    if (settings.maxPacketSize < 268_435_460) connackProps.maximumPacketSize = settings.maxPacketSize;
    if (!settings.retainAvailable) connackProps.retainAvailable = 0;
    if (settings.maxQosAllowed < 2) connackProps.maximumQoS = settings.maxQosAllowed as 0 | 1;
    if (!settings.wildcardSubscription) connackProps.wildcardSubscriptionAvailable = 0;
    // Shared subscriptions arrive with the protocol issue; until then say so (3.2.2.3.17).
    connackProps.sharedSubscriptionAvailable = 0;
    if (props?.requestResponseInformation === 1 && settings.responseInformation !== '') {
      connackProps.responseInformation = settings.responseInformation;
    }
  }
  const sessionPresent = present && !packet.clean; // [MQTT-3.2.2-2]
  const hasProps = Object.keys(connackProps).length > 0;
  return [
    ch.connack(ReasonCode.Success, sessionPresent, v5 && hasProps ? connackProps : null),
    { kind: 'attach' },
  ];
}
