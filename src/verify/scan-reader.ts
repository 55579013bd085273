/**
 * Record streams over `Store.scan` for the comparison methods: metered, rate limited and abortable.
 * The ordered merge reads whole batches instead (`BatchCursor` in full-diff.ts).
 */
import type { StoredRecord } from '../core/record.js';
import type { ScanOptions, Store } from '../core/store.js';
import type { ReadMeter } from './tally.js';

export interface RangeScan {
  /** Exclusive lower bound. */
  after?: string | null;
  /** Exclusive upper bound (needs `capabilities.rangeScan`). */
  until?: string | null;
  batchSize?: number;
  signal?: AbortSignal | undefined;
}

/** `Store.scan` options for a verify read of the range: keys and values only, so a backend may skip
 * updatedAt/version. */
export function scanOptionsOf(range: RangeScan): ScanOptions {
  const options: ScanOptions = { batchSize: range.batchSize ?? 1000, skipMetadata: true };
  if (range.after != null) options.after = range.after;
  if (range.until != null) options.until = range.until;
  if (range.signal) options.signal = range.signal;
  return options;
}

export async function* readRecords(store: Store, collection: string, meter: ReadMeter, range: RangeScan = {}): AsyncGenerator<StoredRecord> {
  for await (const batch of store.scan(collection, scanOptionsOf(range))) {
    range.signal?.throwIfAborted();
    if (batch.rejects.length > 0) meter.rejected(batch.rejects);
    await meter.took(batch.records);
    yield* batch.records;
  }
}
