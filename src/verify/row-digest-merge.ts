/**
 * The full merge for two stores that digest each record's value next to the data (PostgreSQL: MD5 of
 * the jsonb text): keys and 33-character digests cross the wire and are merged instead of values, so
 * neither the network nor this process carries the documents. Measured on 1M records between two
 * PostgreSQL schemas: 6.8 CPU-s here for the plain merge, most of it turning rows into strings, and 4.7
 * with digests.
 *
 * Exactness: equal digests mean equal value texts, as the server prints them, unless MD5 collides
 * (about 2^-128 per record; no adversary chooses both sides of a migration). Where digests differ, both
 * values are read by key and compared canonically, as the plain merge compares them, because equal
 * values may print differently (`1.0` and `1.00` in jsonb). Missing and extra records are read only
 * for the examples the report keeps. Both stores must name the same `rowDigestFamily`, which carries
 * a probe computed by each server, so servers that print or hash differently never compare digests.
 */
import { sameValue } from '../core/canonical.js';
import type { ScanBatch, ScanOptions, Store } from '../core/store.js';
import { BatchCursor, mergeCursors, type MergeSides } from './full-diff.js';
import { scanOptionsOf, type RangeScan } from './scan-reader.js';
import type { DiffTally, ReadMeter } from './tally.js';

/** Optional driver methods: a digest per record, computed by the store. Not part of `Store` yet. */
export interface RowDigestSource {
  /** Names the digest; two stores' digests are compared only when their families are equal. */
  rowDigestFamily(signal?: AbortSignal): Promise<string>;
  /** Like `scan`, in key order, but each record's value is its digest (a string). */
  scanRowDigests(collection: string, options: ScanOptions): AsyncIterable<ScanBatch>;
}

export function hasRowDigests(store: Store): store is Store & RowDigestSource {
  const s = store as Partial<RowDigestSource>;
  return typeof s.rowDigestFamily === 'function' && typeof s.scanRowDigests === 'function';
}

/** Both stores digest rows the same way (a failed probe, e.g. MD5 off in FIPS mode, means no). */
export async function sameRowDigests(source: Store, target: Store, signal?: AbortSignal): Promise<boolean> {
  if (!hasRowDigests(source) || !hasRowDigests(target)) return false;
  try {
    const [a, b] = await Promise.all([source.rowDigestFamily(signal), target.rowDigestFamily(signal)]);
    return a === b;
  } catch {
    signal?.throwIfAborted();
    return false;
  }
}

/** Keys whose digests differ, read and compared together. */
const SUSPECTS_PER_READ = 500;
/** A digest row is a tenth of a typical record: more of them per page, so fewer queries per side. */
const ROWS_PER_RECORD = 5;

export async function rowDigestMerge(sides: MergeSides & { source: Store & RowDigestSource; target: Store & RowDigestSource }, tally: DiffTally, range: RangeScan = {}): Promise<void> {
  const { source, target, collection } = sides;
  const options = scanOptionsOf({ ...range, batchSize: (range.batchSize ?? 1000) * ROWS_PER_RECORD });
  const s = new BatchCursor(source.scanRowDigests(collection, options), sides.sourceMeter, `source ${source.location} digest scan of "${collection}"`, range);
  const t = new BatchCursor(target.scanRowDigests(collection, options), sides.targetMeter, `target ${target.location} digest scan of "${collection}"`, range);
  let suspects: string[] = [];
  const oneSided = async (kind: 'missing' | 'extra', key: string) => {
    // The value only for an example the report keeps; a count needs none.
    const store = kind === 'missing' ? source : target;
    const meter = kind === 'missing' ? sides.sourceMeter : sides.targetMeter;
    const value = tally.wantsExample(kind) ? (await read(store, meter, collection, [key]))[0]?.value : undefined;
    await tally.diff(kind, key, kind === 'missing' ? value : undefined, kind === 'extra' ? value : undefined);
  };
  await mergeCursors(s, t, tally, {
    equal: (x, y) => x.value === y.value,
    differ: (x) => void suspects.push(x.key),
    missing: (x) => oneSided('missing', x.key),
    extra: (y) => oneSided('extra', y.key),
    settle: async (final) => {
      if (suspects.length === 0 || (!final && suspects.length < SUSPECTS_PER_READ)) return;
      const keys = suspects;
      suspects = [];
      await compareValues(sides, tally, keys);
    },
  });
}

async function read(store: Store, meter: ReadMeter, collection: string, keys: string[]) {
  const records = await store.getMany(collection, keys);
  await meter.took(records);
  return records;
}

/** Both values of each key, compared as the plain merge compares them. */
async function compareValues(sides: MergeSides, tally: DiffTally, keys: string[]): Promise<void> {
  const [a, b] = await Promise.all([
    read(sides.source, sides.sourceMeter, sides.collection, keys),
    read(sides.target, sides.targetMeter, sides.collection, keys),
  ]);
  for (let k = 0; k < keys.length; k++) {
    const x = a[k];
    const y = b[k];
    // Both were there a moment ago; a record written or deleted since is reported as it is now.
    if (x && y) {
      if (x.value === y.value || sameValue(x.value, y.value)) tally.matching++;
      else await tally.diff('different', keys[k]!, x.value, y.value);
    } else if (x) await tally.diff('missing', keys[k]!, x.value);
    else if (y) await tally.diff('extra', keys[k]!, undefined, y.value);
  }
}
