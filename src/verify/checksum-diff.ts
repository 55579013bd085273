/**
 * Checksum comparison by range bisection (the technique data-diff uses): split the key space into
 * ranges, compute an order-independent digest of each range on both sides (XOR of per-record SHA-256
 * `recordDigest`s, plus the count), and descend only into ranges whose digests differ, down to ranges
 * small enough to compare record by record.
 *
 * Ranges are half-open `[from, until)` of real source keys. `Store.scan` takes an exclusive `after`,
 * so a range is read as a point lookup of `from` plus `scan({ after: from, until })`; no synthetic
 * keys are ever sent to a backend.
 *
 * Without help from the backend, the digests are computed here, so the first level reads both sides
 * once (as `full` does) and every level below re-reads only the differing ranges. A backend that can
 * compute the digest itself implements `RangeDigestSource` (detected with `hasRangeDigest`); then only
 * digests cross the wire until a range is small, which is the point of this mode for SQL backends.
 * Pushdown needs both sides to compute the *same* digest, so each side names its digest family and
 * pushdown runs only when the families are equal (e.g. two PostgreSQL servers); otherwise the digests
 * are computed here. Ranges that still differ when small are always compared record by record with
 * the canonical comparison, so a digest can only ever cause extra work, never a reported difference.
 */
import { createHash } from 'node:crypto';
import { sameValue } from '../core/canonical.js';
import { recordDigest } from '../core/digest.js';
import { compareKeys } from '../core/key-order.js';
import type { RecordValue, StoredRecord } from '../core/record.js';
import type { Store } from '../core/store.js';
import { mergeDiff, type MergeSides } from './full-diff.js';
import { readRecords } from './scan-reader.js';
import type { DiffTally, ReadMeter } from './tally.js';

export interface KeyRange {
  /** Inclusive lower bound; null is the start. */
  from: string | null;
  /** Exclusive upper bound; null is the end. */
  until: string | null;
}

export interface RangeDigest {
  count: number;
  /**
   * The range's digest in the store's digest family; compared only byte for byte with a digest of
   * the same family. In `REFERENCE_DIGEST_FAMILY`: XOR of `recordDigest(key, value)` (32 bytes).
   */
  digest: Uint8Array;
}

/** The family of `rangeDigestOf`; a store without `digestFamily` must compute exactly that. */
export const REFERENCE_DIGEST_FAMILY = 'cutover-sha256-xor-v1';

/**
 * Optional driver methods for pushing the hashing into the database. Not part of `Store` yet.
 * Two stores' digests are compared only when their `digestFamily` is equal; a family must change
 * whenever its digest of the same records could, and equal records (by `sameValue`) should digest
 * equal (otherwise they cost a record-by-record comparison, never a wrong answer).
 */
export interface RangeDigestSource {
  /** Names the digest this store computes. @default REFERENCE_DIGEST_FAMILY */
  digestFamily?(signal?: AbortSignal): Promise<string>;
  rangeDigest(collection: string, range: KeyRange, signal?: AbortSignal): Promise<RangeDigest>;
  /**
   * Up to `parts - 1` keys of the collection inside the range that split it into parts of similar
   * size, ascending. `expected` is the range's record count when the caller knows it.
   */
  splitKeys(collection: string, range: KeyRange, parts: number, signal?: AbortSignal, expected?: number): Promise<string[]>;
}

export function hasRangeDigest(store: Store): store is Store & RangeDigestSource {
  const s = store as Partial<RangeDigestSource>;
  return typeof s.rangeDigest === 'function' && typeof s.splitKeys === 'function';
}

export async function digestFamilyOf(store: Store & RangeDigestSource, signal?: AbortSignal): Promise<string> {
  return store.digestFamily ? store.digestFamily(signal) : REFERENCE_DIGEST_FAMILY;
}

const DIGEST_BYTES = 32;
/** What one digest answer costs on the wire, roughly: the digest and a count. */
const DIGEST_WIRE_BYTES = DIGEST_BYTES + 8;

/** Per-record digest; a value that is not valid JSON still digests (its raw text, tagged apart). */
export function safeRecordDigest(key: string, value: RecordValue): Buffer {
  try {
    return recordDigest(key, value);
  } catch {
    return createHash('sha256').update(key, 'utf8').update('\u0000X').update(value as string, 'utf8').digest();
  }
}

export function xorInto(acc: Uint8Array, digest: Uint8Array): void {
  for (let i = 0; i < DIGEST_BYTES; i++) acc[i]! ^= digest[i]!;
}

/** The reference digest of a list of records (what a pushdown implementation must match). */
export function rangeDigestOf(records: Iterable<StoredRecord>): RangeDigest {
  const digest = new Uint8Array(DIGEST_BYTES);
  let count = 0;
  for (const r of records) {
    xorInto(digest, safeRecordDigest(r.key, r.value));
    count++;
  }
  return { count, digest };
}

function sameDigest(a: RangeDigest, b: RangeDigest): boolean {
  return a.count === b.count && Buffer.compare(a.digest, b.digest) === 0;
}

export interface ChecksumOptions {
  leafSize: number;
  fanout: number;
  batchSize: number;
  signal?: AbortSignal | undefined;
  /** Bisect with digests computed here when the databases cannot compute them (see VerifyTuning). */
  clientDigests?: boolean | undefined;
  /** Called with both sides' record counts when the whole-collection digests already gave them. */
  onTotals?: ((source: number, target: number) => void) | undefined;
}

export async function checksumDiff(sides: MergeSides, tally: DiffTally, sourceCount: number, options: ChecksumOptions): Promise<'checksum-bisect' | 'sql-pushdown' | 'merge'> {
  const { source, target } = sides;
  const all: KeyRange = { from: null, until: null };
  if (hasRangeDigest(source) && hasRangeDigest(target)) {
    const [a, b] = await Promise.all([digestFamilyOf(source, options.signal), digestFamilyOf(target, options.signal)]);
    if (a === b) {
      await pushdownRange(sides, tally, all, Infinity, options, source, target, options.onTotals);
      return 'sql-pushdown';
    }
  }
  if (!options.clientDigests) {
    await mergeDiff(sides, tally, { batchSize: options.batchSize, signal: options.signal });
    return 'merge';
  }
  await clientRange(sides, tally, all, sourceCount, options);
  return 'checksum-bisect';
}

/** Compares a range record by record: the point lookup of `from`, then a merge of both range scans. */
async function leafDiff(sides: MergeSides, tally: DiffTally, range: KeyRange, options: ChecksumOptions): Promise<void> {
  if (range.from !== null) {
    const [a] = await sides.source.getMany(sides.collection, [range.from]);
    const [b] = await sides.target.getMany(sides.collection, [range.from]);
    await sides.sourceMeter.took([a]);
    await sides.targetMeter.took([b]);
    if (a && b) {
      if (sameValue(a.value, b.value)) tally.match();
      else await tally.diff('different', a.key, a.value, b.value);
    } else if (a) await tally.diff('missing', a.key, a.value);
    else if (b) await tally.diff('extra', b.key, undefined, b.value);
  }
  await mergeDiff(sides, tally, { after: range.from, until: range.until, batchSize: options.batchSize, signal: options.signal });
}

/** The records of `[from, until)` in key order. */
async function* readRange(store: Store, collection: string, meter: ReadMeter, range: KeyRange, options: ChecksumOptions): AsyncGenerator<StoredRecord> {
  if (range.from !== null) {
    const [first] = await store.getMany(collection, [range.from]);
    await meter.took([first]);
    if (first) yield first;
  }
  yield* readRecords(store, collection, meter, { after: range.from, until: range.until, batchSize: options.batchSize, signal: options.signal });
}

async function clientRange(sides: MergeSides, tally: DiffTally, range: KeyRange, expected: number, options: ChecksumOptions): Promise<void> {
  if (expected <= options.leafSize) return leafDiff(sides, tally, range, options);
  const parts = Math.max(2, Math.min(options.fanout, Math.ceil(expected / options.leafSize)));

  // Source pass: choose split keys at even positions and digest each part.
  const splits: string[] = [];
  const sourceParts: RangeDigest[] = [{ count: 0, digest: new Uint8Array(DIGEST_BYTES) }];
  let position = 0;
  for await (const r of readRange(sides.source, sides.collection, sides.sourceMeter, range, options)) {
    if (position > 0 && splits.length < parts - 1 && position >= Math.floor(((splits.length + 1) * expected) / parts)) {
      splits.push(r.key);
      sourceParts.push({ count: 0, digest: new Uint8Array(DIGEST_BYTES) });
    }
    const part = sourceParts[sourceParts.length - 1]!;
    part.count++;
    xorInto(part.digest, safeRecordDigest(r.key, r.value));
    position++;
  }

  // Target pass: the same parts, by the source's split keys.
  const targetParts: RangeDigest[] = sourceParts.map(() => ({ count: 0, digest: new Uint8Array(DIGEST_BYTES) }));
  for await (const r of readRange(sides.target, sides.collection, sides.targetMeter, range, options)) {
    const part = targetParts[partOf(splits, r.key)]!;
    part.count++;
    xorInto(part.digest, safeRecordDigest(r.key, r.value));
  }

  for (let i = 0; i < sourceParts.length; i++) {
    const sub: KeyRange = { from: i === 0 ? range.from : splits[i - 1]!, until: i < splits.length ? splits[i]! : range.until };
    const s = sourceParts[i]!;
    if (sameDigest(s, targetParts[i]!)) {
      tally.matching += s.count;
      continue;
    }
    // A part no smaller than its parent would recurse for ever; compare it directly instead.
    if (s.count >= position) await leafDiff(sides, tally, sub, options);
    else await clientRange(sides, tally, sub, s.count, options);
  }
}

/** Index of the part holding `key`: parts are [.., s0), [s0, s1), …, [s_last, ..). */
function partOf(splits: string[], key: string): number {
  let lo = 0;
  let hi = splits.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(key, splits[mid]!) >= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Compares both sides' digests of `range`; equal digests and counts prove the range equal (see the
 * driver's digest for how strong that is: 64-bit per-record hashes summed, plus the count). A
 * differing range is split at keys of the larger side and each part compared again, down to
 * `leafSize` records, which are compared record by record. `parentSize` stops a split that did not
 * make the range smaller (keys written meanwhile) from recursing for ever.
 */
async function pushdownRange(
  sides: MergeSides,
  tally: DiffTally,
  range: KeyRange,
  parentSize: number,
  options: ChecksumOptions,
  source: Store & RangeDigestSource,
  target: Store & RangeDigestSource,
  onTotals?: (source: number, target: number) => void,
): Promise<void> {
  options.signal?.throwIfAborted();
  const [s, t] = await Promise.all([
    source.rangeDigest(sides.collection, range, options.signal),
    target.rangeDigest(sides.collection, range, options.signal),
  ]);
  onTotals?.(s.count, t.count);
  sides.sourceMeter.addBytes(DIGEST_WIRE_BYTES);
  sides.targetMeter.addBytes(DIGEST_WIRE_BYTES);
  if (sameDigest(s, t)) {
    tally.matching += s.count;
    return;
  }
  const size = Math.max(s.count, t.count);
  // A side with nothing in the range has nothing to narrow down: every record there is a difference.
  if (size <= options.leafSize || size >= parentSize || s.count === 0 || t.count === 0) return leafDiff(sides, tally, range, options);
  const parts = Math.max(2, Math.min(options.fanout, Math.ceil(size / options.leafSize)));
  // Split where the records are: a range the target fills and the source barely has is split by the target's keys.
  const [splitter, meter] = s.count >= t.count ? [source, sides.sourceMeter] : [target, sides.targetMeter];
  const splits = (await splitter.splitKeys(sides.collection, range, parts, options.signal, size)).filter(
    (k) => (range.from === null || compareKeys(k, range.from) > 0) && (range.until === null || compareKeys(k, range.until) < 0),
  );
  for (const k of splits) meter.addBytes(Buffer.byteLength(k, 'utf8'));
  if (splits.length === 0) return leafDiff(sides, tally, range, options);
  const bounds = [range.from, ...splits, range.until];
  for (let i = 0; i + 1 < bounds.length; i++) {
    await pushdownRange(sides, tally, { from: bounds[i]!, until: bounds[i + 1]! }, size, options, source, target);
  }
}
