/**
 * Topic names and topic filters (section 4.7 of both specifications).
 *
 * A topic name (what a PUBLISH carries) is at least one character and holds no wildcard
 * [MQTT-3.3.2-2] [MQTT-4.7.3-1]. A topic filter (what a SUBSCRIBE carries) may use `+` for one
 * whole level and `#` for the last level and everything below it [MQTT-4.7.1-2] [MQTT-4.7.1-3].
 *
 * Besides the plain syntax this module parses the prefixes the broker gives meaning to:
 * `$share/<group>/<filter>` and `$queue/<filter>` (shared subscriptions, MQTT 5.0 4.8.2, and
 * EMQX's older `$queue` form), and `$delayed/<seconds>/<topic>` (EMQX's delayed publish; `$delay`
 * is accepted too), and `$exclusive/<filter>` (EMQX's exclusive subscription: an ordinary
 * subscription to `<filter>` that one session at a time may hold). Topics starting with `$` are not matched by a filter starting with a
 * wildcard [MQTT-4.7.2-1]; that rule lives in routing, which imports only this module.
 */

/** Why a name or filter is invalid, or null when it is valid. */
export function topicNameProblem(topic: string): string | null {
  if (topic.length === 0) return 'a topic name must be at least one character long';
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === PLUS || c === HASH) return 'a topic name must not contain wildcards';
  }
  return null;
}

export function topicFilterProblem(filter: string): string | null {
  const n = filter.length;
  if (n === 0) return 'a topic filter must be at least one character long';
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === HASH) {
      // '#' must be the last character and stand alone in its level [MQTT-4.7.1-2].
      if (i !== n - 1) return "'#' must be the last character of a topic filter";
      if (i > 0 && filter.charCodeAt(i - 1) !== SLASH) return "'#' must occupy a whole topic level";
    } else if (c === PLUS) {
      // '+' must occupy a whole level [MQTT-4.7.1-3].
      if (i > 0 && filter.charCodeAt(i - 1) !== SLASH) return "'+' must occupy a whole topic level";
      if (i < n - 1 && filter.charCodeAt(i + 1) !== SLASH) return "'+' must occupy a whole topic level";
    }
  }
  return null;
}

export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

/** Number of levels: 'a/b/c' has 3, '/' has 2. */
export function topicLevels(topic: string): number {
  let n = 1;
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === SLASH) n++;
  return n;
}

export interface ParsedFilter {
  /** The filter that is matched against topic names, without a $share/$queue prefix. */
  filter: string;
  /** The share group, or null for a non-shared subscription. `$queue/` maps to group '$queue'. */
  group: string | null;
}

const SHARE_PREFIX = '$share/';
const QUEUE_PREFIX = '$queue/';

/**
 * Splits `$share/<group>/<filter>` and `$queue/<filter>`. Returns a problem string for a
 * malformed share (empty group, group with wildcards [MQTT-4.8.2-2], missing filter).
 */
export function parseSubscriptionFilter(raw: string): ParsedFilter | string {
  if (raw.startsWith(SHARE_PREFIX)) {
    const slash = raw.indexOf('/', SHARE_PREFIX.length);
    if (slash < 0) return 'a shared subscription needs a filter after its group: $share/<group>/<filter>';
    const group = raw.slice(SHARE_PREFIX.length, slash);
    if (group.length === 0) return 'a shared subscription group name must not be empty';
    if (hasWildcard(group)) return "a shared subscription group name must not contain '+' or '#'";
    const filter = raw.slice(slash + 1);
    const problem = topicFilterProblem(filter);
    return problem ?? { filter, group };
  }
  if (raw.startsWith(QUEUE_PREFIX)) {
    const filter = raw.slice(QUEUE_PREFIX.length);
    const problem = topicFilterProblem(filter);
    return problem ?? { filter, group: '$queue' };
  }
  const problem = topicFilterProblem(raw);
  return problem ?? { filter: raw, group: null };
}

/** The prefix of an exclusive subscription (EMQX): `$exclusive/<filter>`. */
export const EXCLUSIVE_PREFIX = '$exclusive/';

/**
 * The filter of `$exclusive/<filter>`: null when `raw` has no such prefix, a problem string
 * when the rest is not a valid topic filter or is itself a shared (`$share/`, `$queue/`) or
 * exclusive one: an exclusive subscription is held by one session, a share by a group.
 */
export function parseExclusiveFilter(raw: string): string | { filter: string } | null {
  if (!raw.startsWith(EXCLUSIVE_PREFIX)) return null;
  const filter = raw.slice(EXCLUSIVE_PREFIX.length);
  if (
    filter.startsWith(SHARE_PREFIX) ||
    filter.startsWith(QUEUE_PREFIX) ||
    filter.startsWith(EXCLUSIVE_PREFIX)
  ) {
    return 'an exclusive subscription cannot be shared or nested: $exclusive/<filter>';
  }
  return topicFilterProblem(filter) ?? { filter };
}

export interface DelayedTopic {
  delaySeconds: number;
  topic: string;
}

/** Largest delay EMQX accepts: 4,294,967 seconds (the u32 milliseconds bound). */
export const MAX_DELAY_SECONDS = 4_294_967;

/**
 * Parses `$delayed/<seconds>/<topic>` (and `$delay/...`). Returns null when the topic has no
 * such prefix, a problem string when it has one but is malformed.
 */
export function parseDelayedTopic(topic: string): DelayedTopic | string | null {
  let rest: string;
  if (topic.startsWith('$delayed/')) rest = topic.slice('$delayed/'.length);
  else if (topic.startsWith('$delay/')) rest = topic.slice('$delay/'.length);
  else return null;
  const slash = rest.indexOf('/');
  if (slash <= 0) return 'a delayed publish topic is $delayed/<seconds>/<topic>';
  const digits = rest.slice(0, slash);
  if (!/^[0-9]+$/.test(digits)) return `the delay '${digits}' is not a whole number of seconds`;
  const delaySeconds = Number(digits);
  if (delaySeconds > MAX_DELAY_SECONDS) return `the delay must be at most ${MAX_DELAY_SECONDS} seconds`;
  const target = rest.slice(slash + 1);
  const problem = topicNameProblem(target);
  return problem ?? { delaySeconds, topic: target };
}

export function isSysTopic(topic: string): boolean {
  return topic.charCodeAt(0) === DOLLAR;
}

const PLUS = 0x2b;
const HASH = 0x23;
const SLASH = 0x2f;
const DOLLAR = 0x24;
