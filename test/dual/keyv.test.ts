/**
 * The official Keyv adapter test suite (@keyv/test-suite) against the Keyv adapter over a dual store
 * in shadow mode (two memory stores) and in progressive mode over two SQLite files.
 * Not run: keyvIteratorTests — Keyv only wires an adapter's iterator() for a hard-coded list of
 * dialects (sqlite, postgres, mysql, mongo, redis, valkey, etcd), so `keyv.iterator` is undefined for
 * any other adapter; the adapter's iterator is tested directly below instead.
 */
import * as vitest from 'vitest';
import { afterAll, describe, expect, it } from 'vitest';
import Keyv from 'keyv';
import keyvTestSuite from '@keyv/test-suite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryStore } from '../../src/drivers/memory.js';
import { createSqliteStore } from '../../src/drivers/sqlite.js';
import { createDualStore } from '../../src/dual/dual-store.js';
import { KeyvDualAdapter } from '../../src/dual/keyv-adapter.js';

const oldStore = createMemoryStore();
const newStore = createMemoryStore();
const dual = createDualStore({ old: oldStore, new: newStore, flags: { mode: 'shadow' } });

describe('keyv adapter over a dual store (shadow mode)', () => {
  keyvTestSuite(vitest, Keyv, () => new KeyvDualAdapter(dual));
});

describe('keyv adapter over a dual store (progressive 50%, SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-dual-keyv-'));
  const sqliteDual = createDualStore({
    old: createSqliteStore(`sqlite:${join(dir, 'old.db')}`),
    new: createSqliteStore(`sqlite:${join(dir, 'new.db')}`),
    flags: { mode: 'progressive', readPercent: 50 },
  });
  afterAll(async () => {
    await sqliteDual.close();
    rmSync(dir, { recursive: true, force: true });
  });
  keyvTestSuite(vitest, Keyv, () => new KeyvDualAdapter(sqliteDual));
});

describe('keyv adapter: dual-store specifics', () => {
  afterAll(async () => {
    await dual.close();
  });

  it('Keyv writes land in both stores, namespaced', async () => {
    const keyv = new Keyv({ store: new KeyvDualAdapter(dual), namespace: 'ns1' });
    await keyv.set('hello', { n: 1 });
    const [inOld] = await oldStore.getMany('keyv', ['ns1:hello']);
    const [inNew] = await newStore.getMany('keyv', ['ns1:hello']);
    expect(inOld).toBeDefined();
    expect(inNew?.value).toEqual(inOld!.value);
    expect(JSON.parse(JSON.parse(inOld!.value as string) as string)).toMatchObject({ value: { n: 1 } });
  });

  it('iterator yields only its namespace', async () => {
    const adapter = new KeyvDualAdapter(dual, { collection: 'iter' });
    const a = new Keyv({ store: adapter, namespace: 'a' });
    const b = new Keyv({ store: new KeyvDualAdapter(dual, { collection: 'iter' }), namespace: 'b' });
    await a.set('x', 1);
    await b.set('y', 2);
    const seen: string[] = [];
    for await (const [key] of adapter.iterator('a')) seen.push(key);
    expect(seen).toEqual(['a:x']);
  });

  it('has() honours the expiry inside Keyv\'s envelope', async () => {
    const keyv = new Keyv({ store: new KeyvDualAdapter(dual), namespace: 'ttl' });
    await keyv.set('short', 'v', 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(await keyv.has('short')).toBe(false);
  });
});
