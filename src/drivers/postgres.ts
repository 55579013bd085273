/**
 * `postgres://` and `postgresql://`: one table per collection in a schema, written with COPY.
 * The pool connects lazily; TLS and other connection settings come from the URL exactly as pg's
 * connection string reads them (`sslmode=`, `options=`, `application_name=`...). Table design and
 * SQL are in postgres-sql.ts, COPY encoding in postgres-copy.ts, the transaction in postgres-write.ts,
 * jsonb's limits in postgres-values.ts, URL options in postgres-config.ts, the range digests that
 * `verify --mode checksum` computes in the database and the per-record digests of `--mode full` in
 * postgres-digest.ts.
 */
import pg from 'pg';
import type { PoolClient } from 'pg';
import { lastWins, partitionRecords } from '../core/batch.js';
import { cutPositions, splitPointsOf } from '../core/split-points.js';
import { ConfigurationError, CutoverError, PipelineYield, StoreError, type RejectInfo } from '../core/errors.js';
import { compareKeys } from '../core/key-order.js';
import { collectionNameProblem, isPlainLine, keyProblem, type StoredRecord } from '../core/record.js';
import type {
  Capabilities, CollectionStats, OpenOptions, PutOptions, PutResult, ScanBatch, ScanOptions, Store, TargetCheckpoint,
} from '../core/store.js';
import { redactUrl } from '../core/url.js';
import type { RangeDigestSource } from '../verify/checksum-diff.js';
import type { RowDigestSource } from '../verify/row-digest-merge.js';
import type { SqlJoinSource } from '../verify/sql-join.js';
import type { ValueComparer } from '../verify/lookup-diff.js';
import { errorHint, parsePostgresUrl } from './postgres-config.js';
import { createPostgresDigest } from './postgres-digest.js';
import { createPostgresJoin } from './postgres-join.js';
import {
  CHECKPOINT_TABLE, CREATE_STAGE_SQL, DRIVER, SELECT_COLUMNS, TEXT_TIMESTAMPS, createCheckpointTableSql,
  createTableSql, isoTimestamp, quoteIdent, rowToRecord, scanBounds, tableName, type PgRow,
} from './postgres-sql.js';
import { pgJsonProblem } from './postgres-values.js';
import { BatchFailure, SMALL_BATCH, writeBatch, writeSmallBatch } from './postgres-write.js';
import { hasMeta } from './postgres-copy.js';
import { CREATE_COMPARE_SQL, differingInTable, judgeable } from './postgres-compare.js';

export type { PostgresOptions } from './postgres-config.js';

/** A scan row in `SELECT_COLUMNS` order: key, value as text, bytes, updated_at as text, version as text. */
type ScanRow = [string, string | null, Buffer | null, (string | null)?, (string | null)?];

/** `SELECT_COLUMNS` without the metadata, for scans with `skipMetadata`. */
const KEY_VALUE_COLUMNS = 'key, value::text AS value, bytes';

/** Scan rows as records: what `rowToRecord` gives, without a row object and with a cheaper timestamp. */
function scanRows(rows: ScanRow[]): StoredRecord[] {
  const out: StoredRecord[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const [key, value, bytes, updatedAt, version] = rows[i]!;
    out[i] = {
      key,
      value: value ?? bytes ?? Buffer.alloc(0),
      updatedAt: updatedAt == null ? null : scanTimestamp(updatedAt),
      version: version == null ? null : Number(version),
    };
  }
  return out;
}

/**
 * `isoTimestamp` for the shape PostgreSQL's ISO DateStyle prints ("2024-05-01 10:00:00.123456+00"):
 * the same result with two slices instead of a replace and a regular expression; anything else goes
 * to `isoTimestamp`.
 */
function scanTimestamp(text: string): string {
  const n = text.length;
  if (n < 22 || text.charCodeAt(10) !== 0x20 || text.indexOf(' ', 11) !== -1) return isoTimestamp(text);
  const s = `${text.slice(0, 10)}T${text.slice(11)}`;
  const sign = text.charCodeAt(n - 3);
  const d1 = text.charCodeAt(n - 2);
  const d2 = text.charCodeAt(n - 1);
  const shortOffset = (sign === 0x2b || sign === 0x2d) && d1 >= 0x30 && d1 <= 0x39 && d2 >= 0x30 && d2 <= 0x39;
  return shortOffset ? `${s}:00` : s;
}

const CAPABILITIES: Capabilities = {
  orderedScan: true,
  bytesValues: true,
  transactionalCheckpoint: true,
  rangeScan: true,
  bulkLoad: true,
  // jsonb input refuses malformed JSON with a data error that the batch writer pins on one record.
  validatesJson: true,
  pipelinedWrites: true,
  // COPY takes plain JSON bytes as they are (postgres-copy.ts).
  jsonBytes: true,
};

const MISSING_TABLE = new Set(['42P01', '3F000']);
/** read_only_sql_transaction, insufficient_privilege. */
const NO_TEMP_TABLE = new Set(['25006', '42501']);
/** Session settings for analytic statements (see `analytic`). */
const ANALYTIC_SETTINGS = 'SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0';
// 42710: two CREATE TABLEs of one name race on the table's row type ("type ... already exists").
const ALREADY_EXISTS = new Set(['42P07', '42P06', '42710', '23505']);
/** Deadlock and serialization failures: a concurrent CREATE of the same relation, worth one more look. */
const CREATE_RACE = new Set(['40P01', '40001']);
const codeOf = (err: unknown): string | undefined => (err as { code?: string } | null)?.code;

export function createPostgresStore(url: string, openOptions: OpenOptions = {}): Store & RangeDigestSource & RowDigestSource & SqlJoinSource & ValueComparer {
  const { connectionString, options } = parsePostgresUrl(url);
  const { schema } = options;
  const location = redactUrl(url).replace(/\?.*$/, '');
  const create = openOptions.create !== false;
  let pool: pg.Pool | null = null;
  let closed = false;
  let setup: Promise<void> | null = null;
  let checkpointTable: Promise<void> | null = null;
  const tables = new Map<string, Promise<void>>();
  const staged = new WeakSet<PoolClient>();
  const comparing = new WeakSet<PoolClient>();
  /** Cleared when the server will not keep a temporary table (read-only, or no TEMP privilege). */
  let comparesInDatabase = true;
  const listening = new WeakSet<PoolClient>();

  function getPool(): pg.Pool {
    if (closed) throw new ConfigurationError(`[${DRIVER}] the store for ${location} is closed; open a new one`);
    if (!pool) {
      pool = new pg.Pool({
        connectionString,
        max: options.pool,
        connectionTimeoutMillis: 15_000,
        idleTimeoutMillis: 10_000,
        application_name: 'cutover',
        types: TEXT_TIMESTAMPS,
      });
      // An idle connection the server ends (restart, pg_terminate_backend) must not crash the process;
      // the pool drops it and the next query opens a new one.
      pool.on('error', () => undefined);
    }
    return pool;
  }

  /** Runs `fn`, turning any failure into a StoreError that names the operation, collection and key. */
  async function attempt<T>(operation: string, collection: string | undefined, fn: () => Promise<T>, key?: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof CutoverError) throw err;
      const cause = err instanceof BatchFailure ? err.cause : err;
      const hint = (err instanceof BatchFailure ? err.hint : undefined) ?? errorHint(cause, location);
      throw new StoreError(DRIVER, operation, {
        collection, key: err instanceof BatchFailure ? err.key : key, ...(hint ? { hint } : {}),
      }, cause);
    }
  }

  /** A connection of the pool, for the caller to release. */
  async function checkout(): Promise<PoolClient> {
    const client = await getPool().connect();
    // A checked-out client whose server goes away emits 'error' besides failing its query; without a
    // listener that would crash the process. The failed query already carries the error.
    if (!listening.has(client)) {
      client.on('error', () => undefined);
      listening.add(client);
    }
    return client;
  }

  async function withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await checkout();
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (err) {
      // Keep a connection only after a plain SQL error; anything else may have left it mid-protocol.
      const cause = err instanceof BatchFailure ? err.cause : err;
      if (!(cause instanceof pg.DatabaseError) && !(cause instanceof PipelineYield) || codeOf(cause)?.startsWith('57') || codeOf(cause)?.startsWith('08')) {
        broken = cause instanceof Error ? cause : new Error(String(cause));
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Runs a CREATE ... IF NOT EXISTS only when `exists` finds nothing: PostgreSQL checks the CREATE
   * privilege before IF NOT EXISTS, so a user who may only write rows would fail on a plain CREATE.
   */
  async function createIfMissing(exists: string, params: unknown[], sql: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const found = await getPool().query(exists, params);
      if (found.rowCount) return;
      try {
        await getPool().query(sql);
        return;
      } catch (err) {
        // Two sessions running CREATE ... IF NOT EXISTS at once: the loser sees a unique violation,
        // or can be chosen as a deadlock victim; looking again settles it. A name taken by something
        // else (a type called like the table) is not the object created, so it is looked up again.
        const code = codeOf(err) ?? '';
        if (ALREADY_EXISTS.has(code)) {
          if ((await getPool().query(exists, params)).rowCount) return;
          throw err;
        }
        if (!CREATE_RACE.has(code) || attempt >= 3) throw err;
      }
    }
  }

  const relationExists = 'SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2';

  function ready(): Promise<void> {
    if (!setup) {
      setup = (async () => {
        if (!create) await getPool().query('SELECT 1');
        else await createIfMissing('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema], `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
      })();
      setup.catch(() => {
        setup = null;
      });
    }
    return setup;
  }

  function ensureTable(collection: string): Promise<void> {
    const table = tableName(schema, collection);
    let p = tables.get(collection);
    if (!p) {
      p = ready().then(() => createIfMissing(relationExists, [schema, collection], createTableSql(table)));
      tables.set(collection, p);
      p.catch(() => tables.delete(collection));
    }
    return p;
  }

  function ensureCheckpointTable(): Promise<void> {
    if (!checkpointTable) {
      checkpointTable = ready().then(() => createIfMissing(relationExists, [schema, CHECKPOINT_TABLE], createCheckpointTableSql(schema)));
      checkpointTable.catch(() => {
        checkpointTable = null;
      });
    }
    return checkpointTable;
  }

  /**
   * Runs one statement on a collection's table; a table that does not exist (yet) gives `empty`.
   * `scansRange`: the statement reads a whole table or key range, and runs as `analytic`.
   */
  async function onTable<R extends pg.QueryResultRow, T>(sql: string, params: unknown[], empty: T, map: (rows: R[], rowCount: number) => T, scansRange = false): Promise<T> {
    await ready();
    try {
      const res = scansRange ? await analytic<R>(sql, params) : await getPool().query<R>(sql, params);
      return map(res.rows, res.rowCount ?? 0);
    } catch (err) {
      if (MISSING_TABLE.has(codeOf(err) ?? '')) return empty;
      throw err;
    }
  }

  /**
   * One statement over a whole table or range (digests, joins), in a transaction of its own with
   * ANALYTIC_SETTINGS. Verify runs these on both sides at once: each side's own worker processes
   * would only compete with the other side, and JIT compiling costs more than it saves here.
   */
  async function analytic<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    await ready();
    return withClient(async (client) => {
      try {
        // A server that refuses a setting (no jit before PostgreSQL 11) fails the BEGIN line; the
        // rollback below still closes its transaction before the connection goes back to the pool.
        await client.query(`BEGIN READ ONLY; ${ANALYTIC_SETTINGS}`);
        const res = await client.query<R>(sql, params);
        await client.query('COMMIT');
        return res;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Keys that can exist at all; others (NUL, lone surrogates) would only make PostgreSQL fail. */
  const possibleKeys = (keys: string[]) => [...new Set(keys.filter((k) => keyProblem(k) === null))];
  const checkpointsTable = `${quoteIdent(schema)}.${quoteIdent(CHECKPOINT_TABLE)}`;

  /** Rows of one statement for the range digests; a missing table has none. */
  // Only statements that scan a range pay analytic()'s two extra round trips; the many small ones
  // (pages of row digests, probes) run as they are.
  const digestQuery = <R extends pg.QueryResultRow>(operation: string, collection: string | undefined, sql: string, params: string[], scansRange = false) =>
    attempt(operation, collection, () => onTable(sql, params, [] as R[], (rows: R[]) => rows, scansRange));
  const digest = createPostgresDigest((collection) => tableName(schema, collection), digestQuery);
  const join = createPostgresJoin({
    schema,
    table: (collection) => tableName(schema, collection),
    connect: async () => {
      await ready();
      return checkout();
    },
    query: <R extends object>(operation: string, collection: string | undefined, sql: string, params: unknown[]) =>
      attempt(operation, collection, async () => {
        await ready();
        return (await getPool().query<R & pg.QueryResultRow>(sql, params)).rows as R[];
      }),
    analytic: <R extends object>(operation: string, collection: string | undefined, sql: string, params: unknown[]) =>
      attempt(operation, collection, async () => (await analytic<R & pg.QueryResultRow>(sql, params)).rows as R[]),
  });

  const store: Store & RangeDigestSource & RowDigestSource & SqlJoinSource & ValueComparer = {
    ...digest,
    ...join,
    driver: DRIVER,
    location,
    capabilities: CAPABILITIES,

    async open() {
      await attempt('connect', undefined, ready);
    },

    async close() {
      if (closed) return;
      closed = true;
      const p = pool;
      pool = null;
      await p?.end();
    },

    async listCollections() {
      return attempt('listing collections', undefined, () =>
        onTable(
          `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname <> $2
             AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'key' AND NOT a.attisdropped)
             AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'bytes' AND NOT a.attisdropped)`,
          [schema, CHECKPOINT_TABLE],
          [] as string[],
          (rows: { name: string }[]) => rows.map((r) => r.name).filter((name) => collectionNameProblem(name) === null).sort(compareKeys),
        ));
    },

    async ensureCollection(collection) {
      return attempt('creating the table', collection, () => ensureTable(collection));
    },

    async count(collection, opts) {
      const table = tableName(schema, collection);
      opts?.signal?.throwIfAborted();
      return attempt('count', collection, () =>
        onTable(`SELECT count(*)::text AS n FROM ${table}`, [], 0, (rows: { n: string }[]) => Number(rows[0]!.n)));
    },

    async isOrdered() {
      return true;
    },

    async splitPoints(collection, parts, count) {
      const table = tableName(schema, collection);
      return attempt('split', collection, async () => {
        await ready();
        const pool = getPool();
        try {
          const pairs: string[][] = [];
          for (const at of cutPositions(count, parts)) {
            pairs.push((await pool.query<{ key: string }>(`SELECT key FROM ${table} ORDER BY key LIMIT 2 OFFSET $1`, [at])).rows.map((r) => r.key));
          }
          return splitPointsOf(pairs);
        } catch (err) {
          if (MISSING_TABLE.has(codeOf(err) ?? '')) return [];
          throw err;
        }
      });
    },

    scan(collection: string, opts: ScanOptions = {}): AsyncIterable<ScanBatch> {
      const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 1000));
      return (async function* () {
        const table = tableName(schema, collection);
        let after = opts.after ?? null;
        for (;;) {
          opts.signal?.throwIfAborted();
          const { where, params } = scanBounds(after, opts.until ?? null);
          // Rows as arrays: pg builds no object per row, and the mapping below is the only one.
          // Without metadata the server formats no timestamps (rows end after `bytes`).
          const text = `SELECT ${opts.skipMetadata ? KEY_VALUE_COLUMNS : SELECT_COLUMNS} FROM ${table} ${where} ORDER BY key LIMIT ${batchSize}`;
          const query = { text, values: params, rowMode: 'array' as const };
          const records = await attempt('scan', collection, async () => {
            await ready();
            try {
              return scanRows((await getPool().query<ScanRow>(query)).rows);
            } catch (err) {
              if (MISSING_TABLE.has(codeOf(err) ?? '')) return [];
              throw err;
            }
          }, after ?? undefined);
          if (records.length === 0) return;
          after = records[records.length - 1]!.key;
          yield { records, rejects: [], cursor: after };
          if (records.length < batchSize) return;
        }
      })();
    },

    async getMany(collection, keys) {
      const table = tableName(schema, collection);
      const wanted = possibleKeys(keys);
      if (wanted.length === 0) return keys.map(() => undefined);
      const found = await attempt('getMany', collection, () =>
        onTable(`SELECT ${SELECT_COLUMNS} FROM ${table} WHERE key = ANY($1::text[])`, [wanted], new Map<string, StoredRecord>(),
          (rows: PgRow[]) => new Map(rows.map((r) => [r.key, rowToRecord(r)]))), wanted[0]);
      return keys.map((k) => found.get(k));
    },

    /** Verify's lookups judged in the database (postgres-compare.ts): null where the stored value is equal, else what getMany finds. */
    async compareMany(collection: string, records: StoredRecord[]): Promise<(StoredRecord | undefined | null)[]> {
      const table = tableName(schema, collection);
      const judge = judgeable(records);
      const sent = records.filter((_, i) => judge[i]);
      let differing: Map<string, StoredRecord | undefined> | null = null;
      if (sent.length > 0 && comparesInDatabase) {
        differing = await attempt('compare', collection, async () => {
          await ready();
          try {
            return await withClient(async (client) => {
              if (!comparing.has(client)) {
                await client.query(CREATE_COMPARE_SQL);
                comparing.add(client);
              }
              return differingInTable(client, table, sent);
            });
          } catch (err) {
            if (MISSING_TABLE.has(codeOf(err) ?? '')) return new Map(sent.map((r) => [r.key, undefined]));
            // A standby, a read-only session or a role without TEMP: verify needs no writes, so cutover
            // compares the values read back, from now on.
            if (NO_TEMP_TABLE.has(codeOf(err) ?? '')) {
              comparesInDatabase = false;
              return null;
            }
            throw err;
          }
        }, sent[0]!.key);
      }
      // Judged in the database: null when equal, else what it holds. The rest as getMany finds them.
      const judged = differing;
      const result = records.map((r, i) => (judged !== null && judge[i] ? (judged.has(r.key) ? judged.get(r.key) : null) : undefined));
      const rest = records.flatMap((_, i) => (judged !== null && judge[i] ? [] : [i]));
      const looked = rest.length > 0 ? await store.getMany(collection, rest.map((i) => records[i]!.key)) : [];
      rest.forEach((i, j) => (result[i] = looked[j]));
      return result;
    },

    async putMany(collection: string, records: StoredRecord[], opts: PutOptions = {}): Promise<PutResult> {
      const table = tableName(schema, collection);
      opts.signal?.throwIfAborted();
      const where = `${location}/${collection}`;
      // Plain JSON bytes (RawJsonRecord) hold nothing pgJsonProblem looks for: no escape, no NUL, no -0.
      const { accepted, rejected } = partitionRecords(collection, records, where, (r) =>
        !isPlainLine(r) && typeof r.value === 'string' ? pgJsonProblem(r.value) : null);
      const batch = lastWins(accepted);
      if (batch.length === 0 && !opts.checkpoint) return { written: 0, rejected };
      const mode = opts.mode ?? 'upsert';
      const pipeline = opts.pipeline;
      return attempt(mode === 'load' ? 'bulk load' : 'write', collection, async () => {
        const write = async () => {
          await ensureTable(collection);
          if (opts.checkpoint) await ensureCheckpointTable();
          // Before taking a connection: the batch before holds one and will finish without another.
          await pipeline?.beginAfter;
          return withClient(async (client) => {
            const w = { schema, table, collection, location: where, records: batch, mode, checkpoint: opts.checkpoint, pipeline };
            if (mode === 'upsert' && batch.length > 0 && batch.length <= SMALL_BATCH && !hasMeta(batch)) {
              // One statement commits at once, so it may only run once the batch before has committed.
              await pipeline?.commitAfter;
              const refused = await writeSmallBatch(client, w);
              if (refused) return refused;
            }
            if (mode === 'upsert' && !staged.has(client)) {
              await client.query(CREATE_STAGE_SQL);
              staged.add(client);
            }
            return writeBatch(client, w);
          });
        };
        let refused: RejectInfo[];
        try {
          refused = await write();
        } catch (err) {
          // Someone dropped the table (or schema) since this store created it: create it again, once.
          if (!(err instanceof BatchFailure) || !MISSING_TABLE.has(codeOf(err.cause) ?? '')) throw err;
          tables.clear();
          checkpointTable = null;
          setup = null;
          refused = await write();
        }
        return { written: accepted.length - refused.length, rejected: [...rejected, ...refused] };
      }, batch[0]?.key);
    },

    async deleteMany(collection, keys) {
      const table = tableName(schema, collection);
      const wanted = possibleKeys(keys);
      if (wanted.length === 0) return 0;
      return attempt('delete', collection, () =>
        onTable(`DELETE FROM ${table} WHERE key = ANY($1::text[])`, [wanted], 0, (_rows: never[], n) => n), wanted[0]);
    },

    async readCheckpoint(id): Promise<TargetCheckpoint | null> {
      return attempt('reading a checkpoint', undefined, () =>
        onTable(`SELECT id, cursor, data FROM ${checkpointsTable} WHERE id = $1`, [id], null,
          (rows: { id: string; cursor: string; data: string | null }[]): TargetCheckpoint | null => {
            const row = rows[0];
            if (!row) return null;
            return row.data === null ? { id: row.id, cursor: row.cursor } : { id: row.id, cursor: row.cursor, data: row.data };
          }));
    },

    async clearCheckpoints(idPrefix) {
      await attempt('clearing checkpoints', undefined, () =>
        onTable(`DELETE FROM ${checkpointsTable} WHERE starts_with(id, $1)`, [idPrefix], 0, (_rows: never[], n) => n));
    },

    async stats(collection): Promise<CollectionStats> {
      const table = tableName(schema, collection);
      return attempt('stats', collection, () =>
        // The table's total size on disk (rows, TOAST and the key index): cheap and close enough.
        onTable(`SELECT count(*)::text AS n, pg_total_relation_size(${pg.escapeLiteral(table)}::regclass)::text AS size FROM ${table}`,
          [], { count: 0, bytes: 0 }, (rows: { n: string; size: string }[]) => ({ count: Number(rows[0]!.n), bytes: Number(rows[0]!.size) })));
    },

    async dropCollection(collection) {
      const table = tableName(schema, collection);
      await attempt('dropping the table', collection, async () => {
        await ready();
        await getPool().query(`DROP TABLE IF EXISTS ${table}`);
        tables.delete(collection);
      });
    },
  };
  return store;
}
