/**
 * Sampling: N source records chosen uniformly at random (reservoir sampling over one streamed scan,
 * so every record has the same chance whatever the order or the size), checked by point lookups in
 * the target. Only the sample is held in memory. What it proves is a bound, see sample-bound.ts.
 */
import { sameValue } from '../core/canonical.js';
import { ConfigurationError } from '../core/errors.js';
import type { StoredRecord } from '../core/record.js';
import type { Store } from '../core/store.js';
import { readRecords } from './scan-reader.js';
import type { DiffTally, ReadMeter } from './tally.js';

export type SampleSpec = { count: number } | { fraction: number };

export function parseSample(value: string | number | undefined): SampleSpec {
  if (value === undefined) return { count: 10_000 };
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1) throw new ConfigurationError(`sample size must be a whole number of at least 1, got ${value}`);
    return { count: value };
  }
  const text = value.trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (pct) {
    const p = Number(pct[1]);
    if (!(p > 0 && p <= 100)) throw new ConfigurationError(`sample percentage must be above 0% and at most 100%, got "${value}"`);
    return { fraction: p / 100 };
  }
  if (/^\d+$/.test(text) && Number(text) >= 1) return { count: Number(text) };
  throw new ConfigurationError(`--sample must be a count like 10000 or a percentage like 1%, got "${value}"`);
}

export function sampleSize(spec: SampleSpec, population: number): number {
  if ('count' in spec) return Math.min(spec.count, population);
  return Math.min(population, Math.ceil(population * spec.fraction));
}

/** A small seeded generator (mulberry32) giving doubles in [0, 1) with 53 random bits. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  const next32 = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return () => ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
}

/**
 * Reservoir sampling (Algorithm R): after i records, each has been kept with probability k / i.
 * Uniform over the stream, whatever its order, in one pass and O(k) memory.
 */
export async function reservoirSample<T>(items: AsyncIterable<T>, k: number, random: () => number): Promise<{ sample: T[]; seen: number }> {
  const sample: T[] = [];
  let seen = 0;
  if (k <= 0) {
    for await (const _ of items) seen++;
    return { sample, seen };
  }
  for await (const item of items) {
    if (seen < k) sample.push(item);
    else {
      const j = Math.floor(random() * (seen + 1));
      if (j < k) sample[j] = item;
    }
    seen++;
  }
  return { sample, seen };
}

export interface SampleOutcome {
  checked: number;
  mismatches: number;
}

export async function sampleDiff(
  source: Store,
  target: Store,
  collection: string,
  meters: { source: ReadMeter; target: ReadMeter },
  tally: DiffTally,
  options: { size: number; random: () => number; batchSize: number; signal?: AbortSignal | undefined },
): Promise<SampleOutcome> {
  const { sample } = await reservoirSample(
    readRecords(source, collection, meters.source, { batchSize: options.batchSize, signal: options.signal }),
    options.size,
    options.random,
  );
  let mismatches = 0;
  const lookup = 500;
  for (let i = 0; i < sample.length; i += lookup) {
    options.signal?.throwIfAborted();
    const chunk: StoredRecord[] = sample.slice(i, i + lookup);
    const found = await target.getMany(collection, chunk.map((r) => r.key));
    await meters.target.took(found);
    for (let j = 0; j < chunk.length; j++) {
      const a = chunk[j]!;
      const b = found[j];
      if (!b) {
        mismatches++;
        await tally.diff('missing', a.key, a.value);
      } else if (!sameValue(a.value, b.value)) {
        mismatches++;
        await tally.diff('different', a.key, a.value, b.value);
      } else tally.match();
    }
  }
  return { checked: sample.length, mismatches };
}
