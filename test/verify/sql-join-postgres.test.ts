/**
 * `verify --mode full` between two tables of one PostgreSQL database: the database joins them range
 * by range and returns only the keys that differ (method 'sql-join'). It must give exactly the answer
 * of the record-by-record merge, for every kind of planted difference and every range size, move
 * almost nothing over the wire, and step aside (same answer, another method) whenever the two stores
 * are not provably one database or the source may not read the target's table.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/store.js';
import { createMemoryStore } from '../../src/drivers/memory.js';
import { createPostgresStore } from '../../src/drivers/postgres.js';
import { oneDatabase } from '../../src/verify/sql-join.js';
import { verify } from '../../src/verify/verify.js';
import { storeUrl } from '../drivers/postgres-helpers.js';
import { POSTGRES_URL, runId } from '../helpers/services.js';
import { expectPlanted } from './matrix.js';
import { plant } from './planted.js';

const schemaA = runId('sjA');
const schemaB = runId('sjB');
let source: Store;
let target: Store;
let db: pg.Client;
let counter = 0;
const fresh = () => `sj_${++counter}`;
const table = (schema: string, c: string) => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(c)}`;

beforeAll(async () => {
  source = createPostgresStore(storeUrl(schemaA));
  target = createPostgresStore(storeUrl(schemaB));
  db = new pg.Client(POSTGRES_URL);
  await db.connect();
});

afterAll(async () => {
  await source?.close();
  await target?.close();
  for (const s of [schemaA, schemaB]) await db.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(s)} CASCADE`);
  await db.end();
});

async function fillBoth(c: string, n: number): Promise<void> {
  await source.ensureCollection(c);
  await target.ensureCollection(c);
  for (const s of [schemaA, schemaB]) {
    await db.query(
      `INSERT INTO ${table(s, c)} (key, value) SELECT 'r' || lpad(i::text, 6, '0'), jsonb_build_object('i', i, 'name', 'user ' || i, 'tags', jsonb_build_array('a', i % 7))
       FROM generate_series(1, ${n}) AS i`,
    );
  }
}

describe('verify full between two tables of one PostgreSQL database', () => {
  it('knows one database from two, and from a store of another kind', async () => {
    expect(await oneDatabase(source, target)).toBe(true);
    expect(await oneDatabase(target, source)).toBe(true);
    expect(await oneDatabase(source, createMemoryStore())).toBe(false);
  });

  for (const joinRangeRecords of [100_000, 40, 3]) {
    it(`finds exactly the planted differences, as the merge does (ranges of about ${joinRangeRecords})`, async () => {
      const c = fresh();
      const planted = await plant(source, target, c, { bytes: true, n: 300 });
      const result = await verify({ from: source, to: target, only: [c], mode: 'full', examples: 1000, tuning: { joinRangeRecords } });
      expectPlanted(result, planted, c);
      const row = result.collections[0]!;
      expect(row.method).toBe('sql-join');
      const ranges = Number(/in (\d+) ranges?/.exec(row.note ?? '')?.[1]);
      expect(ranges).toBeGreaterThanOrEqual(joinRangeRecords === 3 ? 50 : joinRangeRecords === 40 ? 5 : 2);
      expect(row.matching).toBe(planted.sourceCount - planted.missing.length - planted.different.length);
      for (const key of planted.sameData) expect(row.examples.map((e) => e.key)).not.toContain(key);
      const precision = row.examples.find((e) => e.key === 'changed-precision')!;
      expect(precision.diff).toEqual([{ path: '$.a.x', op: 'changed', old: '1.0000000000000002', new: '1' }]);
      expect(JSON.parse(row.examples.find((e) => e.key === 'missing-1')!.source as string)).toEqual({ only: 'source', k: 'missing-1' });
      expect(JSON.parse(row.examples.find((e) => e.key === 'extra-1')!.target as string)).toEqual({ only: 'target', k: 'extra-1' });
      const merged = await verify({ from: source, to: target, only: [c], mode: 'full', examples: 1000, tuning: { sqlJoin: false, rowDigests: false } });
      expect(merged.collections[0]!.method).toBe('merge');
      const pick = (r: typeof row) => ({ ...r, recordsPerSecond: 0, bytesTransferred: 0, method: '', note: '' });
      expect(pick(row)).toEqual(pick(merged.collections[0]!));
    });
  }

  it('keeps only the examples asked for, and counts every difference', async () => {
    const c = fresh();
    await fillBoth(c, 2000);
    await db.query(`UPDATE ${table(schemaB, c)} SET value = jsonb_set(value, '{name}', '"x"') WHERE key LIKE 'r0001%'`);
    const result = await verify({ from: source, to: target, only: [c], mode: 'full', examples: 3, tuning: { joinRangeRecords: 150 } });
    const row = result.collections[0]!;
    expect(row.method).toBe('sql-join');
    expect(row.different).toBe(100);
    expect(row.examples.map((e) => e.key)).toEqual(['r000100', 'r000101', 'r000102']);
    expect(row.examples.every((e) => e.source !== undefined && e.target !== undefined)).toBe(true);
  });

  it('repairs every difference it finds (full mode, deleteExtra), then finds none', async () => {
    const c = fresh();
    const planted = await plant(source, target, c, { bytes: true, n: 120 });
    const result = await verify({ from: source, to: target, only: [c], mode: 'full', repair: true, deleteExtra: true, tuning: { joinRangeRecords: 25 } });
    expect(result.repair!.before[0]).toMatchObject({ method: 'sql-join', missing: planted.missing.length, different: planted.different.length, extra: planted.extra.length });
    expect(result.repair!.copied).toBe(planted.missing.length + planted.different.length);
    expect(result.repair!.deleted).toBe(planted.extra.length);
    expect(result.collections[0]).toMatchObject({ method: 'sql-join', missing: 0, different: 0, extra: 0 });
    expect(result.ok).toBe(true);
    const left = await db.query(`SELECT count(*)::int AS n FROM ${table(schemaA, c)} a FULL JOIN ${table(schemaB, c)} b USING (key) WHERE a.key IS NULL OR b.key IS NULL OR a.value IS DISTINCT FROM b.value OR a.bytes IS DISTINCT FROM b.bytes`);
    expect(left.rows[0].n).toBe(0);
  });

  it('moves only the keys that differ', async () => {
    const c = fresh();
    await fillBoth(c, 20_000);
    await db.query(`DELETE FROM ${table(schemaB, c)} WHERE key = 'r010000'`);
    const result = await verify({ from: source, to: target, only: [c], mode: 'full', examples: 0, tuning: { joinRangeRecords: 3000 } });
    const row = result.collections[0]!;
    expect(row).toMatchObject({ method: 'sql-join', sourceCount: 20_000, targetCount: 19_999, matching: 19_999, missing: 1, different: 0, extra: 0 });
    expect(row.bytesTransferred).toBeLessThan(100);
  });

  it('steps aside under a rate limit, which cannot pace a join', async () => {
    const c = fresh();
    await fillBoth(c, 50);
    const result = await verify({ from: source, to: target, only: [c], mode: 'full', maxRate: 1_000_000 });
    expect(result.collections[0]!.method).not.toBe('sql-join');
    expect(result.ok).toBe(true);
  });

  it('steps aside for a store in another database of the same server', async () => {
    const url = new URL(POSTGRES_URL);
    url.pathname = '/postgres';
    const other = createPostgresStore(`${url.toString()}?schema=${encodeURIComponent(schemaB)}`);
    const c = fresh();
    try {
      const planted = await plant(source, other, c, { n: 50 });
      expect(await oneDatabase(source, other)).toBe(false);
      const result = await verify({ from: source, to: other, only: [c], mode: 'full', examples: 1000 });
      expectPlanted(result, planted, c);
      expect(result.collections[0]!.method).not.toBe('sql-join');
    } finally {
      await other.dropCollection!(c);
      await other.close();
    }
  });

  it('falls back when the source may not read the target\'s table, with the same answer', async () => {
    const role = runId('sjrole').slice(0, 60);
    const c = fresh();
    const planted = await plant(source, target, c, { n: 50 });
    await db.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN`);
    try {
      await db.query(`GRANT USAGE ON SCHEMA ${pg.escapeIdentifier(schemaA)} TO ${pg.escapeIdentifier(role)}`);
      await db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${pg.escapeIdentifier(schemaA)} TO ${pg.escapeIdentifier(role)}`);
      const url = new URL(POSTGRES_URL);
      url.username = role;
      const limited = createPostgresStore(`${url.toString()}?schema=${encodeURIComponent(schemaA)}`, { create: false });
      try {
        expect(await oneDatabase(limited, target)).toBe(true);
        const result = await verify({ from: limited, to: target, only: [c], mode: 'full', examples: 1000 });
        expectPlanted(result, planted, c);
        expect(result.collections[0]!.method).not.toBe('sql-join');
      } finally {
        await limited.close();
      }
    } finally {
      await db.query(`DROP OWNED BY ${pg.escapeIdentifier(role)}`);
      await db.query(`DROP ROLE ${pg.escapeIdentifier(role)}`);
    }
  });
});
