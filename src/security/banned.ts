/**
 * The banned list (EMQX's `emqx_banned`): clients refused at CONNECT because their client id,
 * user name or peer address is banned, until a time or for ever.
 *
 * Entries live in a BannedStore (durable with the SQLite backend); this class keeps an index of
 * them for the check at CONNECT:
 *  - exact entries (`clientid`, `username`, `peerhost`) in one Map per kind: O(1) per CONNECT;
 *  - patterns (`clientid_re`, `username_re`) and ranges (`peerhost_net`) in arrays, each tried in
 *    turn: O(k) for k such entries, which operators keep few.
 * With an empty list the check is three Map lookups on empty maps.
 *
 * Expiry. An entry whose `until` has passed no longer matches (checked on every match, so expiry
 * is exact to the millisecond) and is removed from the index and the store by `sweep`, which
 * security/index.ts runs periodically and `list` runs first.
 *
 * Adding an entry calls `onAdded`, which kicks the connected clients it matches (index.ts).
 *
 * This class is the API of the banned list for everything else: the management API's
 * GET/POST/DELETE /api/v5/banned map onto `list`, `add`, `delete` and `clear`.
 */

import { InvalidBanError } from '../errors.js';
import { BAN_KINDS, type Ban, type BanKind, type BannedStore } from '../persistence/banned.js';
import { Cidr, ipBytes, ipKey } from './ip.js';

/** What a caller gives `add`: `as` and `who` are required; the rest has EMQX's defaults. */
export interface BanInput {
  as: string;
  who: string;
  /** Default `mgmt_api` (EMQX's default for the API). */
  by?: string;
  /** Default `""`. */
  reason?: string;
  /** Milliseconds since the epoch; default now. */
  at?: number;
  /** Milliseconds since the epoch, or null / undefined for never (EMQX's "infinity"). */
  until?: number | null;
}

/** The identity of a client as a ban sees it (a ClientInfo has these fields). */
export interface BannableClient {
  clientId: string;
  username: string | null;
  peerHost: string;
}

/** One page of `list`, in the shape of EMQX's paged API answers. */
export interface BanPage {
  data: Ban[];
  meta: { page: number; limit: number; count: number; hasnext: boolean };
}

export interface BannedOptions {
  /** Called after an entry is added (not when loaded from the store): kicks matching clients. */
  onAdded?: (ban: Ban) => void;
  /** The clock (tests). */
  now?: () => number;
}

/** EMQX's default `by` for entries made through the API. */
export const DEFAULT_BANNED_BY = 'mgmt_api';
/** EMQX's default page size. */
export const DEFAULT_PAGE_LIMIT = 100;

interface PatternEntry {
  ban: Ban;
  re: RegExp;
}

interface NetEntry {
  ban: Ban;
  cidr: Cidr;
}

const isKind = (as: string): as is BanKind => (BAN_KINDS as readonly string[]).includes(as);

export class Banned {
  private readonly clientIds = new Map<string, Ban>();
  private readonly usernames = new Map<string, Ban>();
  /** By normalised address (`::ffff:1.2.3.4` and `1.2.3.4` are one key). */
  private readonly hosts = new Map<string, Ban>();
  private clientIdPatterns: PatternEntry[] = [];
  private usernamePatterns: PatternEntry[] = [];
  private nets: NetEntry[] = [];
  private readonly now: () => number;

  constructor(
    private readonly store: BannedStore,
    private readonly options: BannedOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    // Entries of an earlier run (durable store): index the live ones, drop the expired.
    const now = this.now();
    const expired: Ban[] = [];
    for (const ban of store.all()) {
      if (isExpired(ban, now)) expired.push(ban);
      else this.index(ban);
    }
    for (const ban of expired) store.delete(ban.as, ban.who);
  }

  /** Number of entries (expired ones not swept yet included). */
  get size(): number {
    return this.store.size;
  }

  /** The entry that bans this client, or null. Expired entries do not match. */
  check(client: BannableClient): Ban | null {
    const now = this.now();
    let ban = this.clientIds.get(client.clientId);
    if (ban !== undefined && !isExpired(ban, now)) return ban;
    if (client.username !== null) {
      ban = this.usernames.get(client.username);
      if (ban !== undefined && !isExpired(ban, now)) return ban;
    }
    if (this.hosts.size > 0) {
      ban = this.hosts.get(ipKey(client.peerHost));
      if (ban !== undefined && !isExpired(ban, now)) return ban;
    }
    for (const p of this.clientIdPatterns) {
      if (!isExpired(p.ban, now) && p.re.test(client.clientId)) return p.ban;
    }
    if (client.username !== null) {
      for (const p of this.usernamePatterns) {
        if (!isExpired(p.ban, now) && p.re.test(client.username)) return p.ban;
      }
    }
    if (this.nets.length > 0) {
      const bytes = ipBytes(client.peerHost);
      if (bytes !== null) {
        for (const n of this.nets) if (!isExpired(n.ban, now) && n.cidr.containsBytes(bytes)) return n.ban;
      }
    }
    return null;
  }

  /** Does this entry match this client (ignoring expiry)? */
  matches(ban: Ban, client: BannableClient): boolean {
    switch (ban.as) {
      case 'clientid':
        return client.clientId === ban.who;
      case 'username':
        return client.username === ban.who;
      case 'peerhost':
        return ipKey(client.peerHost) === ipKey(ban.who);
      case 'clientid_re':
        return new RegExp(ban.who).test(client.clientId);
      case 'username_re':
        return client.username !== null && new RegExp(ban.who).test(client.username);
      case 'peerhost_net':
        return Cidr.parse(ban.who)?.contains(client.peerHost) === true;
    }
  }

  /**
   * Adds an entry, or replaces the one with the same `as` and `who`, and kicks the connected
   * clients it matches. Throws InvalidBanError for an entry that cannot work.
   */
  add(input: BanInput): Ban {
    const ban = this.validate(input);
    const old = this.store.get(ban.as, ban.who);
    if (old !== undefined) this.unindex(old);
    this.store.put(ban);
    this.index(ban);
    this.options.onAdded?.(ban);
    return ban;
  }

  /** The entry for `as` and `who`, if any (expired or not). */
  get(as: BanKind, who: string): Ban | undefined {
    return this.store.get(as, who);
  }

  /** Lifts a ban; false when there was none. */
  delete(as: BanKind, who: string): boolean {
    const ban = this.store.get(as, who);
    if (ban === undefined) return false;
    this.unindex(ban);
    return this.store.delete(as, who);
  }

  /** Lifts every ban. */
  clear(): void {
    this.store.clear();
    this.clientIds.clear();
    this.usernames.clear();
    this.hosts.clear();
    this.clientIdPatterns = [];
    this.usernamePatterns = [];
    this.nets = [];
  }

  /** Page `page` (from 1) of `limit` entries, expired ones swept first. */
  list(page = 1, limit = DEFAULT_PAGE_LIMIT): BanPage {
    this.sweep();
    const p = Math.max(1, Math.floor(page));
    const l = Math.max(1, Math.floor(limit));
    const data = this.store.list((p - 1) * l, l);
    const count = this.store.size;
    return { data, meta: { page: p, limit: l, count, hasnext: p * l < count } };
  }

  /** Removes the entries whose `until` has passed; returns how many. */
  sweep(now = this.now()): number {
    const expired: Ban[] = [];
    for (const ban of this.store.all()) if (isExpired(ban, now)) expired.push(ban);
    for (const ban of expired) this.delete(ban.as, ban.who);
    return expired.length;
  }

  private validate(input: BanInput): Ban {
    const { as, who } = input;
    if (typeof as !== 'string' || !isKind(as)) {
      throw new InvalidBanError(`"as" must be one of ${BAN_KINDS.join(', ')}; got ${JSON.stringify(as)}`);
    }
    if (typeof who !== 'string' || who === '') {
      throw new InvalidBanError('"who" must be a non-empty string');
    }
    if (as === 'peerhost' && ipBytes(who) === null) {
      throw new InvalidBanError(`"${who}" is not an IP address`);
    }
    if (as === 'peerhost_net' && Cidr.parse(who) === null) {
      throw new InvalidBanError(`"${who}" is not a CIDR range like 10.0.0.0/8 or 2001:db8::/32`);
    }
    if (as === 'clientid_re' || as === 'username_re') compile(who);
    const at = input.at ?? this.now();
    const until = input.until ?? null;
    if (!Number.isFinite(at)) throw new InvalidBanError('"at" must be a time in milliseconds');
    if (until !== null && (!Number.isFinite(until) || until <= at)) {
      throw new InvalidBanError('"until" must be a time after "at" (or absent for a ban without end)');
    }
    return { as, who, by: input.by ?? DEFAULT_BANNED_BY, reason: input.reason ?? '', at, until };
  }

  private index(ban: Ban): void {
    switch (ban.as) {
      case 'clientid':
        this.clientIds.set(ban.who, ban);
        break;
      case 'username':
        this.usernames.set(ban.who, ban);
        break;
      case 'peerhost':
        this.hosts.set(ipKey(ban.who), ban);
        break;
      case 'clientid_re':
        this.clientIdPatterns.push({ ban, re: compile(ban.who) });
        break;
      case 'username_re':
        this.usernamePatterns.push({ ban, re: compile(ban.who) });
        break;
      case 'peerhost_net': {
        const cidr = Cidr.parse(ban.who);
        if (cidr !== null) this.nets.push({ ban, cidr });
        break;
      }
    }
  }

  private unindex(ban: Ban): void {
    switch (ban.as) {
      case 'clientid':
        this.clientIds.delete(ban.who);
        break;
      case 'username':
        this.usernames.delete(ban.who);
        break;
      case 'peerhost':
        this.hosts.delete(ipKey(ban.who));
        break;
      case 'clientid_re':
        this.clientIdPatterns = this.clientIdPatterns.filter((p) => p.ban.who !== ban.who);
        break;
      case 'username_re':
        this.usernamePatterns = this.usernamePatterns.filter((p) => p.ban.who !== ban.who);
        break;
      case 'peerhost_net':
        this.nets = this.nets.filter((n) => n.ban.who !== ban.who);
        break;
    }
  }
}

function isExpired(ban: Ban, now: number): boolean {
  return ban.until !== null && ban.until <= now;
}

/** A `*_re` pattern as a RegExp (unanchored, as EMQX's re:run): InvalidBanError if it is not one. */
function compile(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (error) {
    throw new InvalidBanError(`"${pattern}" is not a regular expression: ${(error as Error).message}`);
  }
}
