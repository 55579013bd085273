/**
 * The verify tests every store pair runs: each mode finds exactly the planted differences (and not
 * the spelling-only ones), and repair makes the pair equal as read back independently.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameValue } from '../../src/core/canonical.js';
import { compareKeys } from '../../src/core/key-order.js';
import type { Store } from '../../src/core/store.js';
import type { CollectionResult, DiffKind, VerifyOptions, VerifyResult } from '../../src/verify/types.js';
import { verify } from '../../src/verify/verify.js';
import { plant, readAll, type Planted } from './planted.js';

export interface Pair {
  source: Store;
  target: Store;
  /** Both sides hold bytes values. */
  bytes?: boolean;
  /** A collection prefix unique to this run. */
  prefix?: string;
}

export function keysOf(result: VerifyResult, kind: DiffKind, collection?: string): string[] {
  return result.collections
    .filter((c) => collection === undefined || c.collection === collection)
    .flatMap((c) => c.examples.filter((e) => e.kind === kind).map((e) => e.key))
    .sort();
}

export function expectPlanted(result: VerifyResult, planted: Planted, collection: string, kinds: DiffKind[] = ['missing', 'different', 'extra']): void {
  expect(result.errors).toEqual([]);
  const c = result.collections.find((x) => x.collection === collection)!;
  expect(c, `collection ${collection} in the result`).toBeDefined();
  for (const kind of kinds) {
    expect(keysOf(result, kind, collection), kind).toEqual(planted[kind]);
    expect(c[kind], `${kind} count`).toBe(planted[kind].length);
  }
  expect(c.sourceCount).toBe(planted.sourceCount);
  expect(c.targetCount).toBe(planted.targetCount);
  expect(result.ok).toBe(false);
}

/**
 * What every exact method must report of a planted pair beyond the keys: the matching count, no
 * spelling-only pair among the examples, the precise diff of a changed nested number, and one-sided
 * examples that carry their value.
 */
export function expectPlantedExamples(row: CollectionResult, planted: Planted): void {
  expect(row.matching).toBe(planted.sourceCount - planted.missing.length - planted.different.length);
  for (const key of planted.sameData) expect(row.examples.map((e) => e.key)).not.toContain(key);
  const precision = row.examples.find((e) => e.key === 'changed-precision')!;
  expect(precision.diff).toEqual([{ path: '$.a.x', op: 'changed', old: '1.0000000000000002', new: '1' }]);
  expect(JSON.parse(row.examples.find((e) => e.key === 'missing-1')!.source as string)).toEqual({ only: 'source', k: 'missing-1' });
  expect(JSON.parse(row.examples.find((e) => e.key === 'extra-1')!.target as string)).toEqual({ only: 'target', k: 'extra-1' });
}

export function verifyMatrix(label: string, makePair: () => Promise<Pair>, teardown?: (pair: Pair) => Promise<void>): void {
  describe(`verify: ${label}`, () => {
    let pair: Pair;
    const fresh = () => `${pair.prefix ?? ''}v_${randomBytes(4).toString('hex')}`;
    const run = (collection: string, extra: Partial<VerifyOptions>) =>
      verify({ from: pair.source, to: pair.target, only: [collection], examples: 1000, ...extra });

    beforeAll(async () => {
      pair = await makePair();
    });
    afterAll(async () => {
      if (pair) await teardown?.(pair);
    });

    it('full mode finds exactly the planted missing, different and extra records', async () => {
      const c = fresh();
      const planted = await plant(pair.source, pair.target, c, { bytes: pair.bytes === true });
      const result = await run(c, { mode: 'full', tuning: { batchSize: 7 } });
      expectPlanted(result, planted, c);
      const row = result.collections[0]!;
      expect(row.matching).toBe(planted.sourceCount - planted.missing.length - planted.different.length);
      const [sourceOrdered, targetOrdered] = [await pair.source.isOrdered(c), await pair.target.isOrdered(c)];
      // An unordered source (a JSONL log) against an ordered target is looked up by key instead.
      expect(row.method).toBe(sourceOrdered && targetOrdered ? 'merge' : !sourceOrdered && targetOrdered ? 'lookup' : 'hash-partition');
      const precision = row.examples.find((e) => e.key === 'changed-precision')!;
      expect(precision.diff).toEqual([{ path: '$.a.x', op: 'changed', old: '1.0000000000000002', new: '1' }]);
    });

    // clientDigests: the bisection by digests computed in this process (no database-side digests here);
    // the default for such pairs is the streaming merge, which the full-mode tests cover.
    for (const tuning of [{ clientDigests: true }, { leafSize: 2, fanout: 3, batchSize: 5, clientDigests: true }, { leafSize: 16, fanout: 2, clientDigests: true }]) {
      it(`checksum mode finds exactly the planted differences (tuning ${JSON.stringify(tuning)})`, async () => {
        const c = fresh();
        const planted = await plant(pair.source, pair.target, c, { bytes: pair.bytes === true });
        const result = await run(c, { mode: 'checksum', tuning });
        expectPlanted(result, planted, c);
        const row = result.collections[0]!;
        expect(row.matching).toBe(planted.sourceCount - planted.missing.length - planted.different.length);
        const ranged = pair.source.capabilities.rangeScan && pair.target.capabilities.rangeScan;
        if (ranged && (await pair.source.isOrdered(c)) && (await pair.target.isOrdered(c))) expect(row.method).toBe('checksum-bisect');
      });
    }

    it('checksum mode by default streams and merges once where the databases cannot digest, and finds the planted differences', async () => {
      const c = fresh();
      const planted = await plant(pair.source, pair.target, c, { bytes: pair.bytes === true });
      const result = await run(c, { mode: 'checksum' });
      expectPlanted(result, planted, c);
      const row = result.collections[0]!;
      const ranged = pair.source.capabilities.rangeScan && pair.target.capabilities.rangeScan;
      const ordered = (await pair.source.isOrdered(c)) && (await pair.target.isOrdered(c));
      if (ranged && ordered && row.method !== 'sql-pushdown') expect(row.method).toBe('merge');
    });

    it('sample mode over 100% finds every missing and different source record and states the bound', async () => {
      const c = fresh();
      const planted = await plant(pair.source, pair.target, c, { bytes: pair.bytes === true });
      const result = await run(c, { mode: 'sample', sample: '100%', seed: 7 });
      expectPlanted(result, planted, c, ['missing', 'different']);
      expect(result.collections[0]!.extra).toBe(0); // sampling the source cannot see target-only records
      expect(result.sampleBound!.checked).toBe(planted.sourceCount);
      expect(result.sampleBound!.mismatches).toBe(planted.missing.length + planted.different.length);
    });

    it('count mode reports both counts and flags the difference', async () => {
      const c = fresh();
      const planted = await plant(pair.source, pair.target, c, { bytes: pair.bytes === true });
      const result = await run(c, { mode: 'count' });
      expect(result.collections[0]!.sourceCount).toBe(planted.sourceCount);
      expect(result.collections[0]!.targetCount).toBe(planted.targetCount);
      expect(result.ok).toBe(planted.sourceCount === planted.targetCount);
    });

    it('every mode passes on a pair that differs only in spelling', async () => {
      const c = fresh();
      const records = [
        { key: 'a', value: '{"x":1.0,"y":[1,2]}' },
        { key: '😀', value: '{"b":1,"a":2}' },
        { key: '\uffef', value: '12345678901234567890.50' },
      ];
      const spelled = [
        { key: 'a', value: '{"y":[1,2],"x":1}' },
        { key: '😀', value: '{"a":2,"b":1}' },
        { key: '\uffef', value: '1234567890123456789050e-2' },
      ];
      await pair.source.putMany(c, records);
      await pair.target.putMany(c, spelled);
      for (const mode of ['count', 'full', 'checksum', 'sample'] as const) {
        const result = await run(c, { mode, ...(mode === 'sample' ? { sample: 3 } : {}), tuning: { leafSize: 1, fanout: 2 } });
        expect(result.errors, mode).toEqual([]);
        expect(result.ok, mode).toBe(true);
        if (mode !== 'count') expect(result.collections[0]!.matching, mode).toBe(3);
      }
    });

    it('repair with deleteExtra makes the target equal the source, read back independently', async () => {
      const c = fresh();
      const planted = await plant(pair.source, pair.target, c, { bytes: pair.bytes === true });
      const result = await run(c, { mode: 'checksum', repair: true, deleteExtra: true, tuning: { leafSize: 4, fanout: 4, spillThreshold: 3 } });
      expect(result.errors).toEqual([]);
      expect(result.repair!.before[0]!.missing).toBe(planted.missing.length);
      expect(result.ok).toBe(true);
      const src = await readAll(pair.source, c);
      const tgt = await readAll(pair.target, c);
      expect([...tgt.keys()].sort(compareKeys)).toEqual([...src.keys()].sort(compareKeys));
      for (const [k, r] of src) expect(sameValue(r.value, tgt.get(k)!.value), k).toBe(true);
      // And a fresh full verify agrees.
      expect((await run(c, { mode: 'full' })).ok).toBe(true);
    });

    it('repair without deleteExtra copies but keeps target-only records, so the pair still differs', async () => {
      const c = fresh();
      const planted = await plant(pair.source, pair.target, c, { bytes: pair.bytes === true });
      const result = await run(c, { mode: 'sample', sample: '100%', repair: true, seed: 1 });
      expect(result.errors).toEqual([]);
      const tgt = await readAll(pair.target, c);
      for (const k of planted.extra) expect(tgt.has(k), k).toBe(true);
      for (const k of planted.missing) expect(tgt.has(k), k).toBe(true);
      const full = await run(c, { mode: 'full' });
      expect(keysOf(full, 'extra')).toEqual(planted.extra);
      expect(full.collections[0]!.missing + full.collections[0]!.different).toBe(0);
    });
  });
}
