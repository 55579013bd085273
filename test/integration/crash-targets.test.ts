/**
 * The SIGKILL crash test of crash-postgres.test.ts against the other targets that commit a batch and
 * its checkpoint together: MariaDB (one transaction) and Redis (one MULTI/EXEC, plus the key set that
 * makes `count` exact). Killed at random points at least 10 times, resumed by running the same command;
 * then the target, read through a fresh store, equals the source record by record, its count agrees
 * with what a scan finds, and each planted broken record is in the rejects file exactly once.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sameValue } from '../../src/core/canonical.js';
import { openStore } from '../../src/drivers/index.js';
import { generateDemoStore } from '../../src/demo/generate.js';
import { KILL_TIMING, runCli, runKilledAtRandom } from '../helpers/cli.js';
import { makePlace, readAll, show, type Kind } from './backends.js';

async function targetCount(url: string, collections: string[]): Promise<number> {
  const store = await openStore(url, { create: false }).catch(() => null);
  if (!store) return 0;
  try {
    let n = 0;
    for (const c of collections) n += await store.count(c);
    return n;
  } finally {
    await store.close();
  }
}

describe('crash safety into MariaDB and Redis (SIGKILL, real processes)', () => {
  for (const kind of ['mysql', 'redis'] as Kind[]) {
    it(`${kind}: at least 10 kills at random points; the target equals the source, rejects once each`, async () => {
      const dir = mkdtempSync(join(tmpdir(), `cutover-crash-${kind}-`));
      const target = makePlace(kind, `crash_${kind}`);
      try {
        const generated = generateDemoStore(join(dir, 'source'), 20_000);
        const collections = Object.keys(generated.expected);
        const expectedTotal = Object.values(generated.expected).reduce((a, b) => a + b, 0);
        const from = `file:${join(dir, 'source')}`;
        const base = ['migrate', '--from', from, '--to', target.url, '--state', join(dir, 'state.db'), '--batch-size', '300', '--no-verify', '--json'];
        const args = [...base, '--max-rate', '2000'];
        const landed: number[] = [];
        let kills = 0;
        for (let attempt = 0; attempt < 50 && kills < 12; attempt++) {
          const run = await runKilledAtRandom(args, dir, attempt, KILL_TIMING);
          if (run.signal !== 'SIGKILL') {
            expect(run.code, run.stderr.slice(-2000)).not.toBe(2);
            break;
          }
          kills++;
          landed.push(await targetCount(target.url, collections));
        }
        expect(kills).toBeGreaterThanOrEqual(10);
        expect(new Set(landed).size, JSON.stringify(landed)).toBeGreaterThan(4);
        expect(Math.min(...landed), JSON.stringify(landed)).toBeLessThan(expectedTotal);
        expect(Math.max(...landed), JSON.stringify(landed)).toBeGreaterThan(0);

        const final = await runCli(base, dir);
        expect(final.code, final.stderr.slice(-2000)).toBe(1); // finished, with the planted rejects
        const result = JSON.parse(final.stdout) as { status: string; rejectsFile: string };
        expect(['completed', 'already-completed']).toContain(result.status);

        const store = await openStore(target.url, { create: false });
        try {
          for (const [collection, count] of Object.entries(generated.expected)) {
            const source = await readAll(from, collection, true);
            const got = await readAll(target.url, collection);
            expect(source.size, collection).toBe(count);
            expect(got.size, `${collection} scanned`).toBe(count);
            // count() is the key set on Redis: it must agree with the records after every crash.
            expect(await store.count(collection), `${collection} count()`).toBe(count);
            for (const [key, record] of source) {
              const value = got.get(key)?.value;
              expect(value, `${collection}/${key} missing`).toBeDefined();
              expect(sameValue(value!, record.value), `${collection}/${key}: ${show(value)} vs ${show(record.value)}`).toBe(true);
            }
          }
        } finally {
          await store.close();
        }
        const rejects = readFileSync(result.rejectsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { collection: string; key: string | null; location: string });
        const planted = Object.values(generated.planted).flat().length;
        expect(rejects.length, JSON.stringify(rejects, null, 1)).toBe(planted);
        expect(new Set(rejects.map((r) => JSON.stringify([r.collection, r.key, r.location]))).size).toBe(planted);
      } finally {
        await target.cleanup();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 600_000);
  }
});
