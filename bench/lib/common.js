// What every suite shares: running the CLI as a child process, a result row, SQLite row counts.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { REPO_DIR, dataDir } from './data.js';
import { assertOk, measure } from './measure.js';

export const CUTOVER_BIN = join(REPO_DIR, 'bin', 'cutover.js');

/** A scratch folder for one run's outputs (targets, state databases, profiles). */
export function outDir(n) {
  const dir = join(dataDir(n), 'out');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function removeSqlite(path) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true });
}

export function sqliteCount(path, table) {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(`SELECT count(*) AS n FROM "${table}"`).get().n;
  } finally {
    db.close();
  }
}

/**
 * Runs `node bin/cutover.js ARGS` measured. With ctx.profile, node writes a .cpuprofile into
 * <out>/prof/<label>/ (see bench/profile-summary.js).
 */
export async function cutover(ctx, label, args, { expectCode = 0 } = {}) {
  const nodeArgs = [];
  if (ctx.profile) {
    const dir = join(outDir(ctx.records), 'prof', label);
    rmSync(dir, { recursive: true, force: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
  }
  const cwd = outDir(ctx.records);
  const run = await measure(process.execPath, [...nodeArgs, CUTOVER_BIN, ...args], { cwd, timeoutS: ctx.timeoutS });
  if (run.code !== expectCode) assertOk({ ...run, code: run.code === 0 ? -1 : run.code }, `cutover ${label}`);
  return run;
}

/** Migrate with a fresh state database, so every run copies everything. */
export async function migrate(ctx, label, from, to, extra = []) {
  const state = join(outDir(ctx.records), `state-${label}.db`);
  removeSqlite(state);
  const run = await cutover(ctx, label, ['migrate', '--from', from, '--to', to, '--no-verify', '--batch-size', String(ctx.batchSize), '--state', state, ...extra]);
  removeSqlite(state);
  return run;
}

/** One row of the printed table. */
export function row(name, records, run, extra = {}) {
  return {
    name,
    records,
    wallS: run.wallS,
    rate: records / run.wallS,
    peakRssMB: run.peakRssMB,
    cpuS: run.userS + run.sysS,
    userS: run.userS,
    sysS: run.sysS,
    ...extra,
  };
}

export function checkCount(what, got, want) {
  if (got !== want) throw new Error(`${what}: expected ${want} rows, found ${got}; the run did not copy everything`);
}

export function fileExists(p) {
  return existsSync(p);
}

/**
 * Runs every contender once per round, `ctx.repeat` rounds, and returns each one's median run by wall
 * time. Contenders compared by a ratio take turns (A B C, A B C, …) instead of running in blocks
 * (A A A, B B B, …): this machine's speed drifts by 10-20% over minutes, and in blocks that drift lands
 * on one side of the ratio.
 */
export async function rounds(ctx, contenders) {
  const runs = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
  for (let i = 0; i < (ctx.repeat ?? 1); i++) {
    for (const [name, once] of Object.entries(contenders)) {
      const run = await once();
      runs[name].push(run);
      ctx.log?.(`    round ${i + 1}/${ctx.repeat ?? 1}: ${name} ${run.wallS.toFixed(2)} s`);
    }
  }
  return Object.fromEntries(Object.entries(runs).map(([name, list]) => {
    const sorted = [...list].sort((a, b) => a.wallS - b.wallS);
    return [name, sorted[Math.floor((sorted.length - 1) / 2)]];
  }));
}
