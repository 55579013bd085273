/**
 * Pipelined batch writes: batch k streams its rows while batch k-1 commits, on another connection, so
 * the target never waits for the engine's per-batch work (scan hand-off, checks, COPY encoding) and the
 * engine never waits for a commit. Measured on PostgreSQL: SQLite -> postgres spent a third of its
 * time with the server idle between batches.
 *
 * The rules that keep it exactly-once and deadlock-free (the backend's side is WritePipeline):
 * - k commits only after k-1 has committed and been recorded (`committed`), so the checkpoints in
 *   the target advance in order and a crash leaves a prefix of batches.
 * - Strict: k opens its transaction only after k-1's rows are staged (`staged`), so k never writes a
 *   row before k-1 wrote it: in load mode k can only wait on k-1's locks, never the other way round.
 * - Loose, when the batches in flight are known to share no key (key-guard.ts): k opens its
 *   transaction once k-1 has opened its own (`begun`), so several batches stream at once, each on its
 *   own connection and server process. No row lock can make k-1 wait for k, and connections are
 *   still taken in batch order, so the oldest batch in flight always holds one and can finish.
 * - If k-1's first attempt fails after k began, k gives way (its commitAfter rejects with
 *   PipelineYield) and releases its locks, because k-1's retry may need them; the engine then writes k
 *   again after k-1 has settled, without pipelining. A k that has not begun yet just waits for k-1's
 *   retry to commit, so one failure does not end the pipelining of the rest of the unit.
 * The unit copier keeps at most PIPELINE_DEPTH batches in flight.
 */
import { PipelineYield } from '../core/errors.js';
import type { WritePipeline } from '../core/store.js';

/**
 * Batches in flight at once on a pipelined target. Loose batches (distinct keys) stream in parallel,
 * each on a connection of its own; strict ones overlap one write with one commit whatever the depth.
 */
export const PIPELINE_DEPTH = 3;

/** A promise with its settlers; a rejection nobody awaits is a signal, not an error. */
class Signal {
  readonly promise: Promise<void>;
  settled = false;
  private settle!: { resolve: () => void; reject: (err: Error) => void };

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.promise.catch(() => undefined);
  }

  resolve(): void {
    if (this.settled) return;
    this.settled = true;
    this.settle.resolve();
  }

  reject(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.settle.reject(err);
  }
}

export class BatchSignals {
  /** Released by the first attempt (its onBegun/onStaged), or by the commit of any attempt. */
  private readonly begun = new Signal();
  private readonly staged = new Signal();
  /** Released early, by the first attempt, rather than by a commit: a next batch may be in flight. */
  private begunEarly = false;
  private stagedEarly = false;
  /** The first attempt's outcome; `committed` is the batch's, whatever attempt commits it. */
  private readonly firstAttempt = new Signal();
  private readonly committed = new Signal();

  /** The transaction is open on its connection: a loose next batch may begin. */
  markBegun(): void {
    if (!this.begun.settled) this.begunEarly = true;
    this.begun.resolve();
  }

  /** The rows are in the open transaction: the next batch may begin. */
  markStaged(): void {
    this.markBegun();
    if (!this.staged.settled) this.stagedEarly = true;
    this.staged.resolve();
  }

  /** Committed and recorded: the next batch may begin and commit. */
  markCommitted(): void {
    this.begun.resolve();
    this.staged.resolve();
    this.firstAttempt.resolve();
    this.committed.resolve();
  }

  /**
   * The first attempt failed. A next batch that began during it gives way at its commit (this
   * batch's retry may need its locks); one that has not begun waits for the retry's commit, so a
   * failure makes only the batches in flight give way, not every batch after it.
   */
  markTrouble(): void {
    this.firstAttempt.reject(new PipelineYield());
  }

  /** The batch failed for good: every waiting next batch gives way. */
  markFailed(): void {
    const y = new PipelineYield();
    for (const s of [this.begun, this.staged, this.firstAttempt, this.committed]) s.reject(y);
  }

  /** The next batch's view of these signals; `loose` only when the two batches share no key. */
  pipelineFor(next: BatchSignals, loose: boolean): WritePipeline {
    const releasedEarly = () => (loose ? this.begunEarly : this.stagedEarly);
    const commitAfter = new Promise<void>((resolve, reject) => {
      this.firstAttempt.promise.then(resolve, (y: Error) => (releasedEarly() ? reject(y) : this.committed.promise.then(resolve, reject)));
    });
    commitAfter.catch(() => undefined);
    return {
      beginAfter: (loose ? this.begun : this.staged).promise,
      commitAfter,
      onBegun: () => next.markBegun(),
      onStaged: () => next.markStaged(),
    };
  }
}

/** Signals of a batch with nothing before it: it may begin and commit at once. */
export function firstSignals(): BatchSignals {
  const s = new BatchSignals();
  s.markCommitted();
  return s;
}
