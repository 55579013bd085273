// Suite "verify": `cutover verify --mode full` and `--mode checksum` over N identical records, for
// SQLite<->SQLite, file(JSONL)<->SQLite and PostgreSQL<->PostgreSQL, each next to the copy rate of
// the same pair (full verify should be at least twice as fast as copying), plus the bare
// `SELECT sum(hashtext(key || value::text))` over one PostgreSQL table as the checksum reference.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { COLLECTION, ensureJsonl } from '../lib/data.js';
import { checkCount, cutover, migrate, outDir, removeSqlite, rounds, row, sqliteCount } from '../lib/common.js';
import { measure } from '../lib/measure.js';
import { countRows, dropBenchSchemas, dropSchema, pgUrl, psqlArgs } from '../lib/pg.js';
import { ensureSqliteSource } from './postgres.js';

export async function runVerify(ctx, log) {
  const n = ctx.records;
  const rows = [];
  const targets = [];
  const out = outDir(n);
  log('verify: preparing identical copies (not timed)');
  const jsonl = ensureJsonl(n);
  const a = await ensureSqliteSource(ctx);
  const b = join(out, 'verify-b.db');
  removeSqlite(b);
  copyFileSync(a, b);
  dropBenchSchemas();
  for (const s of ['bench_va', 'bench_vb']) {
    await migrate({ ...ctx, profile: false }, `setup-${s}`, `file:${jsonl}`, pgUrl(s));
    checkCount(s, countRows(s, COLLECTION), n);
  }

  const verifyRun = (label, from, to, mode) => cutover(ctx, `verify-${label}-${mode}`, ['verify', '--from', from, '--to', to, '--mode', mode]);
  const pairs = [
    { label: 'sqlite-sqlite', title: 'SQLite <-> SQLite', from: `sqlite:${a}`, to: `sqlite:${b}`,
      copy: async () => {
        const t = join(out, 'verify-copy.db');
        removeSqlite(t);
        const r = await migrate(ctx, 'copy-sqlite-sqlite', `sqlite:${a}`, `sqlite:${t}`);
        checkCount('SQLite -> SQLite', sqliteCount(t, COLLECTION), n);
        removeSqlite(t);
        return r;
      } },
    { label: 'file-sqlite', title: 'file (JSONL) <-> SQLite', from: `file:${jsonl}`, to: `sqlite:${a}`,
      copy: async () => {
        const t = join(out, 'verify-copy.db');
        removeSqlite(t);
        const r = await migrate(ctx, 'copy-file-sqlite', `file:${jsonl}`, `sqlite:${t}`);
        checkCount('JSONL -> SQLite', sqliteCount(t, COLLECTION), n);
        removeSqlite(t);
        return r;
      } },
    { label: 'pg-pg', title: 'PostgreSQL <-> PostgreSQL', from: pgUrl('bench_va'), to: pgUrl('bench_vb'),
      copy: async () => {
        dropSchema('bench_vc');
        const r = await migrate(ctx, 'copy-pg-pg', pgUrl('bench_va'), pgUrl('bench_vc'));
        checkCount('postgres -> postgres', countRows('bench_vc', COLLECTION), n);
        dropSchema('bench_vc');
        return r;
      } },
  ];

  // The bare query, as the issue states it (PostgreSQL's default settings, which here give it parallel
  // workers: one table on both cores), and in one process (what each side of a verify has).
  const hashtext = (label, settings) => async () => {
    const r = await measure('psql', [...psqlArgs(), '-A', '-t', '-c', `${settings}SELECT sum(hashtext(key || value::text)) FROM bench_va.${COLLECTION}`], { timeoutS: ctx.timeoutS });
    if (r.code !== 0) throw new Error(`psql ${label} failed: ${r.stderr}`);
    return r;
  };
  for (const p of pairs) {
    // Each pair's contenders take turns, round by round (see rounds()); the checksum reference runs in
    // the PostgreSQL pair's rounds, next to the run it is compared with.
    const { copy, full, sum, bare, bareOne } = await rounds(ctx, {
      copy: p.copy,
      full: () => verifyRun(p.label, p.from, p.to, 'full'),
      sum: () => verifyRun(p.label, p.from, p.to, 'checksum'),
      ...(p.label === 'pg-pg' ? { bare: hashtext('hashtext', ''), bareOne: hashtext('hashtext (one process)', 'SET max_parallel_workers_per_gather = 0; ') } : {}),
    });
    rows.push(row(`copy ${p.title.replace('<->', '->')} (reference)`, n, copy));
    rows.push(row(`verify --mode full, ${p.title}`, n, full));
    rows.push(row(`verify --mode checksum, ${p.title}`, n, sum));
    log(`  ${p.title}: copy ${Math.round(n / copy.wallS)}/s, full ${Math.round(n / full.wallS)}/s, checksum ${Math.round(n / sum.wallS)}/s`);
    targets.push({ what: `full verify ${p.title} / copy rate >= 2`, measured: copy.wallS / full.wallS, goal: 2, higher: true, unit: 'x' });
    targets.push({ what: `full verify ${p.title} peak RSS < 256 MB`, measured: full.peakRssMB, goal: 256, higher: false });
    targets.push({ what: `checksum verify ${p.title} peak RSS < 256 MB`, measured: sum.peakRssMB, goal: 256, higher: false });
    if (bare) {
      rows.push(row('psql SELECT sum(hashtext(key || value::text)), one table (reference)', n, bare, { note: 'work is in the server; RSS is psql' }));
      rows.push(row('the same in one server process (max_parallel_workers_per_gather = 0)', n, bareOne, { note: 'context: each verify side is one process' }));
      targets.push({ what: 'checksum verify PostgreSQL<->PostgreSQL / bare hashtext rate >= 0.7', measured: bare.wallS / sum.wallS, goal: 0.7, higher: true, unit: 'x' });
    }
  }
  dropBenchSchemas();
  removeSqlite(b);
  return { rows, targets, notes: ['verify records/s = records per side / wall time (both sides are read)'] };
}
