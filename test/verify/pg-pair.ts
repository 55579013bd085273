/**
 * Two PostgreSQL stores on schemas of their own in the test database, and an independent client to
 * plant and check data in SQL: the fixture of the verify tests that compare two PostgreSQL stores.
 */
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { createPostgresStore } from '../../src/drivers/postgres.js';
import { storeUrl } from '../drivers/postgres-helpers.js';
import { POSTGRES_URL, runId } from '../helpers/services.js';

export interface PgPair {
  schemaA: string;
  schemaB: string;
  source: ReturnType<typeof createPostgresStore>;
  target: ReturnType<typeof createPostgresStore>;
  db: pg.Client;
  /** The quoted table of a collection in a schema. */
  table(schema: string, collection: string): string;
  /** The same n generated rows in the collection of both schemas, written in SQL. */
  fillBoth(collection: string, n: number): Promise<void>;
  close(): Promise<void>;
}

export async function pgPair(label: string): Promise<PgPair> {
  const schemaA = runId(`${label}A`);
  const schemaB = runId(`${label}B`);
  const source = createPostgresStore(storeUrl(schemaA));
  const target = createPostgresStore(storeUrl(schemaB));
  const db = new pg.Client(POSTGRES_URL);
  await db.connect();
  const table = (schema: string, c: string) => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(c)}`;
  return {
    schemaA,
    schemaB,
    source,
    target,
    db,
    table,
    async fillBoth(c, n) {
      await source.ensureCollection(c);
      await target.ensureCollection(c);
      for (const s of [schemaA, schemaB]) {
        await db.query(
          `INSERT INTO ${table(s, c)} (key, value) SELECT 'r' || lpad(i::text, 6, '0'),
             jsonb_build_object('i', i, 'name', 'user ' || i, 'score', i * 1.5, 'tags', jsonb_build_array('a', i % 7), 'nested', jsonb_build_object('ok', i % 2 = 0))
           FROM generate_series(1, ${n}) AS i`,
        );
      }
    },
    async close() {
      await source.close();
      await target.close();
      for (const s of [schemaA, schemaB]) await db.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(s)} CASCADE`);
      await db.end();
    },
  };
}

/**
 * The pair for a test file: made before its tests and dropped after them. Its fields are read through
 * getters, so the file can name them at the top level before the pair exists.
 */
export function usePgPair(label: string): PgPair & { fresh(): string } {
  let made: PgPair | null = null;
  let counter = 0;
  beforeAll(async () => {
    made = await pgPair(label);
  });
  afterAll(async () => {
    await made?.close();
  });
  const pair = () => made!;
  return {
    get schemaA() { return pair().schemaA; },
    get schemaB() { return pair().schemaB; },
    get source() { return pair().source; },
    get target() { return pair().target; },
    get db() { return pair().db; },
    table: (schema, c) => pair().table(schema, c),
    fillBoth: (c, n) => pair().fillBoth(c, n),
    close: () => pair().close(),
    fresh: () => `${label}_${++counter}`,
  };
}
