/**
 * Shared subscription groups: `$share/<group>/<filter>` and `$queue/<filter>` (MQTT 5.0 section
 * 4.8.2; `$queue/` is EMQX's older form, the group named `$queue`). Each message that matches
 * the filter goes to one member of the group, not to every member.
 *
 * What a group is. A group is keyed by its name AND its filter: `$share/g/a/#` and `$share/g/b`
 * are two groups. It is one value in the topic trie (one route, however many members), so a
 * publish matches it once and then asks the group to pick; and when routes become per node
 * (clustering) a group is still one route entry. Members join and leave without touching the
 * trie, so the trie's match cache stays valid; only the first member's arrival and the last
 * one's departure add or remove the route.
 *
 * Who is picked. Members are subscriptions of sessions. A member whose session has no live
 * connection is skipped while another member is online (EMQX does the same: an offline
 * persistent session would only queue the message); when no member is online one is picked all
 * the same, and the message waits in that session's queue. Among the candidates the strategy
 * decides (config `mqtt.shared_subscription_strategy`, EMQX's names):
 *
 *   random                  uniformly at random
 *   round_robin             each candidate in turn; the cursor is per group (EMQX keeps it per
 *                           publisher process); the first pick is the first member
 *   round_robin_per_group   the same as round_robin here: the cursor is per group already
 *   sticky                  the member picked last time while it stays a member and online; a
 *                           new one at random otherwise (per group; EMQX: per publisher)
 *   local                   prefer members on this node: on a single node, random
 *   hash_clientid           hash of the PUBLISHER's client id: one publisher, one member
 *   hash_topic              hash of the topic name: one topic, one member
 *
 * Hashes (FNV-1a over the string) are stable across runs and processes; a given key keeps its
 * member as long as the set of candidates does not change.
 *
 * This module imports nothing: routing stays below the broker (docs/architecture.md).
 */

/** The strategies; the same names as the configuration's `shared_subscription_strategy`. */
export type SharedStrategy =
  | 'random'
  | 'round_robin'
  | 'round_robin_per_group'
  | 'sticky'
  | 'local'
  | 'hash_clientid'
  | 'hash_topic';

/** What a group needs to know of a member: whether its session has a live connection. */
export interface ShareMember {
  readonly connected: boolean;
}

export interface SharedGroupOptions {
  /** A number in [0, 1), for `random`, `local` and the first `sticky` pick (tests pass their own). */
  random?: () => number;
}

export class SharedGroup<M extends ShareMember> {
  /** Tells a group from a plain subscription among the values of the trie. */
  readonly shared = true;
  /** In the order they joined. */
  private readonly list: M[] = [];
  /** The last index round_robin handed out (-1: none yet). */
  private cursor = -1;
  /** The member `sticky` keeps picking. */
  private stuck: M | null = null;
  private readonly random: () => number;

  constructor(
    /** The share name: `g` of `$share/g/...`, `$queue` for `$queue/...`. */
    readonly name: string,
    /** The topic filter messages are matched against, without the share prefix. */
    readonly filter: string,
    public strategy: SharedStrategy,
    options: SharedGroupOptions = {},
  ) {
    this.random = options.random ?? Math.random;
  }

  get size(): number {
    return this.list.length;
  }

  /** The members, in the order they joined. Do not mutate. */
  get members(): readonly M[] {
    return this.list;
  }

  add(member: M): void {
    if (!this.list.includes(member)) this.list.push(member);
  }

  /** Removes a member; returns whether it was one. */
  remove(member: M): boolean {
    const at = this.list.indexOf(member);
    if (at < 0) return false;
    this.list.splice(at, 1);
    if (this.stuck === member) this.stuck = null;
    return true;
  }

  /** Is any member online? */
  get anyOnline(): boolean {
    const list = this.list;
    for (let i = 0; i < list.length; i++) if (list[i]!.connected) return true;
    return false;
  }

  /**
   * The member that gets one message: published by `publisher` (client id, '' for the broker)
   * on `topic`. Online members first; null only when the group is empty.
   */
  pick(publisher: string, topic: string): M | null {
    const list = this.list;
    const n = list.length;
    if (n === 0) return null;
    let online = 0;
    for (let i = 0; i < n; i++) if (list[i]!.connected) online++;
    // The common case (all online, or all offline) picks from the member list without a copy.
    const pool = online === n || online === 0 ? list : list.filter(isConnected);
    if (this.strategy === 'sticky') {
      const stuck = this.stuck;
      if (stuck !== null && (stuck.connected || online === 0)) return stuck;
      const chosen = pool[this.randomIndex(pool.length)]!;
      this.stuck = chosen;
      return chosen;
    }
    return pool[this.index(pool.length, publisher, topic)]!;
  }

  private index(count: number, publisher: string, topic: string): number {
    if (count === 1) return 0;
    switch (this.strategy) {
      case 'round_robin':
      case 'round_robin_per_group':
        this.cursor = (this.cursor + 1) % count;
        return this.cursor;
      case 'hash_clientid':
        return fnv1a(publisher) % count;
      case 'hash_topic':
        return fnv1a(topic) % count;
      default:
        // 'random', and 'local' on a single node where every member is local.
        return this.randomIndex(count);
    }
  }

  private randomIndex(count: number): number {
    return Math.min(count - 1, Math.floor(this.random() * count));
  }
}

function isConnected(m: ShareMember): boolean {
  return m.connected;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a (32 bits) over the string's UTF-16 code units: fast, stable, well spread. */
export function fnv1a(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}
