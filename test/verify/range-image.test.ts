/**
 * The bytes test of a key range (range-image.ts): a plain JSONL batch equals a SQLite range exactly
 * when the range's image equals the batch's lines. Anything that is not the same rows with the same
 * text (a bytes value, a tab inside a value, a row more or less, another key) must fail it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawJsonRecord, type StoredRecord } from '../../src/core/record.js';
import { createSqliteStore } from '../../src/drivers/sqlite.js';
import { serialize } from '../../src/drivers/file-jsonl.js';
import { openStore } from '../../src/drivers/index.js';
import { sameImage } from '../../src/verify/range-image.js';
import { verify } from '../../src/verify/verify.js';

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

describe('verify of a JSONL log in key order against SQLite', () => {
  const N = 3000;
  const rows = Array.from({ length: N }, (_, i) => ({ key: `r${String(i).padStart(5, '0')}`, value: `{"i":${i},"t":"ü${i % 7}"}` }));

  async function setUp(name: string) {
    const logDir = join(dir, name);
    mkdirSync(logDir);
    writeFileSync(join(logDir, 'events.jsonl'), rows.map((r) => serialize(r)).join(''));
    const sqlite = createSqliteStore(`sqlite:${join(dir, `${name}.db`)}`);
    await sqlite.putMany('events', rows);
    let calls = 0;
    // The same store, with its range images counted.
    const spied = Object.assign(Object.create(sqlite) as typeof sqlite, {
      async rangeImage(...args: Parameters<typeof sqlite.rangeImage>) {
        calls++;
        return sqlite.rangeImage(...args);
      },
    });
    return { log: await openStore(`file:${logDir}`), sqlite, spied, seen: () => ({ calls }) };
  }

  it('compares batches by range images, and finds a difference inside one', async () => {
    const { log, sqlite, spied, seen } = await setUp('images');
    try {
      const same = await verify({ from: log, to: spied, mode: 'full', tuning: { batchSize: 500 } });
      expect(same.ok).toBe(true);
      expect(same.collections[0]).toMatchObject({ method: 'lookup', sourceCount: N, targetCount: N, matching: N });
      expect(seen().calls).toBe(N / 500);
      await sqlite.putMany('events', [{ key: 'r01234', value: '{"i":1234,"t":"changed"}' }]);
      const differs = await verify({ from: log, to: spied, mode: 'full', tuning: { batchSize: 500 } });
      expect(differs.collections[0]).toMatchObject({ different: 1, matching: N - 1 });
      expect(differs.collections[0]!.examples.map((e) => e.key)).toEqual(['r01234']);
    } finally {
      await log.close();
      await sqlite.close();
    }
  });

  it('paces the target side by --max-rate too', async () => {
    const { log, sqlite, spied } = await setUp('paced');
    try {
      const started = performance.now();
      const result = await verify({ from: log, to: spied, mode: 'full', maxRate: 4000, tuning: { batchSize: 500 } });
      expect(result.ok).toBe(true);
      // 3,000 source and 3,000 target records at 4,000 a second from an empty bucket: about 1.5 s
      // (0.75 s if the target's images went unpaced).
      expect(performance.now() - started).toBeGreaterThan(1100);
    } finally {
      await log.close();
      await sqlite.close();
    }
  });
});
