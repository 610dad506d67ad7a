/**
 * Types shared by the core and everything built on it (channel, session, API, cluster, rules).
 */

import type { ProtocolVersion, QoS, RetainHandling } from '../protocol/index.js';

/** Who a client is, as hooks, ACLs, $SYS events and the API see it. */
export interface ClientInfo {
  clientId: string;
  username: string | null;
  /** Remote address as text (IPv4 or IPv6), port separate. */
  peerHost: string;
  peerPort: number;
  /** The listener that accepted the connection, e.g. 'tcp:default'. */
  listener: string;
  /** The zone whose settings apply. */
  zone: string;
  protocolVersion: ProtocolVersion;
  /** Set by authentication. */
  isSuperuser: boolean;
  /** Milliseconds since the epoch. */
  connectedAt: number;
}

export interface SubscriptionOptions {
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: RetainHandling;
  /** MQTT 5.0 subscription identifier, 0 for none. */
  subscriptionId: number;
  /** Share group for $share/$queue subscriptions, null otherwise. */
  shareGroup: string | null;
}
