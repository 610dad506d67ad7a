/**
 * Aviary's configuration: EMQX's keys and defaults, read from HOCON files, AVIARY_* environment
 * variables and objects, validated and normalised into one typed `AviaryConfig`.
 * See docs/configuration.md for every key.
 */
export {
  applyEnvOverrides,
  ENV_LEVEL_SEPARATOR,
  ENV_PREFIX,
  type EnvOverride,
  type EnvOverrides,
  NON_CONFIG_ENV_VARS,
  parseEnvValue,
  readEnvOverrides,
} from './env.js';
export {
  type Environment,
  type HoconFileResult,
  type HoconObject,
  type HoconOptions,
  type HoconValue,
  parseHocon,
  parseHoconFile,
  parseHoconValue,
} from './hocon.js';
export { describeIssues, formatPath, issuesToConfigError } from './issues.js';
export {
  DEFAULT_LISTENER_PORT,
  DEFAULT_ZONE,
  LISTENER_TYPES,
  type ListenerConfig,
  type ListenersConfig,
  type ListenerType,
  type PskAuthenticationConfig,
  parseRate,
  pskAuthenticationSchema,
  type SslListenerConfig,
  type SslOptionsConfig,
  type TcpListenerConfig,
  TLS_VERSIONS,
  type WsListenerConfig,
  type WssListenerConfig,
} from './listeners-schema.js';
export { defaultLayer, type LoadConfigOptions, type LoadedConfig, loadConfig, parseConfig } from './load.js';
export {
  MQTT_DEFAULTS,
  type MqttConfig,
  type MqttOverrides,
  PEER_CERT_SOURCES,
  SHARED_SUBSCRIPTION_STRATEGIES,
  type SharedSubscriptionStrategy,
} from './mqtt-schema.js';
export {
  type AviaryConfig,
  type AviaryConfigInput,
  type ConfigInput,
  configSchema,
  type ListenerEntry,
  LOG_LEVELS,
  type LogLevel,
  listenersOf,
  PINO_LEVEL,
  ROOT_KEYS,
  type ZoneConfig,
} from './schema.js';
export { type BindAddress, formatBind, parseBind, parseByteSize, parseDuration } from './units.js';
export {
  bytesRate,
  type FlappingDetectConfig,
  type LimiterConfig,
  messagesRate,
  parseLimiterRate,
  type LimiterRate,
} from './security-schema.js';
export {
  isSecretKey,
  REDACTED,
  redactSecrets,
  resolveSecret,
  SECRET_FILE_PREFIX,
  SECRET_HEADERS,
  SECRET_KEYS,
} from './secrets.js';
export { zoneFlapping, zoneMqtt } from './zones.js';
