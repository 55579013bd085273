// PostgreSQL helpers through the public `psql` client (no driver in the bench process itself).
import { spawnSync } from 'node:child_process';

export const PG_BASE = process.env.CUTOVER_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export function psqlArgs() {
  return ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', PG_BASE];
}

/** Runs SQL, returns the unaligned tuples-only output. */
export function psql(sql) {
  const r = spawnSync('psql', [...psqlArgs(), '-A', '-t', '-c', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql failed (${r.status}) on: ${sql}\n${r.stderr}`);
  return r.stdout.trim();
}

/**
 * Drops the schema, then CHECKPOINT: the server writes out the dirty pages and WAL of earlier runs now,
 * not during the next measured one (a 1M-row load leaves ~1 GB of WAL, which is max_wal_size here).
 */
export function dropSchema(schema) {
  psql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  psql('CHECKPOINT');
}

export function countRows(schema, table) {
  return Number(psql(`SELECT count(*) FROM "${schema}"."${table}"`));
}

export function pgUrl(schema) {
  return `${PG_BASE}?schema=${schema}`;
}

/** Drops every schema this bench made (prefix bench_). */
export function dropBenchSchemas() {
  const list = psql(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%'`);
  for (const s of list.split('\n').filter(Boolean)) dropSchema(s);
}
