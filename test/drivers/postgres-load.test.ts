/**
 * `mode: 'load'`: plain COPY into the table. It must give the same table contents as upserts, and a
 * key already in the table makes the batch fail instead of duplicating anything.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTransient, StoreError } from '../../src/core/errors.js';
import { RawJsonRecord, type StoredRecord } from '../../src/core/record.js';
import { HOSTILE_KEYS, ORDER_KEYS, TRICKY_JSON } from '../conformance/ugly-data.js';
import { pgFixture, tableRows, type PgFixture } from './postgres-helpers.js';

let f: PgFixture;
beforeAll(async () => {
  f = await pgFixture('pgload');
});
afterAll(async () => {
  await f?.close();
});

function uglyBatch(): StoredRecord[] {
  const keys = [...new Set([...ORDER_KEYS, ...HOSTILE_KEYS, ...Array.from({ length: 2000 }, (_, i) => `n${i}`)])];
  return keys.map((key, i) => {
    if (i % 11 === 0) return { key, value: randomBytes(i % 300) };
    return { key, value: TRICKY_JSON[i % TRICKY_JSON.length]! };
  });
}

describe('postgres load mode', () => {
  it('load and upsert give identical table contents, batch by batch', async () => {
    const batch = uglyBatch();
    let rejectedLoad: string[] = [];
    let rejectedUpsert: string[] = [];
    for (let i = 0; i < batch.length; i += 500) {
      const part = batch.slice(i, i + 500);
      const a = await f.store.putMany('by_load', part, { mode: 'load', checkpoint: { id: 'load/u', cursor: String(i) } });
      const b = await f.store.putMany('by_upsert', part);
      rejectedLoad = rejectedLoad.concat(a.rejected.map((r) => r.key!));
      rejectedUpsert = rejectedUpsert.concat(b.rejected.map((r) => r.key!));
    }
    expect(rejectedLoad).toEqual(rejectedUpsert);
    const loaded = await tableRows(f, 'by_load');
    const upserted = await tableRows(f, 'by_upsert');
    expect(loaded.length).toBe(batch.length - rejectedLoad.length);
    expect(loaded).toEqual(upserted);
    // And the contents are the batch itself: every byte value and every key present.
    const bytes = new Map(loaded.filter((r) => r.bytes).map((r) => [r.key, r.bytes!]));
    for (const r of batch) if (typeof r.value !== 'string') expect(Buffer.compare(bytes.get(r.key)!, r.value), r.key).toBe(0);
  });

  it('load and upsert agree on metadata when only some records carry it', async () => {
    const batch: StoredRecord[] = [
      { key: 'm1', value: '1', version: 5, updatedAt: '2022-01-01T00:00:00Z' },
      { key: 'm2', value: '2' },
      { key: 'm3', value: Buffer.from('b'), version: 9 },
    ];
    expect((await f.store.putMany('meta_load', batch, { mode: 'load' })).rejected).toEqual([]);
    expect((await f.store.putMany('meta_upsert', batch)).rejected).toEqual([]);
    const read = async (c: string) => (await f.db.query(
      `SELECT key, value::text, bytes, version::text, updated_at = '2022-01-01T00:00:00Z' AS given FROM ${f.table(c)} ORDER BY key`)).rows;
    const loaded = await read('meta_load');
    expect(loaded.map((r) => [r.key, r.version, r.given])).toEqual([['m1', '5', true], ['m2', '1', false], ['m3', '9', false]]);
    expect(loaded).toEqual(await read('meta_upsert'));
  });

  it('a refused plain line read again keeps the metadata its batch has no columns for, in load and upsert', async () => {
    // Lines as a JSONL source hands them over: `key TAB json LF`, the value's extent taken on the
    // line's shape. The second line's shape swallowed its metadata and a late member, so PostgreSQL
    // refuses it and the source's full reading (reread) is written instead.
    const lines = ['k0\t{"a":0}\n', 'k1\t{"v":1},"updatedAt":"2025-02-03T04:05:06Z","version":7,"x":{"y":[1]}\n', 'k2\t{"b":2},"version":3,"x":[2]\n', 'k3\t{"c":3}\n'];
    const buf = Buffer.from(lines.join(''));
    const fullReading: Record<string, StoredRecord> = {
      k1: { key: 'k1', value: '{"v":1}', updatedAt: '2025-02-03T04:05:06Z', version: 7 },
      // Metadata does not save a value PostgreSQL refuses: rejected with its reason.
      k2: { key: 'k2', value: '{"b":"\\u0000"}', version: 3 },
    };
    const batch = () => {
      let at = 0;
      return lines.map((line, i) => {
        const key = `k${i}`;
        const r = new RawJsonRecord(key, buf, at, at + key.length, at + Buffer.byteLength(line), () => fullReading[key]!, i + 1);
        at += Buffer.byteLength(line);
        return r;
      });
    };
    const load = await f.store.putMany('reread_load', batch(), { mode: 'load' });
    // The upsert finds k1 there already: the record's own metadata still wins.
    await f.store.putMany('reread_upsert', [{ key: 'k1', value: '"old"' }]);
    const upsert = await f.store.putMany('reread_upsert', batch());
    for (const result of [load, upsert]) {
      expect(result.rejected.map((r) => r.key)).toEqual(['k2']);
      expect(result.rejected[0]!.reason).toMatch(/PostgreSQL refused the value: .*\\u0000/);
    }
    const read = async (c: string) => (await f.db.query(
      `SELECT key, value::text, version::text, updated_at = '2025-02-03T04:05:06Z' AS given FROM ${f.table(c)} ORDER BY key`)).rows;
    expect(await read('reread_load')).toEqual([
      { key: 'k0', value: '{"a": 0}', version: '1', given: false },
      { key: 'k1', value: '{"v": 1}', version: '7', given: true },
      { key: 'k3', value: '{"c": 3}', version: '1', given: false },
    ]);
    expect(await read('reread_upsert')).toEqual(await read('reread_load'));
  });

  it('load repeats a key inside one batch as last-wins, like upsert', async () => {
    await f.store.putMany('dup_load', [{ key: 'd', value: '1' }, { key: 'e', value: '2' }, { key: 'd', value: '3' }], { mode: 'load' });
    expect((await tableRows(f, 'dup_load')).map((r) => [r.key, r.value])).toEqual([['d', '3'], ['e', '2']]);
  });

  it('load into a table that already has one of the keys fails and changes nothing', async () => {
    await f.store.putMany('taken', [{ key: 'k1', value: '"old"' }], { checkpoint: { id: 'taken/u', cursor: 'k1' } });
    const err = await f.store
      .putMany('taken', [{ key: 'k0', value: '0' }, { key: 'k1', value: '"new"' }, { key: 'k2', value: '2' }], {
        mode: 'load',
        checkpoint: { id: 'taken/u', cursor: 'k2' },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toMatch(/near key "k1": duplicate key.*mode 'upsert'/);
    expect((err as StoreError).collection).toBe('taken');
    expect(isTransient(err)).toBe(false);
    expect((await tableRows(f, 'taken')).map((r) => [r.key, r.value])).toEqual([['k1', '"old"']]);
    expect(await f.store.readCheckpoint!('taken/u')).toEqual({ id: 'taken/u', cursor: 'k1' });
  });
});
