/**
 * One batch, one transaction. Design note (the invariants):
 * - upsert: COPY the batch into the per-connection temporary staging table, then one
 *   `INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE`, the checkpoint row and COMMIT in a single
 *   round trip. Replaying a batch is harmless.
 * - load: COPY straight into the collection's table, no staging and no upsert. The engine promises the
 *   table held none of these keys, so a key already there is a broken promise: the batch fails on the
 *   primary key (nothing is duplicated) instead of being half-applied.
 * - The checkpoint is upserted in the same transaction as the rows, so after a crash either both or
 *   neither are there.
 * - A value PostgreSQL refuses (data exceptions, class 22; program limits, class 54) must not sink
 *   its batch. The transaction is rolled back and the batch re-sent in savepoints: COPY's error names
 *   the failing line, so the good prefix is re-sent, the bad record rejected with PostgreSQL's message,
 *   and the rest tried again; without a line number the part is bisected. All parts and the checkpoint
 *   still commit together.
 */
import type { PoolClient } from 'pg';
import type { RejectInfo } from '../core/errors.js';
import { isPlainLine, type StoredRecord } from '../core/record.js';
import { PipelineYield } from '../core/errors.js';
import type { TargetCheckpoint, WritePipeline } from '../core/store.js';
import { STAGE_META, copyErrorLine, copyRecords, copyShape, hasMeta, loadMeta, usableMeta, type MetaDefaults } from './postgres-copy.js';
import { CHECKPOINT_TABLE, STAGE_TABLE, checkpointUpsertSql, insertWithMetaSql, quoteIdent, upsertFromStageSql, type CopyShape } from './postgres-sql.js';

export interface BatchWrite {
  schema: string;
  /** Quoted, schema-qualified table. */
  table: string;
  collection: string;
  /** Reject location, e.g. "postgres://host/db/events". */
  location: string;
  /** Deduplicated (last wins) and pre-checked records. */
  records: StoredRecord[];
  mode: 'upsert' | 'load';
  checkpoint?: TargetCheckpoint | undefined;
  /** Pipelined: signal once staged, commit only after the batch before (see WritePipeline). */
  pipeline?: WritePipeline | undefined;
}

/** A failure of one record's data rather than of the batch or the connection. */
export function isRecordError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('54'));
}

/** Thrown with the key of the record nearest to where the batch failed. */
export class BatchFailure extends Error {
  constructor(readonly key: string | undefined, override readonly cause: unknown, readonly hint?: string) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

const LOAD_CONFLICT_HINT = "mode 'load' promises the collection held none of these keys; empty the collection or write with mode 'upsert'";

function nearKey(records: StoredRecord[], err: unknown): string | undefined {
  const line = copyErrorLine(err);
  return (line !== null ? records[line - 1]?.key : undefined) ?? records[0]?.key;
}

/** Writes the batch and its checkpoint in one transaction; returns the records PostgreSQL refused. */
export async function writeBatch(client: PoolClient, w: BatchWrite): Promise<RejectInfo[]> {
  const withMeta = hasMeta(w.records);
  const meta = withMeta ? (w.mode === 'load' ? loadMeta() : STAGE_META) : null;
  const target = w.mode === 'load' ? w.table : STAGE_TABLE;
  const shape = copyShape(w.records, withMeta);
  let rejected: RejectInfo[] = [];
  let landed = w.records.length;
  // A COMMIT must be durable when it returns: the engine moves on to the next batch (and records its
  // own checkpoint) as soon as it does, so an asynchronous commit lost in a server crash would leave a
  // gap (measured: test/integration/pg-restart.test.ts lost records with synchronous_commit off).
  await client.query('BEGIN');
  w.pipeline?.onBegun();
  try {
    if (w.records.length > 0) {
      try {
        await copyRecords(client, target, shape, w.records, meta);
      } catch (err) {
        if (!isRecordError(err)) {
          const hint = w.mode === 'load' && (err as { code?: unknown }).code === '23505' ? LOAD_CONFLICT_HINT : undefined;
          throw new BatchFailure(nearKey(w.records, err), err, hint);
        }
        await client.query('ROLLBACK; BEGIN');
        rejected = await isolate(client, target, shape, w, meta);
        landed -= rejected.length;
      }
    }
    if (w.pipeline) {
      w.pipeline.onStaged();
      await w.pipeline.commitAfter;
    }
    const finish: string[] = [];
    if (w.mode === 'upsert' && landed > 0) finish.push(upsertFromStageSql(w.table, withMeta));
    if (w.checkpoint) finish.push(checkpointUpsertSql(w.schema, w.checkpoint.id, w.checkpoint.cursor, w.checkpoint.data));
    finish.push('COMMIT');
    await client.query(finish.join(';\n'));
    return rejected;
  } catch (err) {
    // A dead connection cannot roll back; the server has already aborted the transaction.
    await client.query('ROLLBACK').catch(() => undefined);
    if (err instanceof BatchFailure || err instanceof PipelineYield) throw err;
    throw new BatchFailure(w.records[0]?.key, err);
  }
}

/** Copies the records part by part in savepoints, rejecting each record PostgreSQL refuses. */
async function isolate(client: PoolClient, target: string, shape: CopyShape, w: BatchWrite, meta: MetaDefaults | null): Promise<RejectInfo[]> {
  const rejected: RejectInfo[] = [];
  const reject = (record: StoredRecord, err: unknown) => {
    const e = err as { message?: string; detail?: string };
    const detail = e.detail ? ` (${e.detail})` : '';
    rejected.push({
      collection: w.collection,
      key: record.key,
      location: w.location,
      reason: `PostgreSQL refused the value: ${e.message ?? String(err)}${detail}`,
    });
  };
  // Parts still to try, last first. A prefix a failed COPY already read past will go through.
  const todo: StoredRecord[][] = [w.records];
  // A line the source did not read in full is tried once more as the record its source reads in it.
  // That record goes in this batch's COPY shape, unless it carries metadata the shape has no columns
  // for (a member ending in a bracket after its updatedAt or version): then it gets a statement of its
  // own, so that its metadata is kept.
  const withOwnMeta: StoredRecord[] = [];
  const refused = (record: StoredRecord, err: unknown) => {
    const again = isPlainLine(record) && record.reread ? record.reread(record) : undefined;
    if (again === undefined) reject(record, err);
    else if (again !== null && 'reason' in again) rejected.push(again);
    else if (again !== null && meta === null && hasMeta([again])) withOwnMeta.push(again);
    else if (again !== null) todo.push([again]);
  };
  while (todo.length > 0) {
    const part = todo.pop()!;
    await client.query('SAVEPOINT cutover_part');
    try {
      await copyRecords(client, target, shape, part, meta);
      await client.query('RELEASE SAVEPOINT cutover_part');
      continue;
    } catch (err) {
      if (!isRecordError(err)) throw new BatchFailure(nearKey(part, err), err);
      await client.query('ROLLBACK TO SAVEPOINT cutover_part; RELEASE SAVEPOINT cutover_part');
      const line = copyErrorLine(err);
      if (line !== null && line >= 1 && line <= part.length) {
        if (line < part.length) todo.push(part.slice(line));
        refused(part[line - 1]!, err);
        if (line > 1) todo.push(part.slice(0, line - 1));
      } else if (part.length === 1) {
        refused(part[0]!, err);
      } else {
        const mid = part.length >> 1;
        todo.push(part.slice(mid), part.slice(0, mid));
      }
    }
  }
  for (const record of withOwnMeta) {
    await client.query('SAVEPOINT cutover_part');
    try {
      await insertWithMeta(client, w, record);
      await client.query('RELEASE SAVEPOINT cutover_part');
    } catch (err) {
      if (!isRecordError(err)) throw new BatchFailure(record.key, err);
      await client.query('ROLLBACK TO SAVEPOINT cutover_part; RELEASE SAVEPOINT cutover_part');
      reject(record, err);
    }
  }
  return rejected;
}

function insertWithMeta(client: PoolClient, w: BatchWrite, record: StoredRecord) {
  const { updatedAt, version } = usableMeta(record);
  return client.query(insertWithMetaSql(w.table, w.mode), [record.key, ...valueParams(record), updatedAt, version]);
}

/** The value and bytes columns' parameters: exactly one of them is set. */
function valueParams(record: StoredRecord): [string | null, Buffer | null] {
  const v = record.value;
  return typeof v === 'string' ? [v, null] : [null, Buffer.from(v.buffer, v.byteOffset, v.byteLength)];
}

/** At most this many records go through `writeSmallBatch`: one statement beats COPY's round trips. */
export const SMALL_BATCH = 16;

/**
 * An application's single writes (the dual store, repairs) would pay BEGIN, COPY start, data, COPY end,
 * upsert and COMMIT: five round trips for one row. A small upsert without metadata is instead one
 * parameterised statement, rows, upsert and checkpoint together in data-modifying CTEs, which
 * PostgreSQL runs atomically. Returns null when PostgreSQL refuses a value, so that the caller takes
 * the COPY path, which isolates the record.
 */
export async function writeSmallBatch(client: PoolClient, w: BatchWrite): Promise<RejectInfo[] | null> {
  const params: unknown[] = [];
  const rows = w.records.map((r) => {
    params.push(r.key, ...valueParams(r));
    const n = params.length;
    return `($${n - 2}::text, $${n - 1}::jsonb, $${n}::bytea)`;
  });
  let sql = `WITH rows (key, value, bytes) AS (VALUES ${rows.join(', ')}),
    ins AS (INSERT INTO ${w.table} AS t (key, value, bytes) SELECT key, value, bytes FROM rows
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, bytes = excluded.bytes, updated_at = now(), version = t.version + 1
      WHERE t.value IS DISTINCT FROM excluded.value OR t.bytes IS DISTINCT FROM excluded.bytes RETURNING 1)`;
  if (w.checkpoint) {
    params.push(w.checkpoint.id, w.checkpoint.cursor, w.checkpoint.data ?? null);
    const n = params.length;
    sql += `, cp AS (INSERT INTO ${quoteIdent(w.schema)}.${quoteIdent(CHECKPOINT_TABLE)} (id, cursor, data, updated_at)
      VALUES ($${n - 2}, $${n - 1}, $${n}, now())
      ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor, data = excluded.data, updated_at = excluded.updated_at RETURNING 1)`;
  }
  sql += ' SELECT (SELECT count(*) FROM ins) AS n';
  try {
    await client.query(sql, params);
    return [];
  } catch (err) {
    if (isRecordError(err)) return null;
    throw new BatchFailure(w.records[0]?.key, err);
  }
}
