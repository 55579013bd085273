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
import { runConformance } from '../conformance/suite.js';
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

for (const flags of MODES) {
  runConformance(`dual memory ${label(flags)}`, {
    factory: async () => createDualStore({ old: createMemoryStore(), new: createMemoryStore(), flags }),
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
  // One mode set is enough against the server: memory and SQLite already cover the routing.
  for (const flags of MODES.filter((f) => ['shadow', 'progressive', 'new-primary'].includes(f.mode))) {
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
