/**
 * "Did you mean ...?" for a misspelt name: the candidates nearest by optimal string alignment
 * distance (Damerau-Levenshtein with adjacent transpositions), by the rule commander applies to
 * flags (commander/lib/suggestSimilar.js, which its package does not export): at most 3 edits, more
 * than 40% of the longer name unchanged, and every candidate at the best distance.
 */

/** the most edits a suggestion may need */
const MAX_DISTANCE = 3;
/** the share of the longer name that must survive the edits (commander's minSimilarity) */
const MIN_SIMILARITY = 0.4;

/** Optimal string alignment distance between a and b (the longer length when the lengths alone differ by more than MAX_DISTANCE). */
export function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > MAX_DISTANCE) return Math.max(a.length, b.length);
  const w = b.length + 1;
  const d = new Uint16Array((a.length + 1) * w);
  for (let i = 0; i <= a.length; i++) d[i * w] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * w + j] + 1, d[i * w + j - 1] + 1, d[(i - 1) * w + j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[(i - 2) * w + j - 2] + 1);
      d[i * w + j] = v;
    }
  }
  return d[a.length * w + b.length];
}

/** The candidates nearest to `word` (sorted; empty when none is near enough). Case is ignored. */
export function nearest(word: string, candidates: Iterable<string>): string[] {
  let best = MAX_DISTANCE;
  let out: string[] = [];
  const w = word.toLowerCase();
  for (const c of new Set(candidates)) {
    if (c.length <= 1) continue;
    const dist = editDistance(w, c.toLowerCase());
    const len = Math.max(w.length, c.length);
    if ((len - dist) / len <= MIN_SIMILARITY) continue;
    if (dist < best) {
      best = dist;
      out = [c];
    } else if (dist === best) out.push(c);
  }
  return out.sort();
}

/** "did you mean a?" / "did you mean one of a, b?" / "" */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  return phrase(nearest(word, candidates));
}

/** "did you mean a?" for a list of suggestions already chosen */
export function phrase(near: readonly string[]): string {
  if (near.length === 0) return '';
  return near.length === 1 ? `did you mean ${near[0]}?` : `did you mean one of ${near.join(', ')}?`;
}
