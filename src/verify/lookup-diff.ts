/**
 * Full comparison of an unordered source (a JSONL log) with a target that scans in key order and
 * answers point lookups cheaply (SQL backends, a file folder). The source streams in its own order;
 * each batch's keys are looked up in the target with one `getMany`. This reads each side once and
 * needs no temp copy of the values, where hash partitioning writes both sides to disk and reads them
 * back.
 *
 * A log may repeat a key, and its later line wins, so a key is judged on its last value: the keys
 * currently judged missing or different are kept (with their values, for the examples), and a key that
 * comes again is judged again, replacing its earlier verdict. A key whose earlier occurrence matched
 * and whose later one does not simply becomes pending then. So at the end the pending keys are exactly
 * the keys whose last value differs, and everything else seen matched: `matching = distinct − pending`.
 * The distinct source keys are counted by `SeenKeys` (memory, then hash-partitioned temp files).
 *
 * Records only the target holds: the distinct source keys found in the target are `distinct − missing`,
 * so the target holds `targetCount − (distinct − missing)` extras. While the log keeps to key order,
 * its batches' ranges of the target are read back to back, which counts the target up to the log's
 * last key; then only the rows after it are counted, instead of the whole table. When the extras are
 * 0 there are none and nothing more is read. Otherwise the target's keys are scanned once and those never seen in the source
 * are the extras (their values are read by `getMany` for the examples).
 *
 * Memory: one or two batches, the pending differences (at most `maxPending`; past that the collection
 * differs so much that hash partitioning, whose memory does not depend on the differences, is used
 * instead) and `SeenKeys`' in-memory part.
 */
import { sameValue } from '../core/canonical.js';
import { compareKeys } from '../core/key-order.js';
import type { RecordValue, StoredRecord } from '../core/record.js';
import type { ScanBatch, Store } from '../core/store.js';
import type { MergeSides } from './full-diff.js';
import { SeenKeys } from './key-set.js';
import { allPlain, hasRangeImage, sameImage, type RangeImage } from './range-image.js';
import type { DiffTally } from './tally.js';

/**
 * Optional driver method: each record judged by the store itself, null where it holds an equal value,
 * else what `getMany` finds for the key (for the caller to judge). A database that spells values its
 * own way (PostgreSQL's jsonb) compares faster than cutover can canonicalise both sides.
 */
export interface ValueComparer {
  compareMany(collection: string, records: StoredRecord[]): Promise<(StoredRecord | undefined | null)[]>;
}

function hasValueComparer(store: Store): store is Store & ValueComparer {
  return typeof (store as Partial<ValueComparer>).compareMany === 'function';
}

export interface LookupOptions {
  batchSize: number;
  /** Differing records held at once before giving up for hash partitions. */
  maxPending: number;
  /** Distinct source keys held in memory before they spill to temp files. */
  memoryKeys: number;
  signal?: AbortSignal | undefined;
}

export type LookupOutcome =
  | { done: true; sourceCount: number; targetCount: number; keysSpilled: boolean; extrasScanned: boolean }
  | { done: false; reason: string; sourceCount?: number; targetCount?: number };

interface Pending {
  kind: 'missing' | 'different';
  source: RecordValue;
  target?: RecordValue;
}

export async function lookupDiff(sides: MergeSides, tally: DiffTally, options: LookupOptions): Promise<LookupOutcome> {
  const { source, target, collection, signal } = { ...sides, signal: options.signal };
  // The target's count is needed for the extras (and to size `seen`), but counting walks the whole
  // target (SQLite: every leaf of the table). A log in key order has its ranges read from the target
  // back to back, which counts them on the way: then only the rows after its last key are counted.
  let targetCount: number | null = null;
  const countTarget = async () => (targetCount ??= await target.count(collection, signal ? { signal } : undefined));
  // Typed by its initialiser, so that TypeScript does not narrow it to null: the closures set it.
  let seen = null as SeenKeys | null;
  const seenKeys = async () => {
    // Partitions such that each holds about `memoryKeys / 2` keys when the source is the size of the target.
    const partitions = Math.min(1024, Math.max(16, Math.ceil((2 * (await countTarget())) / Math.max(1, options.memoryKeys))));
    return (seen ??= new SeenKeys(options.memoryKeys, partitions));
  };
  // A target that judges values itself reads no ranges back.
  const comparer = hasValueComparer(target) ? target : null;
  // Target rows read in the ranges of the batches so far, while every range was read whole.
  let coveredRows = 0;
  let covered = comparer === null;
  const pending = new Map<string, Pending>();
  try {
    // Values are compared as stored: identical text matches, and text that differs is compared
    // canonically, where text that is not JSON simply differs. So the reader need not parse each value.
    // Plain lines as bytes (RawJsonRecord): a batch in key order may then be proved equal to the target's
    // range with one byte comparison of its image (range-image.ts), decoding nothing.
    const imaging = hasRangeImage(target);
    const scanOptions = { batchSize: options.batchSize, skipMetadata: true, validateJson: false, jsonBytes: imaging, ...(signal ? { signal } : {}) };
    const scan = source.scan(collection, scanOptions)[Symbol.asyncIterator]();
    // While the log keeps to key order from its start, its keys are distinct, so they are counted
    // instead of collected; `seen` gets that prefix from a second read only if the order breaks or
    // extras must be looked for. (Should the second read not meet the same cursor, it reads the whole
    // source: more keys than needed, all of them the source's, so the count stays exact.)
    let prefixCount = 0;
    let prefixEnd: string | null = null;
    let inPrefix = true;
    const collectPrefix = async () => {
      if (!inPrefix) return;
      inPrefix = false;
      const keys = await seenKeys();
      if (prefixCount === 0) return;
      for await (const again of source.scan(collection, scanOptions)) {
        for (const r of again.records) keys.add(r.key);
        if (again.cursor === prefixEnd) break;
      }
    };
    const nextBatch = async (): Promise<ScanBatch | null> => {
      const step = await scan.next();
      signal?.throwIfAborted();
      return step.done ? null : step.value;
    };
    // The end of the last batch read in key order, while the source keeps to key order.
    let sortedUpTo: string | null | undefined = null;
    const lookUp = (batch: ScanBatch | null) => {
      if (batch === null || batch.records.length === 0) return null;
      const keys = batch.records.map((r) => r.key);
      const after = sortedUpTo !== undefined && ascending(keys, sortedUpTo) ? sortedUpTo : undefined;
      sortedUpTo = after === undefined ? undefined : keys[keys.length - 1]!;
      const p = (async (): Promise<Found> => {
        if (after !== undefined && imaging && allPlain(batch.records)) {
          const image = await target.rangeImage(collection, after, keys[keys.length - 1]!, signal);
          if (image && sameImage(batch.records, image)) {
            coveredRows += image.rows;
            return image;
          }
        }
        if (comparer) return comparer.compareMany(collection, batch.records);
        const range = after !== undefined ? await rangeLookup(sides, keys, after, options) : null;
        if (range) coveredRows += range.rows;
        else covered = false;
        return range?.records ?? target.getMany(collection, keys);
      })();
      p.catch(() => undefined); // awaited below; not unhandled if the source fails first
      return { targets: p, sorted: after !== undefined };
    };
    // Batches read and looked up ahead of the one being judged, in order: one, or two where the
    // target judges values itself, so that its server processes work while this one judges.
    const ahead = comparer ? 2 : 1;
    let reading: Promise<unknown> = Promise.resolve();
    const readNext = () => {
      const entry = reading.then(async () => {
        const batch = await nextBatch();
        return batch === null ? null : { batch, found: lookUp(batch) };
      });
      entry.catch(() => undefined); // awaited in turn below
      reading = entry;
      return entry;
    };
    const entries = Array.from({ length: ahead + 1 }, readNext);
    try {
      for (;;) {
        const entry = await entries.shift()!;
        if (entry === null) break;
        entries.push(readNext());
        const { batch, found } = entry;
        if (batch.rejects.length > 0) sides.sourceMeter.rejected(batch.rejects);
        await sides.sourceMeter.took(batch.records);
        if (found !== null) {
          const targets = await found.targets;
          if (Array.isArray(targets)) {
            await sides.targetMeter.took(targets);
            // Records the store judged equal (null) were compared without being read back.
            let equal = 0;
            for (const t of targets) if (t === null) equal++;
            if (equal > 0) await sides.targetMeter.compared(equal);
          } else {
            sides.targetMeter.addBytes(targets.bytes);
            await sides.targetMeter.compared(batch.records.length);
          }
          // A batch is `sorted` only while every key so far ascends (see lookUp).
          if (found.sorted && inPrefix) {
            prefixCount += batch.records.length;
            prefixEnd = batch.cursor;
          } else await collectPrefix();
          if (Array.isArray(targets)) judge(batch.records, targets, pending, inPrefix ? null : seen);
          else allMatch(batch.records, pending, inPrefix ? null : seen);
          if (pending.size > options.maxPending) {
            return { done: false, reason: `more than ${options.maxPending} records differ` };
          }
        }
      }
    } finally {
      await scan.return?.();
    }

    const distinct = inPrefix ? prefixCount : seen!.distinct();
    let missing = 0;
    for (const p of pending.values()) if (p.kind === 'missing') missing++;
    // Every batch in key order and its range read whole: the ranges cover the target up to the last key.
    if (targetCount === null && inPrefix && covered) targetCount = coveredRows + (await countAfter(sides, sortedUpTo ?? null, options));
    const targets = await countTarget();
    const extras = targets - (distinct - missing);
    if (extras < 0) {
      // More distinct source keys in the target than the target holds: a side changed while it was read.
      return { done: false, reason: `the target's count (${targets}) is below the source keys found in it (${distinct - missing}), so a side changed during the comparison`, sourceCount: distinct, targetCount: targets };
    }

    tally.matching += distinct - pending.size;
    const keys = [...pending.keys()].sort(compareKeys);
    for (const key of keys) {
      const p = pending.get(key)!;
      await tally.diff(p.kind, key, p.source, p.target);
    }
    pending.clear();
    if (extras > 0) {
      await collectPrefix();
      await findExtras(sides, tally, seen!, options);
    }
    return { done: true, sourceCount: distinct, targetCount: targets, keysSpilled: seen?.spilled ?? false, extrasScanned: extras > 0 };
  } finally {
    seen?.dispose();
  }
}

/** The target's records after `after` (all of them for null), counted from a key scan. */
async function countAfter(sides: MergeSides, after: string | null, options: LookupOptions): Promise<number> {
  let n = 0;
  for await (const batch of sides.target.scan(sides.collection, { after, batchSize: options.batchSize, skipMetadata: true, ...(options.signal ? { signal: options.signal } : {}) })) {
    n += batch.records.length + batch.rejects.length;
  }
  return n;
}

/** Whether the keys ascend strictly, all after `after` (null: the start). */
function ascending(keys: string[], after: string | null): boolean {
  if (after !== null && compareKeys(keys[0]!, after) <= 0) return false;
  for (let i = 1; i < keys.length; i++) if (compareKeys(keys[i - 1]!, keys[i]!) >= 0) return false;
  return true;
}

/**
 * A log written in key order (an export, cutover's own output) is looked up by reading the target's
 * range after the previous batch up to this batch's last key: one ordered range read instead of a
 * point lookup per key (about twice as fast on SQLite). Null when the target holds many more keys in
 * that range than the batch (the source skips much of it), so point lookups are cheaper.
 */
async function rangeLookup(sides: MergeSides, keys: string[], after: string | null, options: LookupOptions): Promise<{ records: (StoredRecord | undefined)[]; rows: number } | null> {
  const last = keys[keys.length - 1]!;
  const found = new Map<string, StoredRecord>();
  let read = 0;
  const scanOptions = { after, batchSize: keys.length + 1, skipMetadata: true, ...(options.signal ? { signal: options.signal } : {}) };
  scan: for await (const batch of sides.target.scan(sides.collection, scanOptions)) {
    for (const r of batch.records) {
      if (compareKeys(r.key, last) > 0) break scan;
      found.set(r.key, r);
    }
    read += batch.records.length;
    if (read > 2 * keys.length) return null;
  }
  return { records: keys.map((k) => found.get(k)), rows: found.size };
}

/** What a batch is compared with: the target's records (null: judged equal by the target), or an image that equals the batch's. */
type Found = (StoredRecord | undefined | null)[] | RangeImage;

/** A batch whose image equals the target's range: every record matches (as `judge` would find). */
function allMatch(records: StoredRecord[], pending: Map<string, Pending>, seen: SeenKeys | null): void {
  for (const r of records) {
    seen?.add(r.key);
    if (pending.size > 0) pending.delete(r.key);
  }
}

/** Judges one source batch against its lookups, in order, so a later line of a key overrides an earlier one. */
function judge(records: StoredRecord[], targets: (StoredRecord | undefined | null)[], pending: Map<string, Pending>, seen: SeenKeys | null): void {
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const t = targets[i];
    seen?.add(r.key);
    if (t === null || (t !== undefined && (r.value === t.value || sameValue(r.value, t.value)))) {
      if (pending.size > 0) pending.delete(r.key);
    } else if (t === undefined) {
      pending.set(r.key, { kind: 'missing', source: r.value });
    } else {
      pending.set(r.key, { kind: 'different', source: r.value, target: t.value });
    }
  }
}

/** Scans the target's keys once; those the source never had are extras (values read for the examples). */
async function findExtras(sides: MergeSides, tally: DiffTally, seen: SeenKeys, options: LookupOptions): Promise<void> {
  const { target, collection } = sides;
  async function* targetKeys(): AsyncGenerator<string[]> {
    const scanOptions = { batchSize: options.batchSize, skipMetadata: true, ...(options.signal ? { signal: options.signal } : {}) };
    for await (const batch of target.scan(collection, scanOptions)) {
      options.signal?.throwIfAborted();
      await sides.targetMeter.took(batch.records);
      yield batch.records.map((r) => r.key);
    }
  }
  await seen.unseen(targetKeys(), async (keys) => {
    const records = await target.getMany(collection, keys);
    for (let i = 0; i < keys.length; i++) {
      const r = records[i];
      // Gone since the scan: no longer an extra.
      if (r !== undefined) await tally.diff('extra', keys[i]!, undefined, r.value);
    }
  }, options.batchSize);
}
