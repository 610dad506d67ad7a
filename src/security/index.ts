/**
 * The security core, installed on the broker's hooks by one call from main.ts:
 *
 *   const security = installSecurity({ broker, config, log, bannedStore, connections: () => ... });
 *
 *  - the banned list (banned.ts), checked at CONNECT by a `client.connect` callback of high
 *    priority, before authentication: a banned client gets CONNACK 0x8A Banned (3.1.1: 0x05 Not
 *    authorized) and is closed. Adding a ban kicks the connected clients it matches: MQTT 5.0
 *    clients get DISCONNECT 0x98 Administrative action (what EMQX sends when it kicks), then every
 *    matching connection is closed with the reason `kicked`; their sessions stay and expire as
 *    usual;
 *  - flapping detection (flapping.ts) on `client.disconnected`, registered only when some zone
 *    enables it;
 *  - rate limits (limiter.ts): `limiterFor(listener, zone)` gives each new connection its
 *    limiter, or null when no rate applies.
 *
 * Expired bans and flapping windows are swept by one unref'd timer.
 */

import type { Broker } from '../broker/broker.js';
import type { ConnectAcc, FoldResult, HookCallback } from '../broker/hooks.js';
import type { ClientInfo } from '../broker/types.js';
import type { Channel } from '../channel/channel.js';
import type { InboundLimiter } from '../channel/connection.js';
import { type AviaryConfig, listenersOf, parseLimiterRate, zoneFlapping, zoneMqtt } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import type { Ban, BannedStore } from '../persistence/banned.js';
import { ReasonCode } from '../protocol/index.js';
import { Banned } from './banned.js';
import { FlappingDetector } from './flapping.js';
import { type LimitRates, Limiters } from './limiter.js';

export { type BannableClient, Banned, type BanInput, type BanPage, DEFAULT_BANNED_BY } from './banned.js';
export { FLAPPING_BANNED_BY, FlappingDetector } from './flapping.js';
export { ClientLimiter, Limiters, TokenBucket } from './limiter.js';

/** Priority of the banned check on `client.connect`: before other callbacks. */
export const BANNED_HOOK_PRIORITY = 1000;
/** How often expired bans and flapping windows are swept (a ban's expiry itself is exact). */
const SWEEP_INTERVAL_MS = 10_000;
/** The close reason of a client kicked by a ban (EMQX's). */
export const KICKED_REASON = 'kicked';

export interface SecurityContext {
  broker: Broker;
  config: AviaryConfig;
  log: Logger;
  bannedStore: BannedStore;
  /** The live connections (called when a ban is added, to kick the ones it matches). */
  connections: () => Iterable<{ readonly channel: Channel }>;
}

export interface Security {
  /** The banned list: `check`, `add`, `delete`, `list`, `clear` (the API's /banned). */
  readonly banned: Banned;
  readonly flapping: FlappingDetector;
  /** The rate limiter for a new connection on `listener` (e.g. 'tcp:default') in `zone`, or null. */
  limiterFor(listener: string, zone: string): InboundLimiter | null;
  /** Removes the hooks and stops the sweep timer. */
  close(): void;
}

export function installSecurity(ctx: SecurityContext): Security {
  const { broker, config, log } = ctx;
  const metrics = broker.metrics;

  const banned = new Banned(ctx.bannedStore, {
    onAdded: (ban) => {
      const kicked = kickMatching(ctx.connections(), banned, ban);
      metrics.bannedKicked += kicked;
      log.info({ as: ban.as, who: ban.who, by: ban.by, until: ban.until, kicked }, 'ban added');
    },
  });

  const onConnect: HookCallback<'client.connect'> = (
    acc: ConnectAcc,
    client: ClientInfo,
  ): FoldResult<ConnectAcc> => {
    const ban = banned.check(client);
    if (ban === null) return undefined;
    metrics.bannedRefused++;
    log.info(
      { clientid: client.clientId, peer: `${client.peerHost}:${client.peerPort}`, as: ban.as, who: ban.who },
      'banned client refused',
    );
    return { stop: { reasonCode: ReasonCode.Banned, properties: acc.properties } };
  };
  broker.hooks.add('client.connect', onConnect, BANNED_HOOK_PRIORITY);

  const policies = new Map<string, ReturnType<typeof zoneFlapping>>();
  const policyOf = (zone: string): ReturnType<typeof zoneFlapping> => {
    let policy = policies.get(zone);
    if (policy === undefined) {
      policy = Object.hasOwn(config.zones, zone) ? zoneFlapping(config, zone) : config.flapping_detect;
      policies.set(zone, policy);
    }
    return policy;
  };
  const flapping = new FlappingDetector(banned, {
    policyOf,
    onBanned: (client, count, policy) => {
      metrics.flappingBanned++;
      log.warn(
        {
          clientid: client.clientId,
          peer: client.peerHost,
          count,
          window_time: policy.window_time,
          ban_time: policy.ban_time,
        },
        'flapping detected: client id banned',
      );
    },
  });
  const flappingEnabled =
    config.flapping_detect.enable || Object.keys(config.zones).some((zone) => policyOf(zone).enable);
  const onDisconnected: HookCallback<'client.disconnected'> = (client: ClientInfo) =>
    flapping.disconnected(client);
  if (flappingEnabled) broker.hooks.add('client.disconnected', onDisconnected);

  const limiters = new Limiters(metrics);
  const rates = new Map<string, LimitRates>();
  const ratesFor = (listener: string, zone: string): LimitRates => {
    const key = `${listener}\u0000${zone}`;
    let r = rates.get(key);
    if (r === undefined) {
      const lc = listenersOf(config).find((e) => e.id === listener)?.config;
      const zoneLimiter = zoneMqtt(config, zone).limiter;
      r = {
        listenerMessages: lc === undefined ? null : (parseLimiterRate(lc.messages_rate) ?? null),
        listenerBytes: lc === undefined ? null : (parseLimiterRate(lc.bytes_rate, true) ?? null),
        zoneMessages: parseLimiterRate(zoneLimiter.messages_rate) ?? null,
        zoneBytes: parseLimiterRate(zoneLimiter.bytes_rate, true) ?? null,
      };
      rates.set(key, r);
    }
    return r;
  };

  const timer = setInterval(() => {
    try {
      banned.sweep();
      flapping.sweep();
    } catch (error) {
      log.error({ err: error }, 'sweeping the banned list failed');
    }
  }, SWEEP_INTERVAL_MS);
  timer.unref();

  return {
    banned,
    flapping,
    limiterFor: (listener, zone) => limiters.forConnection(zone, ratesFor(listener, zone)),
    close() {
      clearInterval(timer);
      broker.hooks.remove('client.connect', onConnect);
      if (flappingEnabled) broker.hooks.remove('client.disconnected', onDisconnected);
    },
  };
}

/** Kicks the connections whose client a new ban matches; returns how many. */
function kickMatching(
  connections: Iterable<{ readonly channel: Channel }>,
  banned: Banned,
  ban: Ban,
): number {
  const matching: Channel[] = [];
  for (const c of connections) {
    const client = c.channel.client;
    if (client !== null && banned.matches(ban, client)) matching.push(c.channel);
  }
  // Kicked after the walk: closing a connection takes it out of the set being walked.
  for (const channel of matching) channel.kick(ReasonCode.AdministrativeAction, KICKED_REASON);
  return matching.length;
}
