/**
 * Authorization of a client's action through the `client.authorize` fold hook (accumulator
 * 'allow' | 'deny', starting at 'allow'). Callers ask only when `hooks.has('client.authorize')`,
 * so a broker without an ACL pays nothing. The fold stays synchronous while every callback
 * answers synchronously (an ACL cache hit) and returns a Promise from the first that does not.
 * A callback that throws or rejects denies, and is reported through the broker's onHookError:
 * authorization fails closed.
 */

import type { Broker } from './broker.js';
import type { AuthzRequest } from './hooks.js';
import type { ClientInfo } from './types.js';

export type Verdict = 'allow' | 'deny';

export function authorize(
  broker: Broker,
  client: ClientInfo,
  request: AuthzRequest,
  hook: 'client.authorize' | 'client.subscribe' = 'client.authorize',
): Verdict | Promise<Verdict> {
  const failed = (error: unknown): Verdict => {
    broker.options.onHookError?.(hook, error);
    return 'deny';
  };
  try {
    const verdict = broker.hooks.foldMaybeAsync(hook, 'allow', client, request);
    return verdict instanceof Promise ? verdict.catch(failed) : verdict;
  } catch (error) {
    return failed(error);
  }
}

/**
 * A SUBSCRIBE filter: the client.subscribe chain first (subscription-only checks), then
 * client.authorize; synchronous while every callback is.
 */
export function authorizeSubscribe(
  broker: Broker,
  client: ClientInfo,
  request: AuthzRequest,
): Verdict | Promise<Verdict> {
  const hooks = broker.hooks;
  const first: Verdict | Promise<Verdict> = hooks.has('client.subscribe')
    ? authorize(broker, client, request, 'client.subscribe')
    : 'allow';
  const next = (v: Verdict): Verdict | Promise<Verdict> =>
    v === 'deny' || !hooks.has('client.authorize') ? v : authorize(broker, client, request);
  return first instanceof Promise ? first.then(next) : next(first);
}
