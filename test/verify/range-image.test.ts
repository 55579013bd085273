/**
 * The bytes test of a key range (range-image.ts): a plain JSONL batch equals a SQLite range exactly
 * when the range's image equals the batch's lines. Anything that is not the same rows with the same
 * text (a bytes value, a tab inside a value, a row more or less, another key) must fail it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawJsonRecord, type StoredRecord } from '../../src/core/record.js';
import { createSqliteStore } from '../../src/drivers/sqlite.js';
import { sameImage } from '../../src/verify/range-image.js';

let dir: string;
let store: ReturnType<typeof createSqliteStore>;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cutover-image-'));
  store = createSqliteStore(`sqlite:${join(dir, 'image.db')}`);
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Plain lines end to end in one buffer (or `split` buffers), as the JSONL reader hands them out. */
function lines(entries: [string, string][], split = 1): RawJsonRecord[] {
  const out: RawJsonRecord[] = [];
  const per = Math.ceil(entries.length / split);
  for (let p = 0; p < entries.length; p += per) {
    const part = entries.slice(p, p + per);
    const buf = Buffer.from(part.map(([k, v]) => `${k}\t${v}\n`).join(''));
    let at = 0;
    for (const [k, v] of part) {
      const tab = at + Buffer.byteLength(k);
      const end = tab + Buffer.byteLength(v) + 2;
      out.push(new RawJsonRecord(k, buf, at, tab, end));
      at = end;
    }
  }
  return out;
}

const entries: [string, string][] = Array.from({ length: 50 }, (_, i) => [`k${String(i).padStart(3, '0')}😀`, `{"i":${i},"s":"é"}`]);

describe('range image', () => {
  it('matches the same rows, whether the batch lies in one buffer or several', async () => {
    const c = 'same';
    await store.putMany(c, entries.map(([key, value]) => ({ key, value })));
    const image = (await store.rangeImage(c, null, entries.at(-1)![0]))!;
    expect(image.rows).toBe(50);
    for (const split of [1, 3, 50]) expect(sameImage(lines(entries, split), image), `split ${split}`).toBe(true);
    // A range in the middle: after k009, up to k019.
    const mid = (await store.rangeImage(c, entries[9]![0], entries[19]![0]))!;
    expect(sameImage(lines(entries.slice(10, 20)), mid)).toBe(true);
    expect(sameImage(lines(entries.slice(10, 19)), mid)).toBe(false);
  });

  it('fails for any difference in the rows', async () => {
    const base = entries.slice(0, 10);
    const cases: [string, StoredRecord[]][] = [
      ['a changed value', base.map(([key, value], i) => ({ key, value: i === 4 ? '{"i":4,"s":"e"}' : value }))],
      ['a value respelled', base.map(([key, value], i) => ({ key, value: i === 4 ? value.replace(':', ' : ') : value }))],
      ['a row more', [...base.map(([key, value]) => ({ key, value })), { key: `${base[4]![0]}x`, value: '1' }]],
      ['a row less', base.filter((_, i) => i !== 4).map(([key, value]) => ({ key, value }))],
      ['a value that is bytes with the same text', base.map(([key, value], i) => ({ key, value: i === 4 ? Buffer.from(value) : value }))],
      ['a tab that moves the split between two rows', base.map(([key, value], i) => ({ key, value: i === 4 ? `${value}\n${base[5]![0]}\t${base[5]![1]}` : value })).filter((_, i) => i !== 5)],
    ];
    for (const [name, rows] of cases) {
      const c = `diff_${cases.findIndex(([n]) => n === name)}`;
      await store.putMany(c, rows);
      const image = (await store.rangeImage(c, null, base.at(-1)![0]))!;
      expect(sameImage(lines(base), image), name).toBe(false);
    }
  });

  it('is not offered a batch with a record that is not a plain line', async () => {
    const c = 'mixed';
    await store.putMany(c, entries.slice(0, 3).map(([key, value]) => ({ key, value })));
    const image = (await store.rangeImage(c, null, entries[2]![0]))!;
    const batch: StoredRecord[] = lines(entries.slice(0, 3));
    batch[1] = { key: batch[1]!.key, value: batch[1]!.value };
    expect(sameImage(batch, image)).toBe(false);
  });
});
