/**
 * How an ACL rule's topic matches what a client does, exactly as EMQX decides it
 * (emqx_authz_rule.erl `match_topic/2`, which calls emqx_topic.erl `match/2` on words).
 *
 * Both sides are split into levels ("words") at `/`. The left side is what the client asks for:
 * the topic name of a PUBLISH, or the topic filter of a SUBSCRIBE (without `$share/<group>/`);
 * the right side is the rule's filter. Levels are compared left to right:
 *
 *   1. both sides used up                   -> match
 *   2. the same word on both sides          -> next level (so `+` matches `+` and `#` matches `#`)
 *   3. `+` in the rule and any word left    -> next level (any word: `b`, `+` or even `#`)
 *   4. the rule's last word is `#`          -> match (also for zero levels left: `a/#` covers `a`)
 *   5. anything else                        -> no match
 *
 * plus one guard before the walk (emqx_topic `match_words/2`): a left side whose first word starts
 * with `$` never matches a rule whose first word is a wildcard, so `#` and `+/#` do not cover
 * `$SYS/...` (as MQTT's own rule [MQTT-4.7.2-1] for subscriptions).
 *
 * For a PUBLISH this is plain MQTT topic matching. For a SUBSCRIBE it asks whether the rule's
 * filter "covers" the subscribed filter word by word, with EMQX's quirk that a `+` in the rule
 * also accepts a `#` in the subscription: a rule for `a/+` matches a subscription to `a/#`
 * (rule 3), while a rule for `a/b` does not (rule 5), and `{eq, "a/#"}` matches only `a/#` itself.
 * Aviary keeps the quirk so an EMQX acl.conf decides the same way here (docs/authorization.md).
 *
 * `{eq, Topic}` rules are string equality (words are equal exactly when the strings are).
 */

const DOLLAR = 0x24;

/** The levels of a topic or filter (`a//b` has an empty middle level). */
export function words(topic: string): string[] {
  return topic.split('/');
}

/** emqx_topic:match(Name, Filter) on words: does the rule filter `filter` match `name`? */
export function matchWords(name: readonly string[], filter: readonly string[]): boolean {
  const first = filter[0];
  if ((first === '+' || first === '#') && name.length > 0 && name[0]!.charCodeAt(0) === DOLLAR) {
    return false;
  }
  const last = filter.length - 1;
  for (let i = 0; ; i++) {
    const nameLeft = i < name.length;
    if (i > last) return !nameLeft;
    const f = filter[i]!;
    if (nameLeft && (name[i] === f || f === '+')) continue;
    return f === '#' && i === last;
  }
}
