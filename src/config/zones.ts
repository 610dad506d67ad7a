/**
 * Zones: named sets of `mqtt` overrides, after EMQX 5. A listener names its zone
 * (`listeners.tcp.default.zone = internal`); the connections it accepts then run with the
 * global `mqtt` section overlaid by `zones.<zone>.mqtt`. The zone "default" always exists, with
 * no overrides unless `zones.default` is configured.
 */
import { ConfigError } from '../errors.js';
import { DEFAULT_ZONE } from './listeners-schema.js';
import type { MqttConfig } from './mqtt-schema.js';
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
  return merged as MqttConfig;
}
