/**
 * Full comparison of two ordered sides: one streaming merge of both key-ordered scans, like a merge
 * join. Memory holds two batches per side (the one being compared and the next, prefetched) plus the
 * tally's examples, whatever the collection's size.
 *
 * The merge walks whole batches with plain indices and awaits only when a batch runs out or a
 * difference goes to the tally: a per-record async cursor cost several promise hops per record,
 * which measured as a fifth of the CPU of a SQLite↔SQLite verify. Each side's next page is asked for
 * as soon as the current one arrives, so a network store (PostgreSQL) prepares it while this one is
 * compared instead of idling between pages.
 * Values compare with `sameValue`: identical text is equal without canonicalising, and only values
 * whose raw forms differ are canonicalised.
 */
import { sameValue } from '../core/canonical.js';
import { compareKeys } from '../core/key-order.js';
import type { StoredRecord } from '../core/record.js';
import type { ScanBatch, Store } from '../core/store.js';
import { scanOptionsOf, type RangeScan } from './scan-reader.js';
import type { DiffTally, ReadMeter } from './tally.js';

export interface MergeSides {
  source: Store;
  target: Store;
  collection: string;
  sourceMeter: ReadMeter;
  targetMeter: ReadMeter;
}

/** A UTF-16 unit where UTF-16 and UTF-8 orders can disagree (surrogates and U+E000..U+FFFF). */
const HIGH_UNIT = /[\ud800-\uffff]/;

/**
 * An ordered scan as a sequence of batches: the next batch is requested while the current one is in
 * use, and every batch is checked to continue the key order inside the requested range (a merge over
 * an unordered stream would report nonsense, so that is an error, not a difference).
 */
export class BatchCursor {
  records: StoredRecord[] = [];
  /** Position of the next record to compare in `records`. */
  i = 0;
  done = false;
  private readonly iterator: AsyncIterator<ScanBatch>;
  private next: Promise<IteratorResult<ScanBatch>> | null = null;
  private lastKey: string | null = null;

  constructor(
    scan: AsyncIterable<ScanBatch>,
    private readonly meter: ReadMeter,
    private readonly label: string,
    private readonly range: RangeScan,
  ) {
    this.iterator = scan[Symbol.asyncIterator]();
  }

  /** Loads the next non-empty batch into `records` (or sets `done`). */
  async fill(): Promise<void> {
    while (!this.done) {
      const pending = this.next ?? this.iterator.next();
      this.next = null;
      const step = await pending;
      this.range.signal?.throwIfAborted();
      if (step.done) {
        this.done = true;
        this.records = [];
        this.i = 0;
        return;
      }
      // Prefetch: the store works on the next page while this one is compared.
      this.next = this.iterator.next();
      this.next.catch(() => undefined); // surfaced when awaited; not unhandled if the merge stops first
      const batch = step.value;
      if (batch.rejects.length > 0) this.meter.rejected(batch.rejects);
      await this.meter.took(batch.records);
      this.check(batch.records);
      this.records = batch.records;
      this.i = 0;
      if (batch.records.length > 0) return;
    }
  }

  private check(records: StoredRecord[]): void {
    if (records.length === 0) return;
    let previous = this.lastKey;
    for (const r of records) {
      const key = r.key;
      // JavaScript's `>` (UTF-16 order, native) agrees with UTF-8 byte order unless the first
      // differing unit is >= 0xD800 in the later key; only then, or when `>` says no, ask compareKeys.
      if (previous !== null && !(key > previous && !HIGH_UNIT.test(key)) && compareKeys(key, previous) <= 0) {
        throw new Error(`${this.label} returned key ${JSON.stringify(key)} after ${JSON.stringify(previous)}, which is not ascending UTF-8 byte order; the driver's ordered scan is broken`);
      }
      previous = key;
    }
    const { after, until } = this.range;
    const first = records[0]!.key;
    const last = records[records.length - 1]!.key;
    const outside = (after != null && compareKeys(first, after) <= 0) ? first : (until != null && compareKeys(last, until) >= 0) ? last : null;
    if (outside !== null) {
      throw new Error(`${this.label} returned key ${JSON.stringify(outside)} outside the requested range; the driver's range scan is broken`);
    }
    this.lastKey = previous;
  }

  /** Stops the underlying scan early (closes the driver's cursor). */
  async close(): Promise<void> {
    this.done = true;
    const pending = this.next;
    this.next = null;
    if (pending) await pending.catch(() => undefined);
    await this.iterator.return?.();
  }
}

/** What a merge does with each pair of records; `equal` decides synchronously so matches cost no await. */
export interface MergeHandlers {
  /** Both sides hold the key: true counts a match, false hands the pair to `differ`. */
  equal(x: StoredRecord, y: StoredRecord): boolean;
  differ(x: StoredRecord, y: StoredRecord): void | Promise<void>;
  missing(x: StoredRecord): void | Promise<void>;
  extra(y: StoredRecord): void | Promise<void>;
  /** After each stretch of compared batches, and once at the end. */
  settle?(final: boolean): Promise<void>;
}

/** Walks two ordered cursors in step, like a merge join, and closes both at the end. */
export async function mergeCursors(s: BatchCursor, t: BatchCursor, tally: DiffTally, h: MergeHandlers): Promise<void> {
  try {
    for (;;) {
      if (s.i >= s.records.length) await s.fill();
      if (t.i >= t.records.length) await t.fill();
      const a = s.records;
      const b = t.records;
      let i = s.i;
      let j = t.i;
      if (i >= a.length && j >= b.length) break;
      let matched = 0;
      // Until one side's batch runs out; `fill` above is the only wait unless a difference is found.
      while (i < a.length && j < b.length) {
        const x = a[i]!;
        const y = b[j]!;
        const order = x.key === y.key ? 0 : compareKeys(x.key, y.key);
        if (order === 0) {
          if (h.equal(x, y)) matched++;
          else await h.differ(x, y);
          i++;
          j++;
        } else if (order < 0) {
          await h.missing(x);
          i++;
        } else {
          await h.extra(y);
          j++;
        }
      }
      // One side is exhausted for good: the rest of the other side differs.
      if (t.done) for (; i < a.length; i++) await h.missing(a[i]!);
      if (s.done) for (; j < b.length; j++) await h.extra(b[j]!);
      tally.matching += matched;
      s.i = i;
      t.i = j;
      await h.settle?.(false);
    }
    await h.settle?.(true);
  } finally {
    await s.close();
    await t.close();
  }
}

/** Compares the records of both sides within the range (default: everything) into the tally. */
export async function mergeDiff(sides: MergeSides, tally: DiffTally, range: RangeScan = {}): Promise<void> {
  const { source, target, collection } = sides;
  const s = new BatchCursor(source.scan(collection, scanOptionsOf(range)), sides.sourceMeter, `source ${source.location} scan of "${collection}"`, range);
  const t = new BatchCursor(target.scan(collection, scanOptionsOf(range)), sides.targetMeter, `target ${target.location} scan of "${collection}"`, range);
  await mergeCursors(s, t, tally, {
    equal: (x, y) => x.value === y.value || sameValue(x.value, y.value),
    differ: (x, y) => tally.diff('different', x.key, x.value, y.value),
    missing: (x) => tally.diff('missing', x.key, x.value),
    extra: (y) => tally.diff('extra', y.key, undefined, y.value),
  });
}
