/**
 * The external sort behind the folder layout's scans: ~200k names through small runs and a merge
 * in several rounds must give exactly the in-memory order, and leave no temp files behind. A folder
 * scanned with a tiny run size must give the same ordered, resumable result as a big one.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { externalSort } from '../../src/core/external-sort.js';
import { compareKeys } from '../../src/core/key-order.js';
import { createFileStore } from '../../src/drivers/file.js';
import { ORDER_KEYS } from '../conformance/ugly-data.js';

let base = '';
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'cutover-xsort-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

function names(count: number): string[] {
  const out: string[] = [];
  let seed = 7;
  const pick = ['a', 'B', 'é', '中', '\ue000', '😀', '\n', '"', '0', 'z'];
  for (let i = 0; i < count; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    out.push(`${pick[seed % pick.length]}${(seed >>> 8).toString(36)}${pick[(seed >>> 4) % pick.length]}`);
  }
  return out;
}

describe('externalSort', () => {
  it('sorts 200k names through small runs and a multi-round merge, exactly as in memory', async () => {
    const tmp = await mkdtemp(join(base, 'runs-'));
    const input = names(200_000);
    async function* source() {
      yield* input;
    }
    const out: string[] = [];
    for await (const s of externalSort(source(), { compare: compareKeys, runSize: 4000, fanIn: 8, tmpDir: tmp })) out.push(s);
    const expected = [...input].sort(compareKeys);
    expect(out.length).toBe(expected.length);
    let mismatch = -1;
    for (let i = 0; i < out.length && mismatch < 0; i++) if (out[i] !== expected[i]) mismatch = i;
    expect(mismatch).toBe(-1);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('removes its run files when the reader stops early', async () => {
    const tmp = await mkdtemp(join(base, 'early-'));
    let seen = 0;
    for await (const _ of externalSort(names(10_000), { compare: compareKeys, runSize: 1000, tmpDir: tmp })) {
      if (++seen === 5) break;
    }
    expect(seen).toBe(5);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('keeps small inputs in memory', async () => {
    const tmp = await mkdtemp(join(base, 'small-'));
    const out: string[] = [];
    for await (const s of externalSort(['b', 'a', 'c'], { compare: compareKeys, tmpDir: tmp })) out.push(s);
    expect(out).toEqual(['a', 'b', 'c']);
    expect(await readdir(tmp)).toEqual([]);
  });
});

describe('folder layout scan through the external sort', () => {
  it('a tiny sort run size gives the same ordered and resumable scan', async () => {
    const root = join(base, 'store');
    const tmp = await mkdtemp(join(base, 'scan-runs-'));
    const keys = [...ORDER_KEYS, ...Array.from({ length: 700 }, (_, i) => `k${i}`), 'é'.repeat(400), 'Z'.repeat(300)];
    const small = createFileStore(`${pathToFileURL(root).href}?sortRunSize=37&tmpDir=${encodeURIComponent(tmp)}`, {});
    await small.putMany('c', keys.map((key, i) => ({ key, value: String(i) })));
    const sorted = [...keys].sort(compareKeys);
    const got: string[] = [];
    const cursors: string[] = [];
    for await (const b of small.scan('c', { batchSize: 50 })) {
      got.push(...b.records.map((r) => r.key));
      cursors.push(b.cursor);
    }
    expect(got).toEqual(sorted);
    const rest: string[] = [];
    for await (const b of small.scan('c', { batchSize: 50, after: cursors[3]! })) rest.push(...b.records.map((r) => r.key));
    expect(rest).toEqual(sorted.slice(200));
    const ranged: string[] = [];
    for await (const b of small.scan('c', { after: sorted[10]!, until: sorted[20]! })) ranged.push(...b.records.map((r) => r.key));
    expect(ranged).toEqual(sorted.slice(11, 20));
    expect(await small.count('c')).toBe(keys.length);
    expect(await readdir(tmp)).toEqual([]);
  });
});
