/**
 * What a migration will do: which collections, how many records and bytes, what the target lacks,
 * and (for --dry-run) how long it should take, measured by reading a small sample.
 */
import { ConfigurationError } from '../core/errors.js';
import { valueSize } from '../core/record.js';
import type { Store } from '../core/store.js';

export interface CollectionPlan {
  collection: string;
  records: number;
  bytes: number | null;
  /** Whether the target has this collection now. */
  targetExists: boolean;
  targetRecords: number;
  /** Key ranges it would be copied as, in parallel (dry run). */
  ranges?: number;
}

export interface DryRunEstimate {
  sampleRecords: number;
  sampleSeconds: number;
  readRate: number;
  estimatedSeconds: number | null;
  basis: string;
}

export async function selectCollections(source: Store, only?: string[]): Promise<string[]> {
  const all = await source.listCollections();
  if (!only || only.length === 0) return all;
  const missing = only.filter((c) => !all.includes(c));
  if (missing.length > 0) {
    throw new ConfigurationError(
      `--only names ${missing.map((c) => `"${c}"`).join(', ')}, which ${source.location} does not have; it has ${all.map((c) => `"${c}"`).join(', ') || 'no collections'}`,
    );
  }
  return only;
}

/**
 * `exact` (dry-run) asks for exact counts and bytes; a real run only needs totals for progress and
 * ETA, so it takes the source's cheap estimate where it has one (a JSONL log's line count).
 */
export async function planCollections(source: Store, target: Store | null, collections: string[], exact = true): Promise<CollectionPlan[]> {
  const existing = new Set(target ? await target.listCollections() : []);
  const plans: CollectionPlan[] = [];
  for (const collection of collections) {
    const stats = !exact
      ? { count: source.estimateCount ? await source.estimateCount(collection) : await source.count(collection) }
      : source.stats
        ? await source.stats(collection)
        : { count: await source.count(collection) };
    const targetExists = existing.has(collection);
    plans.push({
      collection,
      records: stats.count,
      bytes: stats.bytes ?? null,
      targetExists,
      targetRecords: targetExists && target ? await target.count(collection) : 0,
    });
  }
  return plans;
}

/** Reads up to `limit` records or `seconds` of the biggest collections to measure the read rate. */
export async function estimateDuration(source: Store, plans: CollectionPlan[], limit = 5000, seconds = 2): Promise<DryRunEstimate> {
  const total = plans.reduce((n, p) => n + p.records, 0);
  let n = 0;
  let bytes = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  for (const plan of [...plans].sort((a, b) => b.records - a.records)) {
    for await (const batch of source.scan(plan.collection, { batchSize: 500 })) {
      n += batch.records.length + batch.rejects.length;
      for (const r of batch.records) bytes += valueSize(r.value);
      if (n >= limit || performance.now() > deadline) break;
    }
    if (n >= limit || performance.now() > deadline) break;
  }
  const sampleSeconds = (performance.now() - started) / 1000;
  const readRate = sampleSeconds > 0 ? n / sampleSeconds : 0;
  return {
    sampleRecords: n,
    sampleSeconds,
    readRate,
    estimatedSeconds: readRate > 0 ? total / readRate : null,
    basis: `read ${n} records (${bytes} bytes) in ${sampleSeconds.toFixed(2)} s; the estimate assumes the target keeps up with reading`,
  };
}
