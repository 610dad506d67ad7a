/**
 * The listener registry: every configured listener by id ("tcp:default", "ssl:internal"), which
 * can be started, stopped and restarted while the broker runs, and reports its status (after
 * EMQX's emqx_listeners and its /listeners API).
 *
 * A listener object is made by the factory each time it starts, so a restart re-reads its
 * certificate files; its counters therefore count from its last start. Stopping a listener
 * stops accepting, asks the caller to shut its connections down (MQTT 5.0 clients get
 * DISCONNECT 0x8B), waits a grace period for them to close, then destroys the rest.
 */

import type { ListenerEntry } from '../config/index.js';
import { AviaryError } from '../errors.js';
import type { Listener, ListenerCounters, ListenerKind } from './listener.js';

/** A listener id that is not configured. */
export class ListenerNotFoundError extends AviaryError {
  constructor(id: string) {
    super('AVY_ERR_LISTENER_NOT_FOUND', `no listener "${id}" (ids are "<type>:<name>", e.g. "tcp:default")`);
  }
}

/** What `AviaryBroker.listeners()` reports for each configured listener. */
export interface ListenerStatus {
  /** "<type>:<name>" */
  readonly id: string;
  readonly type: ListenerKind;
  readonly name: string;
  /** `listeners.<type>.<name>.enable`: whether it starts with the broker. */
  readonly enable: boolean;
  /** Accepting connections now. */
  readonly running: boolean;
  /** "host:port" as bound (the real port when configured as 0), or as configured when stopped. */
  readonly bind: string;
  /** Open connections. */
  readonly currentConnections: number;
  /** `max_connections` (Infinity: no limit). */
  readonly maxConnections: number;
  /** Counters since the listener last started (a stopped one keeps its last; zero if it never ran). */
  readonly counters: ListenerCounters;
}

/** What the registry needs from the composition root. */
export interface RegistryOptions {
  /** Makes a listener for a configured entry (main.ts's createListener). */
  create(entry: ListenerEntry): Listener;
  /** Shuts the MQTT connections of a listener down (they close themselves soon after). */
  shutdownConnections(listenerId: string): void;
  /** How long stopped connections get to close before they are destroyed, in ms. */
  graceMs: number;
  /** Told when a listener has started or stopped. */
  onChange?(id: string, running: boolean, address: { host: string; port: number }): void;
}

const POLL_MS = 20;

function zeroCounters(): ListenerCounters {
  return { accepted: 0, refusedMaxConnections: 0, refusedRate: 0, handshakeFailed: 0 };
}

function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class ListenerRegistry {
  private readonly entries = new Map<string, ListenerEntry>();
  private readonly live = new Map<string, Listener>();
  /** The counters of stopped listeners, as they were when they stopped. */
  private readonly stopped = new Map<string, ListenerCounters>();

  constructor(
    entries: readonly ListenerEntry[],
    private readonly options: RegistryOptions,
  ) {
    for (const entry of entries) this.entries.set(entry.id, entry);
  }

  private entry(id: string): ListenerEntry {
    const entry = this.entries.get(id);
    if (entry === undefined) throw new ListenerNotFoundError(id);
    return entry;
  }

  /** The running listener `id`, if it runs. */
  get(id: string): Listener | undefined {
    return this.live.get(id);
  }

  /** The running listeners, in configuration order. */
  running(): Listener[] {
    return [...this.entries.keys()].flatMap((id) => this.live.get(id) ?? []);
  }

  /** Starts every enabled listener; if one fails, stops those it started and rejects. */
  async startEnabled(): Promise<void> {
    const started: string[] = [];
    try {
      for (const entry of this.entries.values()) {
        if (!entry.config.enable || this.live.has(entry.id)) continue;
        await this.start(entry.id);
        started.push(entry.id);
      }
    } catch (error) {
      for (const id of started) {
        await this.live.get(id)?.stopAccepting();
        this.live.delete(id);
      }
      throw error;
    }
  }

  /** Starts listener `id` (configured, enabled or not). Starting a running one does nothing. */
  async start(id: string): Promise<void> {
    const entry = this.entry(id);
    if (this.live.has(id)) return;
    const listener = this.options.create(entry);
    await listener.listen();
    this.live.set(id, listener);
    this.options.onChange?.(id, true, listener.address);
  }

  /** Stops listener `id` and closes its connections. Stopping a stopped one does nothing. */
  async stop(id: string): Promise<void> {
    this.entry(id);
    const listener = this.live.get(id);
    if (listener === undefined) return;
    this.live.delete(id);
    const address = listener.address;
    await listener.stopAccepting();
    await this.drain([listener]);
    this.stopped.set(id, { ...listener.counters });
    this.options.onChange?.(id, false, address);
  }

  /** Stops (if running) and starts listener `id` again, re-reading its configuration files. */
  async restart(id: string): Promise<void> {
    await this.stop(id);
    await this.start(id);
  }

  /** Stops every listener and closes every connection (broker shutdown). */
  async stopAll(): Promise<void> {
    const listeners = this.running();
    this.live.clear();
    await Promise.all(listeners.map((l) => l.stopAccepting()));
    await this.drain(listeners);
  }

  /** Shuts the listeners' connections down, waits for them to close (up to the grace period), destroys the rest. */
  private async drain(listeners: readonly Listener[]): Promise<void> {
    for (const l of listeners) this.options.shutdownConnections(l.id);
    const deadline = Date.now() + this.options.graceMs;
    while (listeners.some((l) => l.connections > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    for (const l of listeners) l.destroyAll();
  }

  /** The status of every configured listener. */
  status(): ListenerStatus[] {
    return [...this.entries.values()].map((entry) => {
      const listener = this.live.get(entry.id);
      const address = listener?.address ?? entry.config.bind;
      return {
        id: entry.id,
        type: entry.type,
        name: entry.name,
        enable: entry.config.enable,
        running: listener?.running ?? false,
        bind: formatHostPort(address.host, address.port),
        currentConnections: listener?.connections ?? 0,
        maxConnections: entry.config.max_connections,
        counters: { ...(listener?.counters ?? this.stopped.get(entry.id) ?? zeroCounters()) },
      };
    });
  }
}
