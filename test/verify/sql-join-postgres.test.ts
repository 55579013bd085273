/**
 * `verify --mode full` between two tables of one PostgreSQL database: the database joins them range
 * by range and returns only the keys that differ (method 'sql-join'). It must give exactly the answer
 * of the record-by-record merge, for every kind of planted difference and every range size, move
 * almost nothing over the wire, and step aside (same answer, another method) whenever the two stores
 * are not provably one database or the source may not read the target's table.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/drivers/memory.js';
import { createPostgresStore } from '../../src/drivers/postgres.js';
import { oneDatabase } from '../../src/verify/sql-join.js';
import { verify } from '../../src/verify/verify.js';
import { POSTGRES_URL, runId } from '../helpers/services.js';
import { usePgPair } from './pg-pair.js';
import { expectPlanted, expectPlantedExamples } from './matrix.js';
import { plant } from './planted.js';

const fx = usePgPair('sj');

describe('verify full between two tables of one PostgreSQL database', () => {
  it('knows one database from two, and from a store of another kind', async () => {
    expect(await oneDatabase(fx.source, fx.target)).toBe(true);
    expect(await oneDatabase(fx.target, fx.source)).toBe(true);
    expect(await oneDatabase(fx.source, createMemoryStore())).toBe(false);
  });

  for (const joinRangeRecords of [100_000, 40, 3]) {
    it(`finds exactly the planted differences, as the merge does (ranges of about ${joinRangeRecords})`, async () => {
      const c = fx.fresh();
      const planted = await plant(fx.source, fx.target, c, { bytes: true, n: 300 });
      const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', examples: 1000, tuning: { joinRangeRecords } });
      expectPlanted(result, planted, c);
      const row = result.collections[0]!;
      expect(row.method).toBe('sql-join');
      const ranges = Number(/in (\d+) ranges?/.exec(row.note ?? '')?.[1]);
      expect(ranges).toBeGreaterThanOrEqual(joinRangeRecords === 3 ? 50 : joinRangeRecords === 40 ? 5 : 2);
      expectPlantedExamples(row, planted);
      const merged = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', examples: 1000, tuning: { sqlJoin: false, rowDigests: false } });
      expect(merged.collections[0]!.method).toBe('merge');
      const pick = (r: typeof row) => ({ ...r, recordsPerSecond: 0, bytesTransferred: 0, method: '', note: '' });
      expect(pick(row)).toEqual(pick(merged.collections[0]!));
    });
  }

  it('keeps only the examples asked for, and counts every difference', async () => {
    const c = fx.fresh();
    await fx.fillBoth(c, 2000);
    await fx.db.query(`UPDATE ${fx.table(fx.schemaB, c)} SET value = jsonb_set(value, '{name}', '"x"') WHERE key LIKE 'r0001%'`);
    const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', examples: 3, tuning: { joinRangeRecords: 150 } });
    const row = result.collections[0]!;
    expect(row.method).toBe('sql-join');
    expect(row.different).toBe(100);
    expect(row.examples.map((e) => e.key)).toEqual(['r000100', 'r000101', 'r000102']);
    expect(row.examples.every((e) => e.source !== undefined && e.target !== undefined)).toBe(true);
  });

  it('repairs every difference it finds (full mode, deleteExtra), then finds none', async () => {
    const c = fx.fresh();
    const planted = await plant(fx.source, fx.target, c, { bytes: true, n: 120 });
    const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', repair: true, deleteExtra: true, tuning: { joinRangeRecords: 25 } });
    expect(result.repair!.before[0]).toMatchObject({ method: 'sql-join', missing: planted.missing.length, different: planted.different.length, extra: planted.extra.length });
    expect(result.repair!.copied).toBe(planted.missing.length + planted.different.length);
    expect(result.repair!.deleted).toBe(planted.extra.length);
    expect(result.collections[0]).toMatchObject({ method: 'sql-join', missing: 0, different: 0, extra: 0 });
    expect(result.ok).toBe(true);
    const left = await fx.db.query(`SELECT count(*)::int AS n FROM ${fx.table(fx.schemaA, c)} a FULL JOIN ${fx.table(fx.schemaB, c)} b USING (key) WHERE a.key IS NULL OR b.key IS NULL OR a.value IS DISTINCT FROM b.value OR a.bytes IS DISTINCT FROM b.bytes`);
    expect(left.rows[0].n).toBe(0);
  });

  it('moves only the keys that differ', async () => {
    const c = fx.fresh();
    await fx.fillBoth(c, 20_000);
    await fx.db.query(`DELETE FROM ${fx.table(fx.schemaB, c)} WHERE key = 'r010000'`);
    const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', examples: 0, tuning: { joinRangeRecords: 3000 } });
    const row = result.collections[0]!;
    expect(row).toMatchObject({ method: 'sql-join', sourceCount: 20_000, targetCount: 19_999, matching: 19_999, missing: 1, different: 0, extra: 0 });
    expect(row.bytesTransferred).toBeLessThan(100);
  });

  it('cuts ranges from both sides: an empty source against a big target still gets many ranges', async () => {
    const c = fx.fresh();
    await fx.fillBoth(c, 3000);
    await fx.db.query(`DELETE FROM ${fx.table(fx.schemaA, c)}`);
    const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', examples: 0, tuning: { joinRangeRecords: 300 } });
    const row = result.collections[0]!;
    expect(row).toMatchObject({ method: 'sql-join', sourceCount: 0, targetCount: 3000, extra: 3000 });
    expect(Number(/in (\d+) ranges/.exec(row.note ?? '')?.[1])).toBeGreaterThanOrEqual(5);
  });

  it('cuts ranges from the table as it is, not from statistics taken when it was small', async () => {
    const c = fx.fresh();
    await fx.fillBoth(c, 100);
    await fx.db.query(`ANALYZE ${fx.table(fx.schemaA, c)}`);
    await fx.db.query(`INSERT INTO ${fx.table(fx.schemaA, c)} (key, value) SELECT 's' || lpad(i::text, 6, '0'), '{}' FROM generate_series(1, 5000) AS i`);
    const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', examples: 0, tuning: { joinRangeRecords: 500 } });
    const row = result.collections[0]!;
    expect(row).toMatchObject({ method: 'sql-join', missing: 5000, matching: 100 });
    expect(Number(/in (\d+) ranges/.exec(row.note ?? '')?.[1])).toBeGreaterThanOrEqual(8);
  });

  it('steps aside for tables of another shape (a varchar key, a json value), with the same answer', async () => {
    for (const [column, type] of [['key', 'varchar(2000)'], ['value', 'json']] as const) {
      const c = fx.fresh();
      const planted = await plant(fx.source, fx.target, c, { n: 30 });
      await fx.db.query(`ALTER TABLE ${fx.table(fx.schemaB, c)} ALTER COLUMN ${column} TYPE ${type}`);
      const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', examples: 1000 });
      expect(result.collections[0]!.method, type).not.toBe('sql-join');
      expect(result.collections[0]!.sourceCount, type).toBe(planted.sourceCount);
    }
  });

  it('steps aside under a rate limit, which cannot pace a join', async () => {
    const c = fx.fresh();
    await fx.fillBoth(c, 50);
    const result = await verify({ from: fx.source, to: fx.target, only: [c], mode: 'full', maxRate: 1_000_000 });
    expect(result.collections[0]!.method).not.toBe('sql-join');
    expect(result.ok).toBe(true);
  });

  it('steps aside for a store in another database of the same server', async () => {
    const url = new URL(POSTGRES_URL);
    url.pathname = '/postgres';
    const other = createPostgresStore(`${url.toString()}?schema=${encodeURIComponent(fx.schemaB)}`);
    const c = fx.fresh();
    try {
      const planted = await plant(fx.source, other, c, { n: 50 });
      expect(await oneDatabase(fx.source, other)).toBe(false);
      const result = await verify({ from: fx.source, to: other, only: [c], mode: 'full', examples: 1000 });
      expectPlanted(result, planted, c);
      expect(result.collections[0]!.method).not.toBe('sql-join');
    } finally {
      await other.dropCollection!(c);
      await other.close();
    }
  });

  it('falls back when the source may not read the target\'s table, with the same answer', async () => {
    const role = runId('sjrole').slice(0, 60);
    const c = fx.fresh();
    const planted = await plant(fx.source, fx.target, c, { n: 50 });
    await fx.db.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN`);
    try {
      await fx.db.query(`GRANT USAGE ON SCHEMA ${pg.escapeIdentifier(fx.schemaA)} TO ${pg.escapeIdentifier(role)}`);
      await fx.db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${pg.escapeIdentifier(fx.schemaA)} TO ${pg.escapeIdentifier(role)}`);
      const url = new URL(POSTGRES_URL);
      url.username = role;
      const limited = createPostgresStore(`${url.toString()}?schema=${encodeURIComponent(fx.schemaA)}`, { create: false });
      try {
        expect(await oneDatabase(limited, fx.target)).toBe(true);
        const result = await verify({ from: limited, to: fx.target, only: [c], mode: 'full', examples: 1000 });
        expectPlanted(result, planted, c);
        expect(result.collections[0]!.method).not.toBe('sql-join');
      } finally {
        await limited.close();
      }
    } finally {
      await fx.db.query(`DROP OWNED BY ${pg.escapeIdentifier(role)}`);
      await fx.db.query(`DROP ROLE ${pg.escapeIdentifier(role)}`);
    }
  });
});
