/**
 * Writes one batch to the target, with its checkpoint, surviving what can be survived:
 * - transient errors: retried with backoff (the batch is idempotent, or rolled back, so retrying is safe);
 * - a permanent error: the batch is bisected until the records that fail alone are found; those are
 *   rejected with the error's message and every other record lands. The checkpoint is then written
 *   on its own (an empty batch carrying it) so it still commits only after every piece did.
 * A bulk-load attempt ('load') falls back to 'upsert' for any retry or bisection: after an ambiguous
 * failure some rows may already be there, and only upsert is safe to repeat.
 * Pipelined (pipeline.ts): only the first attempt overlaps the batch before; its failure makes the next
 * batch give way, and every later attempt waits until the batch before has settled.
 */
import { PipelineYield, describeError, isTransient, type RejectInfo } from '../core/errors.js';
import type { StoredRecord } from '../core/record.js';
import type { PutOptions, Store, TargetCheckpoint } from '../core/store.js';
import type { BatchSignals } from './pipeline.js';
import type { Retrier } from './retry.js';

export interface BatchWriteOptions {
  target: Store;
  collection: string;
  mode: 'upsert' | 'load';
  checkpoint?: TargetCheckpoint;
  retrier: Retrier;
  failFast: boolean;
  /** Source location of a record, for the rejects file. */
  locate: (record: StoredRecord) => string;
  /**
   * Overlap with the batch before: its signals, its whole write, this batch's own signals, and whether
   * the two may stream at once (they share no key; see pipeline.ts).
   */
  pipeline?: { previous: BatchSignals; previousDone: Promise<void>; own: BatchSignals; loose: boolean };
}

export interface BatchWriteResult {
  written: number;
  rejected: RejectInfo[];
}

export async function writeBatch(records: StoredRecord[], o: BatchWriteOptions): Promise<BatchWriteResult> {
  let attempt = 0;
  const pipeline = o.pipeline;
  const put = (recs: StoredRecord[], mode: 'upsert' | 'load', checkpoint?: TargetCheckpoint) =>
    o.retrier(async () => {
      const first = attempt++ === 0;
      const options: PutOptions = { mode: first ? mode : 'upsert' };
      if (checkpoint) options.checkpoint = checkpoint;
      if (pipeline && first) options.pipeline = pipeline.previous.pipelineFor(pipeline.own, pipeline.loose);
      // A failed batch before ends the unit: give way at once instead of retrying against its error.
      else if (pipeline) await pipeline.previousDone.catch(() => Promise.reject(new PipelineYield()));
      try {
        return await o.target.putMany(o.collection, recs, options);
      } catch (err) {
        if (first) pipeline?.own.markTrouble();
        throw err;
      }
    });

  try {
    const res = await put(records, o.mode, o.checkpoint);
    return { written: res.written, rejected: res.rejected.map((r) => withLocation(r, records, o)) };
  } catch (err) {
    if (err instanceof PipelineYield) {
      // The batch before failed its first attempt: write this one again, in order, once it has settled.
      await pipeline!.previousDone;
      const { pipeline: _, ...sequential } = o;
      return writeBatch(records, sequential);
    }
    if (pipeline) await pipeline.previousDone;
    if (isTransient(err) || records.length === 0) throw err;
    if (o.mode !== 'load' && o.failFast) throw err;
  }
  if (o.mode === 'load') {
    // A bulk load also fails when a key is already there (a log that repeats a key across batches, a
    // SCAN that returns a key twice, a write from the application): the whole batch as an upsert is
    // one round trip, far cheaper than bisecting.
    try {
      const res = await put(records, 'upsert', o.checkpoint);
      return { written: res.written, rejected: res.rejected.map((r) => withLocation(r, records, o)) };
    } catch (err) {
      if (isTransient(err) || o.failFast) throw err;
    }
  }
  const result: BatchWriteResult = { written: 0, rejected: [] };
  await bisect(records, o, result);
  if (o.checkpoint) await o.retrier(() => o.target.putMany(o.collection, [], { checkpoint: o.checkpoint! }));
  return result;
}

async function bisect(records: StoredRecord[], o: BatchWriteOptions, into: BatchWriteResult): Promise<void> {
  try {
    const res = await o.retrier(() => o.target.putMany(o.collection, records, { mode: 'upsert' }));
    into.written += res.written;
    into.rejected.push(...res.rejected.map((r) => withLocation(r, records, o)));
    return;
  } catch (err) {
    if (isTransient(err)) throw err;
    if (records.length === 1) {
      const record = records[0]!;
      into.rejected.push({ collection: o.collection, key: record.key, location: o.locate(record), reason: `${o.target.driver} refused it: ${describeError(err)}` });
      return;
    }
  }
  const mid = records.length >> 1;
  await bisect(records.slice(0, mid), o, into);
  await bisect(records.slice(mid), o, into);
}

/**
 * A target reports where *it* would have put the record; the rejects file wants where it came from.
 * A reject that already names that place is the source's own reading (a line the target had refused,
 * read again in full: RawJsonRecord.reread), so it is not put down to the target.
 */
function withLocation(reject: RejectInfo, records: StoredRecord[], o: BatchWriteOptions): RejectInfo {
  const record = records.find((r) => r.key === reject.key);
  if (!record) return reject;
  const location = o.locate(record);
  return location === reject.location ? reject : { ...reject, location, reason: `${o.target.driver}: ${reject.reason}` };
}
