/**
 * Client id and IP address rules (`mechanism = client_rules`, Aviary's; the nearest EMQX has is
 * its `cinfo` authenticator, which evaluates expressions instead). An ordered list of rules,
 * each with optional conditions and an action:
 *
 *   { clientid = ["sensor-*", "gw-1"], ipaddr = "10.0.0.0/8", action = allow, is_superuser = false }
 *   { clientid_re = "^ops-[0-9]+$", action = allow }
 *   { ipaddr = ["192.0.2.0/24", "2001:db8::/32"], action = deny }
 *
 * A rule matches a client when every condition it has holds:
 *
 *   clientid      the client id equals one of the patterns; `*` in a pattern stands for any run
 *                 of characters (`sensor-*`), every other character is literal
 *   clientid_re   the regular expression (JavaScript syntax) matches the whole client id
 *   ipaddr        the peer address is one of the addresses or falls in one of the CIDR ranges
 *                 (IPv4 and IPv6; `127.0.0.1` also matches a dual-stack socket's `::ffff:127.0.0.1`)
 *
 * A rule without conditions matches every client (a final catch-all). Rules are tried in order;
 * the first that matches answers: `allow` lets the client in with no password check (with
 * `is_superuser`), `deny` refuses it with CONNACK 0x87 not authorized (3.1.1: 0x05). When no rule
 * matches the provider ignores the client, so the next provider of the chain decides (EMQX's
 * chain rule): put `client_rules` before a password provider to refuse or admit by network
 * first, or after it as a fallback.
 *
 * Client ids and addresses are claims the client makes (a client id) or the network makes (the
 * peer address, which a PROXY protocol header may supply): `allow` rules suit trusted networks,
 * not the open internet. Rules are compiled once; a CONNECT costs one pass over them.
 */

import type { ClientRuleConfig, ClientRulesAuthnConfig } from '../config/authn-schema.js';
import { ReasonCode } from '../protocol/index.js';
import { Cidr } from '../security/ip.js';
import { type AuthAnswer, type AuthProvider, type Credentials, IGNORE } from './provider.js';

/** What a client id pattern's `*` becomes; everything else is escaped. */
function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 's');
}

/** A rule, compiled. */
class ClientRule {
  private readonly ids: readonly RegExp[] | null;
  private readonly idRe: RegExp | null;
  private readonly nets: readonly Cidr[] | null;
  readonly answer: AuthAnswer;

  constructor(rule: ClientRuleConfig) {
    this.ids = rule.clientid === undefined ? null : rule.clientid.map(globToRegExp);
    // The whole id must match: an unanchored `sensor` would also admit `not-a-sensor`.
    this.idRe = rule.clientid_re === undefined ? null : new RegExp(`^(?:${rule.clientid_re})$`, 's');
    // The schema checked every entry; a failure here would be a bug, so it throws.
    this.nets =
      rule.ipaddr === undefined
        ? null
        : rule.ipaddr.map((text) => {
            const cidr = Cidr.parse(text);
            if (cidr === null) throw new RangeError(`not an IP address or CIDR range: ${text}`);
            return cidr;
          });
    this.answer =
      rule.action === 'allow'
        ? Object.freeze({ result: 'allow', isSuperuser: rule.is_superuser })
        : Object.freeze({ result: 'deny', reasonCode: ReasonCode.NotAuthorized });
  }

  matches(clientId: string, peerHost: string): boolean {
    if (this.ids !== null && !this.ids.some((re) => re.test(clientId))) return false;
    if (this.idRe !== null && !this.idRe.test(clientId)) return false;
    if (this.nets !== null && !this.nets.some((net) => net.contains(peerHost))) return false;
    return true;
  }
}

export class ClientRulesProvider implements AuthProvider {
  readonly id = 'client_rules';
  private readonly rules: readonly ClientRule[];

  constructor(config: ClientRulesAuthnConfig) {
    this.rules = config.rules.map((r) => new ClientRule(r));
  }

  authenticate({ client }: Credentials): AuthAnswer {
    for (const rule of this.rules) {
      if (rule.matches(client.clientId, client.peerHost)) return rule.answer;
    }
    return IGNORE;
  }
}
