/**
 * `verify --mode checksum` between two PostgreSQL schemas computes range digests in SQL
 * (method 'sql-pushdown'): equal tables cost a few digests, and every planted difference is still
 * found and reported record by record. A PostgreSQL ↔ SQLite pair, or a pair whose digest families
 * differ, keeps the streaming method and finds the same differences.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/store.js';
import { createMemoryStore } from '../../src/drivers/memory.js';
import { openStore } from '../../src/drivers/index.js';
import { verify } from '../../src/verify/verify.js';
import { expectPlanted, expectPlantedExamples } from './matrix.js';
import { plant, readAll } from './planted.js';
import { withPushdown } from './wrappers.js';
import { usePgPair } from './pg-pair.js';

const fx = usePgPair('pd');

describe('verify checksum between two PostgreSQL stores', () => {
  it('proves two identical tables equal with digests only', async () => {
    const c = fx.fresh();
    await fx.fillBoth(c, 20_000);
    // Independent check that the fixture really is identical, row by row, in SQL.
    const diff = await fx.db.query(`SELECT count(*)::int AS n FROM ${fx.table(fx.schemaA, c)} a FULL JOIN ${fx.table(fx.schemaB, c)} b USING (key) WHERE a.value IS DISTINCT FROM b.value`);
    expect(diff.rows[0].n).toBe(0);
    const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'checksum' });
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(true);
    const row = result.collections[0]!;
    expect(row.method).toBe('sql-pushdown');
    expect(row.matching).toBe(20_000);
    // One digest per side: a few dozen bytes, where streaming would move megabytes.
    expect(row.bytesTransferred).toBeLessThan(200);
  });

  it('finds one changed record among many and moves little data', async () => {
    const c = fx.fresh();
    await fx.fillBoth(c, 20_000);
    await fx.db.query(`UPDATE ${fx.table(fx.schemaB, c)} SET value = jsonb_set(value, '{nested,ok}', '"yes"') WHERE key = 'r012345'`);
    const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'checksum', examples: 10, tuning: { leafSize: 100, fanout: 16 } });
    const row = result.collections[0]!;
    expect(row.method).toBe('sql-pushdown');
    expect(row.examples.map((e) => [e.kind, e.key])).toEqual([['different', 'r012345']]);
    expect(row.examples[0]!.diff).toEqual([{ path: '$.nested.ok', op: 'changed', old: 'false', new: '"yes"' }]);
    expect(row.matching).toBe(19_999);
    const full = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', tuning: { sqlJoin: false } });
    expect(row.bytesTransferred * 50).toBeLessThan(full.collections[0]!.bytesTransferred);
  });

  for (const tuning of [{}, { leafSize: 2, fanout: 3, batchSize: 5 }, { leafSize: 16, fanout: 2 }, { leafSize: 1, fanout: 64 }]) {
    it(`finds exactly the planted differences and ignores spelling-only ones (tuning ${JSON.stringify(tuning)})`, async () => {
      const c = fx.fresh();
      const planted = await plant(fx.source, fx.target, c, { bytes: true });
      const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'checksum', examples: 1000, tuning });
      expectPlanted(result, planted, c);
      const row = result.collections[0]!;
      expect(row.method).toBe('sql-pushdown');
      expect(row.matching).toBe(planted.sourceCount - planted.missing.length - planted.different.length);
      const precision = row.examples.find((e) => e.key === 'changed-precision')!;
      expect(precision.diff).toEqual([{ path: '$.a.x', op: 'changed', old: '1.0000000000000002', new: '1' }]);
      for (const key of planted.sameData) expect(row.examples.map((e) => e.key)).not.toContain(key);
      // The spelling-only pairs really are spelled differently in what each side was given, and jsonb
      // already made member order equal (what the pushdown digest relies on).
      const order = await fx.db.query(`SELECT a.value = b.value AS same FROM ${fx.table(fx.schemaA, c)} a JOIN ${fx.table(fx.schemaB, c)} b USING (key) WHERE key = 'key-order'`);
      expect(order.rows[0].same).toBe(true);
    });
  }

  it('finds a difference whose only trace is a moved value between two keys', async () => {
    const c = fx.fresh();
    await fx.fillBoth(c, 3000);
    // Swap two records' values on the target: same multiset of values, different key → value pairs.
    await fx.db.query(
      `UPDATE ${fx.table(fx.schemaB, c)} t SET value = s.value FROM ${fx.table(fx.schemaA, c)} s
       WHERE (t.key, s.key) IN (('r000010', 'r002000'), ('r002000', 'r000010'))`,
    );
    const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'checksum', examples: 10 });
    const row = result.collections[0]!;
    expect(row.method).toBe('sql-pushdown');
    expect(row.examples.map((e) => e.key).sort()).toEqual(['r000010', 'r002000']);
  });

  it('reports a target-only collection and an empty source', async () => {
    const c = fx.fresh();
    await fx.target.putMany(c, [{ key: '😀', value: '{"a":1}' }, { key: '\ue000', value: '[1]' }]);
    const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'checksum' });
    const row = result.collections[0]!;
    expect(row.extra).toBe(2);
    expect(row.examples.map((e) => e.key).sort()).toEqual(['\ue000', '😀'].sort());
    expect(result.ok).toBe(false);
  });
});

// Two schemas of one database are compared by a join (sql-join-postgres.test.ts); sqlJoin: false makes
// them two separate stores, as two servers are.
describe('verify full between two PostgreSQL stores: keys and per-record digests', () => {
  for (const tuning of [{ sqlJoin: false }, { batchSize: 7, sqlJoin: false }]) {
    it(`finds exactly the planted differences, reading values only where digests differ (tuning ${JSON.stringify(tuning)})`, async () => {
      const c = fx.fresh();
      const planted = await plant(fx.source, fx.target, c, { bytes: true });
      // The spelling-only pairs that jsonb still prints differently must reach the canonical comparison.
      const spelled = await fx.db.query(
        `SELECT a.key FROM ${fx.table(fx.schemaA, c)} a JOIN ${fx.table(fx.schemaB, c)} b USING (key) WHERE a.value::text <> b.value::text ORDER BY key`,
      );
      expect(spelled.rows.map((r: { key: string }) => r.key)).toContain('number-spelling');
      const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', examples: 1000, tuning });
      expectPlanted(result, planted, c);
      const row = result.collections[0]!;
      expect(row.method).toBe('row-digest-merge');
      // One-sided examples still carry the value, read by key.
      expectPlantedExamples(row, planted);
      const plain = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', examples: 1000, tuning: { ...tuning, rowDigests: false } });
      expect(plain.collections[0]!.method).toBe('merge');
      expect(plain.collections[0]).toMatchObject({ matching: row.matching, missing: row.missing, different: row.different, extra: row.extra });
    });
  }

  it('moves keys and digests instead of documents', async () => {
    const c = fx.fresh();
    await fx.fillBoth(c, 20_000);
    await fx.db.query(`UPDATE ${fx.table(fx.schemaB, c)} SET value = jsonb_set(value, '{name}', '"renamed"') WHERE key = 'r004321'`);
    const digests = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', examples: 10, tuning: { sqlJoin: false } });
    const plain = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', examples: 10, tuning: { rowDigests: false, sqlJoin: false } });
    const [d, p] = [digests.collections[0]!, plain.collections[0]!];
    expect(d.method).toBe('row-digest-merge');
    expect(d.examples.map((e) => [e.kind, e.key])).toEqual([['different', 'r004321']]);
    expect(d.examples[0]!.diff).toEqual(p.examples[0]!.diff);
    expect(d.matching).toBe(19_999);
    expect(d.bytesTransferred * 2).toBeLessThan(p.bytesTransferred);
  });
});

describe('verify checksum between stores of different digest families', () => {
  it('computes the digests itself when the other side digests differently', async () => {
    const c = fx.fresh();
    const memory = withPushdown(createMemoryStore());
    const planted = await plant(fx.source, memory, c, { bytes: true });
    const result = await verify({ from: fx.source, to: memory, only: [c], mode: 'checksum', examples: 1000, tuning: { leafSize: 4, fanout: 3, clientDigests: true } });
    expectPlanted(result, planted, c);
    expect(result.collections[0]!.method).toBe('checksum-bisect');
    expect(memory.digestCalls).toBe(0);
  });
});

describe('verify checksum between PostgreSQL and SQLite', () => {
  let dir = '';
  let sqlite: Store;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cutover-pushdown-'));
    sqlite = await openStore(`sqlite:${join(dir, 'side.db')}`);
  });
  afterAll(async () => {
    await sqlite?.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const direction of ['postgres → sqlite', 'sqlite → postgres'] as const) {
    it(`keeps the streaming method and finds the same differences (${direction})`, async () => {
      const c = fx.fresh();
      const [from, to] = direction === 'postgres → sqlite' ? [fx.source, sqlite] : [sqlite, fx.source];
      const planted = await plant(from, to, c, { bytes: from.capabilities.bytesValues && to.capabilities.bytesValues });
      const result = await verify({ from, to, only: [c], mode: 'checksum', examples: 1000, tuning: { leafSize: 4, fanout: 3, clientDigests: true } });
      expectPlanted(result, planted, c);
      expect(result.collections[0]!.method).toBe('checksum-bisect');
      // What the target holds, read back independently, is what verify compared.
      expect((await readAll(to, c)).size).toBe(planted.targetCount);
    });
  }
});
