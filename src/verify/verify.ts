/**
 * `verify`: prove two stores hold the same data, find every difference, optionally repair it.
 *
 * Per collection it picks a comparison method from the mode and what the stores can do:
 *   count    → counts only
 *   full     → a join in the database when both are tables of one database; otherwise a
 *              streaming merge of ordered scans (of keys and per-record digests where both stores
 *              compute the same ones); an unordered source streamed and looked up in an ordered
 *              target; otherwise hash partitions on disk
 *   checksum → range digests and bisection (needs ordered range scans; otherwise as `full`)
 *   sample   → reservoir sample of the source, point lookups in the target, a Clopper-Pearson bound
 * Memory stays bounded in every method: only examples are kept, everything else is counted.
 * A mismatch is a result (`ok: false`); exceptions are for failures (bad options, unreachable store,
 * interruption). A failure inside one collection is recorded in `errors` and the others still run.
 */
import { ConfigurationError, describeError, type RejectInfo } from '../core/errors.js';
import { collectionNameProblem } from '../core/record.js';
import type { Store } from '../core/store.js';
import { openStore } from '../drivers/index.js';
import { rateLimiterFor, type RateLimiter } from '../engine/rate-limiter.js';
import { checksumDiff, hasRangeDigest } from './checksum-diff.js';
import { countCollection, countResult } from './count.js';
import { mergeDiff, type MergeSides } from './full-diff.js';
import { rowDigestMerge, sameRowDigests } from './row-digest-merge.js';
import { JOIN_RANGE_RECORDS, oneDatabase, sqlJoinDiff } from './sql-join.js';
import { hashPartitionDiff, partitionCount } from './hash-partition.js';
import { lookupDiff } from './lookup-diff.js';
import { checkReferences, loadReferences } from './refs.js';
import { KeySpill, repairCollection } from './repair.js';
import { parseSample, sampleDiff, sampleSize, seededRandom, type SampleSpec } from './sample.js';
import { sampleBound } from './sample-bound.js';
import { DiffTally, ReadMeter, type DiffSink } from './tally.js';
import type { CollectionResult, VerifyError, VerifyMode, VerifyOptions, VerifyResult, VerifyTuning } from './types.js';

export type * from './types.js';

const MODES: VerifyMode[] = ['count', 'checksum', 'full', 'sample'];

const DEFAULT_TUNING: VerifyTuning = {
  batchSize: 1000,
  partitions: 0,
  partitionRecords: 10_000,
  leafSize: 1000,
  fanout: 64,
  spillThreshold: 10_000,
  lookupPending: 20_000,
  lookupMemoryKeys: 100_000,
  clientDigests: false,
  rowDigests: true,
  sqlJoin: true,
  joinRangeRecords: JOIN_RANGE_RECORDS,
};

interface Context {
  source: Store;
  target: Store;
  mode: VerifyMode;
  examples: number;
  tuning: VerifyTuning;
  limiter: RateLimiter | undefined;
  signal: AbortSignal | undefined;
  onProgress: VerifyOptions['onProgress'];
  sample: SampleSpec;
  random: () => number;
  sampled: { checked: number; mismatches: number };
  confidence: number;
}

export async function verify(options: VerifyOptions): Promise<VerifyResult> {
  const mode = options.mode ?? 'checksum';
  if (!MODES.includes(mode)) throw new ConfigurationError(`unknown verify mode "${String(mode)}"; use one of ${MODES.join(', ')}`);
  const confidence = options.confidence ?? 0.99;
  if (!(confidence > 0 && confidence < 1)) throw new ConfigurationError(`confidence must be between 0 and 1 (e.g. 0.99), got ${confidence}`);
  const examples = options.examples ?? 10;
  if (!Number.isInteger(examples) || examples < 0) throw new ConfigurationError(`examples must be a whole number of at least 0, got ${examples}`);
  if (options.deleteExtra && !options.repair) throw new ConfigurationError('deleteExtra only applies with repair; add --repair or drop --delete-extra');
  // A sample size or confidence given to another mode would be ignored, and the run taken for a sampled one.
  for (const [option, given] of [['sample', options.sample], ['confidence', options.confidence]] as const) {
    if (given !== undefined && mode !== 'sample') throw new ConfigurationError(`--${option} only applies to --mode sample; add --mode sample or drop --${option}`);
  }
  const sample = parseSample(options.sample);
  for (const name of options.only ?? []) {
    const problem = collectionNameProblem(name);
    if (problem) throw new ConfigurationError(`--only: ${problem}`);
  }
  const references = options.refs ? await loadReferences(options.refs) : undefined;

  const opened: Store[] = [];
  const open = async (s: string | Store, create: boolean) => {
    if (typeof s !== 'string') return s;
    const store = await openStore(s, { create });
    opened.push(store);
    return store;
  };
  try {
    const source = await open(options.from, false);
    const target = await open(options.to, options.repair === true);
    const ctx: Context = {
      source,
      target,
      mode,
      examples,
      tuning: { ...DEFAULT_TUNING, ...options.tuning },
      limiter: rateLimiterFor(options.maxRate),
      signal: options.signal,
      onProgress: options.onProgress,
      sample,
      random: seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32)),
      sampled: { checked: 0, mismatches: 0 },
      confidence,
    };
    const collections = options.only ?? (await listBoth(source, target));
    const errors: VerifyError[] = [];
    const result: VerifyResult = { ok: false, mode, collections: [], errors };

    if (!options.repair) {
      result.collections = await compareAll(ctx, collections, mode, errors);
    } else {
      const spills = new Map<string, { copy: KeySpill; extra: KeySpill }>();
      const sinkFor = (collection: string): DiffSink => {
        const s = { copy: new KeySpill(ctx.tuning.spillThreshold), extra: new KeySpill(ctx.tuning.spillThreshold) };
        spills.set(collection, s);
        return (kind, key) => (kind === 'extra' ? s.extra.add(key) : s.copy.add(key));
      };
      try {
        // count and sample modes cannot name every difference (equal counts or a clean sample do not
        // prove equal contents), so the keys to repair come from a checksum pass over every collection.
        const exact = mode === 'full' || mode === 'checksum';
        const before = await compareAll(ctx, collections, mode, errors, exact ? sinkFor : undefined);
        if (!exact) await compareAll(ctx, collections, 'checksum', errors, sinkFor);
        // Loaded only to repair: cockatiel is a tenth of a second of every verify's start-up otherwise.
        const { createRetrier } = await import('../engine/retry.js');
        const retrier = createRetrier();
        const repair = { before, after: [] as CollectionResult[], copied: 0, deleted: 0, rejected: [] as RejectInfo[] };
        for (const [collection, s] of spills) {
          if (s.copy.size === 0 && (s.extra.size === 0 || !options.deleteExtra)) continue;
          try {
            const outcome = await repairCollection(source, target, collection, s.copy, s.extra, {
              retrier,
              limiter: ctx.limiter,
              deleteExtra: options.deleteExtra === true,
              batchSize: Math.min(ctx.tuning.batchSize, 500),
              signal: ctx.signal,
              onProgress: (records) => ctx.onProgress?.({ phase: 'repair', collection, records }),
            });
            repair.copied += outcome.copied;
            repair.deleted += outcome.deleted;
            repair.rejected.push(...outcome.rejected);
          } catch (err) {
            ctx.signal?.throwIfAborted();
            errors.push({ collection, message: `repair failed: ${describeError(err)}` });
          }
        }
        repair.after = await compareAll(ctx, collections, mode, errors);
        result.collections = repair.after;
        result.repair = repair;
      } finally {
        for (const s of spills.values()) {
          await s.copy.dispose();
          await s.extra.dispose();
        }
      }
    }

    if (mode === 'sample') result.sampleBound = sampleBound(ctx.sampled.checked, ctx.sampled.mismatches, confidence);
    if (references) {
      try {
        result.danglingRefs = await checkReferences(target, references, {
          examples,
          batchSize: ctx.tuning.batchSize,
          signal: ctx.signal,
          meter: (collection) => new ReadMeter(collection, { limiter: ctx.limiter, signal: ctx.signal, phase: 'refs', onProgress: ctx.onProgress }),
        });
      } catch (err) {
        ctx.signal?.throwIfAborted();
        errors.push({ message: `reference check failed: ${describeError(err)}` });
      }
    }
    result.ok =
      errors.length === 0 &&
      result.collections.every(collectionOk) &&
      (result.danglingRefs?.dangling ?? 0) === 0 &&
      (result.repair?.rejected.length ?? 0) === 0;
    return result;
  } finally {
    for (const store of opened) await store.close();
  }
}

export function collectionOk(c: CollectionResult): boolean {
  return c.missing === 0 && c.different === 0 && c.extra === 0 && c.sourceCount === c.targetCount;
}

async function listBoth(source: Store, target: Store): Promise<string[]> {
  const [a, b] = await Promise.all([source.listCollections(), target.listCollections()]);
  return [...new Set([...a, ...b])].sort();
}

async function compareAll(ctx: Context, collections: string[], mode: VerifyMode, errors: VerifyError[], sinkFor?: (c: string) => DiffSink): Promise<CollectionResult[]> {
  const out: CollectionResult[] = [];
  for (const collection of collections) {
    ctx.signal?.throwIfAborted();
    try {
      out.push(await compareCollection(ctx, collection, mode, errors, sinkFor?.(collection)));
    } catch (err) {
      ctx.signal?.throwIfAborted();
      errors.push({ collection, message: describeError(err) });
    }
  }
  return out;
}

async function compareCollection(ctx: Context, collection: string, mode: VerifyMode, errors: VerifyError[], sink?: DiffSink): Promise<CollectionResult> {
  const { source, target, tuning, signal } = ctx;
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  // An unordered source against an ordered target is compared by lookups, which count the source's
  // distinct keys themselves: counting a log first would read it twice.
  const streaming = mode === 'full' || mode === 'checksum';
  const sourceOrdered = !streaming || (await source.isOrdered(collection));
  const targetOrdered = !streaming || (await target.isOrdered(collection));
  const lookup = !sourceOrdered && targetOrdered && tuning.lookupPending > 0;
  // A full merge of two ordered scans sees every record of both sides once, so it counts them
  // itself: a separate count(*) would read each table one more time (SQLite walks the whole b-tree).
  const merging = mode === 'full' && sourceOrdered && targetOrdered;
  // Likewise the digest of a whole collection counts its records: databases that digest ranges
  // themselves are not asked to count first (a count(*) is a tenth of the work of a PostgreSQL checksum).
  const digesting = mode === 'checksum' && !tuning.clientDigests && hasRangeDigest(source) && hasRangeDigest(target)
    && source.capabilities.rangeScan && target.capabilities.rangeScan;
  let sourceCount = -1;
  let targetCount = -1;

  const meterOptions = { limiter: ctx.limiter, signal, phase: (mode === 'sample' ? 'sample' : 'compare') as 'sample' | 'compare', onProgress: ctx.onProgress };
  const sides: MergeSides = {
    source,
    target,
    collection,
    sourceMeter: new ReadMeter(collection, meterOptions),
    targetMeter: new ReadMeter(collection, meterOptions),
  };
  const tally = new DiffTally(ctx.examples, sink);

  // Full mode over two tables of one database: the database compares them, exactly, at about the cost
  // of its checksum digests (which checksum mode keeps: measured 1.17 against 1.38 s for 1M pairs).
  // No rate limit can pace a join, so not with one.
  if (mode === 'full' && tuning.sqlJoin && !ctx.limiter && (await oneDatabase(source, target, signal))) {
    const joined = await sqlJoinDiff(sides as Parameters<typeof sqlJoinDiff>[0], tally, { rangeRecords: tuning.joinRangeRecords, signal });
    if (joined) {
      return finish(collection, errors, sides, tally, seconds(), joined.sourceCount, joined.targetCount, 'sql-join',
        `both tables are in one database, which compared them itself: a join over the keys in ${joined.ranges} range${joined.ranges === 1 ? '' : 's'}, values compared as jsonb (canonically) without rendering them; only the keys that differ crossed the wire`);
    }
  }

  if (!lookup && !merging && !digesting) {
    ({ sourceCount, targetCount } = await countCollection(source, target, collection, signal));
    if (mode === 'count') return countResult(collection, sourceCount, targetCount, seconds());
  }

  let method: CollectionResult['method'] = 'hash-partition';
  let note: string | undefined;

  const partitioned = async (why: string) => {
    if (sourceCount < 0) sourceCount = await source.count(collection, signal ? { signal } : undefined);
    if (targetCount < 0) targetCount = await target.count(collection, signal ? { signal } : undefined);
    const partitions = partitionCount(Math.max(sourceCount, targetCount), tuning.partitionRecords, tuning.partitions);
    await hashPartitionDiff(sides, tally, { partitions, batchSize: tuning.batchSize, signal });
    method = 'hash-partition';
    note = `${why}; compared by hashing keys into ${partitions} partition${partitions === 1 ? '' : 's'} spilled to temp files`;
  };

  if (mode === 'sample') {
    const size = sampleSize(ctx.sample, sourceCount);
    const outcome = await sampleDiff(source, target, collection, { source: sides.sourceMeter, target: sides.targetMeter }, tally, {
      size,
      random: ctx.random,
      batchSize: tuning.batchSize,
      signal,
    });
    ctx.sampled.checked += outcome.checked;
    ctx.sampled.mismatches += outcome.mismatches;
    method = 'sample';
    note = `${sampleBound(outcome.checked, outcome.mismatches, ctx.confidence).statement}; target-only records are not sampled, so compare the counts`;
  } else if (lookup) {
    const outcome = await lookupDiff(sides, tally, {
      batchSize: tuning.batchSize,
      maxPending: tuning.lookupPending,
      memoryKeys: tuning.lookupMemoryKeys,
      signal,
    });
    if (outcome.targetCount !== undefined) targetCount = outcome.targetCount;
    if (outcome.done) {
      sourceCount = outcome.sourceCount;
      method = 'lookup';
      note = `the source does not scan in key order; it was streamed once and each batch looked up in the target by key${outcome.keysSpilled ? ' (its distinct keys counted through temp files)' : ''}${outcome.extrasScanned ? ', then the target\'s keys were scanned for records the source lacks' : ''}`;
    } else {
      if (outcome.sourceCount !== undefined) sourceCount = outcome.sourceCount;
      await partitioned(`looking up the unordered source's records stopped (${outcome.reason})`);
    }
  } else {
    const ordered = sourceOrdered && targetOrdered;
    if (!ordered) {
      await partitioned('a side does not scan in key order');
    } else if (mode === 'checksum' && source.capabilities.rangeScan && target.capabilities.rangeScan) {
      method = await checksumDiff(sides, tally, sourceCount, {
        leafSize: tuning.leafSize, fanout: tuning.fanout, batchSize: tuning.batchSize, signal, clientDigests: tuning.clientDigests,
        onTotals: (s, t) => {
          sourceCount = s;
          targetCount = t;
        },
      });
      if (method === 'merge' && digesting) {
        sourceCount = tally.matching + tally.different + tally.missing + sides.sourceMeter.rejectCount;
        targetCount = tally.matching + tally.different + tally.extra + sides.targetMeter.rejectCount;
      }
      if (method === 'merge') note = 'no database-side digests for this pair, so both sides were streamed once and merged (exact, and faster than digesting every record here)';
      if (method === 'sql-pushdown') {
        note = 'range digests computed by PostgreSQL from jsonb hashes (fast, no text rendering); they cannot see a swap of two equal-size values 32 tokens apart in one document or a moved array boundary that keeps the size: --mode full compares every record exactly';
      }
    } else if (merging && tuning.rowDigests && (await sameRowDigests(source, target, signal))) {
      await rowDigestMerge(sides as Parameters<typeof rowDigestMerge>[0], tally, { batchSize: tuning.batchSize, signal });
      method = 'row-digest-merge';
      note = 'each side sent keys and an MD5 of each value text, computed by the database; the values were read and compared only where the digests differed';
      sourceCount = tally.matching + tally.different + tally.missing + sides.sourceMeter.rejectCount;
      targetCount = tally.matching + tally.different + tally.extra + sides.targetMeter.rejectCount;
    } else {
      await mergeDiff(sides, tally, { batchSize: tuning.batchSize, signal });
      method = 'merge';
      if (merging) {
        // Records each scan returned, plus the rows it could not read (as a count would include them).
        sourceCount = tally.matching + tally.different + tally.missing + sides.sourceMeter.rejectCount;
        targetCount = tally.matching + tally.different + tally.extra + sides.targetMeter.rejectCount;
      }
      if (mode === 'checksum') note = 'a side cannot scan key ranges, so both sides were streamed and merged instead of bisected';
    }
  }

  return finish(collection, errors, sides, tally, seconds(), sourceCount, targetCount, method, note);
}

function finish(collection: string, errors: VerifyError[], sides: MergeSides, tally: DiffTally, seconds: number,
  sourceCount: number, targetCount: number, method: CollectionResult['method'], note: string | undefined): CollectionResult {
  for (const [side, meter] of [['source', sides.sourceMeter], ['target', sides.targetMeter]] as const) {
    if (meter.rejectCount > 0) {
      const first = meter.rejects[0]!;
      errors.push({
        collection,
        message: `${meter.rejectCount} record${meter.rejectCount === 1 ? '' : 's'} in the ${side} could not be read and were not compared (first: ${first.key === null ? '(no key)' : JSON.stringify(first.key)} at ${first.location}: ${first.reason})`,
      });
    }
  }
  const compared = tally.matching + tally.missing + tally.different + tally.extra;
  const result: CollectionResult = {
    collection,
    sourceCount,
    targetCount,
    matching: tally.matching,
    missing: tally.missing,
    different: tally.different,
    extra: tally.extra,
    examples: tally.examples(),
    recordsPerSecond: Math.round(compared / Math.max(seconds, 1e-3)),
    bytesTransferred: sides.sourceMeter.bytes + sides.targetMeter.bytes,
    method,
  };
  if (note) result.note = note;
  return result;
}
