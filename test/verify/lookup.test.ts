/**
 * The lookup method: an unordered source (a real JSONL log, where later lines win) streamed and looked
 * up by key in an ordered target: real SQLite (cutover compares the values), and real PostgreSQL, which
 * judges the values itself (compareMany, src/drivers/postgres-compare.ts) and spells them its own way.
 * Covers keys the log repeats (judged on their last value), the distinct-key count through temp files,
 * records only the target holds, and the fall-back to hash partitions when too many records differ.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredRecord } from '../../src/core/record.js';
import type { Store } from '../../src/core/store.js';
import { openStore } from '../../src/drivers/index.js';
import type { VerifyOptions } from '../../src/verify/types.js';
import { verify } from '../../src/verify/verify.js';
import { pgFixture, type PgFixture } from '../drivers/postgres-helpers.js';
import { expectPlanted, keysOf } from './matrix.js';
import { plant, readAll } from './planted.js';

let dir = '';
let log: Store;
let db: Store;
let pgf: PgFixture | undefined;
let n = 0;
const fresh = () => `c${n++}`;
const run = (collection: string, extra: Partial<VerifyOptions> = {}) =>
  verify({ from: log, to: db, only: [collection], examples: 1000, mode: 'full', ...extra });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cutover-verify-lookup-'));
  log = await openStore(`${pathToFileURL(join(dir, 'log')).href}?layout=jsonl`);
});
afterAll(async () => {
  await log?.close();
  await rm(dir, { recursive: true, force: true });
});

const rec = (key: string, value: unknown): StoredRecord => ({ key, value: JSON.stringify(value) });

for (const targetKind of ['SQLite', 'PostgreSQL'] as const) describe(`verify lookup method: JSONL source, ${targetKind} target`, () => {
  beforeAll(async () => {
    if (targetKind === 'SQLite') db = await openStore(`sqlite:${join(dir, 'target.db')}`);
    else db = (pgf = await pgFixture('lookup')).store;
  });
  afterAll(async () => {
    if (pgf) await pgf.close();
    else await db?.close();
    pgf = undefined;
  });

  it('is chosen for an unordered source and an ordered target', async () => {
    expect(await log.isOrdered('anything')).toBe(false);
    expect(await db.isOrdered('anything')).toBe(true);
  });

  for (const tuning of [{}, { batchSize: 3 }, { batchSize: 5, lookupMemoryKeys: 4 }, { lookupMemoryKeys: 1 }]) {
    for (const mode of ['full', 'checksum'] as const) {
      it(`finds exactly the planted missing, different and extra records (${mode}, tuning ${JSON.stringify(tuning)})`, async () => {
        const c = fresh();
        const planted = await plant(log, db, c, { bytes: true });
        const result = await run(c, { mode, tuning });
        expectPlanted(result, planted, c);
        const row = result.collections[0]!;
        expect(row.method).toBe('lookup');
        expect(row.matching).toBe(planted.sourceCount - planted.missing.length - planted.different.length);
        if (tuning.lookupMemoryKeys !== undefined) expect(row.note).toMatch(/temp files/);
        const example = row.examples.find((e) => e.key === 'changed-string')!;
        expect(example.source).toBe('{"name":"Alice"}');
        // As the target holds it (jsonb writes '{"name": "Alicia"}').
        expect(JSON.parse(example.target as string)).toEqual({ name: 'Alicia' });
      });
    }
  }

  // A key the log writes twice: the second line is the record. Batch size 1 puts the two lines in
  // different batches, 1000 in the same one.
  for (const batchSize of [1, 2, 1000]) {
    for (const memoryKeys of [1000, 2]) {
      const tuning = { batchSize, lookupMemoryKeys: memoryKeys };
      it(`judges a repeated key on its last value: the later value in the target is EQUAL (tuning ${JSON.stringify(tuning)})`, async () => {
        const c = fresh();
        await log.putMany(c, [rec('a', 1), rec('r', 'old'), rec('b', 2)]);
        await log.putMany(c, [rec('c', 3), rec('r', 'new'), rec('d', 4)]);
        await db.putMany(c, [rec('a', 1), rec('b', 2), rec('c', 3), rec('d', 4), rec('r', 'new')]);
        const result = await run(c, { tuning });
        expect(result.errors).toEqual([]);
        const row = result.collections[0]!;
        expect(row.method).toBe('lookup');
        expect(result.ok).toBe(true);
        expect([row.sourceCount, row.targetCount, row.matching, row.missing, row.different, row.extra]).toEqual([5, 5, 5, 0, 0, 0]);
      });

      it(`judges a repeated key on its last value: the earlier value in the target is DIFFERENT (tuning ${JSON.stringify(tuning)})`, async () => {
        const c = fresh();
        await log.putMany(c, [rec('a', 1), rec('r', 'old'), rec('s', 'x'), rec('b', 2)]);
        await log.putMany(c, [rec('c', 3), rec('r', 'new'), rec('s', 'y'), rec('d', 4), rec('s', 'x')]);
        // r: target holds the earlier value; s: the log goes back to the target's value.
        await db.putMany(c, [rec('a', 1), rec('b', 2), rec('c', 3), rec('d', 4), rec('r', 'old'), rec('s', 'x')]);
        const result = await run(c, { tuning });
        expect(result.errors).toEqual([]);
        const row = result.collections[0]!;
        expect(row.method).toBe('lookup');
        expect(result.ok).toBe(false);
        expect([row.sourceCount, row.targetCount, row.matching, row.missing, row.different, row.extra]).toEqual([6, 6, 5, 0, 1, 0]);
        expect(row.examples).toEqual([expect.objectContaining({ kind: 'different', key: 'r', source: '"new"', target: '"old"' })]);
      });
    }
  }

  it('a key the log repeats and the target lacks is one missing record; a deleted key the target keeps is extra', async () => {
    const c = fresh();
    await log.putMany(c, [rec('m', 1), rec('a', 1), rec('gone', 1)]);
    await log.putMany(c, [rec('m', 2)]);
    await log.deleteMany(c, ['gone']);
    await db.putMany(c, [rec('a', 1), rec('gone', 1)]);
    const result = await run(c, { tuning: { batchSize: 1, lookupMemoryKeys: 1 } });
    expect(result.errors).toEqual([]);
    const row = result.collections[0]!;
    expect(row.method).toBe('lookup');
    expect([row.sourceCount, row.targetCount, row.matching, row.missing, row.different, row.extra]).toEqual([2, 2, 1, 1, 0, 1]);
    expect(keysOf(result, 'missing')).toEqual(['m']);
    expect(keysOf(result, 'extra')).toEqual(['gone']);
    expect(row.examples.find((e) => e.kind === 'missing')!.source).toBe('2');
  });

  it('a log in key order is read against target ranges, and gives the same answer as point lookups', async () => {
    const c = fresh();
    const key = (i: number) => `k${String(i).padStart(4, '0')}`;
    const source: StoredRecord[] = [];
    const target: StoredRecord[] = [];
    for (let i = 0; i < 300; i++) {
      // The log holds the even keys up to 200 and every key from 200 on; the target every key (the odd
      // ones below 200 are extras, dense enough that ranges there fall back to point lookups).
      if (i % 2 === 0 || i >= 200) source.push(rec(key(i), { i }));
      if (i % 37 !== 5) target.push(rec(key(i), i % 41 === 3 ? { i: -i } : { i }));
    }
    await log.putMany(c, source);
    await db.putMany(c, target);
    const answers = [];
    for (const tuning of [{ batchSize: 10 }, { batchSize: 7 }, { batchSize: 1000 }, { batchSize: 1 }]) {
      const result = await run(c, { tuning });
      expect(result.errors).toEqual([]);
      const row = result.collections[0]!;
      expect(row.method).toBe('lookup');
      answers.push({ counts: [row.sourceCount, row.targetCount, row.matching, row.missing, row.different, row.extra], missing: keysOf(result, 'missing'), different: keysOf(result, 'different'), extra: keysOf(result, 'extra') });
    }
    const expected = {
      missing: source.filter((r) => !target.some((t) => t.key === r.key)).map((r) => r.key),
      different: source.filter((r) => target.some((t) => t.key === r.key && t.value !== r.value)).map((r) => r.key),
      extra: target.filter((t) => !source.some((r) => r.key === t.key)).map((t) => t.key),
    };
    expect(expected.missing.length * expected.different.length * expected.extra.length).toBeGreaterThan(0);
    for (const a of answers) {
      expect(a.missing).toEqual(expected.missing);
      expect(a.different).toEqual(expected.different);
      expect(a.extra).toEqual(expected.extra);
      expect(a.counts).toEqual(answers[0]!.counts);
    }
  });

  it('a log in key order that later leaves it: counts stay exact when keys of the ordered part come again', async () => {
    const c = fresh();
    const key = (i: number) => `k${String(i).padStart(3, '0')}`;
    const sorted = Array.from({ length: 100 }, (_, i) => rec(key(i), { i }));
    await log.putMany(c, sorted);
    // Out of order from here: a later value for k050, a new key, a repeat of k010, another new key.
    await log.putMany(c, [rec('k050', 'later'), rec('k200', { i: 200 }), rec('k010', { i: 10 }), rec('k150', { i: 150 })]);
    const target = sorted.filter((r) => r.key !== 'k007' && r.key !== 'k050');
    await db.putMany(c, [...target, rec('k050', 'later'), rec('k200', { i: -200 }), rec('k300', { i: 300 })]);
    for (const tuning of [{ batchSize: 10 }, { batchSize: 1000 }, { batchSize: 3 }, { batchSize: 7, lookupMemoryKeys: 5 }]) {
      const result = await run(c, { tuning });
      expect(result.errors).toEqual([]);
      const row = result.collections[0]!;
      expect(row.method).toBe('lookup');
      expect([row.sourceCount, row.targetCount, row.matching, row.missing, row.different, row.extra], JSON.stringify(tuning)).toEqual([102, 101, 99, 2, 1, 1]);
      expect(keysOf(result, 'missing')).toEqual(['k007', 'k150']);
      expect(keysOf(result, 'different')).toEqual(['k200']);
      expect(keysOf(result, 'extra')).toEqual(['k300']);
    }
  });

  it('falls back to hash partitions when more records differ than it holds, with the same answer', async () => {
    const c = fresh();
    const planted = await plant(log, db, c);
    const result = await run(c, { tuning: { lookupPending: 3 } });
    expectPlanted(result, planted, c);
    const row = result.collections[0]!;
    expect(row.method).toBe('hash-partition');
    expect(row.note).toMatch(/more than 3 records differ/);
    expect(row.matching).toBe(planted.sourceCount - planted.missing.length - planted.different.length);
  });

  it('repair from the lookup method makes the target equal the log, read back independently', async () => {
    const c = fresh();
    await log.putMany(c, [rec('a', 1), rec('r', 'old'), rec('x', 1)]);
    await log.putMany(c, [rec('r', 'new')]);
    await db.putMany(c, [rec('a', 1), rec('r', 'old'), rec('extra', 1)]);
    const result = await run(c, { repair: true, deleteExtra: true, tuning: { lookupMemoryKeys: 1 } });
    expect(result.errors).toEqual([]);
    expect(result.repair!.before[0]!.method).toBe('lookup');
    expect(result.ok).toBe(true);
    const target = await readAll(db, c);
    expect([...target.keys()].sort()).toEqual(['a', 'r', 'x']);
    expect(target.get('r')!.value).toBe('"new"');
  });
});
