/**
 * Stopping a real migration process: SIGTERM/SIGINT and `cutover pause ID` from another process
 * finish the batch in flight, checkpoint, leave the migration paused, and a resume finishes the job.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { generateDemoStore } from '../../src/demo/generate.js';
import { runCli, startCli } from '../helpers/cli.js';

function setUp() {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-signal-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const generated = generateDemoStore(join(dir, 'source'), 12_000);
  const db = join(dir, 'target.db');
  const state = join(dir, 'state.db');
  const args = ['migrate', '--from', `file:${join(dir, 'source')}`, '--to', `sqlite:${db}`, '--state', state, '--batch-size', '200', '--max-rate', '3000', '--no-verify', '--json'];
  const expected = Object.values(generated.expected).reduce((a, b) => a + b, 0);
  return { dir, db, state, args, expected };
}

function rowsIn(db: string): number {
  const conn = new Database(db, { readonly: true });
  try {
    return ['sessions', 'events', 'checkpoints', 'dlq'].reduce((n, t) => n + (conn.prepare(`SELECT count(*) AS n FROM "${t}"`).get() as { n: number }).n, 0);
  } catch {
    return 0;
  } finally {
    conn.close();
  }
}

async function untilProgress(child: ReturnType<typeof startCli>['child']): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"type":"progress","migrationId":"(m-[0-9a-f]+)"/.exec(buf);
      if (m) resolve(m[1]!);
    });
  });
}

describe('stopping a running migration process', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} pauses after the batch in flight; running the command again completes`, async () => {
      const t = setUp();
      const run = startCli(t.args, t.dir);
      const id = await untilProgress(run.child);
      run.child.kill(signal);
      const stopped = await run.done;
      expect(stopped.signal).toBeNull(); // it exited by itself, after checkpointing
      const result = JSON.parse(stopped.stdout) as { status: string; id: string; totals: { written: number } };
      expect(result.status).toBe('paused');
      expect(result.id).toBe(id);
      const status = JSON.parse((await runCli(['status', id, '--state', t.state, '--json'], t.dir)).stdout) as { migrations: { status: string; totals: { written: number } }[] };
      expect(status.migrations[0]!.status).toBe('paused');
      // What the state says was written is what the target holds: nothing in flight was lost.
      expect(rowsIn(t.db)).toBe(status.migrations[0]!.totals.written);
      expect(rowsIn(t.db)).toBeLessThan(t.expected);
      const resumed = await runCli(t.args.filter((a) => a !== '--max-rate' && a !== '3000'), t.dir);
      expect(JSON.parse(resumed.stdout).status).toBe('completed');
      expect(rowsIn(t.db)).toBe(t.expected);
    }, 120_000);
  }

  it('"cutover pause ID" from another process pauses it; "cutover resume ID" completes it', async () => {
    const t = setUp();
    const run = startCli(t.args, t.dir);
    const id = await untilProgress(run.child);
    const paused = await runCli(['pause', id, '--state', t.state], t.dir);
    expect(paused.code, paused.stderr).toBe(0);
    const stopped = await run.done;
    const result = JSON.parse(stopped.stdout) as { status: string; rejectsTotal: number };
    expect(result.status).toBe('paused');
    // 1 when some planted bad record was already rejected before the pause, 0 otherwise.
    expect(stopped.code).toBe(result.rejectsTotal > 0 ? 1 : 0);
    const again = await runCli(['pause', id, '--state', t.state], t.dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/paused, not running/);
    const resumed = await runCli(['resume', id, '--state', t.state, '--no-verify', '--json'], t.dir);
    expect(JSON.parse(resumed.stdout).status).toBe('completed');
    expect(rowsIn(t.db)).toBe(t.expected);
  }, 120_000);
});
