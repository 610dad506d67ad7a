/**
 * The `built_in_database` source (EMQX's emqx_authz_mnesia): rules kept in the ACL store
 * (src/persistence/acl.ts) per client id, per username, and for all clients. A check reads the
 * client's client id rules, then its username rules, then the rules for all, and the first that
 * matches answers, as EMQX concatenates them. Each rule has one topic (which may hold
 * placeholders or start with `eq `), an action, and optional QoS and retain conditions.
 *
 * Writes go through `put`, which checks the rules (an unknown action, a bad QoS, an unknown
 * placeholder are refused) and `max_rules`; the store itself keeps what it is given. Compiled
 * rules are remembered per record (a WeakMap on the array the store returns), so a store that
 * returns the same array (the memory store) compiles each record once.
 */

import type { AuthzRequest } from '../../broker/hooks.js';
import type { ClientInfo } from '../../broker/types.js';
import type { AclRuleRecord, AclStore, AclSubject } from '../../persistence/acl.js';
import { AclParseError } from '../errors.js';
import {
  ACTION_ALL,
  ACTION_PUBLISH,
  ACTION_SUBSCRIBE,
  type ActionCondition,
  ANY_QOS,
  firstMatch,
  type Rule,
  rulesFor,
  type TopicCondition,
  topicCondition,
} from '../rule.js';
import type { AuthzSource, SourceAnswer } from './source.js';

const SOURCE_NAME = 'built_in_database';
const ACTIONS: Readonly<Record<string, ActionCondition>> = {
  publish: ACTION_PUBLISH,
  subscribe: ACTION_SUBSCRIBE,
  all: ACTION_ALL,
};

export class BuiltInSource implements AuthzSource {
  readonly type = SOURCE_NAME;
  private readonly compiled = new WeakMap<readonly AclRuleRecord[], Rule[]>();

  constructor(
    readonly store: AclStore,
    private readonly maxRules: number,
  ) {}

  /**
   * Checks and stores a subject's rules (replacing its old ones). Throws AclParseError naming
   * the rule for an invalid rule or more than `max_rules`.
   */
  put(subject: AclSubject, rules: readonly AclRuleRecord[]): void {
    if (rules.length > this.maxRules) {
      throw new AclParseError(
        `${rules.length} rules are more than max_rules (${this.maxRules})`,
        0,
        0,
        SOURCE_NAME,
      );
    }
    rules.forEach((r, i) => {
      compileRecord(r, i);
    });
    this.store.put(subject, rules);
  }

  authorize(client: ClientInfo, request: AuthzRequest, words: readonly string[]): SourceAnswer {
    const store = this.store;
    const username = client.username;
    return (
      this.check(store.get({ kind: 'clientid', name: client.clientId }), client, request, words) ??
      (username === null
        ? null
        : this.check(store.get({ kind: 'username', name: username }), client, request, words)) ??
      this.check(store.get({ kind: 'all' }), client, request, words) ??
      'nomatch'
    );
  }

  private check(
    records: readonly AclRuleRecord[] | undefined,
    client: ClientInfo,
    request: AuthzRequest,
    words: readonly string[],
  ): 'allow' | 'deny' | null {
    if (records === undefined || records.length === 0) return null;
    let rules = this.compiled.get(records);
    if (rules === undefined) {
      // A record stored behind put()'s back (another process, an import) may be invalid: such
      // a rule is skipped rather than failing every check.
      rules = records.flatMap((r, i) => {
        try {
          return [compileRecord(r, i)];
        } catch {
          return [];
        }
      });
      this.compiled.set(records, rules);
    }
    return firstMatch(rulesFor(rules, client), request, words);
  }
}

/** One stored rule as a Rule for all clients (EMQX: emqx_authz_rule:compile(P, all, A, [T])). */
export function compileRecord(r: AclRuleRecord, index: number): Rule {
  const fail = (message: string): never => {
    throw new AclParseError(`rule ${index + 1}: ${message}`, 0, 0, SOURCE_NAME);
  };
  if (r.permission !== 'allow' && r.permission !== 'deny')
    fail(`permission is allow or deny, not ${JSON.stringify(r.permission)}`);
  const base = ACTIONS[r.action];
  if (base === undefined) return fail(`action is publish, subscribe or all, not ${JSON.stringify(r.action)}`);
  if (typeof r.topic !== 'string' || r.topic === '') return fail('topic must be a non-empty string');
  let qos = ANY_QOS;
  if (r.qos !== undefined) {
    qos = 0;
    for (const q of r.qos) {
      if (q !== 0 && q !== 1 && q !== 2) fail(`a QoS is 0, 1 or 2, not ${JSON.stringify(q)}`);
      qos |= 1 << q;
    }
  }
  const retain = r.retain ?? 'all';
  if (retain !== 'all' && retain !== true && retain !== false)
    fail(`retain is true, false or "all", not ${JSON.stringify(retain)}`);
  const action: ActionCondition = { ...base, qos, retain };
  let topic: TopicCondition | string;
  if (r.topic.startsWith('eq ')) topic = { kind: 'eq', topic: r.topic.slice('eq '.length) };
  else topic = topicCondition(r.topic);
  if (typeof topic === 'string') return fail(topic);
  return { permission: r.permission, who: { kind: 'all' }, action, topics: [topic] };
}
