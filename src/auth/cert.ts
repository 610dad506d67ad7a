/**
 * TLS client certificate authentication (`mechanism = cert`, Aviary's; EMQX reaches the same
 * with `peer_cert_as_username` and a password-less user). A client of an ssl/wss listener with
 * `ssl_options.verify = verify_peer` has shown a certificate the listener verified against
 * `cacertfile`; its identity is the subject's common name (`identity = cn`) or the whole subject
 * (`identity = dn`). Then:
 *
 *   match = username   allowed when the CONNECT's username equals the identity
 *   match = clientid   allowed when the client id equals the identity
 *   match = none       allowed: a verified certificate is enough
 *
 * A client without a certificate, or whose username / client id is not its identity, is
 * ignored, so a later provider (a password) may still let it in; put `cert` last-but-none with
 * no other provider to make certificates mandatory. A certificate never makes a superuser.
 */

import type { CertAuthnConfig } from '../config/authn-schema.js';
import { certOf } from './client-extras.js';
import { type AuthAnswer, type AuthProvider, type Credentials, IGNORE } from './provider.js';

const ALLOW: AuthAnswer = Object.freeze({ result: 'allow', isSuperuser: false });

export class CertProvider implements AuthProvider {
  readonly id = 'cert';

  constructor(private readonly config: CertAuthnConfig) {}

  authenticate({ client }: Credentials): AuthAnswer {
    const cert = certOf(client);
    if (cert === null) return IGNORE;
    const identity = this.config.identity === 'cn' ? cert.cn : cert.dn;
    if (identity === null || identity === '') return IGNORE;
    switch (this.config.match) {
      case 'username':
        return client.username === identity ? ALLOW : IGNORE;
      case 'clientid':
        return client.clientId === identity ? ALLOW : IGNORE;
      default:
        return ALLOW;
    }
  }
}
