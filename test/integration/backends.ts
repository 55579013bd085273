/**
 * A place of its own on each real backend for one integration test: a temp folder, a SQLite file, a
 * PostgreSQL schema, a MariaDB database or a Redis key prefix, named from `runId()`, and the cleanup
 * that removes it. Also independent readers used to check a migration's result.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredRecord } from '../../src/core/record.js';
import type { Store } from '../../src/core/store.js';
import { openStore } from '../../src/drivers/index.js';
import { MYSQL_URL, POSTGRES_URL, redisUrlWithPrefix, runId, unlinkRedisPrefix } from '../helpers/services.js';

export const KINDS = ['file', 'sqlite', 'postgres', 'mysql', 'redis'] as const;
export type Kind = (typeof KINDS)[number];

export interface Place {
  kind: Kind;
  url: string;
  /** Removes everything this place holds on its server or disk. */
  cleanup: () => Promise<void>;
}

export async function dropPgSchema(schema: string, url = POSTGRES_URL): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

export async function dropMysqlDatabase(database: string): Promise<void> {
  const admin = await mysql.createConnection(MYSQL_URL);
  try {
    await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await admin.end();
  }
}


export function mysqlUrlFor(database: string): string {
  return MYSQL_URL.replace(/\/[^/?]*(\?|$)/, `/${database}$1`);
}

/** A fresh, empty place on a backend. */
export function makePlace(kind: Kind, label: string): Place {
  const id = runId(label);
  switch (kind) {
    case 'file': {
      const dir = mkdtempSync(join(tmpdir(), `cutover-${label}-`));
      return { kind, url: `file:${join(dir, 'store')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    }
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), `cutover-${label}-`));
      return { kind, url: `sqlite:${join(dir, 'store.db')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    }
    case 'postgres':
      return { kind, url: `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}schema=${id}&pool=3`, cleanup: () => dropPgSchema(id) };
    case 'mysql':
      return { kind, url: mysqlUrlFor(id), cleanup: () => dropMysqlDatabase(id) };
    case 'redis': {
      const prefix = `${id}:`;
      return { kind, url: redisUrlWithPrefix(prefix), cleanup: () => unlinkRedisPrefix(prefix) };
    }
  }
}

/** Every record of a collection through a fresh store, last value per key (Redis SCAN may repeat keys). */
export async function readAll(url: string, collection: string, allowRejects = false): Promise<Map<string, StoredRecord>> {
  const store = await openStore(url, { create: false });
  try {
    return await scanToMap(store, collection, allowRejects);
  } finally {
    await store.close();
  }
}

/** Last value per key; a reject while reading fails unless `allowRejects` (a source with planted damage). */
export async function scanToMap(store: Store, collection: string, allowRejects = false): Promise<Map<string, StoredRecord>> {
  const out = new Map<string, StoredRecord>();
  for await (const batch of store.scan(collection, { batchSize: 500 })) {
    if (batch.rejects.length > 0 && !allowRejects) throw new Error(`reading ${collection} back gave rejects: ${JSON.stringify(batch.rejects.slice(0, 3))}`);
    for (const r of batch.records) out.set(r.key, r);
  }
  return out;
}

export interface RejectLine {
  collection: string;
  key: string | null;
  location: string;
  reason: string;
}

export function readRejects(path: string): RejectLine[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as RejectLine);
}

/** A short description of a value for assertion messages. */
export function show(value: StoredRecord['value'] | undefined): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return value.length > 120 ? `${value.slice(0, 120)}… (${value.length} chars)` : value;
  return `bytes(${value.byteLength}) ${Buffer.from(value.subarray(0, 24)).toString('hex')}`;
}
