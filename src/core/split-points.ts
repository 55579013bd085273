import type { SplitPoint } from './store.js';

/**
 * Where to cut `count` ordered records into `parts` ranges of about equal size: the 0-based position of
 * the last record of every range but the last. A backend reads the two keys at each position (the
 * range's last key and the next range's first) and hands them to `splitPointsOf`.
 */
export function cutPositions(count: number, parts: number): number[] {
  const step = Math.ceil(count / Math.max(1, parts));
  const out: number[] = [];
  for (let at = step - 1; out.length < parts - 1 && at < count - 1; at += step) out.push(at);
  return out;
}

/** Split points from the key pairs read at the cut positions (a pair cut short by a shrinking table is dropped). */
export function splitPointsOf(pairs: string[][]): SplitPoint[] {
  return pairs.filter((p) => p.length === 2).map(([previous, key]) => ({ key: key!, previous: previous! }));
}
