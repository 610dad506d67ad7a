/**
 * The one place src/api imports the core and the protocol from: the core only through its
 * public surface (src/broker/index.ts, as .dependency-cruiser.cjs requires), the protocol's
 * topic rules and constants from src/protocol.
 */

export * from '../broker/index.js';
export {
  parseSubscriptionFilter,
  type Properties,
  type QoS,
  ReasonCode,
  topicFilterProblem,
  topicNameProblem,
} from '../protocol/index.js';
