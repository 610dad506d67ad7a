/**
 * What the transports tell authentication about a connection, read from ClientInfo (the
 * listeners copy them at CONNECT, docs/listeners.md): the verified TLS client certificate
 * (`peerCert`: subject CN and DN), the TLS-PSK identity (`pskIdentity`) and the WebSocket upgrade
 * request's headers (`upgradeHeaders`, for cookies).
 */

import type { ClientInfo } from '../broker/types.js';

/** A client certificate's identity. */
export interface CertIdentity {
  readonly cn: string | null;
  readonly dn: string;
}

export function certOf(client: ClientInfo): CertIdentity | null {
  return client.peerCert ?? null;
}

export function pskIdentityOf(client: ClientInfo): string | null {
  return client.pskIdentity ?? null;
}

const NO_COOKIES: ReadonlyMap<string, string> = new Map();

/**
 * The cookies of the upgrade request's Cookie header(s) (RFC 6265 `name=value; name2=value2`),
 * values percent-decoded when they are valid percent-encoding. The first cookie of a name wins.
 * Empty for clients that did not come over WebSocket.
 */
export function cookiesOf(client: ClientInfo): ReadonlyMap<string, string> {
  const raw = client.upgradeHeaders?.cookie;
  if (raw === undefined) return NO_COOKIES;
  const out = new Map<string, string>();
  for (const header of typeof raw === 'string' ? [raw] : raw) {
    for (const pair of header.split(';')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      let value = pair.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      try {
        value = decodeURIComponent(value);
      } catch {
        // not percent-encoding: keep it as sent
      }
      if (!out.has(name)) out.set(name, value);
    }
  }
  return out;
}
