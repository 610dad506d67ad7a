/**
 * Certificates for TLS tests, made at test time in a temporary folder (no private key is
 * committed): `makeCerts()` runs scripts/gen-certs.sh (a CA, a server certificate for
 * localhost/127.0.0.1, a client certificate signed by the CA); `selfSigned` and `expiredClient`
 * add the bad client certificates the negative tests need. Needs openssl.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireCommand } from './services.js';

const SCRIPT = new URL('../../scripts/gen-certs.sh', import.meta.url).pathname;

export interface CertSet {
  dir: string;
  ca: string;
  caKey: string;
  server: string;
  serverKey: string;
  client: string;
  clientKey: string;
  /** Removes the folder. */
  remove(): void;
}

export interface KeyPair {
  cert: string;
  key: string;
}

/** A fresh CA, server and client certificate (client CN `clientCn`) in a temporary folder. */
export function makeCerts(clientCn = 'aviary-client'): CertSet {
  requireCommand('openssl', "Debian's openssl package");
  const dir = mkdtempSync(join(tmpdir(), 'aviary-certs-'));
  execFileSync('bash', [SCRIPT, dir], { env: { ...process.env, AVIARY_CLIENT_CN: clientCn }, stdio: 'pipe' });
  const at = (name: string): string => join(dir, name);
  return {
    dir,
    ca: at('ca.pem'),
    caKey: at('ca.key'),
    server: at('server.pem'),
    serverKey: at('server.key'),
    client: at('client.pem'),
    clientKey: at('client.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

/** A self-signed client certificate (signed by no CA) with CN `cn`. */
export function selfSigned(set: CertSet, cn: string): KeyPair {
  const pair = { cert: join(set.dir, `${cn}.pem`), key: join(set.dir, `${cn}.key`) };
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    pair.key,
    '-out',
    pair.cert,
    '-days',
    '30',
    '-subj',
    `/CN=${cn}`,
  ]);
  return pair;
}

/** A client certificate signed by the set's CA whose validity ended yesterday. */
export function expiredClient(set: CertSet, cn: string): KeyPair {
  const pair = { cert: join(set.dir, `${cn}.pem`), key: join(set.dir, `${cn}.key`) };
  const csr = join(set.dir, `${cn}.csr`);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', pair.key]);
  openssl(['req', '-new', '-key', pair.key, '-subj', `/CN=${cn}`, '-out', csr]);
  // -days -1: not after = one day before now (not before = now), so the certificate has expired.
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    set.ca,
    '-CAkey',
    set.caKey,
    '-CAcreateserial',
    '-days',
    '-1',
    '-out',
    pair.cert,
  ]);
  return pair;
}
