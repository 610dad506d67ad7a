/**
 * The client side of SCRAM (RFC 5802), written here independently of src/auth/scram.ts so the
 * tests check the broker against the RFC, not against itself.
 *
 *   const c = new ScramClient('sha256', 'user', 'pencil');
 *   send c.first() -> receive server-first -> send c.final(serverFirst) -> check c.verify(serverFinal)
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

export class ScramClient {
  private clientFirstBare: string;
  private authMessage = '';
  private serverKey: Buffer = Buffer.alloc(0);

  constructor(
    readonly alg: 'sha256' | 'sha512',
    readonly username: string,
    readonly password: string,
    readonly nonce = randomBytes(18).toString('base64'),
  ) {
    const name = username.replace(/=/g, '=3D').replace(/,/g, '=2C');
    this.clientFirstBare = `n=${name},r=${nonce}`;
  }

  first(): string {
    return `n,,${this.clientFirstBare}`;
  }

  final(serverFirst: string): string {
    const attrs = new Map(serverFirst.split(',').map((p) => [p[0]!, p.slice(2)] as [string, string]));
    const nonce = attrs.get('r')!;
    if (!nonce.startsWith(this.nonce)) throw new Error('the server nonce does not extend ours');
    const salt = Buffer.from(attrs.get('s')!, 'base64');
    const iterations = Number(attrs.get('i'));
    const length = this.alg === 'sha256' ? 32 : 64;
    const salted = pbkdf2Sync(this.password, salt, iterations, length, this.alg);
    const clientKey = createHmac(this.alg, salted).update('Client Key').digest();
    const storedKey = createHash(this.alg).update(clientKey).digest();
    this.serverKey = createHmac(this.alg, salted).update('Server Key').digest();
    const withoutProof = `c=biws,r=${nonce}`;
    this.authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = createHmac(this.alg, storedKey).update(this.authMessage).digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Whether the server-final message proves the server knows our keys. */
  verify(serverFinal: string): boolean {
    const expected = createHmac(this.alg, this.serverKey).update(this.authMessage).digest('base64');
    return serverFinal === `v=${expected}`;
  }
}
