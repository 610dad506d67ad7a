/**
 * "Did you mean ...?" for misspelt configuration keys: the known key with the smallest edit
 * distance (insertions, deletions, substitutions and swaps of neighbouring characters: the
 * "optimal string alignment" variant of Damerau-Levenshtein), if it is close enough to be a
 * plausible typo rather than a different word.
 */

/** The largest edit distance still offered as a suggestion, relative to the key's length. */
const MAX_DISTANCE_RATIO = 0.4;
const MIN_ALLOWED_DISTANCE = 1;
/** The shortest key that is matched as the beginning of a longer one. */
const MIN_PREFIX_LENGTH = 4;

/** Edit distance between `a` and `b`, counting a swap of two neighbouring characters as one edit. */
export function editDistance(a: string, b: string): number {
  // d[i][j] = distance between the first i characters of a and the first j of b.
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The candidate closest to `word`, or `undefined` when none is a plausible typo of it. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const allowed = Math.max(MIN_ALLOWED_DISTANCE, Math.floor(word.length * MAX_DISTANCE_RATIO));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (bestDistance <= allowed) return best;
  // A key written short ("retry" for "retry_interval"): the one known key it begins.
  const lower = word.toLowerCase();
  const extensions = candidates.filter((candidate) => candidate.toLowerCase().startsWith(`${lower}_`));
  return lower.length >= MIN_PREFIX_LENGTH && extensions.length === 1 ? extensions[0] : undefined;
}
