/**
 * The SQL text of the `sqlite:` backend, and the row → record conversion. Table names have passed
 * `assertCollectionName` (letters, digits, `_`, `-`, `.`), so quoting them is enough; the quote
 * doubling is a second line of defence.
 */
import type { Statement } from 'better-sqlite3';
import type { StoredRecord } from '../core/record.js';

/** A row as `.raw()` returns it: key, value, updated_at, version. */
export type RawRow = [unknown, unknown, unknown, unknown];

export interface TableSql {
  create: string;
  drop: string;
  upsert: string;
  /** The upsert for `UPSERT_ROWS` rows in one statement. */
  upsertRows: string;
  deleteOne: string;
  count: string;
  stats: string;
  /** Two keys: the one at a 0-based position (OFFSET ?) and the one after it. */
  keysAt: string;
  /** Rows, their bytes and their image (`key TAB value LF` each, in key order) for `after < key <= last`; see verify/range-image.ts. */
  rangeImage(after: boolean): string;
  /** `keyValue`: only the key and value columns (rows of two). */
  scan(after: boolean, until: boolean, keyValue?: boolean): string;
  getMany(n: number): string;
}

export function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

const COLUMNS = 'key, value, updated_at, version';
const ON_CONFLICT = 'ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, version = excluded.version';
/** Rows per multi-row upsert: one statement for 32 rows measured a quarter less CPU than 32 statements. */
export const UPSERT_ROWS = 32;

export function tableSql(collection: string): TableSql {
  const t = quoteName(collection);
  return {
    // `value BLOB` is "no affinity": text stays TEXT, bytes stay BLOB (see sqlite.ts).
    create: `CREATE TABLE IF NOT EXISTS ${t} (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, updated_at TEXT, version INTEGER) WITHOUT ROWID`,
    drop: `DROP TABLE IF EXISTS ${t}`,
    upsert: `INSERT INTO ${t} (${COLUMNS}) VALUES (?, ?, ?, ?) ${ON_CONFLICT}`,
    upsertRows: `INSERT INTO ${t} (${COLUMNS}) VALUES ${'(?, ?, ?, ?), '.repeat(UPSERT_ROWS - 1)}(?, ?, ?, ?) ${ON_CONFLICT}`,
    deleteOne: `DELETE FROM ${t} WHERE key = ?`,
    count: `SELECT count(*) FROM ${t}`,
    keysAt: `SELECT key FROM ${t} ORDER BY key LIMIT 2 OFFSET ?`,
    // A value that is not text (bytes) puts a NUL into the image, which no plain line holds; the byte
    // count comes from the rows' own lengths, so a concatenation cut short at a NUL cannot pass either.
    // The rows come in key order from the primary key's range walk; an aggregate ORDER BY would sort
    // them again (twice the time), and a different order would only fail the comparison.
    rangeImage: (after) => `SELECT count(*), coalesce(sum(octet_length(key) + octet_length(value) + 2), 0),
      CAST(group_concat(CASE WHEN typeof(value) = 'text' THEN concat(key, char(9), value, char(10)) ELSE char(0) END, '') AS BLOB)
      FROM ${t} WHERE ${after ? 'key > ? AND ' : ''}key <= ?`,
    // octet_length: bytes of text as UTF-8 without reading it as characters (length() counts characters).
    stats: `SELECT count(*), coalesce(sum(octet_length(value)), 0) FROM ${t}`,
    scan(after, until, keyValue = false) {
      const where = after && until ? 'WHERE key > ? AND key < ?' : after ? 'WHERE key > ?' : until ? 'WHERE key < ?' : '';
      return `SELECT ${keyValue ? 'key, value' : COLUMNS} FROM ${t} ${where} ORDER BY key LIMIT ?`;
    },
    getMany(n) {
      return `SELECT ${COLUMNS} FROM ${t} WHERE key IN (${'?, '.repeat(n - 1)}?)`;
    },
  };
}

export const checkpointSql = {
  create: `CREATE TABLE IF NOT EXISTS _cutover_checkpoints (id TEXT PRIMARY KEY NOT NULL, cursor TEXT NOT NULL, data TEXT, updated_at TEXT NOT NULL) WITHOUT ROWID`,
  upsert: `INSERT INTO _cutover_checkpoints (id, cursor, data, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET cursor = excluded.cursor, data = excluded.data, updated_at = excluded.updated_at`,
  read: `SELECT cursor, data FROM _cutover_checkpoints WHERE id = ?`,
  // substr/length both count characters, so this is an exact prefix test (LIKE would ignore case).
  clear: `DELETE FROM _cutover_checkpoints WHERE substr(id, 1, length(?)) = ?`,
};

/** User tables: everything but SQLite's own and cutover's bookkeeping. */
export const listTablesSql = `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND substr(name, 1, 9) <> '_cutover_'`;

/**
 * Upserts a batch in order, inside the caller's transaction. SQLite applies a multi-row VALUES row by
 * row, so a key repeated in the batch ends with its last value. `at.i` is left on the record that
 * failed, for the error message.
 */
export function upsertRecords(one: Statement, many: Statement, batch: StoredRecord[], at: { i: number }, inTransaction: () => boolean): void {
  const args: unknown[] = new Array(UPSERT_ROWS * 4);
  let i = 0;
  for (; i + UPSERT_ROWS <= batch.length; i += UPSERT_ROWS) {
    for (let j = 0, o = 0; j < UPSERT_ROWS; j++, o += 4) {
      const r = batch[i + j]!;
      args[o] = r.key;
      args[o + 1] = r.value;
      args[o + 2] = r.updatedAt ?? null;
      args[o + 3] = r.version ?? null;
    }
    try {
      many.run(args);
    } catch (err) {
      // The failed statement was undone but the transaction is open (and will be rolled back):
      // replaying its rows one by one finds the record to name. Never outside the transaction.
      if (inTransaction()) for (at.i = i; at.i < i + UPSERT_ROWS; at.i++) upsertOne(one, batch[at.i]!);
      at.i = i;
      throw err;
    }
  }
  for (; i < batch.length; i++) {
    at.i = i;
    upsertOne(one, batch[i]!);
  }
  at.i = -1;
}

function upsertOne(one: Statement, r: StoredRecord): void {
  one.run(r.key, r.value, r.updatedAt ?? null, r.version ?? null);
}

/** A row as a record, or why it cannot be one (a table written by something other than cutover). */
export function rowToRecord(row: RawRow): StoredRecord | string {
  const [key, value, updatedAt, version] = row;
  if (typeof key !== 'string') return `key is stored as ${key === null ? 'NULL' : typeof key}, not TEXT`;
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
    return `value is stored as ${value === null ? 'NULL' : typeof value}, not JSON text or bytes`;
  }
  return {
    key,
    value,
    updatedAt: typeof updatedAt === 'string' ? updatedAt : null,
    version: typeof version === 'number' ? version : typeof version === 'bigint' ? Number(version) : null,
  };
}
