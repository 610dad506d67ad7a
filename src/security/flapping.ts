/**
 * Flapping detection (EMQX's `emqx_flapping`): a client id that keeps connecting and
 * disconnecting is banned for a while, so a misbehaving device cannot load the broker with
 * connection churn.
 *
 * Each disconnect of a connected client counts against its client id. The first disconnect opens
 * a window of `window_time`; when the count reaches `max_count` within it, the client id is banned
 * for `ban_time` through the banned list (`as = clientid`, `by = flapping_detect`), which also
 * kicks it if it has connected again meanwhile. A disconnect after the window has passed starts a
 * new window. This is EMQX's rule: with the defaults, the 15th disconnect within one minute bans
 * for five minutes. The policy may differ per zone (`zones.<name>.flapping_detect`).
 *
 * Memory: one small record per client id that disconnected within its window; `sweep` drops the
 * records whose window has passed.
 */

import type { ClientInfo } from '../broker/types.js';
import type { FlappingDetectConfig } from '../config/index.js';
import type { Banned } from './banned.js';

/** Who a flapping ban says banned (EMQX's `by`). */
export const FLAPPING_BANNED_BY = 'flapping_detect';
/** The reason a flapping ban gives (EMQX's). */
export const FLAPPING_REASON = 'flapping is detected';

interface Record {
  count: number;
  /** When this window opened (ms). */
  startedAt: number;
  /** Its zone's window_time (ms), for the sweep. */
  windowTime: number;
}

export interface FlappingOptions {
  /** The policy for a zone (the global `flapping_detect` with the zone's overrides). */
  policyOf: (zone: string) => FlappingDetectConfig;
  /** Called when a client id is banned (metrics, log). */
  onBanned?: (client: ClientInfo, count: number, policy: FlappingDetectConfig) => void;
  now?: () => number;
}

export class FlappingDetector {
  private readonly records = new Map<string, Record>();
  private readonly now: () => number;

  constructor(
    private readonly banned: Banned,
    private readonly options: FlappingOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Client ids with a window open. */
  get size(): number {
    return this.records.size;
  }

  /** A connected client disconnected (the `client.disconnected` hook). */
  disconnected(client: ClientInfo): void {
    const policy = this.options.policyOf(client.zone);
    if (!policy.enable) return;
    const now = this.now();
    const id = client.clientId;
    let record = this.records.get(id);
    if (record === undefined || now - record.startedAt > policy.window_time) {
      record = { count: 0, startedAt: now, windowTime: policy.window_time };
      this.records.set(id, record);
    }
    record.count++;
    if (record.count < policy.max_count) return;
    this.records.delete(id);
    this.banned.add({
      as: 'clientid',
      who: id,
      by: FLAPPING_BANNED_BY,
      reason: FLAPPING_REASON,
      at: now,
      until: now + policy.ban_time,
    });
    this.options.onBanned?.(client, record.count, policy);
  }

  /** Drops the records whose window has passed; returns how many. */
  sweep(now = this.now()): number {
    let dropped = 0;
    for (const [id, record] of this.records) {
      if (now - record.startedAt > record.windowTime) {
        this.records.delete(id);
        dropped++;
      }
    }
    return dropped;
  }
}
