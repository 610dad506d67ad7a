/**
 * The `client_info` source (EMQX's emqx_authz_client_info): ACL rules that authentication gave
 * the client (a JWT's `acl` claim, an HTTP authentication answer's `acl` field), kept as received
 * in `ClientInfo.authnAcl` by src/auth. As in EMQX it is not configured: it is asked first, before
 * the configured sources, and only for clients that have such rules. Two forms:
 *
 *   v2, a list of rules, checked in order; no match passes to the next source:
 *     [{"permission": "allow", "action": "publish", "topic": "t/${clientid}", "qos": [0, 1],
 *       "retain": false}, {"permission": "deny", "action": "all", "topics": ["#"]}]
 *     (action also "pub" / "sub"; `topics` for several topics; qos and retain also as strings)
 *   v1, topics per action, allowed; anything else is denied:
 *     {"pub": ["t/1"], "sub": ["t/#"], "all": ["common/#"]}
 *
 * A client whose JWT has expired (`exp` in the past) is denied everything, as EMQX does with the
 * rules' expiry. Rules that cannot be read are skipped (a token is not a configuration file).
 */

import type { AuthzRequest } from '../../broker/hooks.js';
import type { ClientInfo } from '../../broker/types.js';
import type { AclRuleRecord } from '../../persistence/acl.js';
import {
  ACTION_ALL,
  ACTION_PUBLISH,
  ACTION_SUBSCRIBE,
  type ClientRule,
  firstMatch,
  type Rule,
  rulesFor,
  topicCondition,
} from '../rule.js';
import { compileRecord } from './built-in.js';
import type { AuthzSource, SourceAnswer } from './source.js';

const MS_PER_SECOND = 1000;
const ACTION_NAMES: Readonly<Record<string, AclRuleRecord['action']>> = {
  publish: 'publish',
  pub: 'publish',
  subscribe: 'subscribe',
  sub: 'subscribe',
  all: 'all',
};

interface Compiled {
  /** Rules for this client; `denyOtherwise`: the v1 form's final deny. */
  readonly rules: readonly ClientRule[];
  readonly denyOtherwise: boolean;
}

export class ClientInfoSource implements AuthzSource {
  readonly type = 'client_info';
  private readonly compiled = new WeakMap<ClientInfo, Compiled>();

  authorize(client: ClientInfo, request: AuthzRequest, words: readonly string[]): SourceAnswer {
    const acl = client.authnAcl;
    if (acl === undefined || acl === null) return 'nomatch';
    const exp = client.jwtClaims?.exp;
    if (typeof exp === 'number' && exp * MS_PER_SECOND < Date.now()) return 'deny';
    let c = this.compiled.get(client);
    if (c === undefined) {
      c = compileAcl(acl, client);
      this.compiled.set(client, c);
    }
    return firstMatch(c.rules, request, words) ?? (c.denyOtherwise ? 'deny' : 'nomatch');
  }
}

function compileAcl(acl: unknown, client: ClientInfo): Compiled {
  if (Array.isArray(acl)) {
    const rules: Rule[] = [];
    acl.forEach((raw, i) => {
      for (const record of records(raw)) {
        try {
          rules.push(compileRecord(record, i));
        } catch {
          // skipped (see the header)
        }
      }
    });
    return { rules: rulesFor(rules, client), denyOtherwise: false };
  }
  if (typeof acl === 'object') {
    const v1 = acl as Record<string, unknown>;
    const rules: Rule[] = [];
    for (const [key, action] of [
      ['pub', ACTION_PUBLISH],
      ['sub', ACTION_SUBSCRIBE],
      ['all', ACTION_ALL],
    ] as const) {
      const topics = v1[key];
      if (!Array.isArray(topics)) continue;
      const conditions = topics.filter((t): t is string => typeof t === 'string').map(topicCondition);
      const valid = conditions.filter((c) => typeof c !== 'string');
      if (valid.length > 0) rules.push({ permission: 'allow', who: { kind: 'all' }, action, topics: valid });
    }
    return { rules: rulesFor(rules, client), denyOtherwise: true };
  }
  return { rules: [], denyOtherwise: false };
}

/** A raw v2 rule as records (one per topic), with EMQX's lenient value forms. */
function records(raw: unknown): AclRuleRecord[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const r = raw as Record<string, unknown>;
  const permission = r.permission;
  const action = typeof r.action === 'string' ? ACTION_NAMES[r.action] : undefined;
  if ((permission !== 'allow' && permission !== 'deny') || action === undefined) return [];
  const topics = typeof r.topic === 'string' ? [r.topic] : Array.isArray(r.topics) ? r.topics : [];
  const qosList = r.qos === undefined ? undefined : (Array.isArray(r.qos) ? r.qos : [r.qos]).map(Number);
  const retain =
    r.retain === undefined || r.retain === 'all'
      ? 'all'
      : r.retain === true || r.retain === 'true' || r.retain === 1 || r.retain === '1';
  return topics
    .filter((t): t is string => typeof t === 'string')
    .map((topic) => ({
      permission,
      action,
      topic,
      ...(qosList === undefined ? {} : { qos: qosList as (0 | 1 | 2)[] }),
      retain,
    }));
}
