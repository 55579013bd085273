/**
 * The file backend's one-object JSON layout rewrites its whole file on every write. Writes that overlap
 * in one process (split units of a migration, several stores on one folder) must not lose each other's
 * records; found by pairs.test.ts (SQLite → file?layout=json with --split 3 kept 36 of 119 records).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openStore } from '../../src/drivers/index.js';
import { readAll } from './backends.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-map-concurrency-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('overlapping putMany, deleteMany and ensureCollection on one map file lose nothing', async () => {
  const url = `file:${join(dir, 'store')}?layout=json`;
  const a = await openStore(url, { create: true });
  const b = await openStore(url, { create: true });
  try {
    const writes: Promise<unknown>[] = [];
    for (let w = 0; w < 20; w++) {
      const store = w % 2 === 0 ? a : b;
      const records = Array.from({ length: 10 }, (_, i) => ({ key: `w${String(w).padStart(2, '0')}-${i}`, value: `{"w":${w},"i":${i}}` }));
      writes.push(store.ensureCollection('m'), store.putMany('m', records));
    }
    await Promise.all(writes);
    // Deletes overlapping with writes remove exactly their keys.
    await Promise.all([a.deleteMany('m', ['w00-0', 'w01-0']), b.putMany('m', [{ key: 'late', value: '1' }]), a.deleteMany('m', ['w02-0'])]);
  } finally {
    await a.close();
    await b.close();
  }
  const got = await readAll(url, 'm');
  const expected = new Set(['late']);
  for (let w = 0; w < 20; w++) for (let i = 0; i < 10; i++) expected.add(`w${String(w).padStart(2, '0')}-${i}`);
  for (const k of ['w00-0', 'w01-0', 'w02-0']) expected.delete(k);
  expect([...got.keys()].sort()).toEqual([...expected].sort());
  for (const [key, r] of got) if (key !== 'late') expect(JSON.parse(r.value as string)).toEqual({ w: Number(key.slice(1, 3)), i: Number(key.slice(4)) });
});
