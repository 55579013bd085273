/**
 * Crash safety into PostgreSQL with real processes: a file → PostgreSQL migration (`cutover migrate
 * --json`, built CLI) is SIGKILLed at random points again and again and resumed each time by running
 * the same command. PostgreSQL keeps the checkpoint in the batch's own transaction (and takes the bulk
 * load path into the fresh tables), so this is where a batch applied twice or a lost batch would show.
 * At the end an independent pg client reads the target and compares it record by record with the
 * source; each planted broken record is in the rejects file exactly once.
 */
import pg from 'pg';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sameValue } from '../../src/core/canonical.js';
import { generateDemoStore } from '../../src/demo/generate.js';
import { KILL_TIMING, runCli, runKilledAtRandom } from '../helpers/cli.js';
import { POSTGRES_URL, runId } from '../helpers/services.js';
import { dropPgSchema, readAll, show } from './backends.js';

const schema = runId('crashpg');
const dir = mkdtempSync(join(tmpdir(), 'cutover-crash-pg-'));

afterAll(async () => {
  await dropPgSchema(schema);
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

interface Row {
  key: string;
  value: string | null;
  bytes: Buffer | null;
}

/** Rows of every collection table, read with a client of the test's own (not the store's). */
async function targetRows(collections: string[]): Promise<Map<string, Row[]>> {
  const client = new pg.Client(POSTGRES_URL);
  await client.connect();
  try {
    const out = new Map<string, Row[]>();
    for (const c of collections) {
      try {
        const res = await client.query<Row>(`SELECT key, value::text AS value, bytes FROM ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(c)}`);
        out.set(c, res.rows);
      } catch (err) {
        if ((err as { code?: string }).code !== '42P01' && (err as { code?: string }).code !== '3F000') throw err;
        out.set(c, []);
      }
    }
    return out;
  } finally {
    await client.end();
  }
}

describe('crash safety into PostgreSQL (SIGKILL, real processes)', () => {
  it('survives at least 10 kills at random points; the target equals the source, nothing twice, rejects once each', async () => {
    const generated = generateDemoStore(join(dir, 'source'), 30_000);
    const collections = Object.keys(generated.expected);
    const expectedTotal = Object.values(generated.expected).reduce((a, b) => a + b, 0);
    const to = `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}schema=${schema}`;
    const base = ['migrate', '--from', `file:${join(dir, 'source')}`, '--to', to, '--state', join(dir, 'state.db'), '--batch-size', '300', '--no-verify', '--json'];
    // --max-rate 2000: twelve kills copy at most ~13k of the 30k records (see KILL_TIMING), so they
    // all land mid-copy however fast the machine.
    const args = [...base, '--max-rate', '2000'];
    const landed: number[] = [];
    let kills = 0;
    let finishedEarly = false;
    for (let attempt = 0; attempt < 50 && kills < 12; attempt++) {
      const run = await runKilledAtRandom(args, dir, attempt, KILL_TIMING);
      if (run.signal === 'SIGKILL') {
        kills++;
        const rows = await targetRows(collections);
        landed.push([...rows.values()].reduce((n, r) => n + r.length, 0));
      } else {
        expect(run.code, run.stderr.slice(-2000)).not.toBe(2);
        finishedEarly = true;
        break;
      }
    }
    expect(kills, `only ${kills} kills before the copy finished (finished early: ${finishedEarly})`).toBeGreaterThanOrEqual(10);
    // The kills landed at different points of the copy, not all before or after it.
    expect(new Set(landed).size, JSON.stringify(landed)).toBeGreaterThan(4);
    expect(Math.min(...landed), JSON.stringify(landed)).toBeLessThan(expectedTotal);
    expect(Math.max(...landed), JSON.stringify(landed)).toBeGreaterThan(0);

    const final = await runCli(base, dir);
    expect(final.code, final.stderr.slice(-2000)).toBe(1); // 1: finished, with rejects (the planted broken records)
    const result = JSON.parse(final.stdout) as { status: string; rejectsFile: string };
    expect(['completed', 'already-completed']).toContain(result.status);

    // Record by record, with an independent client: the target holds exactly the source's good records.
    const rows = await targetRows(collections);
    for (const [collection, count] of Object.entries(generated.expected)) {
      const list = rows.get(collection)!;
      const keys = new Set(list.map((r) => r.key));
      expect(keys.size, `${collection}: a key twice`).toBe(list.length);
      expect(list.length, collection).toBe(count);
      const source = await readAll(`file:${join(dir, 'source')}`, collection, true);
      expect(source.size, collection).toBe(count);
      const target = new Map(list.map((r) => [r.key, r]));
      for (const [key, record] of source) {
        const row = target.get(key);
        expect(row, `${collection}/${key} missing`).toBeDefined();
        const got = row!.value ?? row!.bytes!;
        expect(typeof got === 'string', `${collection}/${key} kind`).toBe(typeof record.value === 'string');
        expect(sameValue(got, record.value), `${collection}/${key}: ${show(got)} vs ${show(record.value)}`).toBe(true);
      }
    }
    // Every broken record is in the rejects file exactly once, however many times its batch was redone.
    const rejects = readFileSync(result.rejectsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { collection: string; location: string; key: string | null });
    const planted = Object.entries(generated.planted).flatMap(([c, list]) => list.map((p) => ({ collection: c, ...p })));
    expect(rejects.length, JSON.stringify(rejects, null, 1)).toBe(planted.length);
    expect(new Set(rejects.map((r) => JSON.stringify([r.collection, r.key, r.location]))).size).toBe(planted.length);
    for (const [collection, list] of Object.entries(generated.planted)) {
      const mine = rejects.filter((r) => r.collection === collection);
      expect(mine.length, collection).toBe(list.length);
      for (const p of list) expect(mine.some((r) => r.location.includes(p.location)), `${collection}: ${p.what} at ${p.location}`).toBe(true);
    }
  }, 600_000);
});
