/**
 * A batch and its checkpoint commit together or not at all: the store's connection is killed with
 * pg_terminate_backend while the transaction waits on a lock held by another client, after the rows
 * were already written inside it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { isTransient, StoreError } from '../../src/core/errors.js';
import { POSTGRES_URL } from '../helpers/services.js';
import { records } from '../conformance/ugly-data.js';
import { pgFixture, tableRows, type PgFixture } from './postgres-helpers.js';

let f: PgFixture;
beforeAll(async () => {
  f = await pgFixture('pgckp');
});
afterAll(async () => {
  await f?.close();
});

/** The pid of this schema's store connection once it waits for a lock. */
async function waitingBackend(schema: string): Promise<number> {
  for (let i = 0; i < 400; i++) {
    const res = await f.db.query(
      `SELECT pid FROM pg_stat_activity WHERE application_name = 'cutover' AND wait_event_type = 'Lock' AND strpos(query, $1) > 0`,
      [schema]);
    if (res.rows[0]) return res.rows[0].pid as number;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the store never waited for the lock');
}

async function checkpointRow(id: string): Promise<unknown[]> {
  return (await f.db.query(`SELECT cursor, data FROM ${f.table('cutover_checkpoints')} WHERE id = $1`, [id])).rows;
}

describe('postgres checkpoints', () => {
  for (const mode of ['upsert', 'load'] as const) {
    it(`${mode}: killing the connection before COMMIT leaves neither the rows nor the checkpoint`, async () => {
      const c = `atomic_${mode}`;
      const id = `mig/${c}`;
      await f.store.putMany(c, records(['a1', 'a2']), { mode, checkpoint: { id, cursor: 'a2', data: '{"n":2}' } });
      const before = await tableRows(f, c);
      // 'load' promises the keys are new, so its second batch only has new keys.
      const second = records(mode === 'load' ? ['b1', 'b2'] : ['b1', 'b2', 'a1'], () => '{"second":true}');

      // Another client holds the checkpoint table, so the store's transaction has written its rows
      // and then waits at the checkpoint upsert.
      const locker = new pg.Client(POSTGRES_URL);
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query(`LOCK TABLE ${f.table('cutover_checkpoints')} IN ACCESS EXCLUSIVE MODE`);
        const put = f.store.putMany(c, second, {
          mode,
          checkpoint: { id, cursor: 'b2', data: '{"n":4}' },
        }).catch((e: unknown) => e);
        const pid = await waitingBackend(f.schema);
        await f.db.query('SELECT pg_terminate_backend($1)', [pid]);
        const err = await put;
        expect(err).toBeInstanceOf(StoreError);
        expect(isTransient(err)).toBe(true);
        expect((err as StoreError).collection).toBe(c);
      } finally {
        await locker.query('ROLLBACK');
        await locker.end();
      }

      expect(await tableRows(f, c)).toEqual(before);
      expect(await checkpointRow(id)).toEqual([{ cursor: 'a2', data: '{"n":2}' }]);

      // The store recovers on a new connection and the retried batch commits with its checkpoint.
      const res = await f.store.putMany(c, second, {
        mode,
        checkpoint: { id, cursor: 'b2', data: '{"n":4}' },
      });
      expect(res.rejected).toEqual([]);
      expect((await tableRows(f, c)).map((r) => [r.key, r.value])).toEqual([
        ['a1', mode === 'load' ? '{"i": 0, "k": "a1"}' : '{"second": true}'], ['a2', '{"i": 1, "k": "a2"}'], ['b1', '{"second": true}'], ['b2', '{"second": true}'],
      ]);
      expect(await checkpointRow(id)).toEqual([{ cursor: 'b2', data: '{"n":4}' }]);
      expect(await f.store.readCheckpoint!(id)).toEqual({ id, cursor: 'b2', data: '{"n":4}' });
    });
  }

  it('a checkpoint without records is written; clearCheckpoints removes by prefix only', async () => {
    await f.store.putMany('cp_only', [], { checkpoint: { id: 'x/1', cursor: 'c1' } });
    await f.store.putMany('cp_only', [], { checkpoint: { id: 'x/2', cursor: 'c2' } });
    await f.store.putMany('cp_only', [], { checkpoint: { id: 'x_/3', cursor: 'c3' } });
    expect(await f.store.readCheckpoint!('x/1')).toEqual({ id: 'x/1', cursor: 'c1' });
    await f.store.clearCheckpoints!('x/');
    const left = await f.db.query(`SELECT id FROM ${f.table('cutover_checkpoints')} WHERE id LIKE 'x%' ORDER BY id`);
    expect(left.rows).toEqual([{ id: 'x_/3' }]);
  });
});
