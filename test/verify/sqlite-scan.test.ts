/**
 * The SQLite scan with `skipMetadata` (what verify asks for) reads only the key and value columns: it
 * must give the same keys and values, batches and ranges as the full scan.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ScanOptions, Store } from '../../src/core/store.js';
import { openStore } from '../../src/drivers/index.js';

let dir = '';
let store: Store;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cutover-verify-sqlite-scan-'));
  store = await openStore(`sqlite:${join(dir, 'a.db')}`);
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

const batches = async (options: ScanOptions) => {
  const out: [string, string | Uint8Array][][] = [];
  for await (const b of store.scan('t', options)) out.push([...b.records.map((r): [string, string | Uint8Array] => [r.key, r.value]), ...b.rejects.map((r): [string, string] => [`reject ${r.key}`, r.reason])]);
  return out;
};

it('skipMetadata scans give the same keys, values and batches as full scans', async () => {
  await store.putMany('t', [
    { key: 'a', value: '{"x":1.0}', updatedAt: '2024-01-01T00:00:00Z', version: 3 },
    { key: 'b', value: new Uint8Array([1, 2]) },
    { key: 'c', value: '"c"' },
    { key: '😀', value: '[]', version: 1 },
    { key: '\uffef', value: 'null' },
  ]);
  // A row only another program could write (the value is a number): both scans reject it alike.
  const raw = new Database(join(dir, 'a.db'));
  raw.prepare(`INSERT INTO "t" (key, value) VALUES ('bb', 42)`).run();
  raw.close();
  expect((await batches({ batchSize: 10 })).flat()).toContainEqual(['reject bb', 'value is stored as number, not JSON text or bytes']);
  for (const range of [{}, { after: 'a' }, { until: '\uffef' }, { after: 'a', until: '😀' }]) {
    const full = await batches({ batchSize: 2, ...range });
    expect(full.flat().length).toBeGreaterThan(1);
    expect(await batches({ batchSize: 2, skipMetadata: true, ...range }), JSON.stringify(range)).toEqual(full);
  }
});
