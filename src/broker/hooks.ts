/**
 * The hook registry: Aviary's extension points (after EMQX's emqx_hooks and fastify's hooks).
 *
 * Every hookpoint is declared once in `Hookpoints` with the arguments its callbacks get and,
 * for fold hooks, the accumulator they transform; an unknown name or a wrong callback type does
 * not compile. Callbacks run in order of priority (higher first; equal priorities in the order
 * they were added).
 *
 * Two kinds:
 *  - run hooks notify: `client.connected`, `message.delivered`, ... Every callback runs; what
 *    they return is ignored; an exception (or the rejection of a returned Promise) is logged by
 *    the caller's onError and the rest run.
 *  - fold hooks decide: `client.authenticate`, `message.publish`, ... Each callback gets the
 *    accumulator and returns `{ ok: acc }` to pass a new value on, `{ stop: acc }` to end the
 *    chain with that value, or undefined to pass the accumulator on unchanged. The
 *    authentication and authorization chains, the rule engine and bridges are built on them.
 *
 * The hot path asks `has(name)` first, so a hookpoint with no callbacks costs one array check.
 * Fold hooks that may need I/O (authenticate, authorize) may return a Promise; `foldAsync`
 * awaits only when a callback actually returned one. `message.publish` is synchronous.
 */

import type { ConnectPacket, Properties } from '../protocol/index.js';
import type { Message } from './message.js';
import type { ClientInfo, SubscriptionOptions } from './types.js';

export type FoldResult<A> = { ok: A } | { stop: A } | undefined;

export interface AuthResult {
  /** 'ignore' passes to the next provider; when all ignore the chain's default applies. */
  result: 'allow' | 'deny' | 'ignore';
  isSuperuser?: boolean;
  /** MQTT 5.0 reason code when denying (default 0x86 bad user name or password). */
  reasonCode?: number;
}

export type AuthzAction = 'publish' | 'subscribe';

export interface EnhancedAuthStep {
  method: string;
  /** Authentication Data from the client's CONNECT or AUTH packet. */
  data: Buffer | null;
  /** 'connect' for the CONNECT, 'continue' for AUTH 0x18, 'reauth' for AUTH 0x19. */
  phase: 'connect' | 'continue' | 'reauth';
}

export interface EnhancedAuthResult {
  /** 'ignore': no callback knows the method (CONNACK 0x8C bad authentication method). */
  result: 'ignore' | 'continue' | 'success' | 'failure';
  /** Authentication Data for the AUTH (continue) or CONNACK (success) packet. */
  data?: Buffer;
  isSuperuser?: boolean;
}

export interface AuthzRequest {
  action: AuthzAction;
  topic: string;
  qos: number;
  retain: boolean;
}

export interface ConnectAcc {
  /** Set to a reason code to refuse the connection; 0 to go on. */
  reasonCode: number;
  /** CONNACK properties hooks may add. */
  properties: Properties;
}

/** Every hookpoint: `fold` ones have an accumulator `acc`, `run` ones have none. */
export interface Hookpoints {
  'client.connect': { fold: true; args: [client: ClientInfo, packet: ConnectPacket]; acc: ConnectAcc };
  'client.authenticate': { fold: true; args: [client: ClientInfo, password: Buffer | null]; acc: AuthResult };
  'client.authorize': {
    fold: true;
    args: [client: ClientInfo, request: AuthzRequest];
    acc: 'allow' | 'deny';
  };
  /**
   * Each SUBSCRIBE filter, before client.authorize (EMQX's client.subscribe): checks that only
   * concern subscriptions (the temporary $SYS allow-list) live here, so PUBLISH does not pay
   * for them. Same answer as client.authorize.
   */
  'client.subscribe': {
    fold: true;
    args: [client: ClientInfo, request: AuthzRequest];
    acc: 'allow' | 'deny';
  };
  'client.connected': { fold: false; args: [client: ClientInfo] };
  'client.disconnected': { fold: false; args: [client: ClientInfo, reason: string] };
  'session.subscribed': {
    fold: false;
    args: [client: ClientInfo, filter: string, options: SubscriptionOptions];
  };
  'session.unsubscribed': { fold: false; args: [client: ClientInfo, filter: string] };
  /** May rewrite the message (return { ok: newMessage }) or drop it ({ stop: null }). */
  'message.publish': { fold: true; args: [from: ClientInfo | null]; acc: Message | null };
  'message.delivered': { fold: false; args: [client: ClientInfo, message: Message] };
  'message.acked': { fold: false; args: [client: ClientInfo, message: Message] };
  'message.dropped': { fold: false; args: [message: Message, reason: string] };
  /**
   * MQTT 5.0 enhanced authentication (CONNECT with an Authentication Method, then AUTH
   * packets): each step gets the method and the client's data and answers with the server's
   * data to send back and whether to continue, succeed or fail (section 4.12).
   */
  'client.enhanced_auth': {
    fold: true;
    args: [client: ClientInfo, step: EnhancedAuthStep];
    acc: EnhancedAuthResult;
  };
}

export type HookName = keyof Hookpoints;
type Spec<N extends HookName> = Hookpoints[N];
type Acc<N extends HookName> = Spec<N> extends { acc: infer A } ? A : never;

export type HookCallback<N extends HookName> =
  Spec<N> extends { fold: true; acc: infer A }
    ? (acc: A, ...args: Spec<N>['args']) => FoldResult<A> | Promise<FoldResult<A>>
    : (...args: Spec<N>['args']) => unknown;

interface Entry {
  callback: (...args: never[]) => unknown;
  priority: number;
  seq: number;
}

export type FoldHookName = { [N in HookName]: Spec<N> extends { fold: true } ? N : never }[HookName];
export type RunHookName = Exclude<HookName, FoldHookName>;

export class Hooks {
  private readonly table = new Map<HookName, Entry[]>();
  private seq = 0;

  constructor(private readonly onError: (name: HookName, error: unknown) => void = () => {}) {}

  add<N extends HookName>(name: N, callback: HookCallback<N>, priority = 0): void {
    const list = [...(this.table.get(name) ?? [])];
    list.push({ callback: callback as Entry['callback'], priority, seq: this.seq++ });
    list.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    this.table.set(name, list);
  }

  remove<N extends HookName>(name: N, callback: HookCallback<N>): boolean {
    const list = this.table.get(name);
    if (list === undefined) return false;
    const next = list.filter((e) => e.callback !== callback);
    if (next.length === list.length) return false;
    if (next.length === 0) this.table.delete(name);
    else this.table.set(name, next);
    return true;
  }

  has(name: HookName): boolean {
    return this.table.has(name);
  }

  /** Runs a notification hook; a throwing callback is reported and the others still run. */
  run<N extends RunHookName>(name: N, ...args: Spec<N>['args']): void {
    const list = this.table.get(name);
    if (list === undefined) return;
    for (const e of list) {
      try {
        const r = (e.callback as (...a: unknown[]) => unknown)(...args);
        // An async callback's rejection is its exception: report it, never leave it unhandled.
        if (r instanceof Promise) r.catch((error: unknown) => this.onError(name, error));
      } catch (error) {
        this.onError(name, error);
      }
    }
  }

  /**
   * Folds synchronously. A callback that returns a Promise is an error for these hookpoints: it
   * is reported through onError and the accumulator passes on unchanged.
   */
  /**
   * message.publish, on the hot path: the same as fold() with its one argument passed directly
   * (no rest array per call), and a plain indexed loop.
   */
  foldPublish(message: Message | null, from: ClientInfo | null): Message | null {
    const list = this.table.get('message.publish');
    if (list === undefined) return message;
    for (let i = 0; i < list.length; i++) {
      const r = (
        list[i]!.callback as (m: Message | null, f: ClientInfo | null) => FoldResult<Message | null>
      )(message, from);
      if (r === undefined) continue;
      if (r instanceof Promise) {
        this.onError(
          'message.publish',
          new TypeError('a callback of the synchronous hook message.publish returned a Promise'),
        );
        (r as Promise<unknown>).catch((error: unknown) => this.onError('message.publish', error));
        continue;
      }
      if ('stop' in r) return r.stop;
      message = r.ok;
    }
    return message;
  }

  fold<N extends FoldHookName>(name: N, acc: Acc<N>, ...args: Spec<N>['args']): Acc<N> {
    const list = this.table.get(name);
    if (list === undefined) return acc;
    for (const e of list) {
      const r = (e.callback as (...a: unknown[]) => FoldResult<Acc<N>> | Promise<FoldResult<Acc<N>>>)(
        acc,
        ...args,
      );
      if (r === undefined) continue;
      if (r instanceof Promise) {
        // A callback bug: report it and pass the accumulator on, rather than folding `undefined`.
        this.onError(name, new TypeError(`a callback of the synchronous hook ${name} returned a Promise`));
        r.catch((error: unknown) => this.onError(name, error));
        continue;
      }
      if ('stop' in r) return r.stop;
      acc = r.ok;
    }
    return acc;
  }

  /** Folds, awaiting only the callbacks that return a Promise. */
  async foldAsync<N extends FoldHookName>(name: N, acc: Acc<N>, ...args: Spec<N>['args']): Promise<Acc<N>> {
    return this.foldMaybeAsync(name, acc, ...args);
  }

  /**
   * Folds synchronously as long as every callback answers synchronously, and returns a Promise
   * only from the first callback that returns one. Hot-path callers (authorization of a
   * publish, answered from a cache) thus stay synchronous: check `instanceof Promise`.
   */
  foldMaybeAsync<N extends FoldHookName>(
    name: N,
    acc: Acc<N>,
    ...args: Spec<N>['args']
  ): Acc<N> | Promise<Acc<N>> {
    const list = this.table.get(name);
    if (list === undefined) return acc;
    return this.foldFrom(list, 0, acc, args);
  }

  private foldFrom<A>(list: Entry[], start: number, acc: A, args: unknown[]): A | Promise<A> {
    for (let i = start; i < list.length; i++) {
      const r = (list[i]!.callback as (...a: unknown[]) => FoldResult<A> | Promise<FoldResult<A>>)(
        acc,
        ...args,
      );
      if (r instanceof Promise) {
        return r.then((settled) => {
          if (settled === undefined) return this.foldFrom(list, i + 1, acc, args);
          if ('stop' in settled) return settled.stop;
          return this.foldFrom(list, i + 1, settled.ok, args);
        });
      }
      if (r === undefined) continue;
      if ('stop' in r) return r.stop;
      acc = r.ok;
    }
    return acc;
  }
}
