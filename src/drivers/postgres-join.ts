/**
 * PostgreSQL's side of verify/sql-join.ts: two collections that are tables in one database, compared
 * by a full outer join over the key, one key range per statement.
 *
 * - Differences: `value IS DISTINCT FROM` compares jsonb in its binary form, which is canonical
 *   equality (member order, `1.0` = `1`, numbers compared exactly, strings byte for byte under the
 *   database's deterministic collation); bytes are compared byte for byte. Nothing is rendered to text.
 * - Counts come from the same statement's range (`count(*)` over each side's key index), so the
 *   tables are not walked again to count them.
 * - The marker proving one database is a session advisory lock: another session of the same database
 *   on the same server cannot take it; any other server (a replica too) or database can.
 */
import type { PoolClient } from 'pg';
import type { KeyRange } from '../verify/checksum-diff.js';
import type { JoinRange, SqlJoinSource } from '../verify/sql-join.js';
import { rangeWhere } from './postgres-digest.js';

export const JOIN_FAMILY = 'postgres';

/** Pages a key sample reads. */
const SAMPLE_PAGES = 400;
/** The columns the join compares, as joinTable describes them. */
const JOIN_SHAPE = 'bytes bytea -, key text C, value jsonb -';

/**
 * The join of one key range, with both sides' counts: each row is classed once (m missing, x extra,
 * d different, e equal) below an optimisation fence (OFFSET 0); without it PostgreSQL copies the
 * CASE into every aggregate's filter and compares each pair of values once per aggregate. Rows whose
 * stored images are identical (`*=`, a byte comparison of the detoasted datums) are equal; only the
 * others pay for jsonb's structural equality (measured: 1.3 against 1.55 s for 500,000 equal pairs).
 */
export function joinRangeSql(own: string, other: string, range: KeyRange): { sql: string; params: string[] } {
  const { where, params } = rangeWhere(range);
  return {
    sql: `SELECT count(*) FILTER (WHERE kind <> 'x')::text AS s, count(*) FILTER (WHERE kind <> 'm')::text AS t,
        array_agg(key ORDER BY key) FILTER (WHERE kind = 'm') AS missing,
        array_agg(key ORDER BY key) FILTER (WHERE kind = 'x') AS extra,
        array_agg(key ORDER BY key) FILTER (WHERE kind = 'd') AS different
      FROM (SELECT coalesce(s.key, t.key) AS key,
          CASE WHEN t.key IS NULL THEN 'm' WHEN s.key IS NULL THEN 'x' WHEN s *= t THEN 'e'
            WHEN s.value IS DISTINCT FROM t.value OR s.bytes IS DISTINCT FROM t.bytes THEN 'd' ELSE 'e' END AS kind
        FROM (SELECT key, value, bytes FROM ${own} ${where}) s
        FULL JOIN (SELECT key, value, bytes FROM ${other} ${where}) t ON s.key = t.key
        OFFSET 0) j`,
    params,
  };
}

export interface JoinDeps {
  /** The quoted, schema-qualified table of a collection. */
  table(collection: string): string;
  schema: string;
  /** A connection of its own (returned with `release`). */
  connect(): Promise<PoolClient>;
  /** One statement on any connection. */
  query<R extends object>(operation: string, collection: string | undefined, sql: string, params: unknown[]): Promise<R[]>;
  /** One statement that reads a whole table or range (see ANALYTIC_SETTINGS in postgres.ts). */
  analytic<R extends object>(operation: string, collection: string | undefined, sql: string, params: unknown[]): Promise<R[]>;
}

export function createPostgresJoin(deps: JoinDeps): SqlJoinSource {
  const lockSql = (fn: string) => `SELECT ${fn}(hashtextextended($1, 0)) AS ok`;
  return {
    sqlJoinFamily: JOIN_FAMILY,

    async holdMarker(token, signal) {
      signal?.throwIfAborted();
      const client = await deps.connect();
      try {
        const held = (await client.query<{ ok: boolean }>(lockSql('pg_try_advisory_lock'), [token])).rows[0]?.ok === true;
        if (!held) throw new Error('could not take the marker lock');
      } catch (err) {
        client.release(true);
        throw err;
      }
      return async () => {
        try {
          await client.query(lockSql('pg_advisory_unlock'), [token]);
          client.release();
        } catch (err) {
          client.release(err instanceof Error ? err : true);
        }
      };
    },

    async seesMarker(token, signal) {
      signal?.throwIfAborted();
      const client = await deps.connect();
      try {
        const took = (await client.query<{ ok: boolean }>(lockSql('pg_try_advisory_lock'), [token])).rows[0]?.ok === true;
        if (took) await client.query(lockSql('pg_advisory_unlock'), [token]);
        client.release();
        return !took;
      } catch (err) {
        // It may still hold the lock: the connection is closed, not returned to the pool.
        client.release(err instanceof Error ? err : true);
        throw err;
      }
    },

    async joinTable(collection, signal) {
      signal?.throwIfAborted();
      // The join compares key, value and bytes as this driver creates them; a table of another shape
      // (a varchar key, a json value) is compared by the other methods.
      const rows = await deps.query<{ shape: string | null }>('looking up the table', collection,
        `SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || coalesce(co.collname, '-'), ', ' ORDER BY a.attname) AS shape
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attname IN ('key', 'value', 'bytes')
         LEFT JOIN pg_collation co ON co.oid = a.attcollation
         WHERE n.nspname = $1 AND c.relname = $2`,
        [deps.schema, collection]);
      return rows[0]?.shape === JOIN_SHAPE ? deps.table(collection) : null;
    },

    async sampleKeys(collection, signal) {
      signal?.throwIfAborted();
      const table = deps.table(collection);
      // A block sample (TABLESAMPLE SYSTEM reads only the sampled pages) of about SAMPLE_PAGES pages:
      // live, unlike the planner's statistics, which may be from when the table was a tenth its size.
      const size = await deps.query<{ pages: string }>('sizing the table', collection,
        `SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::int)::text AS pages`, [table]);
      const pages = Math.max(1, Number(size[0]?.pages ?? 1));
      const percent = Math.min(100, (100 * SAMPLE_PAGES) / pages);
      const rows = await deps.query<{ key: string }>('sampling keys', collection,
        `SELECT key FROM ${table} TABLESAMPLE SYSTEM (${percent.toFixed(6)}) ORDER BY key`, []);
      const keys = rows.map((r) => r.key);
      return { keys, estimatedRecords: Math.round((keys.length * 100) / percent) };
    },

    async joinRange(collection, other, range, signal): Promise<JoinRange> {
      signal?.throwIfAborted();
      const { sql, params } = joinRangeSql(deps.table(collection), other, range);
      const row = (await deps.analytic<{ s: string; t: string; missing: string[] | null; extra: string[] | null; different: string[] | null }>('joining the tables', collection, sql, params))[0]!;
      return { sourceCount: Number(row.s), targetCount: Number(row.t), missing: row.missing ?? [], extra: row.extra ?? [], different: row.different ?? [] };
    },
  };
}

