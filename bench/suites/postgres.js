// Suite "postgres": the same N records into PostgreSQL four ways, each into an empty schema:
// - the ceiling: `psql \copy` of the data as TSV into a logged table (text PK, jsonb);
// - cutover JSONL -> postgres and SQLite -> postgres;
// - the peer: pgloader loading the same SQLite database (stock heap, then --dynamic-space-size).
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COLLECTION, dataDir, ensureJsonl, ensureTsv } from '../lib/data.js';
import { checkCount, migrate, outDir, removeSqlite, rounds, row, sqliteCount } from '../lib/common.js';
import { measure } from '../lib/measure.js';
import { countRows, dropBenchSchemas, dropSchema, PG_BASE, pgUrl, psql, psqlArgs } from '../lib/pg.js';

/** The SQLite copy of the data set (made by cutover, not timed), shared with the verify suite. */
export async function ensureSqliteSource(ctx) {
  const path = join(dataDir(ctx.records), 'source.db');
  const marker = join(dataDir(ctx.records), '.sqlite.done');
  if (!existsSync(marker)) {
    removeSqlite(path);
    await migrate({ ...ctx, profile: false }, 'make-sqlite-source', `file:${ensureJsonl(ctx.records)}`, `sqlite:${path}`);
    checkCount('SQLite source', sqliteCount(path, COLLECTION), ctx.records);
    writeFileSync(marker, new Date().toISOString() + '\n');
  }
  return path;
}

function ensurePgloader(log) {
  if (spawnSync('pgloader', ['--version']).status === 0) return;
  log('pgloader is missing: apt-get update && apt-get install -y pgloader');
  const r = spawnSync('sh', ['-c', 'apt-get install -y pgloader || (apt-get update && apt-get install -y pgloader)'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('could not install pgloader with apt-get; install it and run again');
}

async function pgloader(ctx, sqlitePath, schema, heapMB) {
  dropSchema(schema);
  psql(`CREATE SCHEMA "${schema}"`);
  const loadFile = join(outDir(ctx.records), `${schema}.load`);
  // The SQLite column is declared BLOB (it holds JSON text); cast it to jsonb like cutover's table.
  // pgloader creates the tables in the first schema of search_path.
  writeFileSync(loadFile, `LOAD DATABASE
  FROM sqlite://${sqlitePath}
  INTO ${PG_BASE}
  WITH include drop, create tables, create indexes, reset sequences
  SET PostgreSQL PARAMETERS search_path to '${schema}'
  CAST column ${COLLECTION}.value to jsonb drop typemod
  INCLUDING ONLY TABLE NAMES LIKE '${COLLECTION}';
`);
  const args = heapMB ? ['--dynamic-space-size', String(heapMB), loadFile] : [loadFile];
  const run = await measure('pgloader', args, { cwd: outDir(ctx.records), timeoutS: ctx.timeoutS });
  let rows = NaN;
  try {
    rows = countRows(schema, COLLECTION);
  } catch {
    /* the table may not exist after a failed run */
  }
  dropSchema(schema);
  return { run, rows };
}

export async function runPostgres(ctx, log) {
  const n = ctx.records;
  const rows = [];
  const notes = [];
  log('postgres: preparing data (JSONL, TSV, SQLite source; generated once)');
  const jsonl = ensureJsonl(n);
  const tsv = ensureTsv(n);
  const sqlitePath = await ensureSqliteSource(ctx);
  ensurePgloader(log);
  dropBenchSchemas();

  // pgloader with stock settings first, once (what a user gets; it ran out of heap here before).
  const stock = await pgloader(ctx, sqlitePath, 'bench_pgloader_stock', null);
  const stockOk = stock.run.code === 0 && stock.rows === n;
  if (!stockOk) notes.push(`pgloader with stock settings: exit ${stock.run.code}, ${stock.rows} rows loaded; last output: ${JSON.stringify((stock.run.stdout + stock.run.stderr).trim().split('\n').slice(-3).join(' / ').slice(0, 400))}`);

  /** One cutover copy from `from` into an empty schema, its row count checked. */
  const cutoverInto = (schema, label, from, what) => async () => {
    dropSchema(schema);
    const r = await migrate(ctx, label, from, pgUrl(schema));
    checkCount(what, countRows(schema, COLLECTION), n);
    dropSchema(schema);
    return r;
  };

  // The contenders take turns, round by round (see rounds()), each into an empty schema after a CHECKPOINT.
  const { ceiling, fromJsonl, fromSqlite, heap } = await rounds(ctx, {
    // 1. The ceiling: psql \copy.
    ceiling: async () => {
      dropSchema('bench_ceiling');
      psql(`CREATE SCHEMA bench_ceiling; CREATE TABLE bench_ceiling.${COLLECTION} (key text COLLATE "C" PRIMARY KEY, value jsonb NOT NULL)`);
      const r = await measure('psql', [...psqlArgs(), '-c', `\\copy bench_ceiling.${COLLECTION} (key, value) FROM '${tsv}'`], { timeoutS: ctx.timeoutS });
      if (r.code !== 0) throw new Error(`psql \\copy failed: ${r.stderr}`);
      checkCount('psql \\copy', countRows('bench_ceiling', COLLECTION), n);
      // Dropped at once, so that autovacuum of this table cannot run during the next measured run.
      dropSchema('bench_ceiling');
      return r;
    },
    // 2. and 3. cutover JSONL -> postgres and SQLite -> postgres.
    fromJsonl: cutoverInto('bench_jsonl', 'jsonl-pg', `file:${jsonl}`, 'cutover JSONL -> postgres'),
    fromSqlite: cutoverInto('bench_sqlite', 'sqlite-pg', `sqlite:${sqlitePath}`, 'cutover SQLite -> postgres'),
    // 4. pgloader with a heap big enough for the data.
    heap: async () => {
      const r = await pgloader(ctx, sqlitePath, 'bench_pgloader', ctx.pgloaderHeap);
      if (r.run.code !== 0 || r.rows !== n) throw new Error(`pgloader --dynamic-space-size ${ctx.pgloaderHeap} failed: exit ${r.run.code}, ${r.rows} rows\n${r.run.stdout.slice(-3000)}\n${r.run.stderr.slice(-3000)}`);
      return r.run;
    },
  });
  rows.push(row('psql \\copy TSV (ceiling)', n, ceiling, { note: 'RSS is psql only' }));
  log(`  \\copy: ${Math.round(n / ceiling.wallS)} records/s`);
  rows.push(row('cutover JSONL -> postgres', n, fromJsonl));
  log(`  JSONL -> pg: ${Math.round(n / fromJsonl.wallS)} records/s`);
  rows.push(row('cutover SQLite -> postgres', n, fromSqlite));
  log(`  SQLite -> pg: ${Math.round(n / fromSqlite.wallS)} records/s`);
  rows.push(row('pgloader SQLite -> postgres (stock heap)', n, stock.run, { note: stockOk ? '' : `FAILED: exit ${stock.run.code}, ${stock.rows} rows` }));
  rows.push(row(`pgloader SQLite -> postgres (--dynamic-space-size ${ctx.pgloaderHeap})`, n, heap));
  log(`  pgloader: ${Math.round(n / heap.wallS)} records/s`);
  notes.push(`pgloader ${spawnSync('pgloader', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}; its table: key text, value jsonb (CAST), primary key index built after the load`);
  notes.push('cutover targets: `key text COLLATE "C" PRIMARY KEY, value jsonb, bytes bytea, updated_at, version` (the driver\'s table); the \\copy table has the key and value columns only');

  // The peer at its best: the faster of its successful runs.
  const pgloaderRef = stockOk && stock.run.wallS < heap.wallS ? stock.run : heap;
  const targets = [
    { what: 'cutover JSONL -> postgres / psql \\copy rate >= 1.0', measured: (n / fromJsonl.wallS) / (n / ceiling.wallS), goal: 1.0, higher: true, unit: 'x' },
    { what: `cutover SQLite -> postgres / pgloader (${pgloaderRef === heap ? 'bigger heap' : 'stock'}, its faster run) rate >= 1.5`, measured: (n / fromSqlite.wallS) / (n / pgloaderRef.wallS), goal: 1.5, higher: true, unit: 'x' },
    { what: 'cutover JSONL -> postgres peak RSS < 256 MB', measured: fromJsonl.peakRssMB, goal: 256, higher: false },
    { what: 'cutover SQLite -> postgres peak RSS < 256 MB', measured: fromSqlite.peakRssMB, goal: 256, higher: false },
  ];
  dropBenchSchemas();
  return { rows, targets, notes };
}
