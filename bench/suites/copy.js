// Suite "copy": JSONL -> SQLite and folder-of-files -> SQLite, records/s and peak RSS of the whole
// `cutover migrate` process. With --records >= 1,000,000 it also runs 100,000 so the memory figures
// can be compared (peak RSS should be flat in the record count: the copy streams).
import { join } from 'node:path';
import { COLLECTION, ensureFiles, ensureJsonl } from '../lib/data.js';
import { checkCount, migrate, outDir, removeSqlite, row, sqliteCount } from '../lib/common.js';

async function copyInto(ctx, n, label, fromUrl) {
  const target = join(outDir(n), `copy-${label}.db`);
  removeSqlite(target);
  const run = await migrate({ ...ctx, records: n }, label, fromUrl, `sqlite:${target}`);
  checkCount(label, sqliteCount(target, COLLECTION), n);
  removeSqlite(target);
  return run;
}

export async function runCopy(ctx, log) {
  const rows = [];
  const sizes = ctx.records >= 1_000_000 ? [100_000, ctx.records] : [ctx.records];
  const jsonlRss = {};
  const filesRss = {};
  for (const n of sizes) {
    log(`copy: preparing ${n} records (JSONL and a folder of files; generated once)`);
    const jsonl = ensureJsonl(n);
    const files = ensureFiles(n);
    if (ctx.sweep && n === ctx.records) {
      for (const bs of ctx.sweep) {
        const r = await copyInto({ ...ctx, batchSize: bs }, n, `jsonl-bs${bs}`, `file:${jsonl}`);
        rows.push(row(`JSONL -> SQLite, --batch-size ${bs}`, n, r));
        log(`  batch ${bs}: ${Math.round(n / r.wallS)} records/s, ${r.peakRssMB.toFixed(0)} MB`);
      }
    }
    const j = await copyInto(ctx, n, 'jsonl', `file:${jsonl}`);
    rows.push(row('cutover JSONL -> SQLite', n, j));
    jsonlRss[n] = j.peakRssMB;
    const f = await copyInto(ctx, n, 'files', `file:${files}`);
    rows.push(row('cutover files (1 per record) -> SQLite', n, f));
    filesRss[n] = f.peakRssMB;
  }
  const n = ctx.records;
  const main = rows.filter((r) => r.records === n && r.name === 'cutover JSONL -> SQLite').at(-1);
  const dir = rows.filter((r) => r.records === n && r.name.startsWith('cutover files')).at(-1);
  const targets = [
    { what: 'JSONL -> SQLite records/s >= 100,000', measured: main.rate, goal: 100_000, higher: true },
    { what: 'JSONL -> SQLite peak RSS < 200 MB', measured: main.peakRssMB, goal: 200, higher: false },
    { what: 'files -> SQLite peak RSS < 200 MB', measured: dir.peakRssMB, goal: 200, higher: false },
  ];
  if (sizes.length > 1) {
    // "Flat": the 1M run may use at most a quarter more memory than the 100k run.
    targets.push({ what: `JSONL -> SQLite peak RSS ${n} / 100000 <= 1.25 (flat)`, measured: jsonlRss[n] / jsonlRss[100_000], goal: 1.25, higher: false, unit: 'x' });
    targets.push({ what: `files -> SQLite peak RSS ${n} / 100000 <= 1.25 (flat)`, measured: filesRss[n] / filesRss[100_000], goal: 1.25, higher: false, unit: 'x' });
  }
  return { rows, targets };
}
