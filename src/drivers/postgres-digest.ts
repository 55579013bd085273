/**
 * Range digests computed inside PostgreSQL, so that `verify --mode checksum` between two PostgreSQL
 * stores moves a count and a sum per key range instead of every record (see verify/checksum-diff.ts).
 *
 * Per row: h = hashtextextended(key, v) where v hashes the value without rendering it to text
 * (rendering jsonb is most of the cost of `value::text`):
 *   jsonb: hashint4extended(size, hashtextextended(jsonb_typeof(value), jsonb_hash_extended(value, SEED)))
 *          where size = pg_column_size(value #> '{}'), the binary size uncompressed (see below)
 *   bytea: hashtextextended(encode(bytes, 'hex'), BYTES_SEED)
 * Each step feeds the previous hash in as the next one's seed, so key, type, size and content are mixed
 * non-linearly: swapping values between two keys changes both row hashes. A range digest is the count
 * and the exact `numeric` sum of the row hashes; a sum (unlike XOR) never cancels a pair of equal hashes.
 *
 * Which differences hash equal (checked on PostgreSQL 15; test/verify/pushdown-digest.test.ts):
 * - jsonb equality is our canonical equality for everything jsonb can hold: `1.0`/`1`/`1e0`,
 *   `0.50`/`0.5`, member order, whitespace, string escapes and duplicate members (last wins) all hash
 *   equal; NFC vs NFD strings, `1` vs `"1"`, 1 vs 1.0000000000000002 do not. `-0` cannot differ:
 *   jsonb stores it as `0` (the driver refuses to write it; see postgres-values.ts).
 * - `jsonb_hash_extended` alone is weak: it XORs per-token hashes rotated by the token's position
 *   (period 32) and ignores where containers end. Measured collisions: `1` = `[1]`, `{}` = `[]`,
 *   `{"a":[[1]]}` = `{"a":1}`, `[[1],2]` = `[[1,2]]`, 64 zeros = 64 ones, and with seed 0
 *   `[null,false]` = `[true,true]`. The non-zero seed fixes the booleans and nulls, `jsonb_typeof`
 *   fixes scalar vs array, and the binary size catches every change of size, which adding or
 *   removing a container always is (a header and an entry: 8 bytes).
 * - What still hashes equal by construction is a change that keeps the binary size and only
 *   (a) swaps two scalar tokens whose positions in the document's token order (object members in
 *   jsonb order, member names counted) differ by a multiple of 32, or replaces two identical tokens
 *   that far apart by the same other token, or (b) moves a container boundary without changing the
 *   number of containers (`[[1],2]` vs `[[1,2]]`). Hashing `value::text` instead would close (a)
 *   and (b) but costs as much as rendering both tables to text, which is what pushdown avoids.
 * - Every other difference gives two unrelated 64-bit row hashes, so a range with a difference sums
 *   equal by chance with probability about 2^-64, and the counts must match as well: a false
 *   "equal" from chance is practically impossible.
 * - The size is `pg_column_size(value #> '{}')`: the whole value, detoasted, so it is the
 *   uncompressed jsonb size whatever the server's TOAST settings and the rest of the row (plain
 *   `pg_column_size(value)` is the stored, maybe compressed size). It depends only on the data:
 *   `1.0` and `1` have the same size (numeric keeps the display scale in its header) up to 63
 *   fraction digits; a longer spelling makes equal values differ, which costs a record-by-record
 *   comparison of that range, never a wrong answer. About 5% more time than without.
 *
 * The digest family carries a probe of these functions computed by the server, so two servers whose
 * hash functions differ (another byte order, a future PostgreSQL) never compare digests.
 */
import type { ScanBatch } from '../core/store.js';
import type { KeyRange, RangeDigest, RangeDigestSource } from '../verify/checksum-diff.js';
import type { RowDigestSource } from '../verify/row-digest-merge.js';
import { scanBounds } from './postgres-sql.js';

export const DIGEST_FAMILY = 'postgres-jsonb-v1';

const SEED = '7310448312406271537';
const BYTES_SEED = '-3446125573402749829';

export const ROW_HASH_SQL = `hashtextextended(key, CASE WHEN value IS NOT NULL
  THEN hashint4extended(pg_column_size(value #> '{}'), hashtextextended(jsonb_typeof(value), jsonb_hash_extended(value, ${SEED})))
  ELSE hashtextextended(encode(bytes, 'hex'), ${BYTES_SEED}) END)`;

/** Hashes of fixed samples through every function the row hash uses. */
const PROBE_SQL = `SELECT concat_ws(':',
  hashtextextended('cutover-😀', ${SEED}),
  jsonb_hash_extended('{"a":[1.5,true,null,"x"],"b":{"c":-2e40}}'::jsonb, ${SEED}),
  hashint4extended(123456, ${SEED}),
  hashtextextended(encode('\\x00ff10'::bytea, 'hex'), ${BYTES_SEED})) AS probe`;

/** `from` inclusive, `until` exclusive, as SQL on `key` (COLLATE "C": UTF-8 byte order, as compareKeys). */
export function rangeWhere(range: KeyRange): { where: string; params: string[] } {
  const parts: string[] = [];
  const params: string[] = [];
  // Range bounds are keys read from a store, so they never hold NUL (keyProblem refuses it).
  if (range.from !== null) {
    params.push(range.from);
    parts.push(`key >= $${params.length}`);
  }
  if (range.until !== null) {
    params.push(range.until);
    parts.push(`key < $${params.length}`);
  }
  return { where: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export function rangeDigestSql(table: string, range: KeyRange): { sql: string; params: string[] } {
  const { where, params } = rangeWhere(range);
  return { sql: `SELECT count(*)::text AS n, coalesce(sum(${ROW_HASH_SQL}), 0)::text AS s FROM ${table} ${where}`, params };
}

/**
 * Every `step`-th key of the range after the first, in key order: the window runs over the primary
 * key index, so this reads keys only.
 */
export function splitKeysSql(table: string, range: KeyRange, step: number, limit: number): { sql: string; params: string[] } {
  const { where, params } = rangeWhere(range);
  return {
    sql: `SELECT key FROM (SELECT key, row_number() OVER (ORDER BY key) AS rn FROM ${table} ${where}) s
      WHERE rn > 1 AND (rn - 1) % ${Math.max(1, Math.floor(step))} = 0 ORDER BY key LIMIT ${Math.max(0, Math.floor(limit))}`,
    params,
  };
}

export const ROW_DIGEST_FAMILY = 'postgres-md5-text-v1';

/**
 * Per record for the full merge (verify/row-digest-merge.ts): "j" and the MD5 of the value as
 * PostgreSQL prints it, or "b" and the MD5 of the bytes. The text costs the server its jsonb rendering
 * (what a plain scan costs it too); what it spares is sending and parsing every document here.
 */
export const ROW_DIGEST_SQL = `CASE WHEN value IS NOT NULL THEN 'j' || md5(value::text) ELSE 'b' || md5(bytes) END`;

/** The same functions over a fixed sample: servers that print jsonb or hash differently differ here. */
const ROW_PROBE_SQL = `SELECT md5('{"b":[1.50,true,null,"x\u00e9 😀"],"a":-2e40,"c":{}}'::jsonb::text) || md5('\\x00ff'::bytea) AS probe`;

/** Runs one statement on a collection's table; a missing table reads as no rows. */
/** `scansRange`: the statement reads a whole key range (see `analytic` in postgres.ts). */
export type DigestQuery = <R extends object>(operation: string, collection: string | undefined, sql: string, params: string[], scansRange?: boolean) => Promise<R[]>;

export function createPostgresDigest(table: (collection: string) => string, query: DigestQuery): RangeDigestSource & RowDigestSource {
  /** A family name with the server's answer to its probe, asked once (again after a failure). */
  const probed = (operation: string, name: string, sql: string) => {
    let answer: Promise<string> | null = null;
    return (signal?: AbortSignal): Promise<string> => {
      signal?.throwIfAborted();
      if (!answer) {
        answer = query<{ probe: string }>(operation, undefined, sql, []).then((rows) => `${name}:${rows[0]!.probe}`);
        answer.catch(() => {
          answer = null;
        });
      }
      return answer;
    };
  };
  return {
    rowDigestFamily: probed('probing the row digest', ROW_DIGEST_FAMILY, ROW_PROBE_SQL),
    digestFamily: probed('probing the digest functions', DIGEST_FAMILY, PROBE_SQL),

    async *scanRowDigests(collection, options): AsyncIterable<ScanBatch> {
      const batchSize = Math.max(1, Math.floor(options.batchSize ?? 1000));
      let after = options.after ?? null;
      for (;;) {
        options.signal?.throwIfAborted();
        const { where, params } = scanBounds(after, options.until ?? null);
        const sql = `SELECT key, ${ROW_DIGEST_SQL} AS d FROM ${table(collection)} ${where} ORDER BY key LIMIT ${batchSize}`;
        const rows = await query<{ key: string; d: string }>('digest scan', collection, sql, params);
        if (rows.length === 0) return;
        after = rows[rows.length - 1]!.key;
        yield { records: rows.map((r) => ({ key: r.key, value: r.d })), rejects: [], cursor: after };
        if (rows.length < batchSize) return;
      }
    },

    async rangeDigest(collection, range, signal): Promise<RangeDigest> {
      signal?.throwIfAborted();
      const { sql, params } = rangeDigestSql(table(collection), range);
      const rows = await query<{ n: string; s: string }>('range digest', collection, sql, params, true);
      const row = rows[0] ?? { n: '0', s: '0' };
      return { count: Number(row.n), digest: new Uint8Array(Buffer.from(row.s, 'utf8')) };
    },

    async splitKeys(collection, range, parts, signal, expected) {
      signal?.throwIfAborted();
      if (parts < 2) return [];
      let count = expected;
      if (count === undefined) {
        const { where, params } = rangeWhere(range);
        const sql = `SELECT count(*)::text AS n FROM ${table(collection)} ${where}`;
        const rows = await query<{ n: string }>('range count', collection, sql, params);
        count = Number(rows[0]?.n ?? 0);
      }
      if (count < 2) return [];
      const { sql, params } = splitKeysSql(table(collection), range, Math.ceil(count / parts), parts - 1);
      const rows = await query<{ key: string }>('choosing split keys', collection, sql, params);
      return rows.map((r) => r.key);
    },
  };
}
