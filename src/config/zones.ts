/**
 * Zones: named sets of overrides, after EMQX 5. A listener names its zone
 * (`listeners.tcp.default.zone = internal`); the connections it accepts then run with the
 * global `mqtt` section overlaid by `zones.<zone>.mqtt` (protocol limits, session settings and,
 * in `mqtt.limiter`, the zone's shared rate limits), and the global `flapping_detect` overlaid by
 * `zones.<zone>.flapping_detect`. `zones.<zone>.authentication` / `authorization` are read by
 * src/auth and src/authz. The zone "default" always exists, with no overrides unless
 * `zones.default` is configured.
 */
import { ConfigError } from '../errors.js';
import { DEFAULT_ZONE } from './listeners-schema.js';
import type { MqttConfig } from './mqtt-schema.js';
import type { FlappingDetectConfig } from './security-schema.js';
import type { AviaryConfig } from './schema.js';

/**
 * The effective `mqtt` settings for a zone: the global section with the zone's overrides on top.
 * Throws a ConfigError for a zone that is not defined (a validated configuration never names
 * one in a listener, so this only happens for a name that comes from elsewhere).
 */
export function zoneMqtt(config: Pick<AviaryConfig, 'mqtt' | 'zones'>, zoneName: string): MqttConfig {
  const zone = Object.hasOwn(config.zones, zoneName) ? config.zones[zoneName] : undefined;
  if (zone === undefined) {
    if (zoneName === DEFAULT_ZONE) return { ...config.mqtt };
    throw new ConfigError(`unknown zone "${zoneName}"`, `zones.${zoneName}`);
  }
  const merged: Record<string, unknown> = { ...config.mqtt };
  for (const [key, value] of Object.entries(zone.mqtt)) {
    if (value !== undefined) merged[key] = value;
  }
  // `limiter` is a block: a zone overrides its keys one by one.
  merged.limiter = overlay(config.mqtt.limiter, zone.mqtt.limiter);
  return merged as MqttConfig;
}

/** The effective `flapping_detect` policy for a zone: the global section with the zone's keys on top. */
export function zoneFlapping(
  config: Pick<AviaryConfig, 'flapping_detect' | 'zones'>,
  zoneName: string,
): FlappingDetectConfig {
  const zone = Object.hasOwn(config.zones, zoneName) ? config.zones[zoneName] : undefined;
  return overlay(config.flapping_detect, zone?.flapping_detect);
}

/** `base` with the defined values of `over` on top. */
function overlay<T extends object>(base: T, over: { [K in keyof T]?: T[K] | undefined } | undefined): T {
  const out = { ...base };
  if (over === undefined) return out;
  for (const key of Object.keys(over) as (keyof T)[]) {
    const value = over[key];
    if (value !== undefined) out[key] = value as T[keyof T];
  }
  return out;
}
