/**
 * Key ranges for `--split N`: one pass over the keys of an ordered, range-scannable source picks
 * N-1 boundaries at even record counts. A range is (after, until): `after` is an exclusive scan cursor
 * and `until` an exclusive upper bound. At each boundary key b with predecessor p, one range ends with
 * until = b and the next starts with after = p, so every key lands in exactly one range.
 */
import type { Store } from '../core/store.js';

export interface KeyRange {
  after: string | null;
  until: string | null;
}

export async function splitRanges(source: Store, collection: string, parts: number, count: number): Promise<(KeyRange | null)[]> {
  if (parts < 2 || count < parts * 2 || !source.capabilities.rangeScan || !(await source.isOrdered(collection))) return [null];
  const step = Math.ceil(count / parts);
  const bounds: { key: string; previous: string }[] = [];
  let seen = 0;
  let previous: string | null = null;
  for await (const batch of source.scan(collection, { batchSize: 5000 })) {
    for (const r of batch.records) {
      if (seen > 0 && seen % step === 0 && bounds.length < parts - 1 && previous !== null) bounds.push({ key: r.key, previous });
      previous = r.key;
      seen++;
    }
  }
  const ranges: KeyRange[] = [];
  let after: string | null = null;
  for (const bound of bounds) {
    ranges.push({ after, until: bound.key });
    after = bound.previous;
  }
  ranges.push({ after, until: null });
  return ranges;
}
