/**
 * What a channel asks its connection to do, and the channel's states. Kept apart from
 * channel.ts so the packet handlers can use them without an import cycle.
 */

import type { SubscriptionOptions } from '../broker/types.js';
import { type Packet, ProtocolError } from '../protocol/index.js';

/**
 * A ProtocolError worth explaining to the client: its message goes in the Reason String of the
 * server's DISCONNECT (or CONNACK) when the 5.0 client allows Reason Strings (Request Problem
 * Information, [MQTT-3.1.2-29]). Used where a conforming client library can hit the error through
 * the application (aliases, flow control, AUTH), so the reason code alone would leave it guessing;
 * malformed bytes keep the bare reason code.
 */
export class ExplainedError extends ProtocolError {}

export type Action =
  | { kind: 'send'; packet: Packet }
  /** CONNECT accepted and CONNACK queued: attach the session (resends, queued messages). */
  | { kind: 'attach' }
  /** Send the retained messages matching new subscriptions (after the SUBACK). */
  | { kind: 'retained'; subscriptions: RetainedRequest[] }
  /** Close the connection after what was queued is written. */
  | { kind: 'close'; reason: string };

export interface RetainedRequest {
  filter: string;
  options: SubscriptionOptions;
}

export const NO_ACTIONS: readonly Action[] = Object.freeze([]);

export const ChannelState = {
  /** Waiting for CONNECT. */
  Idle: 0,
  /** CONNECT received, authentication in progress. */
  Connecting: 1,
  Connected: 2,
  Disconnected: 3,
} as const;
export type ChannelState = (typeof ChannelState)[keyof typeof ChannelState];
