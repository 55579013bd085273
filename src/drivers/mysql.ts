/**
 * `mysql://user:pass@host:3306/db` and `mariadb://…`: MySQL 8 and MariaDB 10.6+ through a mysql2 pool
 * that connects on first use. A table per collection (layout in mysql-sql.ts), keys in binary UTF-8
 * order, JSON stored as exact text, bytes as LONGBLOB.
 *
 * Writes: one transaction per `putMany`, multi-row `INSERT … ON DUPLICATE KEY UPDATE` statements filled
 * up to the server's `max_allowed_packet`; a row too big for a shared statement goes alone through a
 * prepared statement (binary protocol: bytes are not hex-doubled), and a row too big even for that is
 * rejected with the reason rather than failing the batch. The checkpoint row is written in the same
 * transaction, so a batch and its cursor commit together or not at all.
 */
import mysql from 'mysql2/promise';
import { assertCollectionName, lastWins, partitionRecords } from '../core/batch.js';
import { ConfigurationError, ConnectionError, StoreError } from '../core/errors.js';
import { keyProblem, type StoredRecord } from '../core/record.js';
import type {
  Capabilities, CollectionStats, OpenOptions, PutOptions, PutResult, ScanBatch, ScanOptions, Store, TargetCheckpoint,
} from '../core/store.js';
import { redactUrl } from '../core/url.js';
import {
  CHECKPOINT_TABLE, COLUMNS, CREATE_CHECKPOINTS_SQL, ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE, TABLE_COMMENT,
  createTableSql, decodeRow, errno, parseMysqlUrl, planUpsert, quoteId, type Row,
} from './mysql-sql.js';

/**
 * mysql2 formats every query, also one without parameters (it passes []), and formatting searches the
 * whole statement for placeholders outside quoted text: a multi-row upsert is up to max_allowed_packet
 * of escaped JSON, so that search cost ~15% of a bulk copy's client CPU. A statement without
 * parameters is already final; any other goes through mysql2's own formatter.
 */
function formatQuery(sql: string, values: unknown, timezone?: string): string {
  if (values === undefined || (Array.isArray(values) && values.length === 0)) return sql;
  return mysql.format(sql, values as Parameters<typeof mysql.format>[1], false, timezone as Parameters<typeof mysql.format>[3]);
}

export interface MysqlOptions extends OpenOptions {
  /** Connections in the pool. @default 4 */
  poolSize?: number;
  /** Keys per `IN (…)` list in getMany/deleteMany. @default 500 */
  keyChunk?: number;
}

const DRIVER = 'mysql';

export function createMysqlStore(url: string, options: MysqlOptions = {}): Store {
  const config = parseMysqlUrl(url);
  const location = redactUrl(url);
  const keyChunk = options.keyChunk ?? 500;
  const capabilities: Capabilities = {
    orderedScan: true,
    bytesValues: true,
    transactionalCheckpoint: true,
    rangeScan: true,
    bulkLoad: false,
    validatesJson: false,
    pipelinedWrites: false,
    jsonBytes: false,
  };
  let pool: mysql.Pool | null = null;
  let ready: Promise<number> | null = null;
  const ensured = new Set<string>();
  let checkpointsReady = false;

  const fail = (operation: string, err: unknown, detail: { collection?: string; key?: string } = {}) =>
    err instanceof StoreError || err instanceof ConfigurationError || err instanceof ConnectionError
      ? err
      : new StoreError(DRIVER, `${operation} on ${location}`, detail, err);

  function makePool(database: string | undefined): mysql.Pool {
    const p = mysql.createPool({
      host: config.host,
      port: config.port,
      user: config.user,
      password: config.password,
      database,
      charset: 'UTF8MB4_BIN',
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      connectionLimit: options.poolSize ?? 4,
      ssl: config.ssl ? {} : undefined,
      queryFormat: formatQuery,
    });
    return p;
  }

  /** Connects, creates the database when allowed, and learns max_allowed_packet (once). */
  async function connect(): Promise<number> {
    const p = makePool(config.database);
    try {
      const [rows] = await p.query('SELECT @@max_allowed_packet AS m');
      pool = p;
      return Number((rows as { m: string | number }[])[0]!.m);
    } catch (err) {
      await p.end().catch(() => {});
      if (errno(err) === ER_BAD_DB_ERROR && options.create !== false) {
        const admin = makePool(undefined);
        try {
          await admin.query(`CREATE DATABASE IF NOT EXISTS ${quoteId(config.database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
        } finally {
          await admin.end().catch(() => {});
        }
        return connect();
      }
      if (errno(err) === ER_BAD_DB_ERROR) {
        throw new ConfigurationError(`[mysql] database "${config.database}" does not exist at ${location}; create it or allow creation`, { cause: err });
      }
      throw new ConnectionError(DRIVER, `cannot connect to ${location}: ${(err as Error).message}; check the host, port, user and password`, { cause: err });
    }
  }

  async function db(): Promise<{ pool: mysql.Pool; maxPacket: number }> {
    ready ??= connect().catch((err) => {
      ready = null; // a failed connect is retried on the next call
      throw err;
    });
    const maxPacket = await ready;
    return { pool: pool!, maxPacket };
  }

  /** Every method checks the name before it goes near SQL; the checkpoint table is not a collection. */
  function checkName(collection: string): void {
    assertCollectionName(collection, DRIVER);
    if (collection === CHECKPOINT_TABLE) {
      throw new ConfigurationError(`[mysql] collection name "${CHECKPOINT_TABLE}" is reserved for checkpoints; rename the collection`);
    }
  }

  async function ensure(collection: string): Promise<void> {
    checkName(collection);
    if (ensured.has(collection)) return;
    const { pool } = await db();
    await pool.query(createTableSql(collection));
    ensured.add(collection);
  }

  /** Runs a read that treats a missing table as an empty collection. */
  async function read<T>(collection: string, operation: string, empty: T, run: (p: mysql.Pool) => Promise<T>): Promise<T> {
    checkName(collection);
    const { pool } = await db();
    try {
      return await run(pool);
    } catch (err) {
      if (errno(err) === ER_NO_SUCH_TABLE) return empty;
      throw fail(operation, err, { collection });
    }
  }

  function chunks<T>(list: T[], size: number): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
    return out;
  }

  const store: Store = {
    driver: DRIVER,
    location,
    capabilities,

    async open() {
      await db();
    },

    async close() {
      const p = pool;
      pool = null;
      ready = null;
      ensured.clear();
      checkpointsReady = false;
      await p?.end();
    },

    async listCollections() {
      const { pool } = await db();
      const [rows] = await pool.query(
        'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_comment = ?',
        [TABLE_COMMENT],
      );
      return (rows as { name: string | Buffer }[]).map((r) => String(r.name)).sort();
    },

    async ensureCollection(collection) {
      try {
        await ensure(collection);
      } catch (err) {
        throw fail('create table', err, { collection });
      }
    },

    async count(collection) {
      return read(collection, 'count', 0, async (p) => {
        const [rows] = await p.query(`SELECT COUNT(*) AS n FROM ${quoteId(collection)}`);
        return Number((rows as { n: string }[])[0]!.n);
      });
    },

    async isOrdered() {
      return true;
    },

    async *scan(collection: string, options: ScanOptions = {}): AsyncIterable<ScanBatch> {
      const batchSize = Math.max(1, options.batchSize ?? 1000);
      let after = options.after ?? null;
      const until = options.until ?? null;
      for (;;) {
        options.signal?.throwIfAborted();
        const where: string[] = [];
        const params: unknown[] = [];
        if (after !== null) {
          where.push('k > ?');
          params.push(Buffer.from(after, 'utf8'));
        }
        if (until !== null) {
          where.push('k < ?');
          params.push(Buffer.from(until, 'utf8'));
        }
        const sql = `SELECT ${COLUMNS} FROM ${quoteId(collection)}${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY k LIMIT ${batchSize}`;
        const rows = await read(collection, 'scan', [] as Row[], async (p) => (await p.query(sql, params))[0] as Row[]);
        if (rows.length === 0) return;
        const records = rows.map(decodeRow);
        after = records[records.length - 1]!.key;
        yield { records, rejects: [], cursor: after };
        if (rows.length < batchSize) return;
      }
    },

    async getMany(collection, keys) {
      const found = new Map<string, StoredRecord>();
      const valid = [...new Set(keys)].filter((k) => keyProblem(k) === null);
      for (const part of chunks(valid, keyChunk)) {
        const rows = await read(collection, 'get', [] as Row[], async (p) => {
          const [r] = await p.query(`SELECT ${COLUMNS} FROM ${quoteId(collection)} WHERE k IN (?)`, [part.map((k) => Buffer.from(k, 'utf8'))]);
          return r as Row[];
        });
        for (const row of rows) {
          const rec = decodeRow(row);
          found.set(rec.key, rec);
        }
      }
      // A key asked for twice gets its own copy in each position.
      return keys.map((k) => {
        const r = found.get(k);
        return r ? { ...r, value: typeof r.value === 'string' ? r.value : Buffer.from(r.value) } : undefined;
      });
    },

    async putMany(collection: string, records: StoredRecord[], putOptions: PutOptions = {}): Promise<PutResult> {
      putOptions.signal?.throwIfAborted();
      await store.ensureCollection(collection);
      const { maxPacket, pool } = await db();
      const where = `${location}/${collection}`;
      const { accepted, rejected } = partitionRecords(collection, records, where);
      // Planned before the transaction opens, so that it stays short.
      const plan = planUpsert(collection, lastWins(accepted), maxPacket, where);
      rejected.push(...plan.rejected);
      const written = accepted.filter((r) => plan.keys.has(r.key)).length;
      const statements = plan.statements;

      // CREATE TABLE commits implicitly, so it must never run inside the batch's transaction.
      if (putOptions.checkpoint && !checkpointsReady) {
        await pool.query(CREATE_CHECKPOINTS_SQL);
        checkpointsReady = true;
      }
      const conn = await pool.getConnection();
      let current = '';
      try {
        await conn.beginTransaction();
        for (const s of statements) {
          putOptions.signal?.throwIfAborted();
          current = s.key;
          if (s.params) await conn.execute(s.sql, s.params);
          else await conn.query(s.sql);
        }
        if (putOptions.checkpoint) {
          current = '';
          await writeCheckpoint(conn, putOptions.checkpoint);
        }
        await conn.commit();
      } catch (err) {
        await conn.rollback().catch(() => {});
        throw fail('write', err, current ? { collection, key: current } : { collection });
      } finally {
        conn.release();
      }
      return { written, rejected };
    },

    async deleteMany(collection, keys) {
      const valid = [...new Set(keys)].filter((k) => keyProblem(k) === null);
      let n = 0;
      for (const part of chunks(valid, keyChunk)) {
        n += await read(collection, 'delete', 0, async (p) => {
          const [res] = await p.query(`DELETE FROM ${quoteId(collection)} WHERE k IN (?)`, [part.map((k) => Buffer.from(k, 'utf8'))]);
          return (res as { affectedRows: number }).affectedRows;
        });
      }
      return n;
    },

    async readCheckpoint(id) {
      const { pool } = await db();
      try {
        const [rows] = await pool.query(`SELECT cursor_value, data FROM ${quoteId(CHECKPOINT_TABLE)} WHERE id = ?`, [Buffer.from(id, 'utf8')]);
        const row = (rows as { cursor_value: string; data: string | null }[])[0];
        if (!row) return null;
        const cp: TargetCheckpoint = { id, cursor: row.cursor_value };
        if (row.data !== null) cp.data = row.data;
        return cp;
      } catch (err) {
        if (errno(err) === ER_NO_SUCH_TABLE) return null;
        throw fail('read checkpoint', err);
      }
    },

    async clearCheckpoints(prefix) {
      const { pool } = await db();
      const bytes = Buffer.from(prefix, 'utf8');
      try {
        // A byte-prefix comparison: LIKE would need its own escaping of "%" and "_".
        await pool.query(`DELETE FROM ${quoteId(CHECKPOINT_TABLE)} WHERE LEFT(id, ?) = ?`, [bytes.length, bytes]);
      } catch (err) {
        if (errno(err) !== ER_NO_SUCH_TABLE) throw fail('clear checkpoints', err);
      }
    },

    async stats(collection): Promise<CollectionStats> {
      return read(collection, 'stats', { count: 0, bytes: 0 }, async (p) => {
        const [rows] = await p.query(
          `SELECT COUNT(*) AS n, COALESCE(SUM(COALESCE(LENGTH(v), LENGTH(b))), 0) AS bytes FROM ${quoteId(collection)}`,
        );
        const row = (rows as { n: string; bytes: string }[])[0]!;
        return { count: Number(row.n), bytes: Number(row.bytes) };
      });
    },

    async dropCollection(collection) {
      checkName(collection);
      const { pool } = await db();
      try {
        await pool.query(`DROP TABLE IF EXISTS ${quoteId(collection)}`);
        ensured.delete(collection);
      } catch (err) {
        throw fail('drop table', err, { collection });
      }
    },
  };

  async function writeCheckpoint(conn: mysql.PoolConnection, cp: TargetCheckpoint): Promise<void> {
    await conn.query(
      `INSERT INTO ${quoteId(CHECKPOINT_TABLE)} (id, cursor_value, data, updated_at) VALUES (?, ?, ?, UTC_TIMESTAMP(6))
       ON DUPLICATE KEY UPDATE cursor_value = VALUES(cursor_value), data = VALUES(data), updated_at = VALUES(updated_at)`,
      [Buffer.from(cp.id, 'utf8'), cp.cursor, cp.data ?? null],
    );
  }
  return store;
}
