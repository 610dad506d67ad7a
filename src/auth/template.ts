/**
 * Placeholders in provider templates (HTTP bodies, query strings, headers; JWT verify_claims),
 * EMQX's `${...}` variables:
 *
 *   ${username} ${clientid} ${password} ${peerhost} ${peerport} ${zone} ${listener}
 *   ${cert_common_name} ${cert_subject}      from a verified TLS client certificate
 *   ${psk_identity}                          from a TLS-PSK handshake
 *   ${client_attrs.NAME}                     attributes set by an earlier step
 *   ${cookie.NAME}                           a cookie of the WebSocket upgrade request (Aviary's)
 *
 * A variable with no value renders as the empty string (EMQX does the same). A template is
 * parsed once, when the provider is built; rendering joins literal parts and values.
 */

import type { ClientInfo } from '../broker/types.js';
import { certOf, cookiesOf, pskIdentityOf } from './client-extras.js';

type Part = { literal: string } | { variable: string };

export class Template {
  private readonly parts: Part[];

  constructor(readonly source: string) {
    this.parts = [];
    const re = /\$\{([^}]+)\}/g;
    let last = 0;
    for (let m = re.exec(source); m !== null; m = re.exec(source)) {
      if (m.index > last) this.parts.push({ literal: source.slice(last, m.index) });
      this.parts.push({ variable: m[1]!.trim() });
      last = m.index + m[0].length;
    }
    if (last < source.length) this.parts.push({ literal: source.slice(last) });
  }

  /** Whether the template uses `${password}` (the one secret a template may hold). */
  get usesPassword(): boolean {
    return this.parts.some((p) => 'variable' in p && p.variable === 'password');
  }

  render(vars: (name: string) => string): string {
    let out = '';
    for (const p of this.parts) out += 'literal' in p ? p.literal : vars(p.variable);
    return out;
  }
}

/** The value of a placeholder for a client with this password. */
export function clientVariable(client: ClientInfo, password: Buffer | null, name: string): string {
  switch (name) {
    case 'username':
      return client.username ?? '';
    case 'clientid':
      return client.clientId;
    case 'password':
      return password?.toString('utf8') ?? '';
    case 'peerhost':
      return client.peerHost;
    case 'peerport':
      return String(client.peerPort);
    case 'zone':
      return client.zone;
    case 'listener':
      return client.listener;
    case 'cert_common_name':
      return certOf(client)?.cn ?? '';
    case 'cert_subject':
      return certOf(client)?.dn ?? '';
    case 'psk_identity':
      return pskIdentityOf(client) ?? '';
  }
  if (name.startsWith('client_attrs.')) return client.clientAttrs?.[name.slice('client_attrs.'.length)] ?? '';
  if (name.startsWith('cookie.')) return cookiesOf(client).get(name.slice('cookie.'.length)) ?? '';
  return '';
}
