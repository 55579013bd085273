/**
 * A batch and its checkpoint commit in one SQLite transaction: after a failure anywhere in the
 * transaction neither is there. Failures are made real with triggers that RAISE(ABORT), and the
 * outcome is read by an independent better-sqlite3 connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/core/errors.js';
import { createSqliteStore } from '../../src/drivers/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-sqlite-cp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function setup() {
  const file = join(dir, `cp${++n}.db`);
  const store = createSqliteStore(`sqlite:${file}`, {});
  const other = new Database(file);
  const rows = () => other.prepare('SELECT key, value FROM events ORDER BY key').raw().all();
  const checkpoint = (id: string) => other.prepare('SELECT cursor, data FROM _cutover_checkpoints WHERE id = ?').get(id);
  return { file, store, other, rows, checkpoint };
}

describe('sqlite: batch and checkpoint commit together', () => {
  it('a batch and its checkpoint are both visible to another connection after putMany', async () => {
    const { store, other, rows, checkpoint } = setup();
    await store.putMany('events', [{ key: 'a', value: '1' }, { key: 'b', value: '2' }], { checkpoint: { id: 'm1/u1', cursor: 'b', data: '{"n":2}' } });
    expect(rows()).toEqual([['a', '1'], ['b', '2']]);
    expect(checkpoint('m1/u1')).toEqual({ cursor: 'b', data: '{"n":2}' });
    await store.close();
    other.close();
  });

  it('a batch whose insert fails leaves neither its rows nor its checkpoint, and the error names the key', async () => {
    const { store, other, rows, checkpoint } = setup();
    await store.putMany('events', [{ key: 'a', value: '1' }], { checkpoint: { id: 'm1/u1', cursor: 'a' } });
    other.exec(`CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.key = 'c-boom' BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END`);
    const failing = store.putMany('events', [{ key: 'b', value: '2' }, { key: 'c-boom', value: '3' }, { key: 'd', value: '4' }], {
      checkpoint: { id: 'm1/u1', cursor: 'd', data: '{"n":4}' },
    });
    await expect(failing).rejects.toBeInstanceOf(StoreError);
    await expect(failing).rejects.toThrow(/near key "c-boom".*refused by trigger/);
    expect(rows()).toEqual([['a', '1']]);
    expect(checkpoint('m1/u1')).toEqual({ cursor: 'a', data: null });
    expect(await store.readCheckpoint!('m1/u1')).toEqual({ id: 'm1/u1', cursor: 'a' });

    // The store is still usable: the same batch lands once the cause is gone.
    other.exec('DROP TRIGGER boom');
    await store.putMany('events', [{ key: 'b', value: '2' }, { key: 'c-boom', value: '3' }], { checkpoint: { id: 'm1/u1', cursor: 'c-boom' } });
    expect(rows()).toEqual([['a', '1'], ['b', '2'], ['c-boom', '3']]);
    expect(checkpoint('m1/u1')).toMatchObject({ cursor: 'c-boom' });
    await store.close();
    other.close();
  });

  it('a big batch (multi-row statements) failing in its middle leaves nothing and names the exact key', async () => {
    const { store, other, rows, checkpoint } = setup();
    await store.ensureCollection('events');
    other.exec(`CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.key = 'k050' BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END`);
    const batch = Array.from({ length: 100 }, (_, i) => ({ key: `k${String(i).padStart(3, '0')}`, value: String(i) }));
    await expect(store.putMany('events', batch, { checkpoint: { id: 'm2/u', cursor: 'k099' } })).rejects.toThrow(/near key "k050".*refused by trigger/);
    expect(rows()).toEqual([]);
    expect(checkpoint('m2/u')).toBeUndefined();
    await store.close();
    other.close();
  });

  it('a checkpoint that fails to write takes its batch down with it', async () => {
    const { store, other, rows, checkpoint } = setup();
    await store.putMany('events', [{ key: 'a', value: '1' }], { checkpoint: { id: 'm1/u1', cursor: 'a' } });
    other.exec(`CREATE TRIGGER cpboom BEFORE UPDATE ON _cutover_checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoint refused'); END`);
    await expect(
      store.putMany('events', [{ key: 'b', value: '2' }, { key: 'a', value: '"changed"' }], { checkpoint: { id: 'm1/u1', cursor: 'b' } }),
    ).rejects.toThrow(/checkpoint refused/);
    expect(rows()).toEqual([['a', '1']]);
    expect(checkpoint('m1/u1')).toMatchObject({ cursor: 'a' });
    await store.close();
    other.close();
  });

  it('clearCheckpoints removes exactly the ids with the prefix (case and LIKE wildcards matter)', async () => {
    const { store, other } = setup();
    for (const id of ['m1/a', 'm1/b', 'M1/c', 'm10/a', 'm_/x', 'mX/x']) {
      await store.putMany('events', [], { checkpoint: { id, cursor: 'k' } });
    }
    await store.clearCheckpoints!('m1/');
    await store.clearCheckpoints!('m_/');
    expect(other.prepare('SELECT id FROM _cutover_checkpoints ORDER BY id').pluck().all()).toEqual(['M1/c', 'm10/a', 'mX/x']);
    await store.close();
    other.close();
  });
});
