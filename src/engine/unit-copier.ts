/**
 * Copies one unit (a collection, or a key range of one) from its checkpoint to the end:
 * scan → (transform) → rate limit → write batch + checkpoint → state checkpoint → progress.
 *
 * Invariants (see also state-store.ts):
 * - The cursor advances only after the target committed the batch, and rejects are fsynced before it,
 *   so a kill at any instant leaves a resumable state with nothing lost.
 * - On resume, a target that keeps checkpoints in its own transactions is asked first: its cursor is
 *   exactly what is committed, so no batch is applied twice. Elsewhere a batch may be applied again
 *   after a crash; upserts make that change nothing.
 * - Reading runs one batch ahead of writing, with at most PIPELINE_DEPTH batches being written (one
 *   without a pipelined target), so a slow source and a slow target overlap without unbounded buffering.
 * - Stopping (pause, SIGINT) is checked between batches: the batch in flight finishes and is checkpointed.
 * - Transient failures are retried everywhere a unit touches a backend: the target checkpoint read,
 *   table creation, each write, and each scan read (reopened from the last batch's cursor).
 */
import type { RejectInfo } from '../core/errors.js';
import { describeError, isTransient } from '../core/errors.js';
import { recordValueSize, type StoredRecord } from '../core/record.js';
import type { ScanBatch, Store } from '../core/store.js';
import type { StateStore, UnitCounters, UnitRow } from '../state/state-store.js';
import { writeBatch } from './batch-writer.js';
import { AscendingKeys } from './key-guard.js';
import { BatchSignals, PIPELINE_DEPTH, firstSignals } from './pipeline.js';
import type { EventListener, UnitProgress } from './events.js';
import type { RateLimiter } from './rate-limiter.js';
import type { RejectsFile } from './rejects-file.js';
import type { Retrier } from './retry.js';
import { applyTransform, type TransformFn } from './transform.js';

export interface UnitCopyContext {
  migrationId: string;
  source: Store;
  target: Store;
  state: StateStore;
  rejects: RejectsFile;
  batchSize: number;
  failFast: boolean;
  /** Allow a plain bulk load into a target collection that was empty when planned. */
  allowLoad: boolean;
  transform?: TransformFn;
  limiter?: RateLimiter;
  makeRetrier: (onRetry: (attempt: number, error: unknown) => void) => Retrier;
  shouldStop: () => boolean;
  emit: EventListener;
}

export type UnitOutcome = 'done' | 'paused';

export async function copyUnit(unit: UnitRow, ctx: UnitCopyContext): Promise<UnitOutcome> {
  const { source, target, state, migrationId } = ctx;
  const checkpointId = `${migrationId}/${unit.unit}`;
  const counters: UnitCounters = { read: unit.read, written: unit.written, rejected: unit.rejected, retries: unit.retries, bytes: unit.bytes };
  let cursor = unit.cursor;
  const retrier = ctx.makeRetrier((attempt, error) => {
    counters.retries++;
    ctx.emit({ type: 'retry', migrationId, unit: unit.unit, attempt, error: describeError(error) });
  });
  if (target.capabilities.transactionalCheckpoint && target.readCheckpoint) {
    // The target's own checkpoint is the truth: it commits with the data. Without one the target holds
    // nothing of this unit (a fresh start, or a target that lost its data: a Redis restart without
    // persistence, a power cut), and the unit starts over even if the state store says otherwise.
    const inTarget = await retrier(() => target.readCheckpoint!(checkpointId));
    cursor = inTarget?.cursor ?? null;
    if (inTarget?.data) Object.assign(counters, JSON.parse(inTarget.data) as UnitCounters);
    else if (!inTarget) Object.assign(counters, { read: 0, written: 0, rejected: 0, bytes: 0 });
  }
  // Load mode needs an empty target table at plan time and a transactional checkpoint, so that no
  // committed batch is ever applied again. A key the source repeats (JSONL log, Redis SCAN) makes a load
  // fail; the batch writer then upserts that batch instead.
  const mode: 'upsert' | 'load' =
    ctx.allowLoad && unit.fresh && target.capabilities.bulkLoad && target.capabilities.transactionalCheckpoint ? 'load' : 'upsert';
  const inTargetCheckpoint = target.capabilities.transactionalCheckpoint;

  await retrier(() => target.ensureCollection(unit.collection));
  state.setUnitStatus(migrationId, unit.unit, 'running');
  ctx.emit({ type: 'unit-start', migrationId, unit: unit.unit, collection: unit.collection, cursor, mode });

  const started = performance.now();
  const readAtStart = counters.read;
  const progress = (): UnitProgress => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? (counters.read - readAtStart) / seconds : 0;
    const left = unit.total !== null ? Math.max(0, unit.total - counters.read) : null;
    return {
      migrationId, unit: unit.unit, collection: unit.collection, ...counters, total: unit.total, rate,
      etaSeconds: left !== null && rate > 0 ? left / rate : null,
    };
  };
  const appendRejects = (rejects: RejectInfo[]) => {
    if (rejects.length === 0) return;
    ctx.rejects.append(rejects);
    for (const reject of rejects) ctx.emit({ type: 'reject', migrationId, unit: unit.unit, reject });
  };

  const scanAbort = new AbortController();
  // A transient read failure (the source restarted, a connection dropped) is retried like a write: the
  // scan is opened again from the cursor of the last batch read, so it yields the failed batch again.
  let readFrom = cursor ?? unit.rangeAfter;
  // A target that refuses malformed JSON itself (per record, pinned back on the source line) spares the
  // source a parse of every value.
  const validateJson = !target.capabilities.validatesJson;
  // A target that writes JSON as bytes takes the source's bytes as they are, and rereads a value it
  // refuses, so the source need not prove where each value ends; a transform wants strings.
  const jsonBytes = !validateJson && target.capabilities.jsonBytes && !ctx.transform;
  const openScan = () => source
    .scan(unit.collection, { after: readFrom, until: unit.rangeUntil, batchSize: ctx.batchSize, validateJson, jsonBytes, proveExtent: !jsonBytes, signal: scanAbort.signal })
    [Symbol.asyncIterator]();
  let iterator = openScan();
  const readNext = () => retrier(async () => {
    try {
      return await iterator.next();
    } catch (err) {
      if (isTransient(err) && !scanAbort.signal.aborted) {
        const dead = iterator;
        iterator = openScan();
        await dead.return?.().catch(() => undefined);
      }
      throw err;
    }
  }, scanAbort.signal);
  let pending: Promise<IteratorResult<ScanBatch>> | null = readNext();
  let outcome: UnitOutcome = 'done';
  const elapsedBefore = unit.elapsedMs;
  // Pipelined targets get batch k's rows while the batches before commit (pipeline.ts); the rest one
  // batch at a time.
  const pipelined = inTargetCheckpoint && target.capabilities.pipelinedWrites;
  // A load whose keys are proven distinct may stream several batches at once.
  const guard = pipelined && mode === 'load' ? new AscendingKeys() : null;
  // What the target's checkpoint records: the counters as if every batch in flight lands whole.
  const predicted: UnitCounters = { ...counters };
  const inFlight: InFlight[] = [];
  try {
    while (pending) {
      const next = await pending;
      if (next.done) break;
      readFrom = next.value.cursor;
      if (ctx.shouldStop()) {
        outcome = 'paused';
        break;
      }
      pending = readNext();
      pending.catch(() => undefined); // surfaced when awaited; avoids an unhandled rejection while we write
      const latest = startWrite(next.value, inFlight.at(-1) ?? null);
      inFlight.push(latest);
      // The oldest batch is recorded before more are read: PIPELINE_DEPTH batches in flight at most.
      if (inFlight.length >= (pipelined ? PIPELINE_DEPTH : 1)) await inFlight.shift()!.done;
    }
    while (inFlight.length > 0) await inFlight.shift()!.done;
  } catch (err) {
    // No transaction may outlive the unit: let the batches in flight give way or finish first.
    await Promise.allSettled(inFlight.map((f) => f.done));
    throw err;
  } finally {
    scanAbort.abort();
    await iterator.return?.().catch(() => undefined);
  }
  const elapsed = elapsedBefore + (performance.now() - started);
  if (outcome === 'done') {
    state.setUnitStatus(migrationId, unit.unit, 'done', null, counters, elapsed);
  } else {
    state.setUnitStatus(migrationId, unit.unit, 'pending', null, counters, elapsed);
  }
  ctx.emit({ type: 'unit-done', status: outcome === 'done' ? 'done' : 'paused', ...progress() });
  return outcome;

  /** Writes a batch; its bookkeeping (counters, rejects, the state checkpoint) runs after the previous batch's. */
  function startWrite(batch: ScanBatch, before: InFlight | null): InFlight {
    const signals = new BatchSignals();
    let admit!: () => void;
    const admitted = new Promise<void>((resolve) => (admit = resolve));
    const done = (async () => {
      try {
        await writeOne(batch, signals, before, admit);
        signals.markCommitted();
      } catch (err) {
        signals.markFailed();
        throw err;
      } finally {
        admit();
      }
    })();
    done.catch(() => undefined); // awaited by the loop, in order
    return { signals, admitted, done };
  }

  async function writeOne(batch: ScanBatch, signals: BatchSignals, before: InFlight | null, admit: () => void): Promise<void> {
    let records = batch.records;
    const rejects: RejectInfo[] = [...batch.rejects];
    const read = records.length + batch.rejects.length;
    const fallback = `${source.location} ${unit.collection}`;
    const locationOf = batch.locationOf;
    let transformed = false;
    if (ctx.transform && records.length > 0) {
      const t = await applyTransform(ctx.transform, unit.collection, records, locationOf, fallback);
      records = t.records;
      rejects.push(...t.rejects);
      transformed = true;
    }
    let byKey: Map<string, number> | null = null;
    const locate = (record: StoredRecord): string => {
      if (!locationOf || transformed) return fallback;
      byKey ??= new Map(batch.records.map((r, i) => [r.key, i]));
      const i = byKey.get(record.key);
      return i === undefined ? fallback : locationOf(i);
    };
    // Admission runs in batch order (a transform may finish out of order): the rate limit, the
    // rejects the source already knows (fsynced before anything of this batch commits), the predicted
    // counters and the key guard all see the batches as the source gave them.
    await before?.admitted;
    if (ctx.limiter && records.length > 0) await ctx.limiter.take(records.length);
    let bytes = 0;
    for (const r of records) bytes += recordValueSize(r);
    appendRejects(rejects);
    Object.assign(predicted, {
      read: predicted.read + read, written: predicted.written + records.length, rejected: predicted.rejected + rejects.length, bytes: predicted.bytes + bytes,
    });
    const checkpointData = JSON.stringify(predicted);
    const loose = guard?.admit(records) ?? false;
    admit();
    const result = await writeBatch(records, {
      target,
      collection: unit.collection,
      mode,
      retrier,
      failFast: ctx.failFast,
      locate,
      ...(inTargetCheckpoint ? { checkpoint: { id: checkpointId, cursor: batch.cursor, data: checkpointData } } : {}),
      ...(pipelined ? { pipeline: { previous: before?.signals ?? firstSignals(), previousDone: before?.done ?? Promise.resolve(), own: signals, loose } } : {}),
    });
    if (before) await before.done;
    appendRejects(result.rejected);
    const refused = records.length - result.written;
    predicted.written -= refused;
    predicted.rejected += refused;
    counters.read += read;
    counters.rejected += rejects.length + result.rejected.length;
    counters.written += result.written;
    counters.bytes += bytes;
    state.checkpoint(migrationId, unit.unit, batch.cursor, counters, elapsedBefore + (performance.now() - started));
    if (ctx.failFast && counters.rejected > 0) throw new FailFastStop(unit.collection);
    ctx.emit({ type: 'progress', ...progress() });
  }
}

interface InFlight {
  signals: BatchSignals;
  /** Settles once the batch has passed admission (or failed before it). */
  admitted: Promise<void>;
  /** Settles once the batch is committed and recorded (or failed). */
  done: Promise<void>;
}

export class FailFastStop extends Error {
  constructor(collection: string) {
    super(`[cutover] a record of collection "${collection}" was rejected and --fail-fast is set; see the rejects file, fix the data, and resume`);
    this.name = 'FailFastStop';
  }
}
