/**
 * Two collections that are tables in one SQL database are compared by the database itself: a full
 * outer join over their keys, range by range, that returns only the keys that are missing, extra or
 * different (the technique data-diff calls joindiff). Nothing but those keys crosses the wire, and the
 * database compares values in their binary form (PostgreSQL's jsonb equality is canonical equality:
 * member order, `1.0` against `1`, exact numbers), so no document is rendered to text on either side.
 *
 * "One database" is proved, not guessed from the URLs: the source holds a marker only sessions of its
 * own database can see (PostgreSQL: a session advisory lock) and the target must see it. Two servers
 * with equal names, a replica of the source, or another database on the same server all fail that
 * test and are compared by the other methods.
 *
 * Ranges come from block samples of both tables' keys, so each holds about `rangeRecords` records of
 * either side; they are half-open and cover every key. A few run at once, on their own connections,
 * so the database compares on several cores. Memory holds the differing keys of the ranges in flight
 * (JOIN_CONCURRENCY) at most: each range's keys are let go once reported.
 */
import { randomUUID } from 'node:crypto';
import { compareKeys } from '../core/key-order.js';
import { valueSize, type RecordValue } from '../core/record.js';
import type { Store } from '../core/store.js';
import type { KeyRange } from './checksum-diff.js';
import type { MergeSides } from './full-diff.js';
import type { DiffTally, ReadMeter } from './tally.js';
import type { DiffKind } from './types.js';

export interface KeySample {
  keys: string[];
  estimatedRecords: number;
}

/** One range of the join: both sides' record counts and the keys that differ, ascending. */
export interface JoinRange {
  sourceCount: number;
  targetCount: number;
  missing: string[];
  extra: string[];
  different: string[];
}

/** Optional driver methods for stores whose collections are tables in an SQL database. */
export interface SqlJoinSource {
  /** Stores join only within one family (one dialect and table shape). */
  readonly sqlJoinFamily: string;
  /** Holds a marker that only sessions of this store's database can see, until the release is called. */
  holdMarker(token: string, signal?: AbortSignal): Promise<() => Promise<void>>;
  /** Whether the marker is held in this store's database by another session (so both stores are one database). */
  seesMarker(token: string, signal?: AbortSignal): Promise<boolean>;
  /** The collection's table as another store's SQL names it, or null when it does not exist. */
  joinTable(collection: string, signal?: AbortSignal): Promise<string | null>;
  /** A sample of the collection's keys, ascending, and the number of records it suggests. */
  sampleKeys(collection: string, signal?: AbortSignal): Promise<KeySample>;
  /** Compares one key range of the collection here (the source) with `other`, the target's table. */
  joinRange(collection: string, other: string, range: KeyRange, signal?: AbortSignal): Promise<JoinRange>;
}

export function hasSqlJoin(store: Store): store is Store & SqlJoinSource {
  const s = store as Partial<SqlJoinSource>;
  return typeof s.sqlJoinFamily === 'string' && typeof s.joinRange === 'function' && typeof s.holdMarker === 'function';
}

/** Records a join range holds at most, roughly: its differing keys are kept until the range is done. */
export const JOIN_RANGE_RECORDS = 100_000;
/** Ranges compared at once. */
export const JOIN_CONCURRENCY = 2;

/** Whether source and target are tables of one database that the source's SQL can join. */
export async function oneDatabase(source: Store, target: Store, signal?: AbortSignal): Promise<boolean> {
  if (!hasSqlJoin(source) || !hasSqlJoin(target) || source.sqlJoinFamily !== target.sqlJoinFamily) return false;
  const token = randomUUID();
  let release: (() => Promise<void>) | null = null;
  try {
    release = await source.holdMarker(token, signal);
    return await target.seesMarker(token, signal);
  } catch {
    signal?.throwIfAborted();
    return false;
  } finally {
    await release?.().catch(() => undefined);
  }
}

export interface JoinOutcome {
  sourceCount: number;
  targetCount: number;
  ranges: number;
}

/**
 * Compares the collection by joins in the source's database; null when the tables cannot be joined
 * (a table is missing, or the source's user may not read the target's), and the caller compares
 * another way.
 */
export async function sqlJoinDiff(
  sides: MergeSides & { source: Store & SqlJoinSource; target: Store & SqlJoinSource },
  tally: DiffTally,
  options: { rangeRecords?: number; signal?: AbortSignal | undefined } = {},
): Promise<JoinOutcome | null> {
  const { source, target, collection } = sides;
  const { signal } = options;
  const rangeRecords = Math.max(1, options.rangeRecords ?? JOIN_RANGE_RECORDS);
  const [own, other] = await Promise.all([source.joinTable(collection, signal), target.joinTable(collection, signal)]);
  if (own === null || other === null) return null;
  const ranges = joinRanges(await Promise.all([source.sampleKeys(collection, signal), target.sampleKeys(collection, signal)]), rangeRecords);

  // Ranges run a few at a time, and are reported to the tally in key order; a range's keys are let go
  // once reported, so memory holds JOIN_CONCURRENCY ranges' differences at most.
  const results: (Promise<JoinRange> | undefined)[] = [];
  let next = 0;
  const start = () => {
    const range = ranges[next++]!;
    const p = source.joinRange(collection, other, range, signal);
    p.catch(() => undefined);
    results.push(p);
  };
  let first = true;
  const outcome: JoinOutcome = { sourceCount: 0, targetCount: 0, ranges: ranges.length };
  while (next < Math.min(JOIN_CONCURRENCY, ranges.length)) start();
  for (let i = 0; i < ranges.length; i++) {
    let r: JoinRange;
    try {
      r = await results[i]!;
      results[i] = undefined;
    } catch (err) {
      // A join refused before anything was counted (no privilege on the other table): compare another way.
      if (first && isPermissionError(err)) {
        await Promise.allSettled(results);
        return null;
      }
      throw err;
    }
    first = false;
    if (next < ranges.length) start();
    outcome.sourceCount += r.sourceCount;
    outcome.targetCount += r.targetCount;
    tally.matching += r.sourceCount - r.missing.length - r.different.length;
    sides.sourceMeter.addBytes(keyBytes(r.missing) + keyBytes(r.different));
    sides.targetMeter.addBytes(keyBytes(r.extra));
    await report(sides, tally, r);
    await sides.sourceMeter.compared(r.sourceCount);
  }
  return outcome;
}

/**
 * Ranges cut at quantiles of both sides' key samples (a side the other lacks still gets its share),
 * about `rangeRecords` records of the larger side each, half-open and covering every key.
 */
export function joinRanges(samples: KeySample[], rangeRecords: number): KeyRange[] {
  const keys = [...new Set(samples.flatMap((s) => s.keys))].sort(compareKeys);
  const records = Math.max(...samples.map((s) => s.estimatedRecords), 0);
  const parts = Math.min(Math.max(JOIN_CONCURRENCY, Math.ceil(records / rangeRecords)), Math.max(1, keys.length));
  const cuts: string[] = [];
  for (let i = 1; i < parts; i++) {
    const k = keys[Math.floor((i * keys.length) / parts)]!;
    if (cuts.length === 0 || compareKeys(k, cuts[cuts.length - 1]!) > 0) cuts.push(k);
  }
  const ranges: KeyRange[] = [];
  for (let i = 0; i <= cuts.length; i++) ranges.push({ from: i === 0 ? null : cuts[i - 1]!, until: i === cuts.length ? null : cuts[i]! });
  return ranges;
}

function keyBytes(keys: string[]): number {
  let n = 0;
  for (const k of keys) n += Buffer.byteLength(k, 'utf8');
  return n;
}

function isPermissionError(err: unknown): boolean {
  const code = (err as { cause?: { code?: string }; code?: string } | null)?.cause?.code ?? (err as { code?: string } | null)?.code;
  return code === '42501';
}

/** Hands a range's differences to the tally, with the values read only for the examples it keeps. */
async function report(sides: MergeSides, tally: DiffTally, r: JoinRange): Promise<void> {
  const { source, target, collection } = sides;
  const values = async (store: Store, meter: ReadMeter, keys: string[]) => {
    if (keys.length === 0) return new Map<string, RecordValue>();
    const records = await store.getMany(collection, keys);
    for (const rec of records) if (rec) meter.addBytes(valueSize(rec.value));
    return new Map(records.flatMap((rec) => (rec ? [[rec.key, rec.value] as const] : [])));
  };
  const examples = (kind: DiffKind, keys: string[]) => keys.slice(0, tally.examplesLeft(kind));
  const [fromSource, fromTarget] = await Promise.all([
    values(source, sides.sourceMeter, [...examples('missing', r.missing), ...examples('different', r.different)]),
    values(target, sides.targetMeter, [...examples('extra', r.extra), ...examples('different', r.different)]),
  ]);
  for (const k of r.missing) await tally.diff('missing', k, fromSource.get(k));
  for (const k of r.different) await tally.diff('different', k, fromSource.get(k), fromTarget.get(k));
  for (const k of r.extra) await tally.diff('extra', k, undefined, fromTarget.get(k));
}
