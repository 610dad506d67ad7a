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
  // What EMQX calls conninfo, for $SYS events and the API; set by the channel at CONNECT.
  /** Protocol name from CONNECT: 'MQTT', or 'MQIsdp' for 3.1. */
  protoName?: string;
  /** Clean Start (3.1 / 3.1.1: Clean Session) from CONNECT. */
  cleanStart?: boolean;
  /** Keep alive in seconds as agreed (a 5.0 Server Keep Alive replaces the client's). */
  keepalive?: number;
  /** Session Expiry Interval in seconds as agreed at CONNECT. */
  expiryInterval?: number;
  // What the transport established, copied at CONNECT (docs/listeners.md); for authentication.
  /** A verified TLS client certificate: its subject's CN and whole DN (`${cert_common_name}`, `${cert_subject}`). */
  peerCert?: { readonly cn: string | null; readonly dn: string };
  /** The TLS-PSK identity the client authenticated with. */
  pskIdentity?: string;
  /** WebSocket: the headers of the HTTP upgrade request (cookie, x-forwarded-for, ...). */
  upgradeHeaders?: Record<string, string | string[] | undefined>;
  // Set by authentication (src/auth, docs/authentication.md) when the provider that allowed the
  // client returned them; ACL sources may read them.
  /** EMQX's client_attrs: from an HTTP provider's `client_attrs` or a JWT's `client_attrs` claim. */
  clientAttrs?: Record<string, string>;
  /** The claims of the verified JWT that authenticated the client. */
  jwtClaims?: Record<string, unknown>;
  /** ACL rules returned by authentication (a JWT's `acl` claim, an HTTP response's `acl`), as received. */
  authnAcl?: unknown;
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
