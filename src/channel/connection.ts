/**
 * An MQTT connection (after EMQX's emqx_connection): it owns a Link, a Decoder and a Channel,
 * feeds received bytes through the decoder into the channel, and performs the actions the
 * channel returns. It is the only code that turns a channel's decision into I/O.
 *
 * Ordering. Packets are handled strictly in order. While an asynchronous handler runs (CONNECT
 * waiting on authentication), later packets wait in `backlog` and reading is paused.
 *
 * Errors. A ProtocolError from the decoder or the channel becomes the channel's error actions
 * (CONNACK or DISCONNECT with the reason code, then close) and is logged with the client id;
 * anything else is a bug, logged as such, and the connection is closed: one bad client never
 * takes the broker down.
 *
 * Timers. Keep alive, the CONNECT idle timeout (which also bounds an enhanced authentication
 * exchange), the 3.x retry of unacknowledged deliveries and the await_rel_timeout are checked by
 * one sweep for all connections (KeepaliveSweeper), so an idle connection holds no timer of its
 * own.
 *
 * Wills. When a connection that did not end with a normal DISCONNECT closes, its will is
 * published at once, or, with a 5.0 Will Delay Interval, handed to the broker's PendingWills to
 * be published when the delay or the session's expiry has passed, whichever is first (wills.ts).
 */

import type { Logger } from '../observability/logger.js';
import { Decoder, type Packet, type PacketSink, ProtocolError, ReasonCode } from '../protocol/index.js';
import type { Broker } from '../broker/broker.js';
import { type Action, ChannelState } from './actions.js';
import { Channel } from './channel.js';
import type { Link, LinkReceiver } from './link.js';
import type { ChannelSettings } from './settings.js';
import { publishWill } from '../broker/wills.js';

export class MqttConnection implements LinkReceiver, PacketSink {
  readonly channel: Channel;
  private readonly decoder: Decoder;
  private backlog: Packet[] | null = null;
  private closed = false;
  /** Last time bytes arrived (ms), for keep alive. */
  lastSeen: number;
  readonly openedAt: number;

  constructor(
    readonly link: Link,
    readonly broker: Broker,
    settings: ChannelSettings,
    private readonly log: Logger,
    private readonly sweeper: KeepaliveSweeper,
  ) {
    this.channel = new Channel(broker, link, settings, (actions) => this.perform(actions));
    this.decoder = new Decoder({ maxPacketSize: settings.maxPacketSize });
    this.lastSeen = this.openedAt = Date.now();
    sweeper.add(this);
    link.start(this);
  }

  onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastSeen = Date.now();
    this.broker.metrics.bytesReceived += chunk.length;
    try {
      this.decoder.feed(chunk, this);
    } catch (error) {
      this.fail(error);
    }
  }

  onPacket(packet: Packet): void {
    if (this.closed) return;
    this.broker.metrics.packetReceived(packet);
    if (this.backlog !== null) {
      this.backlog.push(packet);
      return;
    }
    this.handle(packet);
  }

  private handle(packet: Packet): void {
    let result: readonly Action[] | Promise<readonly Action[]>;
    try {
      result = this.channel.handleIn(packet);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (result instanceof Promise) {
      this.backlog = [];
      this.link.pause();
      // catch() after then(): an error while performing the actions (or a held-back packet) must
      // close this connection like a synchronous one, not become an unhandled rejection.
      result
        .then((actions) => this.resumeAfter(actions))
        .catch((error: unknown) => {
          this.backlog = null;
          this.fail(error);
        });
      return;
    }
    if (result.length > 0) this.perform(result);
  }

  private resumeAfter(actions: readonly Action[]): void {
    if (this.closed) return;
    this.perform(actions);
    const backlog = this.backlog ?? [];
    this.backlog = null;
    for (let i = 0; i < backlog.length && !this.closed; i++) {
      const pending = this.backlog as Packet[] | null;
      if (pending !== null) {
        // Another asynchronous handler started: keep the rest behind it, in order.
        pending.push(...backlog.slice(i));
        return;
      }
      this.handle(backlog[i]!);
    }
    if (!this.closed) this.link.resume();
  }

  perform(actions: readonly Action[]): void {
    const ch = this.channel;
    for (const a of actions) {
      if (this.closed) return;
      switch (a.kind) {
        case 'send':
          ch.writePacket(a.packet);
          break;
        case 'attach':
          this.attached();
          break;
        case 'retained':
          ch.deliverRetained(a.subscriptions);
          break;
        case 'close':
          this.close(a.reason);
          break;
      }
    }
  }

  private attached(): void {
    const ch = this.channel;
    const client = ch.client!;
    ch.session!.attach(ch, ch.receiveMaximum);
    this.log.debug(
      { clientid: client.clientId, peer: `${client.peerHost}:${client.peerPort}` },
      'client connected',
    );
    const hooks = this.broker.hooks;
    if (hooks.has('client.connected')) hooks.run('client.connected', client);
  }

  /** For the sweep: an error outside packet handling ends this connection like any other. */
  closeAfterError(error: unknown): void {
    try {
      this.fail(error);
    } catch {
      this.link.destroy();
    }
  }

  /** Turns an error into the channel's error actions, logging it with the client id. */
  private fail(error: unknown): void {
    if (this.closed) return;
    const clientid = this.channel.client?.clientId;
    const peer = `${this.link.peerHost}:${this.link.peerPort}`;
    if (error instanceof ProtocolError) {
      this.broker.metrics.packetsMalformed++;
      this.log.warn({ clientid, peer, reason_code: error.reasonCode, spec: error.specId }, error.message);
      this.perform(this.channel.actionsForError(error));
      if (!this.closed) this.close(this.channel.closeReason ?? 'protocol_error');
    } else {
      this.log.error(
        { clientid, peer, err: error },
        'internal error while handling a packet; closing the connection',
      );
      // A connected 5.0 client learns that the server ended it [MQTT-4.13.2-1]; a failing
      // write must not stop the close.
      const ch = this.channel;
      if (ch.v5 && ch.state === ChannelState.Connected) {
        try {
          this.perform(ch.disconnect(ReasonCode.UnspecifiedError, 'internal_error', 'internal error'));
        } catch {
          // closed below
        }
      }
      this.close('internal_error');
    }
  }

  /** Flushes and closes the link; the rest happens in onClose. */
  close(reason: string): void {
    if (this.closed) return;
    this.channel.closeReason ??= reason;
    this.link.end();
    this.onClose(null);
  }

  onClose(error: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.sweeper.delete(this);
    const ch = this.channel;
    const wasConnected = ch.state === ChannelState.Connected;
    ch.state = ChannelState.Disconnected;
    const client = ch.client;
    if (client === null || !wasConnected) return;
    const reason = ch.closeReason ?? (error !== null ? 'sock_error' : 'sock_closed');
    // The will is published unless the client said goodbye normally [MQTT-3.1.2-8]; a server
    // shutting down does not publish wills (the clients come back to a restarted broker).
    const will = ch.will;
    ch.will = null;
    if (will !== null && reason !== 'server_shutdown') {
      // The will waits for its delay or the end of the session, whichever comes first
      // (3.1.3.2.2); a session with expiry 0 ends now.
      const delay = will.properties?.willDelayInterval ?? 0;
      const wait = Math.min(delay, ch.session?.expiryInterval ?? 0);
      if (wait > 0) this.broker.wills.schedule(client, will, Date.now() + wait * MS_PER_SECOND);
      else publishWill(this.broker, client, will);
    }
    this.broker.closeSession(client, ch, ch.session);
    this.broker.metrics.clientDisconnected++;
    this.log.debug({ clientid: client.clientId, reason }, 'client disconnected');
    const hooks = this.broker.hooks;
    if (hooks.has('client.disconnected')) hooks.run('client.disconnected', client, reason);
  }

  /** Called by the sweep: has the keep alive or CONNECT idle timeout passed? */
  expired(now: number): string | null {
    const ch = this.channel;
    if (ch.state === ChannelState.Idle || ch.state === ChannelState.Connecting) {
      // No CONNACK yet: CONNECT (and its authentication) must be done within idle_timeout.
      return now - this.openedAt > ch.settings.idleTimeout ? 'idle_timeout' : null;
    }
    if (ch.state !== ChannelState.Connected || ch.keepalive === 0) return null;
    // A client silent for 1.5 x keep alive is gone [MQTT-3.1.2-24 (3.1.1) / MQTT-3.1.2-22 (5.0)].
    const limit = ch.keepalive * 1000 * ch.settings.keepaliveMultiplier;
    return now - this.lastSeen > limit ? 'keepalive_timeout' : null;
  }

  /** Server shutdown: 5.0 clients get DISCONNECT 0x8B, then every connection closes. */
  shutdown(reasonCode: number): void {
    if (this.closed) return;
    this.channel.kick(reasonCode, 'server_shutdown');
  }
}

const MS_PER_SECOND = 1000;

/**
 * One interval timer checks every connection's keep alive and CONNECT idle timeout, instead of
 * a timer per connection. The check is O(connections) per tick; at 1 s ticks that is well under
 * a millisecond for 100k connections.
 */
export class KeepaliveSweeper {
  private readonly connections = new Set<MqttConnection>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly intervalMs = 1000) {}

  add(c: MqttConnection): void {
    this.connections.add(c);
    if (this.timer === null) {
      this.timer = setInterval(() => this.sweep(), this.intervalMs);
      this.timer.unref();
    }
  }

  delete(c: MqttConnection): void {
    this.connections.delete(c);
  }

  get size(): number {
    return this.connections.size;
  }

  *all(): Iterable<MqttConnection> {
    yield* this.connections;
  }

  sweep(now = Date.now()): void {
    for (const c of this.connections) {
      try {
        const reason = c.expired(now);
        if (reason === null) {
          c.channel.tick(now); // retries and await_rel_timeout
          continue;
        }
        if (reason === 'keepalive_timeout') c.channel.kick(ReasonCode.KeepAliveTimeout, reason);
        else c.close(reason);
      } catch (error) {
        // One connection's failure must not stop the sweep (or, from a timer, the process).
        c.closeAfterError(error);
      }
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
