/**
 * Aviary as a library: `import { createBroker } from 'aviary'`.
 *
 *   const aviary = createBroker({ listeners: { tcp: { default: { bind: '127.0.0.1:1883' } } } });
 *   aviary.hooks.add('message.publish', (message) => ({ ok: message }));
 *   await aviary.listen();
 *   ...
 *   await aviary.close();
 *
 * The configuration object takes the same keys as aviary.conf (docs/configuration.md).
 */

export { type AviaryBroker, type CreateBrokerOptions, createBroker, type ListenerAddress } from './main.js';
export { Broker } from './broker/broker.js';
export {
  type AuthResult,
  type AuthzRequest,
  type ConnectAcc,
  type FoldResult,
  type HookCallback,
  type HookName,
  type Hookpoints,
  Hooks,
} from './broker/hooks.js';
export { Message } from './broker/message.js';
export type { ClientInfo, SubscriptionOptions } from './broker/types.js';
export { type AviaryConfig, type AviaryConfigInput, loadConfig, parseConfig } from './config/index.js';
export { AviaryError, ConfigError, ListenError, NotImplementedError } from './errors.js';
export { ProtocolError, ReasonCode } from './protocol/index.js';
export const VERSION: string = '0.1.0';
