/**
 * Shadow and validation reads: read the other store for the same keys and compare with what the
 * primary returned. The other read starts together with the primary read (so validation costs the
 * slower of the two, not their sum) and is bounded by a timeout; shadow reads are also sampled and
 * capped in number, and a shadow read over the cap is skipped rather than queued, so a slow new
 * store can never build up work on the primary path.
 *
 * A write to one of the keys that is queued, running, or enqueued during the comparison would make
 * the stores differ for a moment for a good reason, so such a comparison is skipped, not reported.
 */
import type { StoredRecord } from '../core/record.js';
import type { Store } from '../core/store.js';
import type { DiscrepancyRecorder } from './discrepancy-recorder.js';
import { lockKey, type KeyQueues, type WriteWatch } from './key-queue.js';
import type { DualMetrics } from './metrics.js';
import type { DualFlags, Side } from './modes.js';
import { compareRecords } from './value-compare.js';

export interface ShadowReaderDeps {
  stores: Record<Side, Store>;
  queues: KeyQueues;
  recorder: DiscrepancyRecorder;
  metrics: DualMetrics;
  timed<T>(side: Side, op: string, fn: () => Promise<T>): Promise<T>;
  /** Queue old → new copies of keys found different (read-repair). */
  repair(collection: string, keys: string[]): void;
}

export interface ComparisonHandle {
  /** Compares once the primary's records are known. Never rejects. */
  finish(primaryRecords: (StoredRecord | undefined)[]): Promise<void>;
  /** The primary read failed: nothing to compare. */
  cancel(): void;
}

const TIMEOUT = Symbol('timeout');

export class ShadowReader {
  private inflight = 0;
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly deps: ShadowReaderDeps) {}

  /**
   * Starts reading `keys` from the side other than `primary`. Returns null when the comparison is
   * not made (sampled out, too many in flight, or a write to the keys is pending).
   */
  begin(collection: string, keys: string[], primary: Side, flags: DualFlags, kind: 'shadow' | 'validate'): ComparisonHandle | null {
    const { queues, metrics, stores } = this.deps;
    const settings = flags.shadow;
    if (kind === 'shadow') {
      if (settings.sampleRate < 1 && Math.random() >= settings.sampleRate) {
        metrics.skipped('sampled-out');
        return null;
      }
      if (this.inflight >= settings.maxConcurrent) {
        metrics.skipped('saturated');
        return null;
      }
    }
    const locks = keys.map((k) => lockKey(collection, k));
    if (locks.some((l) => queues.isPending(l))) {
      metrics.skipped('in-flight-write');
      return null;
    }
    const other: Side = primary === 'old' ? 'new' : 'old';
    const watch = queues.watch(locks);
    this.inflight++;
    const read = () => {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([
        this.deps.timed(other, kind === 'shadow' ? 'shadow-get' : 'validate-get', () => stores[other].getMany(collection, keys)),
        new Promise<typeof TIMEOUT>((resolve) => { timer = setTimeout(() => resolve(TIMEOUT), settings.timeoutMs); }),
      ]).finally(() => clearTimeout(timer));
    };
    // Validation waits for the other read, so it starts now, beside the primary read. A shadow read
    // starts on the next turn of the event loop: a driver that does its work synchronously (SQLite)
    // would otherwise run it before the caller gets the primary's answer.
    const otherRead = kind === 'validate' ? read() : new Promise<Awaited<ReturnType<typeof read>>>((resolve, reject) => {
      setImmediate(() => read().then(resolve, reject));
    });
    // Nobody may be awaiting yet; an unhandled rejection must not crash the process.
    otherRead.catch(() => {});
    let done = false;
    const cleanup = () => {
      if (done) return;
      done = true;
      this.inflight--;
      watch.release();
    };
    return {
      finish: (primaryRecords) => {
        const task = this.compare(collection, keys, primary, flags, primaryRecords, otherRead, watch, kind).finally(cleanup);
        this.running.add(task);
        void task.finally(() => this.running.delete(task));
        return task;
      },
      cancel: cleanup,
    };
  }

  private async compare(
    collection: string,
    keys: string[],
    primary: Side,
    flags: DualFlags,
    primaryRecords: (StoredRecord | undefined)[],
    otherRead: Promise<(StoredRecord | undefined)[] | typeof TIMEOUT>,
    watch: WriteWatch,
    kind: 'shadow' | 'validate',
  ): Promise<void> {
    const { metrics, recorder } = this.deps;
    let otherRecords: (StoredRecord | undefined)[] | typeof TIMEOUT;
    try {
      otherRecords = await otherRead;
    } catch {
      metrics.skipped('error');
      return;
    }
    if (otherRecords === TIMEOUT) {
      metrics.skipped('timeout');
      return;
    }
    if (watch.dirty) {
      metrics.skipped('in-flight-write');
      return;
    }
    const differing: string[] = [];
    for (let i = 0; i < keys.length; i++) {
      const oldRecord = primary === 'old' ? primaryRecords[i] : otherRecords[i];
      const newRecord = primary === 'old' ? otherRecords[i] : primaryRecords[i];
      const diff = compareRecords(oldRecord, newRecord);
      if (!diff) continue;
      differing.push(keys[i]!);
      recorder.record({
        operation: kind === 'shadow' ? 'shadow-read' : 'read',
        kind: diff,
        collection,
        key: keys[i]!,
        old: oldRecord?.value,
        new: newRecord?.value,
      });
    }
    if (differing.length > 0 && flags.readRepair && primary === 'old') this.deps.repair(collection, differing);
  }

  /** Waits for comparisons in flight (close()). */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
