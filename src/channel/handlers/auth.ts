/**
 * AUTH and MQTT 5.0 enhanced authentication (sections 3.15 and 4.12).
 *
 * A client that puts an Authentication Method in its CONNECT authenticates by a challenge /
 * response exchange instead of (or besides) a password. The broker knows no method itself: each
 * step goes to the `client.enhanced_auth` fold hook, whose callbacks answer for the methods they
 * know (SCRAM, Kerberos, a token scheme, ...) and pass on the others:
 *
 *   CONNECT (method, data)   -> hook, phase 'connect'
 *     'continue' + data      -> AUTH 0x18 (method, data); the client answers AUTH 0x18 (method,
 *                               data) -> hook, phase 'continue' -> ... [MQTT-4.12.0-2] [MQTT-4.12.0-3]
 *     'success' (+ data)     -> CONNACK 0x00 with the method (and data) [MQTT-4.12.0-5]
 *     'failure'              -> CONNACK 0x87 (not authorized), close [MQTT-4.12.0-4]
 *     'ignore' (no callback) -> CONNACK 0x8C (bad authentication method), close [MQTT-4.12.0-1]
 *
 * After the CONNACK the client may re-authenticate at any time with AUTH 0x19 (same method)
 * [MQTT-4.12.1-1]: the hook gets phase 'reauth', then 'continue' for each further AUTH 0x18; the
 * broker ends it with AUTH 0x00 (success) or DISCONNECT 0x87 and close [MQTT-4.12.1-2]. Other
 * packets flow as usual meanwhile.
 *
 * Protocol errors (DISCONNECT 0x82, or CONNACK 0x82 before the CONNACK): an AUTH from a client
 * whose CONNECT had no method [MQTT-4.12.0-7], an AUTH with another method [MQTT-4.12.0-5], an
 * AUTH 0x18 when no exchange is in progress, AUTH 0x19 during one, AUTH 0x00 from a client.
 *
 * A callback that throws or rejects counts as 'failure'. The CONNECT-time exchange lives in
 * connect.ts (it ends in the CONNACK); this file holds what both phases share and the
 * re-authentication after the CONNACK. The hook may answer
 * asynchronously: a step then returns a Promise and the connection holds later packets until it
 * settles, so their order is kept.
 */

import type { EnhancedAuthResult, EnhancedAuthStep } from '../../broker/hooks.js';
import { type AuthPacket, PacketType, ReasonCode } from '../../protocol/index.js';
import { type Action, ChannelState, ExplainedError } from '../actions.js';
import type { Channel } from '../channel.js';

const IGNORE: EnhancedAuthResult = Object.freeze({ result: 'ignore' });
const FAILURE: EnhancedAuthResult = Object.freeze({ result: 'failure' });

/**
 * Asks the `client.enhanced_auth` hook for one step; synchronous when every callback is. A
 * callback that throws or rejects fails the authentication (and is reported through the
 * broker's onHookError).
 */
export function authStep(
  ch: Channel,
  phase: EnhancedAuthStep['phase'],
  data: Buffer | null,
): EnhancedAuthResult | Promise<EnhancedAuthResult> {
  const hooks = ch.broker.hooks;
  if (!hooks.has('client.enhanced_auth')) return IGNORE;
  // A copy: the data is a view into the socket's read buffer and a callback may keep it.
  const step: EnhancedAuthStep = {
    method: ch.authMethod!,
    data: data === null ? null : Buffer.from(data),
    phase,
  };
  const failed = (error: unknown): EnhancedAuthResult => {
    ch.broker.options.onHookError?.('client.enhanced_auth', error);
    return FAILURE;
  };
  try {
    const result = hooks.foldMaybeAsync('client.enhanced_auth', IGNORE, ch.client!, step);
    return result instanceof Promise ? result.catch(failed) : result;
  } catch (error) {
    return failed(error);
  }
}

/** An AUTH packet from the server, always with the connection's method [MQTT-4.12.0-5]. */
export function authPacket(ch: Channel, reasonCode: number, data: Buffer | undefined): Action {
  const properties: AuthPacket['properties'] = { authenticationMethod: ch.authMethod! };
  if (data !== undefined) properties.authenticationData = data;
  return { kind: 'send', packet: { type: PacketType.Auth, reasonCode, properties } };
}

/**
 * Checks an AUTH from the client against the connection's method; returns its data. Throws the
 * protocol error for an AUTH without enhanced authentication or with another method.
 */
export function checkAuth(ch: Channel, packet: AuthPacket): Buffer | null {
  if (ch.authMethod === null) {
    throw new ExplainedError(
      ReasonCode.ProtocolError,
      'AUTH from a client whose CONNECT had no Authentication Method',
      'MQTT-4.12.0-7',
    );
  }
  const method = packet.properties?.authenticationMethod;
  if (method !== ch.authMethod) {
    throw new ExplainedError(
      ReasonCode.ProtocolError,
      `AUTH with Authentication Method ${JSON.stringify(method ?? null)}, not the CONNECT's ${JSON.stringify(ch.authMethod)}`,
      'MQTT-4.12.0-5',
    );
  }
  if (packet.reasonCode === ReasonCode.Success) {
    throw new ExplainedError(ReasonCode.ProtocolError, 'AUTH 0x00 (success) is for the server to send');
  }
  return packet.properties?.authenticationData ?? null;
}

/** AUTH after the CONNACK: re-authentication (section 4.12.1). */
export function handleAuth(ch: Channel, packet: AuthPacket): readonly Action[] | Promise<readonly Action[]> {
  const data = checkAuth(ch, packet);
  let phase: EnhancedAuthStep['phase'];
  if (packet.reasonCode === ReasonCode.ReAuthenticate) {
    if (ch.authExchange !== 'none') {
      throw new ExplainedError(
        ReasonCode.ProtocolError,
        'AUTH 0x19 while an authentication exchange is in progress',
      );
    }
    phase = 'reauth';
  } else {
    // 0x18: the decoder admits nothing else but 0x00 and 0x19, handled above.
    if (ch.authExchange !== 'reauth') {
      throw new ExplainedError(
        ReasonCode.ProtocolError,
        'AUTH 0x18 with no authentication exchange in progress',
      );
    }
    phase = 'continue';
  }
  ch.authExchange = 'reauth';
  const result = authStep(ch, phase, data);
  if (result instanceof Promise) return result.then((r) => afterReauthStep(ch, r));
  return afterReauthStep(ch, result);
}

function afterReauthStep(ch: Channel, r: EnhancedAuthResult): readonly Action[] {
  if (ch.state !== ChannelState.Connected) return []; // the connection went away meanwhile
  switch (r.result) {
    case 'continue':
      return [authPacket(ch, ReasonCode.ContinueAuthentication, r.data)];
    case 'success':
      ch.authExchange = 'none';
      if (r.isSuperuser !== undefined) ch.client!.isSuperuser = r.isSuperuser;
      return [authPacket(ch, ReasonCode.Success, r.data)];
    default:
      // A failed re-authentication ends the connection [MQTT-4.12.1-2].
      ch.authExchange = 'none';
      ch.broker.metrics.clientAuthFailure++;
      return ch.disconnect(ReasonCode.NotAuthorized, 'not_authorized', 're-authentication failed');
  }
}
