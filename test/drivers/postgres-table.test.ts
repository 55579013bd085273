/**
 * What the PostgreSQL backend really puts in the database, read back with an independent client:
 * the table shape, COLLATE "C" key order, jsonb and bytea columns, quoting of names.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical.js';
import { ConfigurationError, isTransient, StoreError } from '../../src/core/errors.js';
import { compareKeys } from '../../src/core/key-order.js';
import { createPostgresStore } from '../../src/drivers/postgres.js';
import { POSTGRES_URL, runId } from '../helpers/services.js';
import { ORDER_KEYS, records } from '../conformance/ugly-data.js';
import { pgFixture, storeUrl, tableRows, type PgFixture } from './postgres-helpers.js';

let f: PgFixture;
beforeAll(async () => {
  f = await pgFixture('pgtab');
});
afterAll(async () => {
  await f?.close();
});

describe('postgres tables', () => {
  it('creates the schema and a table with key text COLLATE "C" primary key, jsonb and bytea columns', async () => {
    await f.store.ensureCollection('shape');
    const cols = await f.db.query(
      `SELECT column_name, data_type, collation_name FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = 'shape' ORDER BY ordinal_position`, [f.schema]);
    expect(cols.rows).toEqual([
      { column_name: 'key', data_type: 'text', collation_name: 'C' },
      { column_name: 'value', data_type: 'jsonb', collation_name: null },
      { column_name: 'bytes', data_type: 'bytea', collation_name: null },
      { column_name: 'updated_at', data_type: 'timestamp with time zone', collation_name: null },
      { column_name: 'version', data_type: 'bigint', collation_name: null },
    ]);
    const pk = await f.db.query(
      `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
       WHERE i.indrelid = $1::regclass AND i.indisprimary`, [f.table('shape')]);
    expect(pk.rows).toEqual([{ attname: 'key' }]);
  });

  it('stores rows in the table in byte order, JSON as jsonb and bytes as bytea', async () => {
    const bytes = Buffer.from([0, 1, 2, 9, 10, 13, 92, 255]);
    await f.store.putMany('rows', [...records([...ORDER_KEYS].reverse()), { key: 'bin\tary\\', value: bytes }]);
    const rows = await tableRows(f, 'rows');
    const expected = [...ORDER_KEYS, 'bin\tary\\'].sort(compareKeys);
    expect(rows.map((r) => r.key)).toEqual(expected);
    const bin = rows.find((r) => r.key === 'bin\tary\\')!;
    expect(bin.value).toBeNull();
    expect(Buffer.compare(bin.bytes!, bytes)).toBe(0);
    const typed = await f.db.query(`SELECT key, jsonb_typeof(value) AS t, value->>'k' AS k FROM ${f.table('rows')} WHERE value IS NOT NULL`);
    for (const r of typed.rows) {
      expect(r.t).toBe('object');
      expect(r.k).toBe(r.key);
    }
    // The CHECK keeps exactly one of value and bytes.
    await expect(f.db.query(`INSERT INTO ${f.table('rows')} (key, value, bytes) VALUES ('both', '1', '\\x00')`)).rejects.toThrow(/check/i);
  });

  it('JSON text reaches jsonb as written: escapes, tabs and newlines inside and between tokens', async () => {
    const values = ['{\n\t"a" : "tab\\there \\\\ back\\\\slash\\n",\r\n "b":[1,\t2]}', '"\\\\u0000 is text here"', '"x-0 and 1e99999 in a string"'];
    await f.store.putMany('text', values.map((value, i) => ({ key: `t${i}`, value })));
    const rows = await tableRows(f, 'text');
    expect(rows.map((r) => canonicalJson(r.value!))).toEqual(values.map(canonicalJson));
  });

  it('updated_at and version: defaults, bumps on change, kept when unchanged, taken from the record when given', async () => {
    await f.store.putMany('meta', [{ key: 'a', value: '1' }, { key: 'b', value: '2' }]);
    await f.store.putMany('meta', [{ key: 'a', value: '1' }, { key: 'b', value: '3' }]);
    expect((await tableRows(f, 'meta')).map((r) => [r.key, r.version])).toEqual([['a', '1'], ['b', '2']]);
    await f.store.putMany('meta', [{ key: 'c', value: '4', version: 7, updatedAt: '2020-01-02T03:04:05.123456Z' }]);
    const c = await f.db.query(`SELECT version::text, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS at FROM ${f.table('meta')} WHERE key = 'c'`);
    expect(c.rows[0]).toEqual({ version: '7', at: '2020-01-02 03:04:05.123456' });
    const [got] = await f.store.getMany('meta', ['c']);
    expect(new Date(got!.updatedAt!).toISOString()).toBe('2020-01-02T03:04:05.123Z');
    expect(got!.version).toBe(7);
    // Bookkeeping PostgreSQL might not read never costs the record: it falls back to now() and 1.
    const res = await f.store.putMany('meta', [
      { key: 'odd1', value: '1', updatedAt: 'yesterday', version: 1.5 },
      { key: 'odd2', value: '2', updatedAt: '2024-02-30T00:00:00Z' },
      { key: 'pgstyle', value: '3', updatedAt: '2021-06-07 08:09:10.5+02' },
    ]);
    expect(res.rejected).toEqual([]);
    const odd = await f.db.query(
      `SELECT key, version::text, updated_at > now() - interval '1 hour' AS recent, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') AS at
       FROM ${f.table('meta')} WHERE key IN ('odd1', 'odd2', 'pgstyle') ORDER BY key`);
    expect(odd.rows.map((r) => [r.key, r.version, r.recent])).toEqual([['odd1', '1', true], ['odd2', '1', true], ['pgstyle', '1', false]]);
    expect(odd.rows[2].at).toBe('2021-06-07 06:09:10.500');
  });

  it('collection names are quoted as themselves and can never inject SQL', async () => {
    const odd = ['select', 'MixedCase', 'a.b', 'x-y', '_1'];
    for (const name of odd) await f.store.putMany(name, [{ key: 'k', value: JSON.stringify(name) }]);
    const tables = await f.db.query(`SELECT tablename FROM pg_tables WHERE schemaname = $1`, [f.schema]);
    for (const name of odd) expect(tables.rows.map((r) => r.tablename)).toContain(name);
    expect(await f.store.listCollections()).toEqual(expect.arrayContaining(odd));
    for (const bad of [`x"; DROP SCHEMA ${f.schema} CASCADE; --`, 'a b', "o'neil", 'x;y', 'cutover_checkpoints']) {
      await expect(f.store.putMany(bad, [{ key: 'k', value: '1' }]), bad).rejects.toBeInstanceOf(ConfigurationError);
      await expect(f.store.count(bad)).rejects.toBeInstanceOf(ConfigurationError);
    }
    const schema = await f.db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [f.schema]);
    expect(schema.rowCount).toBe(1);
  });

  it('lists collections without the checkpoint table or foreign tables', async () => {
    await f.store.putMany('listed', [{ key: 'a', value: '1' }], { checkpoint: { id: 'm/u', cursor: 'a' } });
    await f.db.query(`CREATE TABLE ${f.table('not_ours')} (id int)`);
    const list = await f.store.listCollections();
    expect(list).toContain('listed');
    expect(list).not.toContain('cutover_checkpoints');
    expect(list).not.toContain('not_ours');
    expect(list).toEqual([...list].sort(compareKeys));
  });

  it('a schema name with quotes is quoted, and create:false does not create the schema', async () => {
    const weird = `${runId('pgq')}"q`;
    const s = createPostgresStore(storeUrl(weird), {});
    try {
      await s.putMany('c', [{ key: 'k', value: '1' }]);
      const res = await f.db.query(`SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(weird)}.c`);
      expect(res.rows[0].n).toBe(1);
    } finally {
      await s.close();
      await f.db.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(weird)} CASCADE`);
    }
    const absent = runId('pgno');
    const ro = createPostgresStore(storeUrl(absent), { create: false });
    try {
      await ro.open();
      expect(await ro.count('c')).toBe(0);
      const res = await f.db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [absent]);
      expect(res.rowCount).toBe(0);
    } finally {
      await ro.close();
    }
  });

  it('concurrent ensureCollection from separate stores is safe', async () => {
    // The race is narrow (the losers of one CREATE TABLE fail on its table, its row type or the
    // catalog's unique index, depending on timing), so it is run many times.
    for (let round = 0; round < 25; round++) {
      const stores = [0, 1, 2, 3].map(() => createPostgresStore(storeUrl(f.schema), {}));
      const name = `raced_${round}`;
      try {
        await Promise.all(stores.map((s) => s.ensureCollection(name)));
        await Promise.all(stores.map((s, i) => s.putMany(name, [{ key: `k${i}`, value: '1' }])));
        expect((await tableRows(f, name)).map((r) => r.key)).toEqual(['k0', 'k1', 'k2', 'k3']);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    }
  });

  it('a type that already holds the table\'s name is an error, not a table that seems to exist', async () => {
    await f.db.query(`CREATE TYPE ${f.table('clash')} AS ENUM ('x')`);
    await expect(f.store.ensureCollection('clash')).rejects.toThrow(/already exists/);
    await expect(f.store.putMany('clash', [{ key: 'a', value: '1' }])).rejects.toThrow(/already exists/);
  });

  it('a table dropped behind the store\'s back is created again on the next write', async () => {
    await f.store.putMany('dropped', [{ key: 'a', value: '1' }], { checkpoint: { id: 'd/u', cursor: 'a' } });
    await f.db.query(`DROP TABLE ${f.table('dropped')}, ${f.table('cutover_checkpoints')}`);
    const res = await f.store.putMany('dropped', [{ key: 'b', value: '2' }], { checkpoint: { id: 'd/u', cursor: 'b' } });
    expect(res.rejected).toEqual([]);
    expect((await tableRows(f, 'dropped')).map((r) => r.key)).toEqual(['b']);
    expect(await f.store.readCheckpoint!('d/u')).toEqual({ id: 'd/u', cursor: 'b' });
  });

  it('a role that may only write rows can write into existing tables (no CREATE privilege needed)', async () => {
    await f.store.putMany('granted', [{ key: 'a', value: '1' }], { checkpoint: { id: 'g/u', cursor: 'a' } });
    const role = runId('pgrole');
    await f.db.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN`);
    const s = createPostgresStore(storeUrl(f.schema).replace('postgres@', `${role}@`), {});
    try {
      await f.db.query(`GRANT USAGE ON SCHEMA ${pg.escapeIdentifier(f.schema)} TO ${pg.escapeIdentifier(role)}`);
      await f.db.query(`GRANT SELECT, INSERT, UPDATE ON ${f.table('granted')}, ${f.table('cutover_checkpoints')} TO ${pg.escapeIdentifier(role)}`);
      const res = await s.putMany('granted', [{ key: 'b', value: '2' }, { key: 'a', value: '3' }], { checkpoint: { id: 'g/u', cursor: 'b' } });
      expect(res.rejected).toEqual([]);
      expect((await tableRows(f, 'granted')).map((r) => [r.key, r.value])).toEqual([['a', '3'], ['b', '2']]);
      await expect(s.putMany('not_granted', [{ key: 'a', value: '1' }])).rejects.toThrow(/permission denied/);
    } finally {
      await s.close();
      await f.db.query(`DROP OWNED BY ${pg.escapeIdentifier(role)}`);
      await f.db.query(`DROP ROLE ${pg.escapeIdentifier(role)}`);
    }
  });

  it('an unreachable server gives a transient StoreError naming the collection', async () => {
    const s = createPostgresStore('postgres://postgres@127.0.0.1:1/test?schema=x', {});
    try {
      const err = await s.count('events').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).message).toMatch(/\[postgres\] count failed for collection "events"/);
      expect(isTransient(err)).toBe(true);
      expect((err as StoreError).message).toMatch(/is PostgreSQL running/);
    } finally {
      await s.close();
    }
    const missing = createPostgresStore(`${POSTGRES_URL}_${runId('nodb')}`, {});
    try {
      const err = await missing.count('events').catch((e: unknown) => e);
      expect((err as StoreError).message).toMatch(/does not exist \(create the database/);
      expect(isTransient(err)).toBe(false);
    } finally {
      await missing.close();
    }
    expect(() => createPostgresStore(`${POSTGRES_URL}?pool=0`, {})).toThrow(ConfigurationError);
  });

  it('pool size and schema come from the URL; other parameters reach pg', async () => {
    const s = createPostgresStore(`${POSTGRES_URL}?schema=${f.schema}&pool=2&application_name=cutover_${f.schema}`, {});
    try {
      await s.putMany('pooled', records(['a', 'b']));
      await Promise.all([0, 1, 2, 3, 4, 5].map((i) => s.getMany('pooled', [`k${i}`])));
      const res = await f.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [`cutover_${f.schema}`]);
      expect(res.rows[0].n).toBeGreaterThan(0);
      expect(res.rows[0].n).toBeLessThanOrEqual(2);
    } finally {
      await s.close();
    }
  });
});
