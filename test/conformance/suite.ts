/**
 * The shared conformance suite: every backend runs it (Keyv's test-suite and unstorage's driver
 * tests work the same way). Each test uses a collection of its own, so tests share nothing.
 * A backend is done when it passes this. Assertions read data back through the store, never trust
 * the store's own counters alone.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameValue } from '../../src/core/canonical.js';
import { compareKeys } from '../../src/core/key-order.js';
import type { StoredRecord } from '../../src/core/record.js';
import type { ScanBatch, ScanOptions, Store } from '../../src/core/store.js';
import { HOSTILE_KEYS, INVALID_KEYS, ORDER_KEYS, TRICKY_JSON, deepJson, records } from './ugly-data.js';

export interface ConformanceOptions {
  /** A fresh store; called once for the suite. */
  factory: () => Promise<Store>;
  /** Runs after the suite (drop schemas, remove folders). */
  teardown?: (store: Store) => Promise<void>;
  /** Biggest single value to try; default 16 MiB. */
  bigValueBytes?: number;
  /** Make collection names unique per test run (servers shared between runs). */
  collectionPrefix?: string;
}

let counter = 0;

export async function scanAll(store: Store, collection: string, options: ScanOptions = {}): Promise<{ batches: ScanBatch[]; records: StoredRecord[] }> {
  const batches: ScanBatch[] = [];
  for await (const batch of store.scan(collection, options)) batches.push(batch);
  return { batches, records: batches.flatMap((b) => b.records) };
}

/** Last value per key: what an unordered scan that may repeat keys means. */
export function byKey(list: StoredRecord[]): Map<string, StoredRecord> {
  return new Map(list.map((r) => [r.key, r]));
}

export function runConformance(name: string, options: ConformanceOptions): void {
  describe(`conformance: ${name}`, () => {
    let store: Store;
    const prefix = options.collectionPrefix ?? '';
    const fresh = () => `${prefix}c${++counter}_${randomBytes(3).toString('hex')}`;

    beforeAll(async () => {
      store = await options.factory();
    });
    afterAll(async () => {
      if (!store) return;
      await options.teardown?.(store);
      await store.close();
    });

    async function expectSameData(collection: string, expected: StoredRecord[]): Promise<void> {
      const got = await store.getMany(collection, expected.map((r) => r.key));
      got.forEach((r, i) => {
        const want = expected[i]!;
        expect(r, `record ${JSON.stringify(want.key)}`).toBeDefined();
        expect(r!.key).toBe(want.key);
        if (typeof want.value === 'string') {
          expect(typeof r!.value).toBe('string');
          expect(sameValue(r!.value, want.value), `value of ${JSON.stringify(want.key)}: ${String(r!.value).slice(0, 200)} vs ${want.value.slice(0, 200)}`).toBe(true);
        } else {
          expect(Buffer.compare(Buffer.from(r!.value as Uint8Array), Buffer.from(want.value))).toBe(0);
        }
      });
    }

    describe('collections', () => {
      it('a missing collection counts 0, scans empty and gets nothing', async () => {
        const c = fresh();
        expect(await store.count(c)).toBe(0);
        expect((await scanAll(store, c)).records).toEqual([]);
        expect(await store.getMany(c, ['a'])).toEqual([undefined]);
        expect(await store.deleteMany(c, ['a'])).toBe(0);
      });

      it('ensureCollection is idempotent and the collection is listed, empty', async () => {
        const c = fresh();
        await store.ensureCollection(c);
        await store.ensureCollection(c);
        expect(await store.listCollections()).toContain(c);
        expect(await store.count(c)).toBe(0);
        expect((await scanAll(store, c)).records).toEqual([]);
      });

      it('refuses collection names that could inject or escape', async () => {
        for (const bad of ['x; DROP TABLE t', '../up', 'a/b', '', 'quote"s', "it's"]) {
          await expect(store.ensureCollection(bad), bad).rejects.toThrow(/collection name/);
        }
      });
    });

    describe('basic', () => {
      it('puts, gets, overwrites and deletes', async () => {
        const c = fresh();
        const res = await store.putMany(c, records(['k1', 'k2', 'k3']));
        expect(res.rejected).toEqual([]);
        expect(res.written).toBe(3);
        expect(await store.count(c)).toBe(3);
        await store.putMany(c, [{ key: 'k2', value: '{"changed":true}' }]);
        await expectSameData(c, [{ key: 'k2', value: '{"changed":true}' }]);
        expect(await store.deleteMany(c, ['k1', 'k2', 'missing'])).toBe(2);
        const got = await store.getMany(c, ['k1', 'k2', 'k3']);
        expect(got[0]).toBeUndefined();
        expect(got[1]).toBeUndefined();
        expect(got[2]?.key).toBe('k3');
        expect(await store.count(c)).toBe(1);
      });

      it('upsert is idempotent: the same batch twice changes nothing', async () => {
        const c = fresh();
        const batch = records(Array.from({ length: 50 }, (_, i) => `key-${i}`));
        await store.putMany(c, batch);
        await store.putMany(c, batch);
        expect(await store.count(c)).toBe(50);
        const all = (await scanAll(store, c)).records;
        expect(byKey(all).size).toBe(50);
        await expectSameData(c, batch);
      });

      it('a key repeated inside one batch keeps the last value', async () => {
        const c = fresh();
        await store.putMany(c, [
          { key: 'dup', value: '1' },
          { key: 'other', value: '2' },
          { key: 'dup', value: '3' },
        ]);
        expect(await store.count(c)).toBe(2);
        await expectSameData(c, [{ key: 'dup', value: '3' }]);
      });

      it('getMany keeps positions and returns undefined for absent keys', async () => {
        const c = fresh();
        await store.putMany(c, records(['x', 'y']));
        const got = await store.getMany(c, ['y', 'nope', 'x', 'y']);
        expect(got.map((r) => r?.key)).toEqual(['y', undefined, 'x', 'y']);
      });

      it('takes a batch of 5,000 records', async () => {
        const c = fresh();
        const batch = records(Array.from({ length: 5000 }, (_, i) => `bulk-${String(i).padStart(5, '0')}`));
        const res = await store.putMany(c, batch);
        expect(res.written).toBe(5000);
        expect(await store.count(c)).toBe(5000);
        expect(byKey((await scanAll(store, c, { batchSize: 700 })).records).size).toBe(5000);
      });
    });

    describe('keys', () => {
      it('hostile keys are stored as themselves, distinct, and read back', async () => {
        const c = fresh();
        const batch = records(HOSTILE_KEYS);
        const res = await store.putMany(c, batch);
        expect(res.rejected).toEqual([]);
        expect(await store.count(c)).toBe(HOSTILE_KEYS.length);
        await expectSameData(c, batch);
        const scanned = byKey((await scanAll(store, c)).records);
        expect([...scanned.keys()].sort()).toEqual([...HOSTILE_KEYS].sort());
      });

      it('invalid keys are rejected with a reason and the rest of the batch lands', async () => {
        const c = fresh();
        const batch = [...records(['good-1']), ...INVALID_KEYS.map((key) => ({ key, value: '1' })), ...records(['good-2'])];
        const res = await store.putMany(c, batch);
        expect(res.rejected.map((r) => r.key)).toEqual(INVALID_KEYS);
        for (const r of res.rejected) expect(r.reason.length).toBeGreaterThan(5);
        expect(await store.count(c)).toBe(2);
        expect((await store.getMany(c, ['good-1', 'good-2'])).every(Boolean)).toBe(true);
      });
    });

    describe('scan', () => {
      it('yields every record once per pass, in UTF-8 byte order where ordered', async () => {
        const c = fresh();
        await store.putMany(c, records([...ORDER_KEYS].reverse()));
        const { records: got } = await scanAll(store, c, { batchSize: 4 });
        const keys = got.map((r) => r.key);
        if (store.capabilities.orderedScan && (await store.isOrdered(c))) {
          expect(keys).toEqual([...ORDER_KEYS].sort(compareKeys));
        } else {
          expect(new Set(keys)).toEqual(new Set(ORDER_KEYS));
        }
      });

      it('resumes from any batch cursor with nothing lost (and, ordered, nothing repeated)', async () => {
        const c = fresh();
        const keys = [...ORDER_KEYS, ...Array.from({ length: 40 }, (_, i) => `n${i}`)];
        await store.putMany(c, records(keys));
        const ordered = store.capabilities.orderedScan && (await store.isOrdered(c));
        const { batches } = await scanAll(store, c, { batchSize: 5 });
        expect(batches.length).toBeGreaterThan(3);
        for (let b = 0; b < batches.length; b++) {
          const before = batches.slice(0, b + 1).flatMap((x) => x.records.map((r) => r.key));
          const rest = (await scanAll(store, c, { batchSize: 5, after: batches[b]!.cursor })).records.map((r) => r.key);
          const union = new Set([...before, ...rest]);
          expect(union, `resume after batch ${b}`).toEqual(new Set(keys));
          if (ordered) {
            expect(before.length + rest.length).toBe(keys.length);
            expect([...before, ...rest]).toEqual([...keys].sort(compareKeys));
          }
        }
      });

      it('an ordered scan resumes after any key, including keys that are absent', async () => {
        const c = fresh();
        if (!store.capabilities.orderedScan || !(await store.isOrdered(c))) return;
        const sorted = [...ORDER_KEYS].sort(compareKeys);
        await store.putMany(c, records(sorted));
        for (const after of [...sorted, 'a\u0000', 'b0', '\ud7ff', '\uffff', '\u{1f600}\u0000']) {
          const rest = (await scanAll(store, c, { after, batchSize: 7 })).records.map((r) => r.key);
          expect(rest, `after ${JSON.stringify(after)}`).toEqual(sorted.filter((k) => compareKeys(k, after) > 0));
        }
      });

      it('range scan honours an exclusive upper bound', async () => {
        const c = fresh();
        if (!store.capabilities.rangeScan) return;
        const sorted = [...ORDER_KEYS].sort(compareKeys);
        await store.putMany(c, records(sorted));
        const lo = sorted[3]!;
        const hi = sorted[sorted.length - 4]!;
        const got = (await scanAll(store, c, { after: lo, until: hi, batchSize: 3 })).records.map((r) => r.key);
        expect(got).toEqual(sorted.filter((k) => compareKeys(k, lo) > 0 && compareKeys(k, hi) < 0));
      });

      it('split points, where offered, cut the collection into ranges that cover every key once', async () => {
        const c = fresh();
        if (!store.splitPoints) return;
        expect(await store.splitPoints(c, 3, 0)).toEqual([]);
        expect(await store.splitPoints(c, 3, 30)).toEqual([]);
        const sorted = [...ORDER_KEYS].sort(compareKeys);
        await store.putMany(c, records(sorted));
        for (const parts of [2, 3, 5]) {
          const points = await store.splitPoints(c, parts, sorted.length);
          expect(points).toHaveLength(parts - 1);
          let after: string | null = null;
          const seen: string[] = [];
          const sizes: number[] = [];
          for (const until of [...points.map((p) => p.key), null]) {
            const part = (await scanAll(store, c, { after, until, batchSize: 4 })).records.map((r) => r.key);
            sizes.push(part.length);
            seen.push(...part);
            after = points.find((p) => p.key === until)?.previous ?? null;
          }
          expect(seen, `${parts} parts`).toEqual(sorted);
          for (const p of points) expect(sorted.indexOf(p.previous) + 1).toBe(sorted.indexOf(p.key));
          expect(Math.max(...sizes) - Math.min(...sizes), `${parts} parts of ${sizes.join(', ')}`).toBeLessThanOrEqual(parts);
        }
      });

      it('stops when the signal is aborted', async () => {
        const c = fresh();
        await store.putMany(c, records(Array.from({ length: 30 }, (_, i) => `s${i}`)));
        const ac = new AbortController();
        let seen = 0;
        await expect(
          (async () => {
            for await (const batch of store.scan(c, { batchSize: 5, signal: ac.signal })) {
              seen += batch.records.length;
              ac.abort();
            }
          })(),
        ).rejects.toThrow();
        expect(seen).toBeLessThan(30);
      });
    });

    describe('values', () => {
      it('JSON values come back as the same data, or are rejected with a reason, never altered', async () => {
        const c = fresh();
        const batch = TRICKY_JSON.map((value, i) => ({ key: `v${i}`, value }));
        const res = await store.putMany(c, batch);
        const rejected = new Set(res.rejected.map((r) => r.key));
        for (const r of res.rejected) expect(r.reason, `reason for ${r.key}`).toMatch(/\w{3,}/);
        await expectSameData(c, batch.filter((r) => !rejected.has(r.key)));
        const absent = await store.getMany(c, [...rejected] as string[]);
        expect(absent.every((r) => r === undefined)).toBe(true);
        // Big integers and long decimals are the point of the exercise: only a backend that says why may refuse them.
        expect(rejected.size).toBeLessThan(batch.length);
      });

      it('keeps deep nesting', async () => {
        const c = fresh();
        const value = deepJson(60);
        await store.putMany(c, [{ key: 'deep', value }]);
        await expectSameData(c, [{ key: 'deep', value }]);
      });

      it('binary values round-trip byte for byte', async () => {
        const c = fresh();
        if (!store.capabilities.bytesValues) return;
        const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        const batch: StoredRecord[] = [
          { key: 'all-bytes', value: all },
          { key: 'empty-bytes', value: Buffer.alloc(0) },
          { key: 'random', value: randomBytes(70_000) },
          { key: 'json-beside', value: '{"x":1}' },
        ];
        expect((await store.putMany(c, batch)).rejected).toEqual([]);
        await expectSameData(c, batch);
        const scanned = byKey((await scanAll(store, c)).records);
        expect(Buffer.compare(Buffer.from(scanned.get('all-bytes')!.value as Uint8Array), all)).toBe(0);
        expect(typeof scanned.get('json-beside')!.value).toBe('string');
      });

      it(`holds a big value`, async () => {
        const c = fresh();
        const size = options.bigValueBytes ?? 16 * 1024 * 1024;
        const value = JSON.stringify({ blob: 'x'.repeat(size - 20), tail: 'end' });
        const res = await store.putMany(c, [{ key: 'big', value }, { key: 'small', value: '1' }]);
        expect(res.rejected).toEqual([]);
        const [got] = await store.getMany(c, ['big']);
        expect(typeof got!.value).toBe('string');
        expect(sameValue(got!.value as string, value)).toBe(true);
        expect((await scanAll(store, c, { batchSize: 1 })).records.length).toBe(2);
      });
    });

    describe('checkpoints', () => {
      it('a checkpoint committed with a batch reads back, and clears by prefix', async () => {
        if (!store.capabilities.transactionalCheckpoint) return;
        const c = fresh();
        const id = `${c}-mig/unit-1`;
        await store.putMany(c, records(['a', 'b']), { checkpoint: { id, cursor: 'b', data: '{"n":2}' } });
        expect(await store.readCheckpoint!(id)).toMatchObject({ id, cursor: 'b', data: '{"n":2}' });
        await store.putMany(c, records(['c']), { checkpoint: { id, cursor: 'c' } });
        expect((await store.readCheckpoint!(id))?.cursor).toBe('c');
        await store.clearCheckpoints!(`${c}-mig/`);
        expect(await store.readCheckpoint!(id)).toBeNull();
      });

      it('an empty batch can carry a checkpoint (the engine writes it alone after bisecting a batch)', async () => {
        if (!store.capabilities.transactionalCheckpoint) return;
        const c = fresh();
        const id = `${c}-mig/unit-empty`;
        const res = await store.putMany(c, [], { checkpoint: { id, cursor: 'k9' } });
        expect(res.written).toBe(0);
        expect((await store.readCheckpoint!(id))?.cursor).toBe('k9');
        await store.clearCheckpoints!(`${c}-mig/`);
      });
    });
  });
}
