/**
 * Key ranges for splitting a collection into units copied in parallel. A range is (after, until):
 * `after` is an exclusive scan cursor and `until` an exclusive upper bound. At each boundary key b with
 * predecessor p, one range ends with until = b and the next starts with after = p, so every key lands
 * in exactly one range.
 *
 * `--split N` asks for N ranges. Without it, a collection of AUTO_SPLIT_RECORDS records or more is
 * split by itself (one range per AUTO_SPLIT_RECORDS, at most `rangeSlots`), when the source finds the
 * boundaries in the database (`splitPoints`): a single copy leaves the target idle while cutover
 * prepares each batch, two in parallel keep it busy.
 */
import type { SplitPoint, Store } from '../core/store.js';
import { PIPELINE_DEPTH } from './pipeline.js';

export interface KeyRange {
  after: string | null;
  until: string | null;
}

export const AUTO_SPLIT_RECORDS = 500_000;

/**
 * How many ranges an automatic split may copy at once: `concurrency` units, where a pipelined target
 * already streams PIPELINE_DEPTH batches per unit, so one range keeps it as busy as several (measured:
 * SQLite -> postgres of 1M records was no faster as two ranges than as one, and the server did 5-20%
 * more work). A target not known yet (a dry run before it exists) counts as not pipelined.
 */
export function rangeSlots(concurrency: number, target: Store | null): number {
  return target?.capabilities.pipelinedWrites ? Math.max(1, Math.floor(concurrency / PIPELINE_DEPTH)) : concurrency;
}

/** How many ranges were asked for: `split` when given (1 turns splitting off), else automatic where it is cheap. */
function partsFor(source: Store, records: number, o: { split?: number; autoSplitRecords?: number }, concurrency: number): number {
  if (o.split !== undefined) return o.split;
  if (!source.splitPoints) return 1;
  return Math.max(1, Math.min(concurrency, Math.floor(records / (o.autoSplitRecords ?? AUTO_SPLIT_RECORDS))));
}

/** How many ranges a collection is copied as: what `partsFor` asks for, where the source can scan ranges at all. */
export async function plannedRanges(source: Store, collection: string, records: number, o: { split?: number; autoSplitRecords?: number }, concurrency: number): Promise<number> {
  const parts = partsFor(source, records, o, concurrency);
  if (parts < 2 || records < parts * 2 || !source.capabilities.rangeScan || !(await source.isOrdered(collection))) return 1;
  return parts;
}

/** The key ranges for `parts` from `plannedRanges`; one unbounded range (null) when no cut is found. */
export async function splitRanges(source: Store, collection: string, parts: number, count: number): Promise<(KeyRange | null)[]> {
  if (parts < 2) return [null];
  const bounds = source.splitPoints ? await source.splitPoints(collection, parts, count) : await scannedSplitPoints(source, collection, parts, count);
  if (bounds.length === 0) return [null];
  const ranges: KeyRange[] = [];
  let after: string | null = null;
  for (const bound of bounds) {
    ranges.push({ after, until: bound.key });
    after = bound.previous;
  }
  ranges.push({ after, until: null });
  return ranges;
}

/** One pass over the keys, for sources that cannot find boundaries themselves: N-1 cuts at even counts. */
async function scannedSplitPoints(source: Store, collection: string, parts: number, count: number): Promise<SplitPoint[]> {
  const step = Math.ceil(count / parts);
  const bounds: SplitPoint[] = [];
  let seen = 0;
  let previous: string | null = null;
  for await (const batch of source.scan(collection, { batchSize: 5000, skipMetadata: true })) {
    for (const r of batch.records) {
      if (seen > 0 && seen % step === 0 && bounds.length < parts - 1 && previous !== null) bounds.push({ key: r.key, previous });
      previous = r.key;
      seen++;
    }
  }
  return bounds;
}
