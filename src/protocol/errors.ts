/**
 * A violation of the MQTT specification found while decoding or handling a packet.
 *
 * It carries the MQTT 5.0 reason code a server answers with (in a CONNACK before the
 * connection is accepted, in a DISCONNECT after) and the id of the normative statement that was
 * broken, so logs and tests name the rule. The protocol layer imports nothing of ours; the rest
 * of the error catalogue lives in src/errors.ts and both are listed in docs/errors.md.
 */

import { ReasonCode } from './mqtt/constants.js';

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code = 'AVY_ERR_PROTOCOL';

  constructor(
    /** The MQTT 5.0 reason code: 0x81 malformed, 0x82 protocol error, 0x95 packet too large, ... */
    readonly reasonCode: number,
    message: string,
    /** The normative statement, e.g. 'MQTT-3.3.1-4'; empty when the rule has no id. */
    readonly specId = '',
  ) {
    super(specId ? `${message} [${specId}]` : message);
  }
}

export function malformed(message: string, specId = ''): ProtocolError {
  return new ProtocolError(ReasonCode.MalformedPacket, message, specId);
}

export function protocolError(message: string, specId = ''): ProtocolError {
  return new ProtocolError(ReasonCode.ProtocolError, message, specId);
}
