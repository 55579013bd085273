/**
 * Shadow and validation reads: read the other store for the same keys and compare with what the
 * primary returned, bounded by a timeout.
 *
 * A validation read starts together with the primary read (so validation costs the slower of the
 * two, not their sum). A shadow read is only queued on the request path (sampling, the cap, a pending
 * write check and one array push); one setImmediate per turn of the event loop starts every queued
 * shadow read, after the callers have their answers, so a driver that does its work synchronously
 * (SQLite) does not run the shadow read on the caller's time. While shadow reads keep coming, each
 * such turn schedules the next one itself, so a request usually finds it scheduled already. Shadow reads are sampled and capped in
 * number (queued and running together); one over the cap is skipped rather than queued, so a slow
 * new store can never build up work on the primary path.
 *
 * A write to one of the keys that is queued, running, or enqueued during the comparison would make
 * the stores differ for a moment for a good reason, so such a comparison is skipped, not reported.
 */
import { performance } from 'node:perf_hooks';
import type { StoredRecord } from '../core/record.js';
import type { Store } from '../core/store.js';
import type { DiscrepancyRecorder } from './discrepancy-recorder.js';
import { Deadlines, type Expiring } from './deadlines.js';
import { lockKey, wroteAny, type KeyQueues, type WriteWatch } from './key-queue.js';
import type { DualMetrics, Observer } from './metrics.js';
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

/** A queued shadow comparison, as the request path sees it. */
export interface ShadowTicket {
  /** The primary's records, in the order of the keys. */
  deliver(primaryRecords: (StoredRecord | undefined)[]): void;
  /** The primary read failed: nothing to compare. */
  cancel(): void;
}

const TIMEOUT = Symbol('timeout');

type Records = (StoredRecord | undefined)[];

const QUEUED = 0;
const READING = 1;
const DONE = 2;

/** One shadow comparison: its primary half arrives from the request path, its other half from the read started by the batch. */
class ShadowJob implements ShadowTicket, Expiring {
  state = QUEUED;
  primaryRecords: Records | null = null;
  otherRecords: Records | null = null;
  cancelled = false;
  deadline = 0;
  private lockKeys: string[] | null = null;
  /** Where the read began in the queues' record of writes (valid in generation `readGeneration`). */
  readFrom = 0;
  readGeneration = -1;
  /** A write to the keys was seen when the record was taken while the read was in flight. */
  dirty = false;
  /** Set instead, for a read still in flight when the record was taken. */
  watch: WriteWatch | null = null;
  /** Index in the reader's `reading` list. */
  slot = -1;

  constructor(
    readonly reader: ShadowReader,
    readonly collection: string,
    readonly keys: string[],
    readonly primary: Side,
    readonly flags: DualFlags,
    /** Position in the queues' record of writes when the primary read was issued. */
    readonly recentFrom: number,
  ) {}

  /** The lock keys, built when first needed (most comparisons never need them). */
  get locks(): string[] {
    return (this.lockKeys ??= this.keys.map((k) => lockKey(this.collection, k)));
  }

  deliver(primaryRecords: Records): void {
    if (this.state === DONE || this.primaryRecords || this.cancelled) return;
    this.primaryRecords = primaryRecords;
    this.reader.settling++;
    if (this.otherRecords) this.reader.complete(this);
  }

  /** The other read is past its timeout. */
  expire(): void {
    this.reader.timedOut(this);
  }

  cancel(): void {
    if (this.state === DONE || this.primaryRecords || this.cancelled) return;
    this.cancelled = true;
    this.reader.settling++;
    // A queued job is dropped when its batch is taken, a reading one when its read settles.
    if (this.otherRecords) this.reader.end(this);
  }
}

export class ShadowReader {
  /** Shadow jobs queued or running (the cap counts both) and validations in flight. */
  private inflight = 0;
  /** Jobs whose caller has its answer (or an error) and whose comparison is not over: close() waits for these. */
  settling = 0;
  private queued: ShadowJob[] = [];
  private scheduled = false;
  /**
   * Jobs past their queue and not yet compared: the other read in flight (with its deadline), or
   * done and waiting for the primary's records (no deadline). While the reader does not take the
   * queues' record of writes on every turn, the timer's ticks do, so the record stays short.
   */
  private readonly reading = new Deadlines<ShadowJob>(() => {
    if (this.reading.size > 0 && this.queued.length === 0) this.takeRecording();
  });
  private readonly running = new Set<Promise<void>>();
  private idle: (() => void)[] = [];
  private readonly runQueued = () => this.startQueued();

  /** Latency series of shadow reads per side, bound on first use. */
  private readonly shadowLatency: Partial<Record<Side, Observer>> = {};

  constructor(private readonly deps: ShadowReaderDeps) {}

  /**
   * Queues a shadow comparison of `keys`, read from the side other than `primary` once the caller
   * has its answer. Returns null when the comparison is not made (sampled out, too many in flight,
   * or a write to the keys is pending).
   */
  enqueue(collection: string, keys: string[], primary: Side, flags: DualFlags): ShadowTicket | null {
    const { queues, metrics } = this.deps;
    const settings = flags.shadow;
    if (settings.sampleRate < 1 && Math.random() >= settings.sampleRate) {
      metrics.skipped('sampled-out');
      return null;
    }
    if (this.inflight >= settings.maxConcurrent) {
      metrics.skipped('saturated');
      return null;
    }
    if (queues.anyPending(collection, keys)) {
      metrics.skipped('in-flight-write');
      return null;
    }
    const job = new ShadowJob(this, collection, keys, primary, flags, queues.startRecording());
    this.inflight++;
    this.queued.push(job);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.runQueued);
    }
    return job;
  }

  /** Starts the other read of every queued job (one turn after they were queued). */
  private startQueued(): void {
    this.scheduled = false;
    const jobs = this.queued;
    this.queued = [];
    const { queues, metrics, stores } = this.deps;
    // Writes enqueued since each job's primary read was issued; jobs queued from here on start a new record.
    const recent = this.takeRecording();
    const now = performance.now();
    let readFrom = -1;
    for (const job of jobs) {
      if (job.cancelled) {
        this.end(job);
        continue;
      }
      if (recent.length > job.recentFrom && wroteAny(recent, job.recentFrom, job.locks)) {
        metrics.skipped('in-flight-write');
        this.end(job);
        continue;
      }
      if (readFrom < 0) readFrom = queues.startRecording();
      job.readFrom = readFrom;
      job.readGeneration = queues.recordingGeneration;
      job.state = READING;
      this.reading.add(job, job.flags.shadow.timeoutMs, now);
      const other: Side = job.primary === 'old' ? 'new' : 'old';
      // Timed like every backend call, with the cells bound once (see metrics.ts).
      const latency = (this.shadowLatency[other] ??= metrics.latencyOf(other, 'shadow-get'));
      const start = performance.now();
      let read: Promise<Records>;
      try {
        read = stores[other].getMany(job.collection, job.keys);
      } catch (err) {
        read = Promise.reject(err);
      }
      read.then(
        (records) => {
          latency.observe((performance.now() - start) / 1000);
          if (job.state !== READING) return; // timed out
          job.otherRecords = records;
          job.deadline = Infinity; // the read is done; waiting for the primary's records has no timeout
          if (job.cancelled) this.end(job);
          else if (job.primaryRecords) this.complete(job);
        },
        () => {
          metrics.error(other, 'shadow-get');
          latency.observe((performance.now() - start) / 1000);
          if (job.state !== READING) return;
          metrics.skipped('error');
          this.end(job);
        },
      );
    }
    // Under steady traffic the next turn will most likely have shadow reads too: schedule it now, off
    // the request path, so the requests of that turn find it scheduled. A turn that finds nothing
    // queued schedules no further one, so an idle process does not spin.
    if (jobs.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.runQueued);
    }
  }

  /**
   * Takes the queues' record of writes. Reads still in flight that began in it are checked against it
   * and, if clean, get a watch from now on: the next record starts empty.
   */
  private takeRecording(): string[] {
    const { queues } = this.deps;
    const generation = queues.recordingGeneration;
    const recent = queues.takeRecording();
    for (const job of this.reading.items) {
      if (job.watch || job.dirty || job.readGeneration !== generation) continue;
      if (wroteAny(recent, job.readFrom, job.locks)) job.dirty = true;
      else job.watch = queues.watch(job.locks);
    }
    return recent;
  }

  /** Whether a write to the job's keys was enqueued since its other read began. */
  private wroteDuringRead(job: ShadowJob): boolean {
    if (job.dirty) return true;
    if (job.watch) return job.watch.dirty;
    const { queues } = this.deps;
    // A record taken without handing this read a watch cannot happen (takeRecording does); if it
    // did, skipping the comparison is the safe answer.
    if (queues.recordingGeneration !== job.readGeneration) return true;
    return queues.wroteSince(job.readFrom, job.locks);
  }

  timedOut(job: ShadowJob): void {
    this.deps.metrics.skipped('timeout');
    this.end(job);
  }

  /** Both halves are in: compare, then end the job. */
  complete(job: ShadowJob): void {
    if (job.state !== READING) return;
    try {
      if (this.wroteDuringRead(job)) this.deps.metrics.skipped('in-flight-write');
      else this.compareRecords(job.collection, job.keys, job.primary, job.flags, job.primaryRecords!, job.otherRecords!, 'shadow');
    } catch {
      // Comparison and recording do not throw by design; a surprise must not reach a caller's path.
      this.deps.metrics.skipped('error');
    }
    this.end(job);
  }

  end(job: ShadowJob): void {
    if (job.state === DONE) return;
    job.state = DONE;
    job.watch?.release();
    job.watch = null;
    this.reading.remove(job);
    // Nothing queued or reading: stop recording writes.
    if (this.reading.size === 0 && this.queued.length === 0) this.deps.queues.takeRecording();
    this.inflight--;
    if (job.primaryRecords || job.cancelled) this.settling--;
    this.wake();
  }

  private wake(): void {
    if (this.settling === 0 && this.running.size === 0 && this.idle.length > 0) {
      const idle = this.idle;
      this.idle = [];
      for (const resolve of idle) resolve();
    }
  }

  /**
   * Starts a validation read of `keys` from the side other than `primary`, at once, beside the
   * primary read. Returns null when a write to the keys is pending.
   */
  begin(collection: string, keys: string[], primary: Side, flags: DualFlags): ComparisonHandle | null {
    const { queues, metrics, stores } = this.deps;
    const settings = flags.shadow;
    const locks = keys.map((k) => lockKey(collection, k));
    if (locks.some((l) => queues.isPending(l))) {
      metrics.skipped('in-flight-write');
      return null;
    }
    const other: Side = primary === 'old' ? 'new' : 'old';
    const watch = queues.watch(locks);
    this.inflight++;
    let timer: NodeJS.Timeout | undefined;
    const otherRead = Promise.race([
      this.deps.timed(other, 'validate-get', () => stores[other].getMany(collection, keys)),
      new Promise<typeof TIMEOUT>((resolve) => { timer = setTimeout(() => resolve(TIMEOUT), settings.timeoutMs); }),
    ]).finally(() => clearTimeout(timer));
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
        const task = this.validate(collection, keys, primary, flags, primaryRecords, otherRead, watch).finally(cleanup);
        this.running.add(task);
        void task.finally(() => {
          this.running.delete(task);
          this.wake();
        });
        return task;
      },
      cancel: cleanup,
    };
  }

  private async validate(
    collection: string,
    keys: string[],
    primary: Side,
    flags: DualFlags,
    primaryRecords: Records,
    otherRead: Promise<Records | typeof TIMEOUT>,
    watch: WriteWatch,
  ): Promise<void> {
    const { metrics } = this.deps;
    let otherRecords: Records | typeof TIMEOUT;
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
    this.compareRecords(collection, keys, primary, flags, primaryRecords, otherRecords, 'validate');
  }

  private compareRecords(
    collection: string,
    keys: string[],
    primary: Side,
    flags: DualFlags,
    primaryRecords: Records,
    otherRecords: Records,
    kind: 'shadow' | 'validate',
  ): void {
    const { recorder } = this.deps;
    let differing: string[] | null = null;
    for (let i = 0; i < keys.length; i++) {
      const oldRecord = primary === 'old' ? primaryRecords[i] : otherRecords[i];
      const newRecord = primary === 'old' ? otherRecords[i] : primaryRecords[i];
      const diff = compareRecords(oldRecord, newRecord);
      if (!diff) continue;
      (differing ??= []).push(keys[i]!);
      recorder.record({
        operation: kind === 'shadow' ? 'shadow-read' : 'read',
        kind: diff,
        collection,
        key: keys[i]!,
        old: oldRecord?.value,
        new: newRecord?.value,
      });
    }
    if (differing && flags.readRepair && primary === 'old') this.deps.repair(collection, differing);
  }

  /** Waits for comparisons whose caller has its answer (close()). */
  async drain(): Promise<void> {
    this.reading.hold(true);
    try {
      while (this.settling > 0 || this.running.size > 0) {
        await new Promise<void>((resolve) => this.idle.push(resolve));
      }
    } finally {
      this.reading.hold(false);
    }
  }
}

