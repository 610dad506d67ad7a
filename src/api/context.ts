/**
 * What the API works with. `ApiHost` is what the composition root hands it (src/main.ts passes
 * the AviaryBroker object, which has this shape); the API never imports main.ts, only the core's
 * public surface (src/broker/index.ts).
 */

import type { Broker, DelayedPublish, Stats } from '../broker/index.js';
import type { AviaryConfig } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import type { Ban, BanKind } from '../persistence/banned.js';
import type { AdminAuth } from './auth.js';
import type { Monitor } from './monitor.js';
import type { ClientRegistry } from './registry.js';

/** A listener as the API reports it (EMQX's listener fields). */
export interface ListenerStatus {
  id: string;
  type: string;
  name: string;
  bind: string;
  enable?: boolean;
  running: boolean;
  current_connections?: number;
  max_connections?: number | string;
  /** The listener's own counters, when the registry keeps them. */
  counters?: unknown;
}

/** What the API uses of the security module's banned list (src/security/banned.ts). */
export interface BannedList {
  add(input: {
    as: string;
    who: string;
    by?: string;
    reason?: string;
    at?: number;
    until?: number | null;
  }): Ban;
  get(as: BanKind, who: string): Ban | undefined;
  delete(as: BanKind, who: string): boolean;
  clear(): void;
  list(
    page: number,
    limit: number,
  ): { data: Ban[]; meta: { page: number; limit: number; count: number; hasnext: boolean } };
}

export interface ApiHost {
  readonly config: AviaryConfig;
  readonly broker: Broker;
  readonly stats: Stats;
  readonly delayed: DelayedPublish;
  readonly log: Logger;
  /** Bound addresses of the running MQTT listeners. */
  addresses(): Array<{ id: string; host: string; port: number }>;
  /** The listener registry, once the listeners work provides it; the API falls back to addresses(). */
  listeners?(): unknown[];
  startListener?(id: string): Promise<unknown> | unknown;
  stopListener?(id: string): Promise<unknown> | unknown;
  restartListener?(id: string): Promise<unknown> | unknown;
  /** The security module (banned list), when the build has it. */
  readonly security?: { readonly banned: BannedList };
}

export interface ApiContext {
  readonly host: ApiHost;
  readonly broker: Broker;
  readonly config: AviaryConfig;
  readonly log: Logger;
  readonly registry: ClientRegistry;
  readonly auth: AdminAuth;
  readonly monitor: Monitor;
  /** The node's name (node.name). */
  readonly node: string;
  /** Aviary's release. */
  readonly version: string;
  /** Is the broker up (its MQTT listeners started and not closing)? For /status. */
  running(): boolean;
}

/** Milliseconds since the epoch as EMQX writes times (RFC 3339 with milliseconds). */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

/** A time given as RFC 3339 text or as milliseconds since the epoch; undefined if neither. */
export function parseTime(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
