/**
 * Verify's lookups, judged in the database. jsonb gives every value back in its own spelling (member
 * order, spaces), so a source whose text is kept as written (a JSONL log) never matches it byte for
 * byte, and comparing canonical forms in cutover costs ~15 us per record. Instead the batch is copied
 * into a temporary table and joined with the collection's table by key: PostgreSQL parses each value
 * once and compares with jsonb equality, and only the keys that are missing or differ come back.
 *
 * jsonb equality is canonical equality (member order, duplicate names, number spelling, exact
 * decimals) for the JSON text it holds exactly. So only such text is sent (pgJsonProblem: no NUL, no
 * lone surrogate, no negative zero, which jsonb would make 0); for other records, and bytes values,
 * the stored record is looked up for the caller to judge. A value PostgreSQL refuses (malformed JSON)
 * fails the COPY, and the whole batch is then looked up the same way.
 */
import type { PoolClient } from 'pg';
import { keyProblem, type StoredRecord } from '../core/record.js';
import { copyRecords } from './postgres-copy.js';
import { rowToRecord, type PgRow } from './postgres-sql.js';
import { pgJsonProblem } from './postgres-values.js';
import { isRecordError } from './postgres-write.js';

const COMPARE_TABLE = 'pg_temp.cutover_compare';
export const CREATE_COMPARE_SQL = `CREATE TEMP TABLE IF NOT EXISTS ${COMPARE_TABLE} (key text COLLATE "C", value jsonb) ON COMMIT DELETE ROWS`;

/** The records jsonb equality may judge; of a key given twice only the last, which decides. */
export function judgeable(records: readonly StoredRecord[]): boolean[] {
  const last = new Map<string, number>();
  records.forEach((r, i) => last.set(r.key, i));
  return records.map((r, i) => last.get(r.key) === i && typeof r.value === 'string' && keyProblem(r.key) === null && pgJsonProblem(r.value) === null);
}

/**
 * The keys among `records` whose stored value is not jsonb-equal to theirs, with what is stored
 * (undefined: absent); null when PostgreSQL refused one of the values.
 */
export async function differingInTable(client: PoolClient, table: string, records: StoredRecord[]): Promise<Map<string, StoredRecord | undefined> | null> {
  // A join without statistics on the temporary table could be planned as a scan of the whole table
  // per batch; one index probe per key is what a batch needs.
  await client.query('BEGIN; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off');
  try {
    try {
      await copyRecords(client, COMPARE_TABLE, 'json', records, null);
    } catch (err) {
      if (!isRecordError(err)) throw err;
      await client.query('ROLLBACK');
      return null;
    }
    const { rows } = await client.query<PgRow & { absent: boolean }>(`SELECT s.key, t.key IS NULL AS absent, t.value::text AS value, t.bytes, t.updated_at, t.version
      FROM ${COMPARE_TABLE} s LEFT JOIN ${table} t ON t.key = s.key
      WHERE t.key IS NULL OR t.value IS DISTINCT FROM s.value`);
    await client.query('COMMIT');
    return new Map(rows.map((r) => [r.key, r.absent ? undefined : rowToRecord(r)]));
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
