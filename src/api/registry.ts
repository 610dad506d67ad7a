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
 * and by `sweep`, which the monitor sampler calls every sample interval (in slices).
 *
 * Counters. While a client is connected its entry points at the connection's own counters
 * (EMQX's recv_oct, send_msg, ...: plain number fields of the channel, read when the API asks);
 * when it disconnects they are copied into the entry (eight numbers), so a persistent session
 * shows its last connection's counters without keeping the dead connection in memory.
 *
 * Cost: two Map operations per connect and disconnect; nothing on the publish path.
 */

import type { Broker, ClientInfo, LiveChannel, Session } from '../broker/index.js';
import { SLICE, yieldToLoop } from './pagination.js';

/** A connection's counters, with EMQX's meaning (the channel's fields of these names). */
export interface ConnectionCounters {
  /** recv_oct: bytes read. */
  readonly recvOct: number;
  /** recv_cnt: socket reads (chunks of bytes). */
  readonly recvCnt: number;
  /** recv_pkt: MQTT packets received. */
  readonly recvPkt: number;
  /** recv_msg: PUBLISH packets received. */
  readonly recvMsg: number;
  /** send_oct: bytes written. */
  readonly sendOct: number;
  /** send_cnt: writes to the socket (those of one event-loop turn leave in one writev). */
  readonly sendCnt: number;
  /** send_pkt: MQTT packets sent. */
  readonly sendPkt: number;
  /** send_msg: PUBLISH packets sent. */
  readonly sendMsg: number;
}

const NO_COUNTERS: ConnectionCounters = {
  recvOct: 0,
  recvCnt: 0,
  recvPkt: 0,
  recvMsg: 0,
  sendOct: 0,
  sendCnt: 0,
  sendPkt: 0,
  sendMsg: 0,
};

/** The live channel's counters (an MQTT channel has them; another LiveChannel may not). */
function countersOf(channel: LiveChannel | undefined): ConnectionCounters {
  const c = channel as Partial<ConnectionCounters> | undefined;
  return c !== undefined && typeof c.recvOct === 'number' ? (c as ConnectionCounters) : NO_COUNTERS;
}

/** The counters as they are now, detached from the connection. */
function snapshot(c: ConnectionCounters): ConnectionCounters {
  return {
    recvOct: c.recvOct,
    recvCnt: c.recvCnt,
    recvPkt: c.recvPkt,
    recvMsg: c.recvMsg,
    sendOct: c.sendOct,
    sendCnt: c.sendCnt,
    sendPkt: c.sendPkt,
    sendMsg: c.sendMsg,
  };
}

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
    /** The connection's counters while connected; a copy of the last ones after. */
    public counters: ConnectionCounters = NO_COUNTERS,
  ) {}
}

export class ClientRegistry {
  private readonly entries = new Map<string, ClientEntry>();
  private started = false;
  private sweeping = false;

  constructor(private readonly broker: Broker) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    // Sessions that exist before any connection (restored from the durable store) are listed
    // as disconnected, with what the session knows; their client's next CONNECT fills the rest.
    for (const session of this.broker.allSessions()) {
      if (session.connected || this.entries.has(session.clientId)) continue;
      const info: ClientInfo = {
        clientId: session.clientId,
        username: null,
        peerHost: '',
        peerPort: 0,
        listener: '',
        zone: 'default',
        protocolVersion: 5,
        isSuperuser: false,
        connectedAt: session.disconnectedAt,
        expiryInterval: session.expiryInterval,
      };
      this.entries.set(
        session.clientId,
        new ClientEntry(info, session, false, session.disconnectedAt, session.disconnectedAt),
      );
    }
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

  /**
   * Drops the entries whose session is gone: a walk in slices with a yield to the event loop
   * between them (100k entries in one step would hold message routing for milliseconds).
   */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      let examined = 0;
      for (const [clientId, entry] of this.entries) {
        this.live(clientId, entry);
        if (++examined % SLICE === 0) await yieldToLoop();
      }
    } finally {
      this.sweeping = false;
    }
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
    const counters = countersOf(this.broker.liveChannel(client.clientId));
    const entry = this.entries.get(client.clientId);
    if (entry === undefined) {
      this.entries.set(
        client.clientId,
        new ClientEntry(client, session, true, client.connectedAt, 0, counters),
      );
      return;
    }
    if (entry.session !== session) entry.createdAt = client.connectedAt; // a new session
    entry.info = client;
    entry.session = session;
    entry.connected = true;
    entry.disconnectedAt = 0;
    entry.counters = counters;
  };

  private readonly onDisconnected = (client: ClientInfo): void => {
    const entry = this.entries.get(client.clientId);
    if (entry === undefined || entry.info !== client) return; // taken over: the entry is newer
    entry.connected = false;
    entry.disconnectedAt = Date.now();
    entry.counters = snapshot(entry.counters);
    this.live(client.clientId, entry);
  };
}
