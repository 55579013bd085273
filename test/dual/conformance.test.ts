/**
 * The shared conformance suite on dual stores, in every mode: a dual store is a Store and must
 * behave as one whichever way its flags route. Memory always; SQLite and PostgreSQL when their
 * drivers exist in the tree.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMemoryStore } from '../../src/drivers/memory.js';
import { openStore } from '../../src/drivers/index.js';
import { createDualStore } from '../../src/dual/dual-store.js';
import type { DualFlagsInput } from '../../src/dual/modes.js';
import type { Store } from '../../src/core/store.js';
import { expect } from 'vitest';
import { sameValue } from '../../src/core/canonical.js';
import { isDualWrite } from '../../src/dual/modes.js';
import { runConformance, scanAll } from '../conformance/suite.js';
import { POSTGRES_URL, runId } from '../helpers/services.js';

const MODES: DualFlagsInput[] = [
  { mode: 'old-only' },
  { mode: 'new-only' },
  { mode: 'write-through' },
  { mode: 'shadow' },
  { mode: 'read-validation' },
  { mode: 'progressive', readPercent: 50 },
  { mode: 'progressive', readPercent: 30, writePrimary: 'new' },
  // Mixed batches: keys starting with k/b/v go to the new store, other keys to the old one.
  { mode: 'canary', canary: ['*:k*', '*:b*', '*:v*'] },
  { mode: 'new-primary' },
];

const label = (f: DualFlagsInput) => `${f.mode}${f.readPercent !== undefined ? ` ${f.readPercent}%` : ''}${f.writePrimary ? ` write-primary ${f.writePrimary}` : ''}`;

/** In dual-write modes both stores must end up holding the same records, collection by collection. */
async function expectSameContents(a: Store, b: Store): Promise<void> {
  const collections = await a.listCollections();
  expect(await b.listCollections()).toEqual(collections);
  for (const c of collections) {
    const left = (await scanAll(a, c)).records;
    const right = new Map((await scanAll(b, c)).records.map((r) => [r.key, r.value]));
    expect(right.size, `records in ${c}`).toBe(left.length);
    for (const r of left) expect(sameValue(r.value, right.get(r.key)!), `${c}/${r.key}`).toBe(true);
  }
}

for (const flags of MODES) {
  const pair: Store[] = [];
  runConformance(`dual memory ${label(flags)}`, {
    factory: async () => {
      pair.push(createMemoryStore(), createMemoryStore());
      return createDualStore({ old: pair[0]!, new: pair[1]!, flags, closeStores: false });
    },
    teardown: async (dual) => {
      await dual.close();
      if (isDualWrite(flags.mode)) await expectSameContents(pair[0]!, pair[1]!);
    },
  });
}

const driver = (name: string) => existsSync(fileURLToPath(new URL(`../../src/drivers/${name}.ts`, import.meta.url)));

if (driver('sqlite')) {
  for (const flags of MODES) {
    let dir = '';
    runConformance(`dual sqlite ${label(flags)}`, {
      bigValueBytes: 4 * 1024 * 1024,
      factory: async () => {
        dir = mkdtempSync(join(tmpdir(), 'cutover-dual-'));
        const old = await openStore(`sqlite:${join(dir, 'old.db')}`);
        const neu = await openStore(`sqlite:${join(dir, 'new.db')}`);
        return createDualStore({ old, new: neu, flags });
      },
      teardown: async (store: Store) => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    });
  }
}

if (driver('postgres')) {
  for (const flags of MODES) {
    const schemaOld = runId('dual_old');
    const schemaNew = runId('dual_new');
    let stores: Store[] = [];
    runConformance(`dual postgres ${label(flags)}`, {
      bigValueBytes: 4 * 1024 * 1024,
      factory: async () => {
        stores = [
          await openStore(`${POSTGRES_URL}?schema=${schemaOld}`),
          await openStore(`${POSTGRES_URL}?schema=${schemaNew}`),
        ];
        return createDualStore({ old: stores[0]!, new: stores[1]!, flags, closeStores: false });
      },
      teardown: async () => {
        const pg = await import('pg');
        const client = new pg.default.Client({ connectionString: POSTGRES_URL });
        await Promise.all(stores.map((s) => s.close()));
        await client.connect();
        for (const s of [schemaOld, schemaNew]) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
        await client.end();
      },
    });
  }
}
