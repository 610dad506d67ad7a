/**
 * ACL rules, compiled, and how one is matched (after EMQX's emqx_authz_rule.erl `match/4`).
 *
 * A rule is `{Permission, Who, Action, Topics}`. It matches a request when the action matches,
 * the client is Who, and one of the topics matches; the first rule of a source that matches gives
 * the source's answer (allow or deny); a source with no matching rule says "nomatch" and the
 * next source is asked.
 *
 *  - Who: `all`; a username or client id, equal (`{username, "u"}`) or by regular expression
 *    (`{username, {re, "^u"}}`, searched anywhere unless anchored, like Erlang's re:run); a peer
 *    address or CIDR block (`{ipaddr, "10.0.0.0/8"}`), one of several (`{ipaddrs, [...]}`); and
 *    `{'and', [...]}` / `{'or', [...]}` of those. A client without a username never matches a
 *    username condition.
 *  - Action: `publish`, `subscribe`, `all`, or with conditions `{publish, [{qos, [0, 1]},
 *    {retain, false}]}`, `{subscribe, [{qos, 2}]}`, `{all, [...]}` (a subscription has no retain
 *    flag: only the QoS condition applies to it).
 *  - Topics: filters (`a/+/#`), compared by topic-match.ts; `{eq, "a/#"}` for the filter itself;
 *    templates with placeholders (`${username}/#`, `${clientid}`, `${zone}`, `${client_attrs.NAME}`;
 *    EMQX 4's `%u` and `%c`
 *    as whole levels), rendered for each client. A placeholder that cannot be filled (no username,
 *    no certificate) makes that topic match nothing, as EMQX does; so does a value holding `+` or
 *    `#` (Aviary's guard, after Mosquitto: a user named `#` must not gain `#/...`).
 *
 * Who never changes during a connection, so matching is split in two: `rulesFor(client)` keeps
 * the rules whose Who matches and renders their templates once per client (the per-client state
 * in authz.ts holds the result); `firstMatch` then only compares actions and topics.
 */

import { BlockList, isIPv4, isIPv6 } from 'node:net';

import type { AuthzRequest } from '../broker/hooks.js';
import type { ClientInfo } from '../broker/types.js';
import { matchWords, words } from './topic-match.js';

export type Permission = 'allow' | 'deny';

export type Who =
  | { readonly kind: 'all' }
  | { readonly kind: 'username' | 'clientid'; readonly eq: string }
  | { readonly kind: 'username' | 'clientid'; readonly re: RegExp }
  | { readonly kind: 'ipaddr'; readonly list: BlockList }
  | { readonly kind: 'and' | 'or'; readonly items: readonly Who[] };

/** Which actions a rule covers. `qos` is a bit set (bit n: QoS n). */
export interface ActionCondition {
  readonly publish: boolean;
  readonly subscribe: boolean;
  readonly qos: number;
  /** For publish: `all`, or the retain flag required. */
  readonly retain: 'all' | boolean;
}

/** One part of a topic template: literal text or a placeholder. */
export type TemplatePart = string | { readonly variable: string };

export type TopicCondition =
  | { readonly kind: 'filter'; readonly words: readonly string[] }
  | { readonly kind: 'eq'; readonly topic: string }
  | { readonly kind: 'template'; readonly parts: readonly TemplatePart[] };

export interface Rule {
  readonly permission: Permission;
  readonly who: Who;
  readonly action: ActionCondition;
  readonly topics: readonly TopicCondition[];
}

/** A rule as one client sees it: Who already matched, templates rendered. */
export interface ClientRule {
  readonly permission: Permission;
  readonly action: ActionCondition;
  readonly topics: readonly ClientTopic[];
}

export type ClientTopic =
  | { readonly eq: string; readonly words?: undefined }
  | { readonly words: readonly string[] };

/** Every QoS: the default of a rule without a qos condition (EMQX's ?DEFAULT_RULE_QOS). */
export const ANY_QOS = 0b111;

export const ACTION_ALL: ActionCondition = { publish: true, subscribe: true, qos: ANY_QOS, retain: 'all' };
export const ACTION_PUBLISH: ActionCondition = {
  publish: true,
  subscribe: false,
  qos: ANY_QOS,
  retain: 'all',
};
export const ACTION_SUBSCRIBE: ActionCondition = {
  publish: false,
  subscribe: true,
  qos: ANY_QOS,
  retain: 'all',
};

/** The placeholders a topic template may use (EMQX's ALLOWED_VARS in emqx_authz_rule.erl). */
export const TOPIC_VARIABLES = ['username', 'clientid', 'zone', 'cert_common_name'] as const;
/** `${client_attrs.NAME}`: an attribute set by authentication (ClientInfo.clientAttrs). */
export const CLIENT_ATTRS_PREFIX = 'client_attrs.';

// ---- Who ----------------------------------------------------------------------------------------

/** `{ipaddr, "10.0.0.0/8"}` / `{ipaddrs, [...]}`: a BlockList of the blocks, or a problem. */
export function ipCondition(cidrs: readonly string[]): Who | string {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const slash = cidr.indexOf('/');
    const address = slash < 0 ? cidr : cidr.slice(0, slash);
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
    if (family === null) return `${JSON.stringify(cidr)} is not an IP address or CIDR block`;
    const max = family === 'ipv4' ? 32 : 128;
    const prefix = slash < 0 ? max : Number(cidr.slice(slash + 1));
    if (!/^\d+$/.test(slash < 0 ? '0' : cidr.slice(slash + 1)) || prefix > max) {
      return `${JSON.stringify(cidr)} has an invalid prefix length (0 to ${max})`;
    }
    // As esockd_cidr:parse(CIDR, true): host bits set in the address are ignored.
    list.addSubnet(address, prefix, family);
  }
  return { kind: 'ipaddr', list };
}

export function whoMatches(who: Who, client: ClientInfo): boolean {
  switch (who.kind) {
    case 'all':
      return true;
    case 'username':
    case 'clientid': {
      const value = who.kind === 'username' ? client.username : client.clientId;
      if (value === null) return false;
      return 'eq' in who ? value === who.eq : who.re.test(value);
    }
    case 'ipaddr': {
      const host = client.peerHost;
      if (host === '') return false;
      return who.list.check(host, isIPv4(host) ? 'ipv4' : 'ipv6');
    }
    case 'and':
      return who.items.every((w) => whoMatches(w, client));
    case 'or':
      return who.items.some((w) => whoMatches(w, client));
  }
}

// ---- topics -------------------------------------------------------------------------------------

/**
 * Parses a rule topic: a template if it has placeholders (`${name}` anywhere, or a whole level
 * `%u` / `%c`), otherwise a filter. Returns a problem string for an unknown placeholder.
 */
export function topicCondition(text: string): TopicCondition | string {
  if (!text.includes('${') && !/(^|\/)%[uc](\/|$)/.test(text)) return { kind: 'filter', words: words(text) };
  const parts: TemplatePart[] = [];
  const levels = text.split('/');
  for (let l = 0; l < levels.length; l++) {
    if (l > 0) parts.push('/');
    const level = levels[l]!;
    if (level === '%u' || level === '%c') {
      parts.push({ variable: level === '%u' ? 'username' : 'clientid' });
      continue;
    }
    let rest = level;
    for (;;) {
      const open = rest.indexOf('${');
      if (open < 0) break;
      const close = rest.indexOf('}', open);
      if (close < 0) return `the placeholder in ${JSON.stringify(text)} is not closed with }`;
      const variable = rest.slice(open + 2, close).trim();
      const known =
        (TOPIC_VARIABLES as readonly string[]).includes(variable) || variable.startsWith(CLIENT_ATTRS_PREFIX);
      if (!known) {
        return `unknown placeholder \${${variable}} in ${JSON.stringify(text)} (topics may use ${TOPIC_VARIABLES.map((v) => `\${${v}}`).join(', ')}, \${client_attrs.NAME}, %u, %c)`;
      }
      if (open > 0) parts.push(rest.slice(0, open));
      parts.push({ variable });
      rest = rest.slice(close + 1);
    }
    if (rest !== '') parts.push(rest);
  }
  return { kind: 'template', parts };
}

/** The value of a placeholder for a client, or null when it has none. */
function variableValue(variable: string, client: ClientInfo): string | null {
  switch (variable) {
    case 'username':
      return client.username;
    case 'clientid':
      return client.clientId;
    case 'zone':
      return client.zone;
    default:
      if (variable.startsWith(CLIENT_ATTRS_PREFIX)) {
        return client.clientAttrs?.[variable.slice(CLIENT_ATTRS_PREFIX.length)] ?? null;
      }
      // cert_common_name: not on Aviary's ClientInfo yet, so never filled.
      return null;
  }
}

/**
 * Renders a template for a client: null when a placeholder cannot be filled, or is filled with a
 * value holding a wildcard (`+`, `#`), which would widen the rule.
 */
export function renderTemplate(parts: readonly TemplatePart[], client: ClientInfo): string | null {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') {
      out += p;
      continue;
    }
    const value = variableValue(p.variable, client);
    if (value === null || value.includes('+') || value.includes('#')) return null;
    out += value;
  }
  return out;
}

// ---- per client ---------------------------------------------------------------------------------

/** The rules of a source that concern `client`, with its templates rendered. */
export function rulesFor(rules: readonly Rule[], client: ClientInfo): ClientRule[] {
  const out: ClientRule[] = [];
  for (const rule of rules) {
    if (!whoMatches(rule.who, client)) continue;
    const topics: ClientTopic[] = [];
    for (const t of rule.topics) {
      if (t.kind === 'eq') topics.push({ eq: t.topic });
      else if (t.kind === 'filter') topics.push({ words: t.words });
      else {
        const rendered = renderTemplate(t.parts, client);
        if (rendered !== null) topics.push({ words: words(rendered) });
      }
    }
    // A rule left without topics matches nothing for this client.
    if (topics.length > 0) out.push({ permission: rule.permission, action: rule.action, topics });
  }
  return out;
}

export function actionMatches(action: ActionCondition, request: AuthzRequest): boolean {
  if (request.action === 'publish') {
    if (!action.publish) return false;
    if ((action.qos & (1 << request.qos)) === 0) return false;
    return action.retain === 'all' || action.retain === request.retain;
  }
  return action.subscribe && (action.qos & (1 << request.qos)) !== 0;
}

/**
 * The permission of the first rule that matches `request`, or null (nomatch). `requestWords` is
 * `words(request.topic)`, split once by the caller.
 */
export function firstMatch(
  rules: readonly ClientRule[],
  request: AuthzRequest,
  requestWords: readonly string[],
): Permission | null {
  for (const rule of rules) {
    if (!actionMatches(rule.action, request)) continue;
    for (const t of rule.topics) {
      if (t.words === undefined ? t.eq === request.topic : matchWords(requestWords, t.words)) {
        return rule.permission;
      }
    }
  }
  return null;
}
