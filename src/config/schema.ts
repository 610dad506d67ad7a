/**
 * The whole configuration as one zod schema, with EMQX's key names and defaults.
 *
 * Parsing does three things at once:
 *  1. validates: every section is strict (an unknown key is an error, so typos surface), except
 *     the names inside maps (`listeners.tcp.<name>`, `zones.<name>`);
 *  2. fills defaults: `configSchema.parse({})` is a complete configuration (without listeners:
 *     the default `listeners.tcp.default` is added by `parseConfig`/`loadConfig`);
 *  3. normalises: durations to milliseconds, sizes to bytes, "infinity" (and EMQX's "0 means no
 *     limit") to `Infinity`, bind addresses to `{ host, port }`.
 *
 * Cross-key rules run after the keys themselves are valid: a listener's zone must exist, an
 * enabled TLS listener needs a certificate and key, two enabled listeners may not bind the same
 * address.
 */
import { durableStorageSchema } from './storage-schema.js';
import type { z } from 'zod';
import { apiConfigShape } from './api-schema.js';
import { authenticationSchema } from './authn-schema.js';
import { authorizationSchema } from './authz-schema.js';
import { bool, byteSize, duration, int, mapOf, oneOf, section, str, stringList } from './fields.js';
import {
  DEFAULT_ZONE,
  LISTENER_TYPES,
  type ListenerConfig,
  type ListenerType,
  listenersSchema,
  pskAuthenticationSchema,
} from './listeners-schema.js';
import { MAX_PACKET_SIZE_LIMIT, mqttOverridesSchema, mqttSchema } from './mqtt-schema.js';
import { flappingDetectOverridesSchema, flappingDetectSchema } from './security-schema.js';
import { type BindAddress, formatBind } from './units.js';

/** EMQX's log levels (syslog's), most verbose first. */
export const LOG_LEVELS = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
] as const;
/** A log level as configured. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The pino level each EMQX level maps to (pino has no notice/critical/alert/emergency). */
export const PINO_LEVEL: { readonly [L in LogLevel]: 'debug' | 'info' | 'warn' | 'error' | 'fatal' } = {
  debug: 'debug',
  info: 'info',
  notice: 'info',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
  alert: 'fatal',
  emergency: 'fatal',
};

const logLevel = () => oneOf(LOG_LEVELS, { warn: 'warning' });

// "name@host", as an Erlang node name: one "@", no blanks.
const NODE_NAME = /^[^@\s]+@[^@\s]+$/;

const nodeSchema = section({
  name: str('a node name like "aviary@127.0.0.1"', (name) => NODE_NAME.test(name)).prefault(
    'aviary@127.0.0.1',
  ),
  data_dir: str('a directory path', (path) => path !== '').prefault('data'),
}).prefault({});

const logSchema = section({
  console: section({
    enable: bool().prefault(true),
    level: logLevel().prefault('warning'),
  }).prefault({}),
  file: section({
    enable: bool().prefault(false),
    level: logLevel().prefault('warning'),
    path: str('a file path', (path) => path !== '').prefault('log/aviary.log'),
  }).prefault({}),
}).prefault({});

const zoneSchema = section({
  mqtt: mqttOverridesSchema.prefault({}),
  flapping_detect: flappingDetectOverridesSchema.optional(),
  // The authentication chain of the zone's listeners (those without their own chain), as
  // `authentication` (docs/authentication.md, "Which chain"). Authorization is global, as in EMQX.
  authentication: authenticationSchema.optional(),
});

const sysTopicsSchema = section({
  sys_msg_interval: duration({ unlimited: true }).prefault('1m'),
  sys_heartbeat_interval: duration({ unlimited: true }).prefault('30s'),
  sys_event_messages: section({
    client_connected: bool().prefault(true),
    client_disconnected: bool().prefault(true),
    client_subscribed: bool().prefault(false),
    client_unsubscribed: bool().prefault(false),
  }).prefault({}),
  // Aviary's (temporary, until ACLs): peer hosts that may subscribe to $SYS; "all" for any.
  subscribe_allow_hosts: stringList().prefault(['127.0.0.1', '::1', '::ffff:127.0.0.1']),
}).prefault({});

const retainerSchema = section({
  enable: bool().prefault(true),
  max_payload_size: byteSize(0, MAX_PACKET_SIZE_LIMIT, '256MB').prefault('1MB'),
  msg_expiry_interval: duration({ unlimited: true, zeroIsUnlimited: true }).prefault('0s'),
  max_retained_messages: int(0, Number.POSITIVE_INFINITY, {
    unlimited: true,
    zeroIsUnlimited: true,
  }).prefault(0),
}).prefault({});

/** Delayed publish, `$delayed/<seconds>/<topic>` (EMQX's emqx_modules_schema.erl `delayed`). */
const delayedSchema = section({
  enable: bool().prefault(true),
  max_delayed_messages: int(0, Number.POSITIVE_INFINITY, {
    unlimited: true,
    zeroIsUnlimited: true,
  }).prefault(0),
}).prefault({});

/** The configuration's root sections, in documentation order. */
export const configShape = {
  node: nodeSchema,
  log: logSchema,
  listeners: listenersSchema,
  mqtt: mqttSchema.prefault({}),
  zones: mapOf(zoneSchema).prefault({}),
  sys_topics: sysTopicsSchema,
  retainer: retainerSchema,
  delayed: delayedSchema,
  durable_storage: durableStorageSchema,
  psk_authentication: pskAuthenticationSchema,
  flapping_detect: flappingDetectSchema.prefault({}),
  authentication: authenticationSchema.prefault([]),
  authorization: authorizationSchema.prefault({}),
  ...apiConfigShape,
};

/** The root keys a configuration may have (used to vet environment variables). */
export const ROOT_KEYS: readonly string[] = Object.keys(configShape);

const configObjectSchema = section(configShape);

/** The configuration schema: raw input (file, env, object) in, `AviaryConfig` out. */
export const configSchema = configObjectSchema.superRefine((config, ctx) => {
  for (const issue of crossKeyIssues(config)) ctx.addIssue({ code: 'custom', ...issue });
});

/** A complete, validated, normalised configuration. */
export type AviaryConfig = z.output<typeof configObjectSchema>;
/** A parsed zone. */
export type ZoneConfig = AviaryConfig['zones'][string];

/**
 * What a caller may pass where a configuration is expected (`parseConfig`, `loadConfig`'s
 * `overrides`, `createBroker`): any subset of the keys, each value in its written form
 * ("15s", "1MB", "0.0.0.0:1883", "infinity") or its parsed form (15000, 1048576, { host, port }).
 */
export type ConfigInput<T> = T extends BindAddress
  ? BindAddress | string | number
  : T extends number
    ? number | string
    : T extends string
      ? T
      : T extends boolean
        ? boolean | 'true' | 'false'
        : T extends readonly (infer U)[]
          ? readonly ConfigInput<U>[] | string
          : T extends object
            ? { [K in keyof T]?: ConfigInput<T[K]> }
            : T;

/** A partial configuration in written or parsed form. */
export type AviaryConfigInput = ConfigInput<AviaryConfig>;

/** One listener with its identity, as `listenersOf` returns it. */
export interface ListenerEntry {
  /** EMQX's listener id, `<type>:<name>`, e.g. "tcp:default". */
  readonly id: string;
  readonly type: ListenerType;
  readonly name: string;
  readonly config: ListenerConfig;
}

/** Every configured listener (enabled or not), by type then name. */
export function listenersOf(config: Pick<AviaryConfig, 'listeners'>): ListenerEntry[] {
  const entries: ListenerEntry[] = [];
  for (const type of LISTENER_TYPES) {
    for (const [name, listener] of Object.entries(config.listeners[type])) {
      entries.push({ id: `${type}:${name}`, type, name, config: listener });
    }
  }
  return entries;
}

interface CrossKeyIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);

function crossKeyIssues(config: AviaryConfig): CrossKeyIssue[] {
  const issues: CrossKeyIssue[] = [];
  const zoneNames = Object.keys(config.zones);
  const bound: { host: string; port: number; id: string }[] = [];
  for (const { type, name, config: listener } of listenersOf(config)) {
    const path = ['listeners', type, name];
    if (listener.zone !== DEFAULT_ZONE && !Object.hasOwn(config.zones, listener.zone)) {
      const known = [DEFAULT_ZONE, ...zoneNames.filter((zone) => zone !== DEFAULT_ZONE)].join(', ');
      issues.push({
        path: [...path, 'zone'],
        message: `unknown zone "${listener.zone}" (defined zones: ${known})`,
      });
    }
    if (!listener.enable) continue;
    // An ssl listener with TLS-PSK on and no certificate at all is a PSK-only listener.
    const pskOnly =
      type === 'ssl' &&
      config.psk_authentication.enable &&
      'ssl_options' in listener &&
      listener.ssl_options.certfile === undefined &&
      listener.ssl_options.keyfile === undefined;
    if ('ssl_options' in listener && !pskOnly) {
      for (const key of ['certfile', 'keyfile'] as const) {
        if (listener.ssl_options[key] === undefined) {
          issues.push({
            path: [...path, 'ssl_options', key],
            message: `required for an enabled ${type} listener (or set enable = false)`,
          });
        }
      }
    }
    const { host, port } = listener.bind;
    if (port === 0) continue;
    const clash = bound.find(
      (other) =>
        other.port === port &&
        (other.host === host || WILDCARD_HOSTS.has(other.host) || WILDCARD_HOSTS.has(host)),
    );
    if (clash === undefined) bound.push({ host, port, id: path.join('.') });
    else {
      issues.push({
        path: [...path, 'bind'],
        message: `${formatBind(listener.bind)} overlaps the address of ${clash.id}`,
      });
    }
  }
  return issues;
}
