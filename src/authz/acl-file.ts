/**
 * EMQX's acl.conf: Erlang terms (erlang-term.ts) compiled into rules (rule.ts), as EMQX's
 * emqx_authz_rule.erl `compile/1` does. An EMQX user's file is read unchanged:
 *
 *   {allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.
 *   {allow, {ipaddr, "127.0.0.1"}, all, ["$SYS/#", "#"]}.
 *   {deny, all, subscribe, ["$SYS/#", {eq, "#"}]}.
 *   {allow, all}.
 *
 * The forms (docs/authorization.md has them all with examples):
 *   rule       {Permission, Who, Action, Topics} | {Permission, all}   (the latter: every action on `#`)
 *   Permission allow | deny
 *   Who        all | {user | username, "u" | {re, "regex"}} | {client | clientid, "c" | {re, "regex"}}
 *              | {ipaddr, "CIDR"} | {ipaddrs, ["CIDR", ...]} | {'and', [Who, ...]} | {'or', [Who, ...]}
 *   Action     publish | subscribe | all | {publish | all, [{qos, 0..2 | [..]}, {retain, true | false | all}]}
 *              | {subscribe, [{qos, ...}]}
 *   Topics     [Topic, ...], Topic = "filter" | "template ${username}" | {eq, "filter"} | "eq filter"
 *
 * Where EMQX would refuse a file, so does Aviary, with the line and column; a few things EMQX
 * accepts silently are reported as warnings instead (an unknown option in an action's list, a
 * topic that is not a valid filter). Two liberties, both for files EMQX itself would not load:
 * `and` / `or` may be written unquoted, and Topics may be one string instead of a list of strings
 * (EMQX's own acl.conf comment shows `{allow, all, publish, "${clientid}/#"}`). `{re, ...}` is not
 * a topic form in EMQX 5 (only Who takes regular expressions) and is refused with that message.
 */

import { topicFilterProblem } from '../protocol/index.js';
import { describeTerm, parseTerms, type Term } from './erlang-term.js';
import { AclParseError } from './errors.js';
import {
  ACTION_ALL,
  ACTION_PUBLISH,
  ACTION_SUBSCRIBE,
  type ActionCondition,
  ANY_QOS,
  ipCondition,
  type Permission,
  type Rule,
  type TopicCondition,
  topicCondition,
  type Who,
} from './rule.js';

/** EMQX's default acl.conf rules (apps/emqx_auth/etc/acl.conf, EMQX 5.8), without its comments. */
export const EMQX_DEFAULT_ACL = `{allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.

{allow, {ipaddr, "127.0.0.1"}, all, ["$SYS/#", "#"]}.

{deny, all, subscribe, ["$SYS/#", {eq, "#"}]}.

{allow, all}.
`;

export interface CompiledAcl {
  readonly rules: Rule[];
  /** Things EMQX accepts silently that are probably mistakes, with their positions. */
  readonly warnings: string[];
}

/** Reads and compiles an ACL file's text; throws AclParseError naming `file`, line and column. */
export function compileAcl(text: string, file = '<rules>'): CompiledAcl {
  const terms = parseTerms(text, file);
  const c = new Compiler(file);
  const rules = terms.map((t) => c.rule(t));
  return { rules, warnings: c.warnings };
}

class Compiler {
  readonly warnings: string[] = [];

  constructor(private readonly file: string) {}

  private fail(message: string, at: Term): never {
    throw new AclParseError(message, at.line, at.column, this.file);
  }

  private warn(message: string, at: Term): void {
    this.warnings.push(`${this.file}:${at.line}:${at.column}: ${message}`);
  }

  rule(t: Term): Rule {
    if (t.kind !== 'tuple' || (t.items.length !== 2 && t.items.length !== 4)) {
      this.fail(
        `a rule is {allow | deny, Who, Action, Topics} or {allow | deny, all}, not ${describeTerm(t)}`,
        t,
      );
    }
    const permission = this.permission(t.items[0]!);
    if (t.items.length === 2) {
      const all = t.items[1]!;
      if (all.kind !== 'atom' || all.value !== 'all') {
        this.fail(
          `a two-element rule is {${permission}, all}, not {${permission}, ${describeTerm(all)}}`,
          all,
        );
      }
      return {
        permission,
        who: { kind: 'all' },
        action: ACTION_ALL,
        topics: [{ kind: 'filter', words: ['#'] }],
      };
    }
    return {
      permission,
      who: this.who(t.items[1]!),
      action: this.action(t.items[2]!),
      topics: this.topics(t.items[3]!),
    };
  }

  private permission(t: Term): Permission {
    if (t.kind === 'atom' && (t.value === 'allow' || t.value === 'deny')) return t.value;
    return this.fail(`a rule starts with allow or deny, not ${describeTerm(t)}`, t);
  }

  private who(t: Term): Who {
    if (t.kind === 'atom' && t.value === 'all') return { kind: 'all' };
    if (t.kind !== 'tuple' || t.items.length !== 2 || t.items[0]!.kind !== 'atom') {
      return this.fail(
        `Who is all, {username, ...}, {clientid, ...}, {ipaddr, ...}, {ipaddrs, [...]}, {'and', [...]} or {'or', [...]}, not ${describeTerm(t)}`,
        t,
      );
    }
    const [tag, value] = t.items as [Term & { kind: 'atom' }, Term];
    switch (tag.value) {
      case 'user':
      case 'username':
      case 'client':
      case 'clientid': {
        const kind = tag.value.startsWith('user') ? 'username' : 'clientid';
        if (value.kind === 'string') return { kind, eq: value.value };
        if (value.kind === 'tuple' && value.items.length === 2) {
          const [re, pattern] = value.items as [Term, Term];
          if (re.kind === 'atom' && re.value === 're' && pattern.kind === 'string') {
            return { kind, re: this.regex(pattern.value, pattern) };
          }
        }
        return this.fail(
          `{${tag.value}, ...} takes a string or {re, "regex"}, not ${describeTerm(value)}`,
          value,
        );
      }
      case 'ipaddr': {
        if (value.kind !== 'string')
          return this.fail(`{ipaddr, ...} takes a string, not ${describeTerm(value)}`, value);
        return this.ip([value.value], value);
      }
      case 'ipaddrs': {
        if (value.kind !== 'list' || value.items.some((i) => i.kind !== 'string')) {
          return this.fail(`{ipaddrs, ...} takes a list of strings, not ${describeTerm(value)}`, value);
        }
        return this.ip(
          value.items.map((i) => (i as Term & { kind: 'string' }).value),
          value,
        );
      }
      case 'and':
      case 'or': {
        if (value.kind !== 'list') {
          return this.fail(
            `{'${tag.value}', ...} takes a list of Who conditions, not ${describeTerm(value)}`,
            value,
          );
        }
        return { kind: tag.value, items: value.items.map((i) => this.who(i)) };
      }
      case 'client_attr':
        return this.fail('{client_attr, ...} conditions are not supported by Aviary yet', tag);
      default:
        return this.fail(
          `unknown Who condition {${tag.value}, ...} (known: all, user, username, client, clientid, ipaddr, ipaddrs, 'and', 'or')`,
          tag,
        );
    }
  }

  private regex(pattern: string, at: Term): RegExp {
    try {
      // Erlang's re (PCRE) and JavaScript agree on the usual syntax; `u` for code points.
      return new RegExp(pattern, 'u');
    } catch (error) {
      return this.fail(
        `invalid regular expression ${JSON.stringify(pattern)}: ${(error as Error).message}`,
        at,
      );
    }
  }

  private ip(cidrs: string[], at: Term): Who {
    const who = ipCondition(cidrs);
    return typeof who === 'string' ? this.fail(who, at) : who;
  }

  private action(t: Term): ActionCondition {
    if (t.kind === 'atom') {
      if (t.value === 'publish') return ACTION_PUBLISH;
      if (t.value === 'subscribe') return ACTION_SUBSCRIBE;
      if (t.value === 'all') return ACTION_ALL;
    }
    if (t.kind === 'tuple' && t.items.length === 2 && t.items[0]!.kind === 'atom') {
      const [name, options] = t.items as [Term & { kind: 'atom' }, Term];
      const kind = name.value;
      if ((kind === 'publish' || kind === 'subscribe' || kind === 'all') && options.kind === 'list') {
        const { qos, retain } = this.actionOptions(options.items, kind);
        return { publish: kind !== 'subscribe', subscribe: kind !== 'publish', qos, retain };
      }
    }
    return this.fail(
      `Action is publish, subscribe, all, or {publish | subscribe | all, [{qos, ...}, {retain, ...}]}, not ${describeTerm(t)}`,
      t,
    );
  }

  /** `[{qos, 1}, {qos, [0, 2]}, {retain, false}]`, read as Erlang's proplists would. */
  private actionOptions(items: readonly Term[], kind: string): { qos: number; retain: 'all' | boolean } {
    let qos = 0;
    let anyQos = false;
    let retain: 'all' | boolean | undefined;
    for (const item of items) {
      // proplists: a bare atom `retain` is {retain, true}.
      const [key, value] =
        item.kind === 'atom'
          ? [item.value, { kind: 'atom', value: 'true', line: item.line, column: item.column } as Term]
          : item.kind === 'tuple' && item.items.length === 2 && item.items[0]!.kind === 'atom'
            ? [(item.items[0] as Term & { kind: 'atom' }).value, item.items[1]!]
            : [null, item];
      if (key === 'qos') {
        anyQos = true;
        const values = value.kind === 'list' ? value.items : [value];
        for (const v of values) {
          if (v.kind !== 'integer' || v.value < 0 || v.value > 2)
            this.fail(`a QoS is 0, 1 or 2, not ${describeTerm(v)}`, v);
          qos |= 1 << v.value;
        }
      } else if (key === 'retain') {
        // The first {retain, _} wins (proplists:get_value).
        if (retain !== undefined) continue;
        if (
          value.kind === 'atom' &&
          (value.value === 'true' || value.value === 'false' || value.value === 'all')
        ) {
          retain = value.value === 'all' ? 'all' : value.value === 'true';
        } else {
          this.fail(`retain is true, false or all, not ${describeTerm(value)}`, value);
        }
        if (kind === 'subscribe') this.warn('{retain, ...} has no effect on a subscribe action', item);
      } else {
        this.warn(
          `${key === null ? describeTerm(item) : `the option ${key}`} is ignored (an action takes {qos, ...} and {retain, ...})`,
          item,
        );
      }
    }
    return { qos: anyQos ? qos : ANY_QOS, retain: retain ?? 'all' };
  }

  private topics(t: Term): TopicCondition[] {
    // EMQX's own comment writes `{allow, all, publish, "${clientid}/#"}`: take one string as a list.
    const items = t.kind === 'string' ? [t] : t.kind === 'list' ? t.items : null;
    if (items === null) return this.fail(`Topics is a list of topics, not ${describeTerm(t)}`, t);
    return items.map((i) => this.topic(i));
  }

  private topic(t: Term): TopicCondition {
    if (t.kind === 'string') {
      // "eq t/#" is EMQX's string form of {eq, "t/#"}.
      if (t.value.startsWith('eq ')) return this.eq(t.value.slice('eq '.length), t);
      const c = topicCondition(t.value);
      if (typeof c === 'string') return this.fail(c, t);
      if (c.kind === 'filter') this.checkFilter(t.value, t);
      return c;
    }
    if (t.kind === 'tuple' && t.items.length === 2 && t.items[0]!.kind === 'atom') {
      const [tag, value] = t.items as [Term & { kind: 'atom' }, Term];
      if (tag.value === 'eq' && value.kind === 'string') return this.eq(value.value, value);
      if (tag.value === 're') {
        return this.fail(
          '{re, ...} is not a topic form in EMQX 5: use a filter with + and #, or {eq, ...}',
          t,
        );
      }
    }
    return this.fail(`a topic is "filter" or {eq, "filter"}, not ${describeTerm(t)}`, t);
  }

  private eq(topic: string, at: Term): TopicCondition {
    this.checkFilter(topic, at);
    return { kind: 'eq', topic };
  }

  private checkFilter(filter: string, at: Term): void {
    const problem = topicFilterProblem(filter);
    if (problem !== null)
      this.warn(
        `${JSON.stringify(filter)} is not a valid topic filter (${problem}); it can match little or nothing`,
        at,
      );
  }
}

/** The rule topics of a compiled file as filters, for tests and diagnostics. */
export function topicText(c: TopicCondition): string {
  if (c.kind === 'eq') return `{eq, ${JSON.stringify(c.topic)}}`;
  if (c.kind === 'filter') return c.words.join('/');
  return c.parts.map((p) => (typeof p === 'string' ? p : `\${${p.variable}}`)).join('');
}
