/**
 * Authorization: the `client.authorize` callback that puts each PUBLISH, SUBSCRIBE filter and
 * will to the ACL (EMQX's emqx_authz + emqx_access_control:authorize/3).
 *
 * The order of a check:
 *   1. a superuser (ClientInfo.isSuperuser, set by authentication) is allowed: ACL skipped;
 *   2. a publish to `$delayed/<seconds>/<topic>` (or `$delay/...`) is checked for `<topic>`, the
 *      topic it will really be published to (EMQX PR #9290); a `$delayed/...` topic without a
 *      second `/` is denied;
 *   3. the client's cache (cache.ts) answers if it has an unexpired answer for the topic, action,
 *      QoS and retain flag; topics matching `cache.excludes` are never cached;
 *   4. otherwise the sources are asked in order: the client's own rules from authentication
 *      (client_info, when it has any), then the configured ones; the first `allow` or `deny`
 *      decides; when every source says `nomatch`, `authorization.no_match` decides.
 *
 * The callback answers `{ stop: verdict }` when a rule matched and `{ ok: no_match }` when none
 * did, so that a callback of lower priority may still decide (EMQX returns `ignore` then).
 *
 * Synchronous by construction: a cache hit, the file and the built-in database sources answer
 * without a Promise, so a PUBLISH stays synchronous (hooks.foldMaybeAsync). Only a check that
 * reaches the HTTP source returns a Promise; the channel holds that client's later packets
 * until it settles, in order (connection.ts). A hit costs one WeakMap and one Map lookup, a
 * Date.now() and no allocation: the hook results are preallocated constants.
 *
 * Metrics (EMQX's names): `authorization.allow` / `.deny` per answer, `.cache_hit` /
 * `.cache_miss`, `.superuser`, `.nomatch` (no source had a rule), `.matched.allow` /
 * `.matched.deny` (a source's rule decided).
 */

import type { Broker } from '../broker/broker.js';
import type { AuthzRequest, FoldResult } from '../broker/hooks.js';
import type { ClientInfo } from '../broker/types.js';
import { Answer, ClientCache, slotOf } from './cache.js';
import type { BuiltInSource } from './sources/built-in.js';
import type { FileSource } from './sources/file.js';
import type { AuthzSource, SourceAnswer } from './sources/source.js';
import { matchWords, words } from './topic-match.js';

/** EMQX's HP_AUTHZ: after authentication (970), before $SYS messages, retainer, rules. */
export const AUTHZ_HOOK_PRIORITY = 960;

export type Verdict = 'allow' | 'deny';

export interface AuthorizationOptions {
  /** `authorization.no_match`. */
  noMatch: Verdict;
  cache: {
    enable: boolean;
    maxSize: number;
    /** Milliseconds an answer is kept. */
    ttl: number;
    /** Topic filters whose answers are never cached. */
    excludes: readonly string[];
  };
  /** The sources in order (client_info first when authentication may give ACLs). */
  sources: readonly AuthzSource[];
  /** Told when a source throws or rejects (the check goes on as nomatch). */
  onSourceError?: (source: string, error: unknown) => void;
}

type AuthzResult = FoldResult<Verdict>;

const STOP_ALLOW: AuthzResult = Object.freeze({ stop: 'allow' as const });
const STOP_DENY: AuthzResult = Object.freeze({ stop: 'deny' as const });
const OK_ALLOW: AuthzResult = Object.freeze({ ok: 'allow' as const });
const OK_DENY: AuthzResult = Object.freeze({ ok: 'deny' as const });

const DOLLAR = 0x24;
const DELAYED_PREFIXES = ['$delayed/', '$delay/'] as const;

/**
 * The topic a `$delayed/<seconds>/<topic>` publish will go to: null for a topic that is not
 * delayed, undefined for one without `<topic>` (EMQX: invalid_delayed_topic_format, denied).
 */
export function delayedTarget(topic: string): string | null | undefined {
  if (topic.charCodeAt(0) !== DOLLAR) return null;
  for (const prefix of DELAYED_PREFIXES) {
    if (!topic.startsWith(prefix)) continue;
    const slash = topic.indexOf('/', prefix.length);
    return slash < 0 ? undefined : topic.slice(slash + 1);
  }
  return null;
}

export class Authorization {
  private generation = 0;
  private readonly caches = new WeakMap<ClientInfo, ClientCache>();
  private readonly noMatchResult: AuthzResult;
  private readonly noMatchAnswer: Verdict;

  constructor(
    private readonly broker: Broker,
    private readonly options: AuthorizationOptions,
  ) {
    this.noMatchAnswer = options.noMatch;
    this.noMatchResult = options.noMatch === 'allow' ? OK_ALLOW : OK_DENY;
  }

  get sources(): readonly AuthzSource[] {
    return this.options.sources;
  }

  /** The built-in database source, if configured (its `put` checks rules; `store` reads them). */
  get builtIn(): BuiltInSource | undefined {
    return this.options.sources.find((s) => s.type === 'built_in_database') as BuiltInSource | undefined;
  }

  /** The file source, if configured (`reload()` reads the file again). */
  get file(): FileSource | undefined {
    return this.options.sources.find((s) => s.type === 'file') as FileSource | undefined;
  }

  install(): void {
    const hooks = this.broker.hooks;
    hooks.add('client.authorize', this.onAuthorize, AUTHZ_HOOK_PRIORITY);
    hooks.add('client.disconnected', this.onDisconnected);
  }

  async close(): Promise<void> {
    const hooks = this.broker.hooks;
    hooks.remove('client.authorize', this.onAuthorize);
    hooks.remove('client.disconnected', this.onDisconnected);
    await Promise.all(this.options.sources.map((s) => s.close?.()));
  }

  /**
   * Empties the cache of every client (EMQX's `DELETE /authorization/cache`), or of one: the
   * next checks ask the sources again.
   */
  clearCache(client?: ClientInfo): void {
    if (client === undefined) this.generation++;
    else this.caches.delete(client);
  }

  private readonly onDisconnected = (client: ClientInfo): void => {
    this.caches.delete(client);
  };

  private readonly onAuthorize = (
    _acc: Verdict,
    client: ClientInfo,
    request: AuthzRequest,
  ): AuthzResult | Promise<AuthzResult> => {
    const m = this.broker.metrics;
    if (client.isSuperuser) {
      m.authorizationSuperuser++;
      m.authorizationAllow++;
      return STOP_ALLOW;
    }
    let req = request;
    if (request.action === 'publish' && request.topic.charCodeAt(0) === DOLLAR) {
      const target = delayedTarget(request.topic);
      if (target === undefined) {
        m.authorizationDeny++;
        return STOP_DENY;
      }
      if (target !== null)
        req = { action: 'publish', topic: target, qos: request.qos, retain: request.retain };
    }
    const cacheOptions = this.options.cache;
    if (!cacheOptions.enable || this.excluded(req.topic)) return this.decide(client, req, null, 0);
    let cache = this.caches.get(client);
    if (cache === undefined || cache.generation !== this.generation) {
      cache = new ClientCache(this.generation);
      this.caches.set(client, cache);
    }
    const slot = slotOf(req);
    const now = Date.now();
    const hit = cache.get(req.topic, slot, now);
    if (hit !== undefined) {
      m.authorizationCacheHit++;
      return this.result(hit);
    }
    m.authorizationCacheMiss++;
    return this.decide(client, req, cache, slot);
  };

  private excluded(topic: string): boolean {
    const excludes = this.options.cache.excludes;
    if (excludes.length === 0) return false;
    const w = words(topic);
    return excludes.some((f) => matchWords(w, words(f)));
  }

  /** Asks the sources; caches and counts the answer. */
  private decide(
    client: ClientInfo,
    req: AuthzRequest,
    cache: ClientCache | null,
    slot: number,
  ): AuthzResult | Promise<AuthzResult> {
    const answer = this.evaluate(client, req, words(req.topic), 0);
    const finish = (a: SourceAnswer): AuthzResult => {
      const m = this.broker.metrics;
      const code = a === 'allow' ? Answer.Allow : a === 'deny' ? Answer.Deny : Answer.NoMatch;
      if (code === Answer.Allow) m.authorizationMatchedAllow++;
      else if (code === Answer.Deny) m.authorizationMatchedDeny++;
      else m.authorizationNomatch++;
      // A cache replaced meanwhile (clearCache, disconnect) is not written.
      if (cache !== null && this.caches.get(client) === cache && cache.generation === this.generation) {
        const c = this.options.cache;
        cache.put(req.topic, slot, code, Date.now() + c.ttl, c.maxSize);
      }
      return this.result(code);
    };
    return answer instanceof Promise ? answer.then(finish) : finish(answer);
  }

  private result(answer: Answer): AuthzResult {
    const m = this.broker.metrics;
    const verdict = answer === Answer.Allow ? 'allow' : answer === Answer.Deny ? 'deny' : this.noMatchAnswer;
    if (verdict === 'allow') m.authorizationAllow++;
    else m.authorizationDeny++;
    if (answer === Answer.NoMatch) return this.noMatchResult;
    return answer === Answer.Allow ? STOP_ALLOW : STOP_DENY;
  }

  /** The first source's allow / deny from `from` on, synchronous until a source is not. */
  private evaluate(
    client: ClientInfo,
    req: AuthzRequest,
    w: readonly string[],
    from: number,
  ): SourceAnswer | Promise<SourceAnswer> {
    const sources = this.options.sources;
    for (let i = from; i < sources.length; i++) {
      const source = sources[i]!;
      let a: SourceAnswer | Promise<SourceAnswer>;
      try {
        a = source.authorize(client, req, w);
      } catch (error) {
        this.options.onSourceError?.(source.type, error);
        continue;
      }
      if (a instanceof Promise) {
        return a.then(
          (settled) => (settled === 'nomatch' ? this.evaluate(client, req, w, i + 1) : settled),
          (error: unknown) => {
            this.options.onSourceError?.(source.type, error);
            return this.evaluate(client, req, w, i + 1);
          },
        );
      }
      if (a !== 'nomatch') return a;
    }
    return 'nomatch';
  }
}
