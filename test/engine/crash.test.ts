/**
 * Crash safety with real processes: a file → SQLite migration is started as a child process and
 * SIGKILLed at random moments, again and again; each time it is resumed by running the same command.
 * At the end the target must equal the source record by record, and each broken source record must be
 * in the rejects file exactly once.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { sameValue } from '../../src/core/canonical.js';
import { generateDemoStore } from '../../src/demo/generate.js';
import { openStore } from '../../src/drivers/index.js';
import { KILL_TIMING, runCli, runKilledAtRandom } from '../helpers/cli.js';
import { scanAll } from '../conformance/suite.js';

function targetCount(db: string): number {
  try {
    const conn = new Database(db, { readonly: true, fileMustExist: true });
    try {
      const tables = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cutover%' ESCAPE '\\' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
      return tables.reduce((n, t) => n + (conn.prepare(`SELECT count(*) AS n FROM "${t.name}"`).get() as { n: number }).n, 0);
    } finally {
      conn.close();
    }
  } catch {
    return 0;
  }
}

describe('crash safety (SIGKILL, real processes)', () => {
  it('survives at least 10 kills at random points and ends with the target equal to the source', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-crash-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const generated = generateDemoStore(join(dir, 'source'), 30_000);
    const expectedTotal = Object.values(generated.expected).reduce((a, b) => a + b, 0);
    const db = join(dir, 'target.db');
    // --max-rate 2000 stretches the copy of ~30k records over ~15 s, so that at most 3 kills timed from
    // start (≤1 s, ≤2k records each) and 9 timed from progress (≤0.4 s, ≤800 each) copy ~13k: twelve
    // kills always land before the copy can finish, however fast the machine.
    const args = ['migrate', '--from', `file:${join(dir, 'source')}`, '--to', `sqlite:${db}`, '--state', join(dir, 'state.db'), '--batch-size', '400', '--max-rate', '2000', '--no-verify', '--json'];
    const progress: number[] = [];
    let kills = 0;
    for (let attempt = 0; attempt < 40 && kills < 12; attempt++) {
      const run = await runKilledAtRandom(args, dir, attempt, KILL_TIMING);
      if (run.signal === 'SIGKILL') {
        kills++;
        progress.push(targetCount(db));
      } else {
        expect(run.code, run.stderr).not.toBe(2);
        break; // finished before the kill: the rest is checked below
      }
    }
    expect(kills).toBeGreaterThanOrEqual(10);
    // The kills landed at different points of the copy, not all before it started.
    expect(new Set(progress).size).toBeGreaterThan(4);
    expect(Math.min(...progress)).toBeLessThan(expectedTotal);

    const final = await runCli(args.filter((a) => a !== '--max-rate' && a !== '2000'), dir);
    expect(final.code, final.stderr).toBe(1); // 1: finished, with rejects (the planted broken records)
    const result = JSON.parse(final.stdout) as { status: string; rejectsFile: string };
    expect(['completed', 'already-completed']).toContain(result.status);

    // Record by record: the target (read with an independent connection) equals the source's good records.
    const source = await openStore(`file:${join(dir, 'source')}`);
    const conn = new Database(db, { readonly: true });
    try {
      for (const [collection, count] of Object.entries(generated.expected)) {
        const rows = conn.prepare(`SELECT key, value FROM "${collection}"`).all() as { key: string; value: string }[];
        expect(rows.length, collection).toBe(count);
        const target = new Map(rows.map((r) => [r.key, r.value]));
        const latest = new Map((await scanAll(source, collection)).records.map((r) => [r.key, r.value]));
        expect(latest.size, collection).toBe(count);
        for (const [key, value] of latest) {
          const got = target.get(key);
          expect(got, `${collection}/${key}`).toBeDefined();
          expect(sameValue(got!, value as string), `${collection}/${key}`).toBe(true);
        }
      }
    } finally {
      conn.close();
      await source.close();
    }
    // Every broken record is in the rejects file exactly once, however many times its batch was redone.
    const rejects = readFileSync(result.rejectsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { collection: string; location: string; reason: string; key: string | null });
    const planted = Object.values(generated.planted).flat().length;
    expect(rejects.length).toBe(planted);
    expect(new Set(rejects.map((r) => JSON.stringify(r))).size).toBe(planted);
  }, 240_000);
});
