/**
 * Pipelined batch writes: batch k streams its rows while batch k-1 commits, on another connection, so
 * the target never waits for the engine's per-batch work (scan hand-off, checks, COPY encoding) and the
 * engine never waits for a commit. Measured on PostgreSQL: SQLite -> postgres spent a third of its
 * time with the server idle between batches.
 *
 * The rules that keep it exactly-once and deadlock-free (the backend's side is WritePipeline):
 * - k opens its transaction only after k-1's rows are staged (`staged`), so k never writes a row
 *   before k-1 wrote it: in load mode k can only wait on k-1's locks, never the other way round.
 * - k commits only after k-1 has committed and been recorded (`committed`), so the checkpoints in
 *   the target advance in order and a crash leaves a prefix of batches.
 * - If k-1's first attempt fails, k gives way at once (both signals reject with PipelineYield) and
 *   releases its locks, because k-1's retry may need them; the engine then writes k again after k-1
 *   has settled, without pipelining.
 * At most two batches are in flight: the loop waits for k-1 to be recorded before it reads k+1.
 */
import { PipelineYield } from '../core/errors.js';
import type { WritePipeline } from '../core/store.js';

export class BatchSignals {
  readonly staged: Promise<void>;
  readonly committed: Promise<void>;
  private resolveStaged!: () => void;
  private rejectStaged!: (err: Error) => void;
  private resolveCommitted!: () => void;
  private rejectCommitted!: (err: Error) => void;

  constructor() {
    this.staged = new Promise<void>((resolve, reject) => {
      this.resolveStaged = resolve;
      this.rejectStaged = reject;
    });
    this.committed = new Promise<void>((resolve, reject) => {
      this.resolveCommitted = resolve;
      this.rejectCommitted = reject;
    });
    // Nobody may be listening (the last batch of a unit); a rejection here is a signal, not an error.
    this.staged.catch(() => undefined);
    this.committed.catch(() => undefined);
  }

  /** The rows are in the open transaction (or the batch is done): the next batch may begin. */
  markStaged(): void {
    this.resolveStaged();
  }

  /** Committed and recorded: the next batch may commit. Implies staged. */
  markCommitted(): void {
    this.resolveStaged();
    this.resolveCommitted();
  }

  /** The first attempt failed: the next batch must give way. A no-op once committed. */
  markTrouble(): void {
    const y = new PipelineYield();
    this.rejectStaged(y);
    this.rejectCommitted(y);
  }

  /** The next batch's view of these signals. */
  pipelineFor(next: BatchSignals): WritePipeline {
    return { beginAfter: this.staged, commitAfter: this.committed, onStaged: () => next.markStaged() };
  }
}

/** Signals of a batch with nothing before it: it may begin and commit at once. */
export function firstSignals(): BatchSignals {
  const s = new BatchSignals();
  s.markCommitted();
  return s;
}
