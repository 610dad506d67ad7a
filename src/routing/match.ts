/**
 * Does one topic filter match one topic name? The single-pair form of the trie's walk, for
 * scans where building a trie is not worth it, and the reference the retained index
 * (src/persistence/memory/retained-index.ts) is tested against.
 * `#` matches its parent level too (`a/#` matches `a`) [MQTT-4.7.1-2]; wildcards at the first
 * level do not match topics that start with `$` [MQTT-4.7.2-1].
 */
export function filterMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === DOLLAR && (filter.charCodeAt(0) === PLUS || filter.charCodeAt(0) === HASH)) {
    return false;
  }
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

const DOLLAR = 0x24;
const PLUS = 0x2b;
const HASH = 0x23;
