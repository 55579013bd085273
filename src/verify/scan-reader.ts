/**
 * Record streams over `Store.scan` for the comparison methods: metered, rate limited, abortable, and
 * for ordered sides checked to really be in key order (a merge over an unordered stream would report
 * nonsense, so that is an error, not a difference).
 */
import { compareKeys } from '../core/key-order.js';
import type { StoredRecord } from '../core/record.js';
import type { Store } from '../core/store.js';
import type { ReadMeter } from './tally.js';

export interface RangeScan {
  /** Exclusive lower bound. */
  after?: string | null;
  /** Exclusive upper bound (needs `capabilities.rangeScan`). */
  until?: string | null;
  batchSize?: number;
  signal?: AbortSignal | undefined;
}

export async function* readRecords(store: Store, collection: string, meter: ReadMeter, range: RangeScan = {}): AsyncGenerator<StoredRecord> {
  const options: Parameters<Store['scan']>[1] = { batchSize: range.batchSize ?? 1000 };
  if (range.after != null) options.after = range.after;
  if (range.until != null) options.until = range.until;
  if (range.signal) options.signal = range.signal;
  for await (const batch of store.scan(collection, options)) {
    range.signal?.throwIfAborted();
    if (batch.rejects.length > 0) meter.rejected(batch.rejects);
    await meter.took(batch.records);
    yield* batch.records;
  }
}

/** A peekable cursor over an ordered record stream that fails loudly if the order is broken. */
export class OrderedCursor {
  private current: StoredRecord | undefined;
  private started = false;
  private done = false;
  private lastKey: string | null = null;

  constructor(
    private readonly source: AsyncIterator<StoredRecord>,
    private readonly label: string,
    private readonly bounds: { after?: string | null; until?: string | null } = {},
  ) {}

  async peek(): Promise<StoredRecord | undefined> {
    if (!this.started) await this.advance();
    return this.current;
  }

  async advance(): Promise<void> {
    this.started = true;
    if (this.done) {
      this.current = undefined;
      return;
    }
    const next = await this.source.next();
    if (next.done) {
      this.done = true;
      this.current = undefined;
      return;
    }
    const key = next.value.key;
    if (this.lastKey !== null && compareKeys(key, this.lastKey) <= 0) {
      throw new Error(`${this.label} returned key ${JSON.stringify(key)} after ${JSON.stringify(this.lastKey)}, which is not ascending UTF-8 byte order; the driver's ordered scan is broken`);
    }
    const { after, until } = this.bounds;
    if ((after != null && compareKeys(key, after) <= 0) || (until != null && compareKeys(key, until) >= 0)) {
      throw new Error(`${this.label} returned key ${JSON.stringify(key)} outside the requested range; the driver's range scan is broken`);
    }
    this.lastKey = key;
    this.current = next.value;
  }

  /** Stops the underlying scan early (closes the driver's cursor). */
  async close(): Promise<void> {
    this.done = true;
    await this.source.return?.();
  }
}
