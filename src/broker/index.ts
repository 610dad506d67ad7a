/**
 * The core's public surface for the layers built on it (api, cluster, gateways, rules, bridge):
 * they import the core only from here (.dependency-cruiser.cjs, `edges-use-broker-index-only`).
 * Add an export here rather than reaching into a module of src/broker.
 */

export { Broker, CONSUMED, type LiveChannel } from './broker.js';
export type { DelayedPublish } from './delayed.js';
export type { Hooks, HookName, Hookpoints } from './hooks.js';
export { Message } from './message.js';
export { isSysTopic, type Metrics } from './metrics.js';
export type { Stats } from './stats.js';
export type { ClientInfo, SubscriptionOptions } from './types.js';
export { filterMatches } from '../routing/match.js';
export type { Session } from '../session/session.js';
