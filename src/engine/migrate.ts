/**
 * The copy engine's entry point. One engine object per run: it opens both stores and the state,
 * plans the units, runs them `concurrency` at a time, and returns a result object. It never prints
 * or exits; the CLI does.
 */
import { resolve } from 'node:path';
import { ConfigurationError, describeError } from '../core/errors.js';
import { redactUrl } from '../core/url.js';
import type { Store } from '../core/store.js';
import { openStore } from '../drivers/index.js';
import { openStateStore, type StateStore, type UnitRow } from '../state/state-store.js';
import type { EventListener, MigrationEvent } from './events.js';
import { migrationId as deriveId } from './migration-id.js';
import { estimateDuration, planCollections, selectCollections, type CollectionPlan, type DryRunEstimate } from './plan.js';
import { rateLimiterFor } from './rate-limiter.js';
import { RejectsFile } from './rejects-file.js';
import { createRetrier, type RetryOptions } from './retry.js';
import { loadTransform } from './transform.js';
import { copyUnit, FailFastStop } from './unit-copier.js';
import { plannedRanges, rangeSlots, splitRanges } from './split.js';
import { processAlive } from '../state/process-alive.js';

/** Units copied at once. */
const DEFAULT_CONCURRENCY = 4;

export interface MigrateOptions {
  from: string;
  to: string;
  /** Collections to copy; default all. */
  only?: string[];
  /** Records per batch; default 2000 (measured: faster than 1000, and 5000 raises peak RSS by ~80 MB). */
  batchSize?: number;
  /** Units copied at once; default 4. */
  concurrency?: number;
  /** Records per second across the whole job. */
  maxRate?: number;
  dryRun?: boolean;
  /** Path of a transform module. */
  transform?: string;
  /** State database path (or sqlite:<path>); default .cutover/state.db. */
  state?: string;
  /** Stop at the first rejected record instead of sending it to the rejects file. */
  failFast?: boolean;
  /** Forget earlier progress of this migration and start again. */
  restart?: boolean;
  /**
   * Split each collection into this many key ranges copied in parallel (ordered sources); 1 never
   * splits. Default: automatic for big collections (see split.ts).
   */
  split?: number;
  /** Records per range when splitting automatically. @default AUTO_SPLIT_RECORDS (500,000) */
  autoSplitRecords?: number;
  /** Allow bulk load into empty target collections (default true). */
  bulkLoad?: boolean;
  retry?: RetryOptions;
  signal?: AbortSignal;
  onEvent?: EventListener;
}

export interface UnitResult {
  unit: string;
  collection: string;
  status: string;
  read: number;
  written: number;
  rejected: number;
  retries: number;
  bytes: number;
  total: number | null;
  elapsedMs: number;
  error: string | null;
}

export interface MigrationResult {
  id: string;
  status: 'completed' | 'paused' | 'failed' | 'dry-run' | 'already-completed';
  source: string;
  target: string;
  units: UnitResult[];
  totals: { read: number; written: number; rejected: number; retries: number; bytes: number };
  /** Wall time of this run. */
  durationMs: number;
  recordsPerSecond: number;
  peakRssBytes: number;
  rejectsFile: string;
  /** Rejected records recorded across every run of this migration. */
  rejectsTotal: number;
  statePath: string;
  resumed: boolean;
  plan?: CollectionPlan[];
  estimate?: DryRunEstimate;
  error?: string;
}

export async function migrate(options: MigrateOptions): Promise<MigrationResult> {
  const emit: EventListener = options.onEvent ?? (() => undefined);
  const transformPath = options.transform ? resolve(options.transform) : undefined;
  const id = deriveId({ from: options.from, to: options.to, only: options.only, transform: transformPath, split: options.split });
  const started = performance.now();
  // memoryUsage.rss() alone: memoryUsage() also walks the heap spaces.
  let peakRss = process.memoryUsage.rss();
  const sampleRss = () => {
    const rss = process.memoryUsage.rss();
    if (rss > peakRss) peakRss = rss;
  };

  if (options.dryRun) return dryRun(options, id, started);

  const transform = transformPath ? await loadTransform(transformPath) : undefined;
  const state = openStateStore(options.state);
  let source: Store | undefined;
  let target: Store | undefined;
  let rejects: RejectsFile | undefined;
  try {
    const existing = state.getMigration(id);
    if (existing?.status === 'running' && existing.pid && existing.pid !== process.pid && processAlive(existing.pid)) {
      throw new ConfigurationError(`migration ${id} is already running in process ${existing.pid}; pause it with "cutover pause ${id}" or wait for it`);
    }
    const persisted = JSON.stringify(persistableOptions(options, transformPath));
    source = await openStore(options.from, { create: false });
    target = await openStore(options.to, { create: true });
    if (existing && options.restart) {
      state.resetMigration(id, persisted);
      await target.clearCheckpoints?.(`${id}/`);
      state.audit(id, 'restart');
    } else if (existing?.status === 'completed') {
      return finish('already-completed');
    } else if (!existing) {
      state.createMigration({ id, source: redactUrl(options.from), target: redactUrl(options.to), options: persisted });
      state.audit(id, 'create', { source: redactUrl(options.from), target: redactUrl(options.to), only: options.only ?? null });
    }
    const resumed = Boolean(existing) && !options.restart && state.units(id).length > 0;
    state.markStarted(id, process.pid);
    state.audit(id, resumed ? 'resume' : 'start', { pid: process.pid });

    if (!resumed) {
      const collections = await selectCollections(source, options.only);
      const plans = await planCollections(source, target, collections, false);
      const planned: Parameters<StateStore['addUnits']>[0] = [];
      for (const plan of plans) {
        const parts = await plannedRanges(source, plan.collection, plan.records, options, rangeSlots(options.concurrency ?? DEFAULT_CONCURRENCY, target));
        const ranges = await splitRanges(source, plan.collection, parts, plan.records);
        ranges.forEach((range, i) => {
          planned.push({
            migrationId: id,
            unit: ranges.length > 1 ? `${plan.collection}#${String(i).padStart(3, '0')}` : plan.collection,
            collection: plan.collection,
            rangeAfter: range?.after ?? null,
            rangeUntil: range?.until ?? null,
            total: range ? null : plan.records,
            fresh: plan.targetRecords === 0,
          });
        });
      }
      state.addUnits(planned);
    }
    const units = state.units(id);
    emit({ type: 'plan', migrationId: id, resumed, units: units.map((u) => ({ unit: u.unit, collection: u.collection, total: u.total, done: u.status === 'done' })) });

    rejects = new RejectsFile(resolve(state.migrationDir(id), 'rejects.jsonl'));
    const limiter = rateLimiterFor(options.maxRate);
    let lastPoll = 0;
    let stop = false;
    const shouldStop = () => {
      if (stop || options.signal?.aborted) return (stop = true);
      const now = performance.now();
      // Five times a second, not once per batch: both reads cost a system call or a query.
      if (now - lastPoll > 200) {
        lastPoll = now;
        sampleRss();
        if (state.controlOf(id) === 'pause') stop = true;
      }
      return stop;
    };
    const ctx = {
      migrationId: id, source, target, state, rejects, transform, limiter, shouldStop,
      batchSize: options.batchSize ?? 2000,
      failFast: options.failFast ?? false,
      allowLoad: options.bulkLoad ?? true,
      makeRetrier: (onRetry: (attempt: number, error: unknown) => void) => createRetrier({ ...options.retry, onRetry }),
      emit: (e: MigrationEvent) => emit(e),
    };
    const todo = units.filter((u) => u.status !== 'done');
    const outcomes = await runPool(todo, options.concurrency ?? DEFAULT_CONCURRENCY, async (unit: UnitRow) => {
      try {
        return await copyUnit(unit, ctx);
      } catch (err) {
        stop = stop || options.failFast === true || err instanceof FailFastStop;
        state.setUnitStatus(id, unit.unit, 'failed', describeError(err));
        throw err;
      }
    });
    const failure = outcomes.find((o): o is { error: unknown } => typeof o === 'object' && o !== null && 'error' in o);
    if (failure) {
      const message = describeError(failure.error);
      state.setStatus(id, 'failed', message);
      state.audit(id, 'failed', { error: message });
      return finish('failed', message);
    }
    if (outcomes.includes('paused') || stop) {
      state.setStatus(id, 'paused');
      state.audit(id, 'paused');
      return finish('paused');
    }
    state.setStatus(id, 'completed');
    state.audit(id, 'completed', { rejects: rejects.count });
    return finish('completed');

    function finish(status: MigrationResult['status'], error?: string): MigrationResult {
      sampleRss();
      const unitRows = state.units(id);
      const durationMs = performance.now() - started;
      const totals = { read: 0, written: 0, rejected: 0, retries: 0, bytes: 0 };
      for (const u of unitRows) {
        totals.read += u.read;
        totals.written += u.written;
        totals.rejected += u.rejected;
        totals.retries += u.retries;
        totals.bytes += u.bytes;
      }
      const rejectsFile = resolve(state.migrationDir(id), 'rejects.jsonl');
      const thisRunMs = unitRows.length > 0 ? durationMs : 0;
      return {
        id, status, source: redactUrl(options.from), target: redactUrl(options.to),
        units: unitRows.map(toUnitResult),
        totals,
        durationMs,
        recordsPerSecond: thisRunMs > 0 ? (totals.read / Math.max(1, sumElapsed(unitRows))) * 1000 : 0,
        peakRssBytes: peakRss,
        rejectsFile,
        rejectsTotal: rejects?.count ?? new RejectsFile(rejectsFile).count,
        statePath: state.path,
        resumed: Boolean(existing) && !options.restart,
        ...(error ? { error } : {}),
      };
    }
  } finally {
    rejects?.close();
    await source?.close().catch(() => undefined);
    await target?.close().catch(() => undefined);
    state.close();
  }
}

async function dryRun(options: MigrateOptions, id: string, started: number): Promise<MigrationResult> {
  const source = await openStore(options.from, { create: false });
  let target: Store | null = null;
  try {
    try {
      target = await openStore(options.to, { create: false });
    } catch (err) {
      if (!(err instanceof ConfigurationError)) throw err;
      target = null; // does not exist yet: everything would be created
    }
    const collections = await selectCollections(source, options.only);
    const plan = await planCollections(source, target, collections);
    for (const p of plan) p.ranges = await plannedRanges(source, p.collection, p.records, options, rangeSlots(options.concurrency ?? DEFAULT_CONCURRENCY, target));
    const estimate = await estimateDuration(source, plan);
    const total = plan.reduce((n, p) => n + p.records, 0);
    return {
      id, status: 'dry-run', source: redactUrl(options.from), target: redactUrl(options.to), units: [],
      totals: { read: 0, written: 0, rejected: 0, retries: 0, bytes: plan.reduce((n, p) => n + (p.bytes ?? 0), 0) },
      durationMs: performance.now() - started, recordsPerSecond: estimate.readRate, peakRssBytes: process.memoryUsage().rss,
      rejectsFile: '', rejectsTotal: 0, statePath: '', resumed: false, plan, estimate,
      ...(total === 0 ? { error: 'the source holds no records in the selected collections' } : {}),
    };
  } finally {
    await source.close();
    await target?.close();
  }
}

function toUnitResult(u: UnitRow): UnitResult {
  return {
    unit: u.unit, collection: u.collection, status: u.status, read: u.read, written: u.written, rejected: u.rejected,
    retries: u.retries, bytes: u.bytes, total: u.total, elapsedMs: u.elapsedMs, error: u.error,
  };
}

function sumElapsed(units: UnitRow[]): number {
  // Units run in parallel; the longest one bounds the wall time spent copying.
  return units.reduce((m, u) => Math.max(m, u.elapsedMs), 0);
}

function persistableOptions(o: MigrateOptions, transform: string | undefined) {
  return {
    from: o.from, to: o.to, only: o.only ?? null, batchSize: o.batchSize ?? null, concurrency: o.concurrency ?? null,
    maxRate: o.maxRate ?? null, transform: transform ?? null, failFast: o.failFast ?? false, split: o.split ?? null,
    bulkLoad: o.bulkLoad ?? true,
  };
}

/** The options a migration was created with, for `cutover resume ID`. */
export function optionsOfMigration(state: StateStore, id: string): MigrateOptions {
  const row = state.getMigration(id);
  if (!row) throw new ConfigurationError(`no migration "${id}" in ${state.path}; "cutover status" lists them`);
  const o = JSON.parse(row.options) as Record<string, unknown>;
  const out: MigrateOptions = { from: o.from as string, to: o.to as string };
  if (Array.isArray(o.only)) out.only = o.only as string[];
  if (typeof o.batchSize === 'number') out.batchSize = o.batchSize;
  if (typeof o.concurrency === 'number') out.concurrency = o.concurrency;
  if (typeof o.maxRate === 'number') out.maxRate = o.maxRate;
  if (typeof o.transform === 'string') out.transform = o.transform;
  if (typeof o.split === 'number') out.split = o.split;
  if (o.failFast === true) out.failFast = true;
  if (o.bulkLoad === false) out.bulkLoad = false;
  return out;
}


/** Runs `fn` over items with at most `limit` at once; collects outcomes or errors without stopping the others. */
async function runPool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<(R | { error: unknown })[]> {
  const results: (R | { error: unknown })[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (error) {
        results[i] = { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
