/**
 * What the MQTT layer needs from a transport connection. Every listener in src/transport
 * (TCP, TLS, WebSocket, with or without the PROXY protocol) produces objects of this shape, and nothing
 * in src/transport knows MQTT: the two meet only through this interface, wired in main.ts.
 */

export interface LinkReceiver {
  /** Bytes arrived. */
  onData(chunk: Buffer): void;
  /** The transport closed (peer closed, error, or we closed it). Called once. */
  onClose(error: Error | null): void;
}

/** A verified TLS client certificate's subject. */
export interface PeerCertInfo {
  /** The subject's Common Name, or null if it has none. */
  readonly cn: string | null;
  /** The whole subject, "C=SE,O=Example,CN=device-1". */
  readonly dn: string;
}

/** The HTTP request that opened a WebSocket connection. */
export interface UpgradeInfo {
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

export interface Link {
  readonly peerHost: string;
  readonly peerPort: number;
  /** TLS listeners: the verified client certificate (mutual TLS), else null or absent. */
  readonly peerCert?: PeerCertInfo | null;
  /** TLS-PSK: the identity the client's pre-shared key proved, else null or absent. */
  readonly pskIdentity?: string | null;
  /** WebSocket listeners: the HTTP upgrade request (headers, cookies, X-Forwarded-For). */
  readonly upgrade?: UpgradeInfo | null;
  /** Listener id, e.g. 'tcp:default'. */
  readonly listener: string;
  /** Zone of the listener. */
  readonly zone: string;
  /** Starts delivering data to the receiver. */
  start(receiver: LinkReceiver): void;
  /**
   * Queues bytes. Writes within one event-loop turn leave in one system call. Returns false
   * when the transport's buffer is over its high-water mark (the caller may shed QoS 0).
   */
  write(frame: Buffer): boolean;
  /** Bytes queued in the transport and not yet written to the socket. */
  readonly pendingBytes: number;
  /** Flushes what was written, then closes. */
  end(): void;
  /** Closes at once, dropping unwritten bytes. */
  destroy(): void;
  pause(): void;
  resume(): void;
}
