/**
 * Small batches (an application's single writes) go through one parameterised statement instead of
 * COPY. The table must end up exactly as the COPY path leaves it: versions, bytes, checkpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgFixture, type PgFixture } from './postgres-helpers.js';

let fx: PgFixture;
beforeAll(async () => {
  fx = await pgFixture('small');
});
afterAll(async () => fx?.close());

const rows = async (table: string) =>
  (await fx.db.query(`SELECT key, value::text AS value, encode(bytes, 'hex') AS bytes, version::int AS version FROM ${fx.table(table)} ORDER BY key`)).rows;

describe('small-batch writes', () => {
  it('upserts like the COPY path: new rows version 1, a changed row version+1, an unchanged row untouched', async () => {
    await fx.store.putMany('small', [{ key: 'a', value: '{"n":1}' }, { key: 'b', value: Buffer.from([0, 255]) }]);
    await fx.store.putMany('small', [{ key: 'a', value: '{"n":1}' }]);
    await fx.store.putMany('small', [{ key: 'b', value: Buffer.from([1]) }]);
    expect(await rows('small')).toEqual([
      { key: 'a', value: '{"n": 1}', bytes: null, version: 1 },
      { key: 'b', value: null, bytes: '01', version: 2 },
    ]);
    // The same data through COPY (a batch above the small-batch size) gives the same versions.
    const many = Array.from({ length: 40 }, (_, i) => ({ key: `m${i}`, value: `{"i":${i}}` }));
    await fx.store.putMany('big', many);
    await fx.store.putMany('big', [...many.slice(0, 39), { key: 'm39', value: '{"i":"changed"}' }]);
    const big = await rows('big');
    expect(big.filter((r) => r.version === 2).map((r) => r.key)).toEqual(['m39']);
  });

  it('commits the checkpoint in the same statement', async () => {
    await fx.store.putMany('cp', [{ key: 'x', value: '1' }], { checkpoint: { id: 'small-mig/u', cursor: 'x', data: '{"n":1}' } });
    const cp = (await fx.db.query(`SELECT cursor, data FROM ${fx.table('cutover_checkpoints')} WHERE id = 'small-mig/u'`)).rows;
    expect(cp).toEqual([{ cursor: 'x', data: '{"n":1}' }]);
    expect((await rows('cp')).map((r) => r.key)).toEqual(['x']);
  });

  it('a value PostgreSQL refuses is rejected and the rest of a small batch lands', async () => {
    const res = await fx.store.putMany('bad', [{ key: 'ok', value: '{"a":1}' }, { key: 'nul', value: '{"s":"\\u0000"}' }, { key: 'ok2', value: '2' }]);
    expect(res.rejected.map((r) => r.key)).toEqual(['nul']);
    expect((await rows('bad')).map((r) => r.key)).toEqual(['ok', 'ok2']);
  });
});
