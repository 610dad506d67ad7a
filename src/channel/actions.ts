/**
 * What a channel asks its connection to do, and the channel's states. Kept apart from
 * channel.ts so the packet handlers can use them without an import cycle.
 */

import type { SubscriptionOptions } from '../broker/types.js';
import type { Packet } from '../protocol/index.js';

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
