/**
 * SQL text for the PostgreSQL backend. Every identifier that reaches SQL is either a constant here or
 * a collection name that passed `assertCollectionName` and then went through pg's `escapeIdentifier`,
 * so a collection name can never inject SQL.
 *
 * Table design: `value jsonb` and `bytes bytea` are two nullable columns with a CHECK that exactly one
 * is set. One jsonb column keeps JSON queryable in the target (the point of moving to PostgreSQL) and
 * bytes stay bytes; a single bytea column with a type tag would make the data opaque to SQL users.
 */
import pg from 'pg';
import { assertCollectionName } from '../core/batch.js';
import { ConfigurationError } from '../core/errors.js';
import type { StoredRecord } from '../core/record.js';

export const DRIVER = 'postgres';
export const CHECKPOINT_TABLE = 'cutover_checkpoints';
/** Per-connection staging table for upserts: temporary, emptied by every commit, and qualified with
 * pg_temp so that no table on the search_path can stand in for it. */
export const STAGE_TABLE = 'pg_temp.cutover_stage';

export const quoteIdent = (name: string): string => pg.escapeIdentifier(name);
export const quoteLiteral = (text: string): string => pg.escapeLiteral(text);

/** Validates a collection name and returns its schema-qualified, quoted table name. */
export function tableName(schema: string, collection: string): string {
  assertCollectionName(collection, DRIVER);
  if (collection === CHECKPOINT_TABLE) {
    throw new ConfigurationError(`[${DRIVER}] collection name "${CHECKPOINT_TABLE}" is reserved for cutover's checkpoints; rename the collection`);
  }
  return `${quoteIdent(schema)}.${quoteIdent(collection)}`;
}

export function assertSchemaName(schema: string): void {
  if (schema.length === 0 || schema.includes('\u0000') || Buffer.byteLength(schema, 'utf8') > 63) {
    throw new ConfigurationError(`[${DRIVER}] schema name ${JSON.stringify(schema)} must be 1-63 bytes without NUL; fix ?schema= in the URL`);
  }
}

export function createTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
    key text COLLATE "C" PRIMARY KEY,
    value jsonb,
    bytes bytea,
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    CHECK ((value IS NULL) <> (bytes IS NULL))
  )`;
}

export function createCheckpointTableSql(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.${quoteIdent(CHECKPOINT_TABLE)} (
    id text PRIMARY KEY, cursor text, data text, updated_at timestamptz)`;
}

export const CREATE_STAGE_SQL = `CREATE TEMP TABLE IF NOT EXISTS ${STAGE_TABLE} (
  key text COLLATE "C", value jsonb, bytes bytea, updated_at timestamptz, version bigint) ON COMMIT DELETE ROWS`;

/**
 * What a batch's COPY rows hold: `json`, key and JSON text only (bytes left NULL, metadata to its
 * defaults); `bytes`, some values are bytes; `meta`, the records carry metadata to keep.
 */
export type CopyShape = 'json' | 'bytes' | 'meta';

/** COPY column lists: metadata columns only when the batch carries them, so defaults apply otherwise. */
export function copyColumns(shape: CopyShape): string {
  return shape === 'meta' ? '(key, value, bytes, updated_at, version)' : shape === 'bytes' ? '(key, value, bytes)' : '(key, value)';
}

/**
 * The one statement that moves a staged batch into the table. Without explicit metadata a new row
 * gets version 1 and a changed row version + 1; an unchanged row is left alone, so replaying a batch
 * changes nothing. With explicit metadata (a batch carrying updatedAt/version) the record's values win.
 */
export function upsertFromStageSql(table: string, withMeta: boolean): string {
  if (!withMeta) {
    return `INSERT INTO ${table} AS t (key, value, bytes) SELECT key, value, bytes FROM ${STAGE_TABLE}
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, bytes = excluded.bytes, updated_at = now(), version = t.version + 1
      WHERE t.value IS DISTINCT FROM excluded.value OR t.bytes IS DISTINCT FROM excluded.bytes`;
  }
  return `INSERT INTO ${table} AS t (key, value, bytes, updated_at, version)
    SELECT s.key, s.value, s.bytes, coalesce(s.updated_at, now()),
      coalesce(s.version, (SELECT o.version + 1 FROM ${table} o WHERE o.key = s.key), 1) FROM ${STAGE_TABLE} s
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, bytes = excluded.bytes,
      updated_at = excluded.updated_at, version = excluded.version`;
}

/**
 * One record with its own metadata, for a batch copied without metadata columns: $1 key, $2 JSON text
 * or NULL, $3 bytes or NULL, $4 updated_at or NULL (now()), $5 version or NULL (the next version, or 1
 * for a new key), the way `upsertFromStageSql` with metadata treats a staged row. In load mode a
 * plain INSERT, so a key already there fails on the primary key as the COPY would.
 */
export function insertWithMetaSql(table: string, mode: 'upsert' | 'load'): string {
  if (mode === 'load') {
    return `INSERT INTO ${table} (key, value, bytes, updated_at, version)
      VALUES ($1::text, $2::jsonb, $3::bytea, coalesce($4::timestamptz, now()), coalesce($5::bigint, 1))`;
  }
  return `INSERT INTO ${table} AS t (key, value, bytes, updated_at, version)
    VALUES ($1::text, $2::jsonb, $3::bytea, coalesce($4::timestamptz, now()),
      coalesce($5::bigint, (SELECT o.version + 1 FROM ${table} o WHERE o.key = $1::text), 1))
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, bytes = excluded.bytes,
      updated_at = excluded.updated_at, version = excluded.version`;
}

export function checkpointUpsertSql(schema: string, id: string, cursor: string, data: string | undefined): string {
  const v = (s: string | undefined) => (s === undefined ? 'NULL' : quoteLiteral(s));
  return `INSERT INTO ${quoteIdent(schema)}.${quoteIdent(CHECKPOINT_TABLE)} (id, cursor, data, updated_at)
    VALUES (${v(id)}, ${v(cursor)}, ${v(data)}, now())
    ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor, data = excluded.data, updated_at = excluded.updated_at`;
}

export const SELECT_COLUMNS = 'key, value::text AS value, bytes, updated_at, version';

export interface PgRow {
  key: string;
  value: string | null;
  bytes: Buffer | null;
  updated_at: string | null;
  version: string | null;
}

export function rowToRecord(row: PgRow): StoredRecord {
  return {
    key: row.key,
    value: row.value ?? row.bytes ?? Buffer.alloc(0),
    updatedAt: row.updated_at === null ? null : isoTimestamp(row.updated_at),
    version: row.version === null ? null : Number(row.version),
  };
}

/** PostgreSQL's ISO DateStyle text ("2024-05-01 10:00:00.123456+00") as ISO-8601, microseconds kept. */
export function isoTimestamp(text: string): string {
  let s = text.replace(' ', 'T');
  if (/[+-]\d\d$/.test(s)) s += ':00';
  return s;
}

/** Query text with type parsers that keep timestamps as text and bigint as text (the pg default). */
export const TEXT_TIMESTAMPS = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 1184 || oid === 1114) return (v: string) => v;
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
};

/**
 * Bounds for keyset scans. Stored keys never contain NUL (keyProblem), and PostgreSQL text cannot
 * hold it, so a bound with a NUL is cut there: `key > "a\0x"` is `key > "a"` and `key < "a\0x"` is
 * `key <= "a"` for every NUL-free key.
 */
export function scanBounds(after: string | null, until: string | null): { where: string; params: string[] } {
  const parts: string[] = [];
  const params: string[] = [];
  if (after !== null) {
    const nul = after.indexOf('\u0000');
    params.push(nul === -1 ? after : after.slice(0, nul));
    parts.push(`key > $${params.length}`);
  }
  if (until !== null) {
    const nul = until.indexOf('\u0000');
    params.push(nul === -1 ? until : until.slice(0, nul));
    parts.push(`key ${nul === -1 ? '<' : '<='} $${params.length}`);
  }
  return { where: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}
