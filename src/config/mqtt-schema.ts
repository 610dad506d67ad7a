/**
 * The `mqtt` section: protocol limits and session behaviour, with EMQX 5's names and defaults
 * (emqx_schema.erl `mqtt_general()` / `mqtt_session()`). The same keys appear, all optional and
 * without defaults, under `zones.<name>.mqtt`, where they override the global section for the
 * listeners of that zone (see zones.ts).
 *
 * Normalised forms: durations are milliseconds; byte sizes are bytes; "infinity", and 0 where
 * EMQX reads 0 as "no limit", become `Infinity`. One exception keeps EMQX's unit:
 * `server_keepalive` is in seconds, because it is the MQTT Server Keep Alive value itself
 * (EMQX types it as an integer of seconds, so `server_keepalive = 60` means one minute).
 */
import type { z } from 'zod';
import { bool, byteSize, decimal, duration, int, leaf, oneOf, section, str } from './fields.js';
import { limiterOverridesSchema, limiterSchema } from './security-schema.js';
import { parseDuration } from './units.js';

/** EMQX's ceiling for `max_packet_size` (256MB; MQTT's own limit is 268,435,455 + 5 bytes). */
export const MAX_PACKET_SIZE_LIMIT = 256 * 1024 * 1024;
/** MQTT's two-byte integers (Topic Alias Maximum, Receive Maximum, Keep Alive) top out here. */
export const MAX_UINT16 = 65_535;
/** The shortest client id limit MQTT lets a server impose ([MQTT-3.1.3-5]: 1 to 23 bytes). */
export const MIN_CLIENTID_LEN = 23;
const MS_PER_SECOND = 1000;

/** How a shared subscription group picks the subscriber for a message. */
export const SHARED_SUBSCRIPTION_STRATEGIES = [
  'random',
  'round_robin',
  'round_robin_per_group',
  'sticky',
  'local',
  'hash_clientid',
  'hash_topic',
] as const;

/** Which part of a TLS client certificate becomes the username or client id. */
export const PEER_CERT_SOURCES = ['disabled', 'cn', 'dn'] as const;

/**
 * `server_keepalive`: "disabled" (`Infinity`), or seconds 1..65535 written as an integer
 * (EMQX's form) or as a duration of whole seconds ("90s", "2m").
 */
function serverKeepalive() {
  return leaf('"disabled", or seconds from 1 to 65535 (e.g. 60 or "60s")', (input) => {
    if (input === 'disabled' || input === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
    let seconds: number | undefined;
    if (typeof input === 'number') seconds = input;
    else if (typeof input === 'string' && /^\d+$/.test(input.trim())) seconds = Number(input);
    else {
      const ms = parseDuration(input);
      seconds = ms === undefined ? undefined : ms / MS_PER_SECOND;
    }
    return seconds !== undefined && Number.isInteger(seconds) && seconds >= 1 && seconds <= MAX_UINT16
      ? seconds
      : undefined;
  });
}

/** The value schemas of the mqtt keys, without defaults. */
const MQTT_VALUES = {
  max_packet_size: byteSize(1, MAX_PACKET_SIZE_LIMIT, '256MB'),
  max_clientid_len: int(MIN_CLIENTID_LEN, MAX_UINT16),
  max_topic_levels: int(1, MAX_UINT16),
  max_qos_allowed: int(0, 2),
  max_topic_alias: int(0, MAX_UINT16),
  retain_available: bool(),
  wildcard_subscription: bool(),
  shared_subscription: bool(),
  exclusive_subscription: bool(),
  idle_timeout: duration({ unlimited: true }),
  keepalive_multiplier: decimal(1, MAX_UINT16),
  server_keepalive: serverKeepalive(),
  max_inflight: int(1, MAX_UINT16),
  receive_maximum: int(1, MAX_UINT16),
  retry_interval: duration({ unlimited: true }),
  max_awaiting_rel: int(0, Number.POSITIVE_INFINITY, { unlimited: true, zeroIsUnlimited: true }),
  await_rel_timeout: duration({ unlimited: true }),
  session_expiry_interval: duration({ unlimited: true }),
  max_mqueue_len: int(0, Number.POSITIVE_INFINITY, { unlimited: true, zeroIsUnlimited: true }),
  mqueue_store_qos0: bool(),
  upgrade_qos: bool(),
  ignore_loop_deliver: bool(),
  strict_mode: bool(),
  max_subscriptions: int(1, Number.POSITIVE_INFINITY, { unlimited: true }),
  use_username_as_clientid: bool(),
  peer_cert_as_username: oneOf(PEER_CERT_SOURCES),
  peer_cert_as_clientid: oneOf(PEER_CERT_SOURCES),
  response_information: str(),
  shared_subscription_strategy: oneOf(SHARED_SUBSCRIPTION_STRATEGIES),
};

type MqttValues = typeof MQTT_VALUES;

/**
 * The defaults, written as in emqx.conf (EMQX 5.8, except `retry_interval`: EMQX 4's 30s).
 * `receive_maximum` is Aviary's own key (EMQX advertises `max_inflight` as its Receive Maximum,
 * 32 by default): the QoS 1/2 publications a client may have unacknowledged towards the broker.
 */
export const MQTT_DEFAULTS: { readonly [K in keyof MqttValues]: string | number | boolean } = {
  max_packet_size: '1MB',
  max_clientid_len: 65_535,
  max_topic_levels: 128,
  max_qos_allowed: 2,
  max_topic_alias: 65_535,
  retain_available: true,
  wildcard_subscription: true,
  shared_subscription: true,
  exclusive_subscription: false,
  idle_timeout: '15s',
  keepalive_multiplier: 1.5,
  server_keepalive: 'disabled',
  max_inflight: 32,
  receive_maximum: 32,
  retry_interval: '30s',
  max_awaiting_rel: 100,
  await_rel_timeout: '300s',
  session_expiry_interval: '2h',
  max_mqueue_len: 1000,
  mqueue_store_qos0: true,
  upgrade_qos: false,
  ignore_loop_deliver: false,
  strict_mode: false,
  max_subscriptions: 'infinity',
  use_username_as_clientid: false,
  peer_cert_as_username: 'disabled',
  peer_cert_as_clientid: 'disabled',
  response_information: '',
  shared_subscription_strategy: 'round_robin',
};

function withDefaults(): { [K in keyof MqttValues]: z.ZodPrefault<MqttValues[K]> } {
  const shape: Record<string, unknown> = {};
  for (const key of Object.keys(MQTT_VALUES) as (keyof MqttValues)[]) {
    shape[key] = MQTT_VALUES[key].prefault(MQTT_DEFAULTS[key]);
  }
  return shape as { [K in keyof MqttValues]: z.ZodPrefault<MqttValues[K]> };
}

function allOptional(): { [K in keyof MqttValues]: z.ZodOptional<MqttValues[K]> } {
  const shape: Record<string, unknown> = {};
  for (const key of Object.keys(MQTT_VALUES) as (keyof MqttValues)[]) {
    shape[key] = MQTT_VALUES[key].optional();
  }
  return shape as { [K in keyof MqttValues]: z.ZodOptional<MqttValues[K]> };
}

/** The global `mqtt` section, every key defaulted. */
export const mqttSchema = section({ ...withDefaults(), limiter: limiterSchema.prefault({}) });

/** `zones.<name>.mqtt`: the same keys, each optional; a key set here overrides `mqtt`. */
export const mqttOverridesSchema = section({ ...allOptional(), limiter: limiterOverridesSchema.optional() });

/** The `mqtt` section after parsing. */
export type MqttConfig = z.output<typeof mqttSchema>;
/** A zone's `mqtt` overrides after parsing. */
export type MqttOverrides = z.output<typeof mqttOverridesSchema>;
/** A shared subscription strategy name. */
export type SharedSubscriptionStrategy = (typeof SHARED_SUBSCRIPTION_STRATEGIES)[number];
