/**
 * "Did you mean ...?" for misspelt configuration keys: the known key with the smallest edit
 * distance (Levenshtein: insertions, deletions, substitutions), if it is close enough to be a
 * plausible typo rather than a different word.
 */

/** The largest edit distance still offered as a suggestion, relative to the key's length. */
const MAX_DISTANCE_RATIO = 0.4;
const MIN_ALLOWED_DISTANCE = 1;

/** Levenshtein distance between `a` and `b`, with one row of memory. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      const deletion = (previous[j] ?? 0) + 1;
      const insertion = (current[j - 1] ?? 0) + 1;
      current.push(Math.min(substitution, deletion, insertion));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
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
  return bestDistance <= allowed ? best : undefined;
}
