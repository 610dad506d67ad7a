/**
 * The client registry: one entry per client id the broker knows, connected or holding a
 * persistent session while disconnected, as the API's /clients lists them (EMQX's channel
 * registry, emqx_cm).
 *
 * How it stays accurate under churn. It is fed by two hooks: `client.connected` puts the
 * connection's ClientInfo in the client id's entry (a client that reconnects is the same entry,
 * with the newest connection's data), `client.disconnected` marks the entry disconnected, but
 * only if the ClientInfo is the entry's current one: with a takeover the old connection's
 * disconnect may come after the new one connected, and must not mark the new one gone. An entry
 * whose session is gone (clean session, expired, kicked) is dropped: at once on disconnect when
 * the session ended with the connection, otherwise when it is next seen (listings and
 * lookups compare the entry's session with the broker's, so no timer per session is needed)
 * and by `sweep`, which the monitor sampler calls every sample interval.
 *
 * Cost: two Map operations per connect and disconnect; nothing on the publish path.
 */

import type { Broker, ClientInfo, Session } from '../broker/index.js';

export class ClientEntry {
  constructor(
    /** The newest connection's info. */
    public info: ClientInfo,
    /** The session it is attached to (to tell a session that ended and a new one apart). */
    public session: Session | undefined,
    public connected: boolean,
    /** When its session was created (ms). */
    public createdAt: number,
    /** When the last connection ended (ms); 0 while connected. */
    public disconnectedAt: number,
  ) {}
}

export class ClientRegistry {
  private readonly entries = new Map<string, ClientEntry>();
  private started = false;

  constructor(private readonly broker: Broker) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.broker.hooks.add('client.connected', this.onConnected);
    this.broker.hooks.add('client.disconnected', this.onDisconnected);
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.broker.hooks.remove('client.connected', this.onConnected);
    this.broker.hooks.remove('client.disconnected', this.onDisconnected);
  }

  /** Entries held (some may be stale until seen). */
  get size(): number {
    return this.entries.size;
  }

  /** The entry of a client id, or undefined if the broker has no session for it any more. */
  get(clientId: string): ClientEntry | undefined {
    const entry = this.entries.get(clientId);
    if (entry === undefined) return undefined;
    return this.live(clientId, entry) ? entry : undefined;
  }

  /** Every live entry, in first-seen order; a live iterator (no copy), stale entries dropped. */
  *all(): Generator<ClientEntry> {
    for (const [clientId, entry] of this.entries) {
      if (this.live(clientId, entry)) yield entry;
    }
  }

  /** Drops the entries whose session is gone. */
  sweep(): void {
    for (const [clientId, entry] of this.entries) this.live(clientId, entry);
  }

  /** Forgets a client id (after a kick). */
  delete(clientId: string): void {
    this.entries.delete(clientId);
  }

  private live(clientId: string, entry: ClientEntry): boolean {
    if (entry.connected) return true;
    const session = this.broker.session(clientId);
    if (session !== undefined && session === entry.session) return true;
    this.entries.delete(clientId);
    return false;
  }

  private readonly onConnected = (client: ClientInfo): void => {
    const session = this.broker.session(client.clientId);
    const entry = this.entries.get(client.clientId);
    if (entry === undefined) {
      this.entries.set(client.clientId, new ClientEntry(client, session, true, client.connectedAt, 0));
      return;
    }
    if (entry.session !== session) entry.createdAt = client.connectedAt; // a new session
    entry.info = client;
    entry.session = session;
    entry.connected = true;
    entry.disconnectedAt = 0;
  };

  private readonly onDisconnected = (client: ClientInfo): void => {
    const entry = this.entries.get(client.clientId);
    if (entry === undefined || entry.info !== client) return; // taken over: the entry is newer
    entry.connected = false;
    entry.disconnectedAt = Date.now();
    this.live(client.clientId, entry);
  };
}
