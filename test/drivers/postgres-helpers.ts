/**
 * Shared set-up for the PostgreSQL driver tests: a schema per test file from runId(), a store on it,
 * and an independent pg Client to read what is really in the tables.
 */
import pg from 'pg';
import type { Store } from '../../src/core/store.js';
import { createPostgresStore } from '../../src/drivers/postgres.js';
import { POSTGRES_URL, runId } from '../helpers/services.js';

export interface PgFixture {
  schema: string;
  store: Store;
  /** Independent connection, not the store's pool. */
  db: pg.Client;
  table(collection: string): string;
  close(): Promise<void>;
}

export function storeUrl(schema: string, extra = ''): string {
  return `${POSTGRES_URL}?schema=${encodeURIComponent(schema)}${extra}`;
}

export async function pgFixture(label: string): Promise<PgFixture> {
  const schema = runId(label);
  const store = createPostgresStore(storeUrl(schema), {});
  await store.open();
  const db = new pg.Client(POSTGRES_URL);
  await db.connect();
  return {
    schema,
    store,
    db,
    table: (c) => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(c)}`,
    async close() {
      await store.close();
      await db.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      await db.end();
    },
  };
}

/** Every row of a collection's table as PostgreSQL holds it, in key order. */
export async function tableRows(f: PgFixture, collection: string): Promise<{ key: string; value: string | null; bytes: Buffer | null; version: string }[]> {
  const res = await f.db.query(`SELECT key, value::text AS value, bytes, version::text AS version FROM ${f.table(collection)} ORDER BY key`);
  return res.rows;
}
