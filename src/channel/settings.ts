/**
 * The MQTT settings a channel applies, resolved for its listener's zone. main.ts builds them
 * from the configuration (`mqtt.*` merged with `zones.<zone>.mqtt.*`); the library API and
 * tests can build them directly.
 */

import type { QoS } from '../protocol/index.js';

/** Which part of a TLS client certificate names the client (EMQX: cn | dn; disabled). */
export type PeerCertSource = 'disabled' | 'cn' | 'dn';

export interface ChannelSettings {
  /** Largest packet accepted from a client, in bytes (advertised in 5.0 CONNACK). */
  maxPacketSize: number;
  maxClientIdLen: number;
  maxQosAllowed: QoS;
  retainAvailable: boolean;
  wildcardSubscription: boolean;
  sharedSubscription: boolean;
  /** Allow `$exclusive/<filter>` (EMQX `mqtt.exclusive_subscription`); else SUBACK 0x8F. */
  exclusiveSubscription: boolean;
  maxTopicLevels: number;
  /** Keep alive timeout = keepalive x this [MQTT-3.1.2-22 (3.1.1: 1.5)]. */
  keepaliveMultiplier: number;
  /** Server Keep Alive in seconds to impose on 5.0 clients, or null to accept theirs. */
  serverKeepalive: number | null;
  /** Close a connection that sends no CONNECT within this many ms. */
  idleTimeout: number;
  /** Session expiry in seconds for 3.1/3.1.1 clients with Clean Session 0. */
  sessionExpiryInterval: number;
  /** QoS 2 messages received and not yet released, per client. */
  maxAwaitingRel: number;
  maxSubscriptions: number;
  /** Text returned as Response Information when a 5.0 client asks; '' for none. */
  responseInformation: string;
  /** Replace the client id with the user name when there is one (`mqtt.use_username_as_clientid`). */
  useUsernameAsClientId: boolean;
  /** `mqtt.peer_cert_as_username`: the TLS client certificate field that becomes the username. */
  peerCertAsUsername: PeerCertSource;
  /** `mqtt.peer_cert_as_clientid`: the TLS client certificate field that becomes the client id. */
  peerCertAsClientId: PeerCertSource;
  /** Topic Alias Maximum advertised to 5.0 clients: aliases they may set (0: none). */
  maxTopicAlias: number;
  /** Receive Maximum advertised to 5.0 clients and enforced (DISCONNECT 0x93). */
  receiveMaximum: number;
  /** Resend an unacknowledged QoS 1/2 delivery to a 3.x client after this many ms (Infinity: never). */
  retryInterval: number;
  /** Forget an incoming QoS 2 packet id not released within this many ms (Infinity: never). */
  awaitRelTimeout: number;
  /** Deliver at the subscription's QoS instead of the lower of the two (EMQX upgrade_qos). */
  upgradeQos: boolean;
  /** Do not deliver a 3.x client's own messages back to it (EMQX ignore_loop_deliver). */
  ignoreLoopDeliver: boolean;
  /**
   * Extra validation (EMQX `mqtt.strict_mode`): a 5.0 PUBLISH whose Payload Format Indicator
   * says UTF-8 must carry well-formed UTF-8 (else 0x99, see handlers/publish.ts).
   */
  strictMode: boolean;
}

export const DEFAULT_CHANNEL_SETTINGS: ChannelSettings = {
  maxPacketSize: 1024 * 1024,
  maxClientIdLen: 65_535,
  maxQosAllowed: 2,
  retainAvailable: true,
  wildcardSubscription: true,
  sharedSubscription: false,
  exclusiveSubscription: false,
  maxTopicLevels: 128,
  keepaliveMultiplier: 1.5,
  serverKeepalive: null,
  idleTimeout: 15_000,
  sessionExpiryInterval: 7200,
  maxAwaitingRel: 100,
  maxSubscriptions: Number.POSITIVE_INFINITY,
  responseInformation: '',
  useUsernameAsClientId: false,
  peerCertAsUsername: 'disabled',
  peerCertAsClientId: 'disabled',
  maxTopicAlias: 65_535,
  receiveMaximum: 32,
  retryInterval: 30_000,
  awaitRelTimeout: 300_000,
  upgradeQos: false,
  ignoreLoopDeliver: false,
  strictMode: false,
};
