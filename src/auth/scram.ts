/**
 * SCRAM (RFC 5802; SHA-256 per RFC 7677, and SHA-512) over MQTT 5.0 enhanced authentication,
 * against the built-in database (EMQX's `scram` + `built_in_database`). The Authentication
 * Method is `SCRAM-SHA-256` or `SCRAM-SHA-512`; the exchange is
 *
 *   CONNECT  data = client-first   "n,,n=<user>,r=<client nonce>"
 *   AUTH 0x18 data = server-first  "r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>"
 *   AUTH 0x18 data = client-final  "c=biws,r=<nonce>,p=<base64 ClientProof>"
 *   CONNACK 0x00 data = server-final "v=<base64 ServerSignature>"   (or CONNACK 0x87)
 *
 * The broker stores per user only StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey =
 * HMAC(SaltedPassword, "Server Key"), the salt and the iteration count: it can check a proof and
 * prove itself, but not log in as the user. An unknown user gets a made-up salt (derived from the
 * user name and a per-process secret) and fails at the proof, as RFC 5802 section 5.1 suggests,
 * so the exchange does not tell which users exist.
 *
 * Re-authentication (AUTH 0x19) runs the same exchange. Channel binding is not supported: a
 * client-first with `p=` fails. User names are compared as sent (no SASLprep), after undoing
 * SCRAM's `=2C` / `=3D` escapes.
 */

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EnhancedAuthResult, EnhancedAuthStep } from '../broker/hooks.js';
import type { ClientInfo } from '../broker/types.js';
import type { ScramAuthnConfig } from '../config/authn-schema.js';
import { SCRAM_USERS, type UserPage, type UserStore } from '../persistence/users.js';
import type { UserView } from './built-in.js';
import { type AuthAnswer, type AuthProvider, IGNORE } from './provider.js';

export type ScramAlgorithm = 'sha256' | 'sha512';

/** The Authentication Method of each algorithm. */
export const SCRAM_METHOD: Record<ScramAlgorithm, string> = {
  sha256: 'SCRAM-SHA-256',
  sha512: 'SCRAM-SHA-512',
};

const KEY_BYTES: Record<ScramAlgorithm, number> = { sha256: 32, sha512: 64 };
const SALT_BYTES = 16;
const NONCE_BYTES = 18;
const FAILURE: EnhancedAuthResult = Object.freeze({ result: 'failure' });

export interface ScramKeys {
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** SaltedPassword, then StoredKey and ServerKey (RFC 5802 section 3). */
export function scramKeys(
  alg: ScramAlgorithm,
  password: Buffer | string,
  salt: Buffer,
  iterations: number,
): ScramKeys {
  const salted = pbkdf2Sync(password, salt, iterations, KEY_BYTES[alg], alg);
  const clientKey = createHmac(alg, salted).update('Client Key').digest();
  return {
    storedKey: createHash(alg).update(clientKey).digest(),
    serverKey: createHmac(alg, salted).update('Server Key').digest(),
  };
}

/** Parses `a=1,b=2` attributes (values may contain '='). */
function attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    if (part.length >= 2 && part[1] === '=') out.set(part[0]!, part.slice(2));
  }
  return out;
}

/** SCRAM's saslname escapes (RFC 5802 section 5.1). */
function unescapeName(name: string): string {
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** One exchange in progress. */
interface Conversation {
  readonly userId: string;
  readonly clientFirstBare: string;
  readonly serverFirst: string;
  readonly nonce: string;
  /** undefined: an unknown user (the exchange goes on with a made-up salt and fails at the proof). */
  readonly user: { storedKey: Buffer; serverKey: Buffer; isSuperuser: boolean } | undefined;
}

/** The SCRAM users (group `scram:built_in_database`). */
export class ScramUsers {
  constructor(
    readonly store: UserStore,
    readonly algorithm: ScramAlgorithm,
    readonly iterations: number,
  ) {}

  put(userId: string, password: Buffer | string, isSuperuser: boolean): void {
    if (userId === '') throw new RangeError('a user id cannot be empty');
    const salt = randomBytes(SALT_BYTES);
    const keys = scramKeys(this.algorithm, password, salt, this.iterations);
    this.store.put(SCRAM_USERS, {
      userId,
      isSuperuser,
      passwordHash: '',
      salt: salt.toString('base64'),
      storedKey: keys.storedKey.toString('base64'),
      serverKey: keys.serverKey.toString('base64'),
      iterations: this.iterations,
    });
  }

  get(userId: string): UserView | undefined {
    const u = this.store.get(SCRAM_USERS, userId);
    return u === undefined ? undefined : { userId: u.userId, isSuperuser: u.isSuperuser };
  }

  delete(userId: string): boolean {
    return this.store.delete(SCRAM_USERS, userId);
  }

  list(page: UserPage): UserView[] {
    return this.store.list(SCRAM_USERS, page).map((u) => ({ userId: u.userId, isSuperuser: u.isSuperuser }));
  }
}

export class ScramProvider implements AuthProvider {
  readonly id = SCRAM_USERS;
  readonly methods: readonly string[];
  readonly users: ScramUsers;
  private readonly alg: ScramAlgorithm;
  private readonly conversations = new WeakMap<ClientInfo, Conversation>();
  /** Makes the salts of unknown users stable within a process and unguessable. */
  private readonly fakeSecret = randomBytes(32);

  constructor(config: ScramAuthnConfig, store: UserStore) {
    this.alg = config.algorithm;
    this.methods = [SCRAM_METHOD[config.algorithm]];
    this.users = new ScramUsers(store, config.algorithm, config.iteration_count);
  }

  /** A CONNECT without enhanced authentication is not for SCRAM (EMQX: ignore). */
  authenticate(): AuthAnswer {
    return IGNORE;
  }

  enhancedAuth(client: ClientInfo, step: EnhancedAuthStep): EnhancedAuthResult {
    const data = step.data?.toString('utf8') ?? '';
    if (step.phase === 'continue') {
      const conversation = this.conversations.get(client);
      this.conversations.delete(client);
      return conversation === undefined ? FAILURE : this.finish(client, conversation, data);
    }
    return this.start(client, data);
  }

  /** client-first -> server-first. */
  private start(client: ClientInfo, clientFirst: string): EnhancedAuthResult {
    // gs2-header: "n," (no channel binding) or "y," (client supports it, server does not), then
    // an optional authzid, then ','. "p=" asks for channel binding, which we do not offer.
    const m = /^([ny]),(?:a=[^,]*)?,(.*)$/s.exec(clientFirst);
    if (m === null) return FAILURE;
    const bare = m[2]!;
    const attrs = attributes(bare);
    const name = attrs.get('n');
    const clientNonce = attrs.get('r');
    if (name === undefined || name === '' || clientNonce === undefined || clientNonce === '') return FAILURE;
    const userId = unescapeName(name);
    // The CONNECT's user name, when given, must be the one that authenticates (ACLs use it).
    if (client.username !== null && client.username !== '' && client.username !== userId) return FAILURE;
    const stored = this.users.store.get(SCRAM_USERS, userId);
    let salt: string;
    let iterations: number;
    let user: Conversation['user'];
    if (stored?.storedKey !== undefined && stored.serverKey !== undefined) {
      salt = stored.salt;
      iterations = stored.iterations ?? this.users.iterations;
      user = {
        storedKey: Buffer.from(stored.storedKey, 'base64'),
        serverKey: Buffer.from(stored.serverKey, 'base64'),
        isSuperuser: stored.isSuperuser,
      };
    } else {
      salt = createHmac('sha256', this.fakeSecret)
        .update(userId)
        .digest()
        .subarray(0, SALT_BYTES)
        .toString('base64');
      iterations = this.users.iterations;
      user = undefined;
    }
    const nonce = clientNonce + randomBytes(NONCE_BYTES).toString('base64');
    const serverFirst = `r=${nonce},s=${salt},i=${iterations}`;
    this.conversations.set(client, { userId, clientFirstBare: bare, serverFirst, nonce, user });
    return { result: 'continue', data: Buffer.from(serverFirst, 'utf8') };
  }

  /** client-final -> server-final, or failure. */
  private finish(client: ClientInfo, c: Conversation, clientFinal: string): EnhancedAuthResult {
    void client;
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) return FAILURE;
    const withoutProof = clientFinal.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    // Without channel binding the client sends "c=biws" (base64 "n,,") or the gs2 header it used.
    if (attrs.get('r') !== c.nonce || attrs.get('c') === undefined) return FAILURE;
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64');
    if (c.user === undefined) return FAILURE;
    const authMessage = `${c.clientFirstBare},${c.serverFirst},${withoutProof}`;
    const signature = createHmac(this.alg, c.user.storedKey).update(authMessage).digest();
    if (proof.length !== signature.length) return FAILURE;
    const clientKey = Buffer.alloc(signature.length);
    for (let i = 0; i < signature.length; i++) clientKey[i] = proof[i]! ^ signature[i]!;
    const storedKey = createHash(this.alg).update(clientKey).digest();
    if (storedKey.length !== c.user.storedKey.length || !timingSafeEqual(storedKey, c.user.storedKey)) {
      return FAILURE;
    }
    const serverSignature = createHmac(this.alg, c.user.serverKey).update(authMessage).digest('base64');
    return {
      result: 'success',
      data: Buffer.from(`v=${serverSignature}`, 'utf8'),
      isSuperuser: c.user.isSuperuser,
    };
  }
}
