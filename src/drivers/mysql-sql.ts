/**
 * SQL text and row decoding for the MySQL/MariaDB backend, kept apart from the connection logic.
 *
 * Layout of a collection table (one per collection, named as the collection):
 * - `k VARBINARY(1024)`: the key as UTF-8 bytes. Binary comparison is exactly core `compareKeys`
 *   order, with no collation, padding or case folding to second-guess (utf8mb4_bin is PAD SPACE on
 *   MariaDB, so `'a'` and `'a '` would collide in a VARCHAR primary key).
 * - `v LONGTEXT utf8mb4_bin`: JSON text, stored as the exact characters given. Nothing parses it, so
 *   big integers, long decimals, `-0` and escapes come back identical (MySQL 8's JSON type would turn
 *   numbers into doubles and reorder keys; MariaDB's JSON is only a LONGTEXT alias).
 * - `b LONGBLOB`: bytes values. Exactly one of `v` and `b` is non-NULL, which is what marks the kind.
 */
import mysql from 'mysql2/promise';
import { ConfigurationError } from '../core/errors.js';
import type { RejectInfo } from '../core/errors.js';
import type { StoredRecord } from '../core/record.js';
import { parseStoreUrl, redactUrl } from '../core/url.js';

export const CHECKPOINT_TABLE = '_cutover_checkpoints';
/** Marks tables this backend made, so `listCollections` ignores an application's own tables. */
export const TABLE_COMMENT = 'cutover collection';

export const COLUMNS = 'k, v, b, updated_at, version';

export function quoteId(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

export function createTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteId(table)} (
  k VARBINARY(1024) NOT NULL PRIMARY KEY,
  v LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  b LONGBLOB NULL,
  updated_at DATETIME(6) NOT NULL,
  version BIGINT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='${TABLE_COMMENT}'`;
}

export const CREATE_CHECKPOINTS_SQL = `CREATE TABLE IF NOT EXISTS ${quoteId(CHECKPOINT_TABLE)} (
  id VARBINARY(1024) NOT NULL PRIMARY KEY,
  cursor_value LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  data LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;

export function upsertHead(table: string): string {
  return `INSERT INTO ${quoteId(table)} (${COLUMNS}) VALUES `;
}

/** `VALUES()` rather than MySQL 8.0.20's row alias: it is the form both MariaDB and MySQL accept. */
export const UPSERT_TAIL =
  ' ON DUPLICATE KEY UPDATE v = VALUES(v), b = VALUES(b), updated_at = VALUES(updated_at), version = VALUES(version)';

/** The row's parameters in column order. */
export function rowParams(r: StoredRecord, now: string): (string | number | Buffer | null)[] {
  const text = typeof r.value === 'string';
  return [
    Buffer.from(r.key, 'utf8'),
    text ? (r.value as string) : null,
    text ? null : Buffer.from(r.value as Uint8Array),
    toDatetime(r.updatedAt) ?? now,
    typeof r.version === 'number' && Number.isSafeInteger(r.version) ? r.version : null,
  ];
}

/** One escaped `(…)` tuple for a multi-row INSERT; its UTF-8 length is what counts toward the packet. */
export function rowTuple(r: StoredRecord, now: string): string {
  return '(' + rowParams(r, now).map((p) => mysql.escape(p)).join(',') + ')';
}

/** ISO-8601 to a DATETIME(6) literal in UTC. DATETIME (unlike TIMESTAMP) is never shifted by the session time zone. */
export function toDatetime(iso: string | null | undefined): string | null {
  if (!iso) return null;
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return null;
  // Date keeps milliseconds; DATETIME(6) holds microseconds (PostgreSQL's precision), so the digits
  // after the third are carried over. Offsets are whole minutes, so converting to UTC leaves them alone.
  const micro = /T\d{2}:\d{2}:\d{2}\.\d{3}(\d{1,3})/.exec(iso)?.[1] ?? '';
  return t.toISOString().replace('T', ' ').replace('Z', '') + micro;
}

export function nowDatetime(): string {
  return new Date().toISOString().replace('T', ' ').replace('Z', '');
}

export interface Row {
  k: Buffer;
  v: string | null;
  b: Buffer | null;
  updated_at: string | null;
  version: string | number | null;
}

export function decodeRow(row: Row): StoredRecord {
  return {
    key: row.k.toString('utf8'),
    value: row.v !== null ? row.v : Buffer.from(row.b ?? Buffer.alloc(0)),
    updatedAt: row.updated_at ? row.updated_at.replace(' ', 'T') + 'Z' : null,
    version: row.version === null ? null : Number(row.version),
  };
}

export interface MysqlConnectionConfig {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string;
  ssl: boolean;
}

/** `mysql://user:pass@host:3306/db?ssl=true` (also `mariadb:`). The path selects the database. */
export function parseMysqlUrl(url: string): MysqlConnectionConfig {
  const u = parseStoreUrl(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) {
    throw new ConfigurationError(
      `[mysql] ${redactUrl(url)} names no database; add it as the path, e.g. mysql://root@127.0.0.1:3306/app`,
    );
  }
  if (/[`\u0000]/.test(database) || database.length > 64) {
    throw new ConfigurationError(`[mysql] database name ${JSON.stringify(database)} in ${redactUrl(url)} is not usable; use letters, digits and "_"`);
  }
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database,
    ssl: ['true', '1', 'required'].includes(u.searchParams.get('ssl') ?? ''),
  };
}

/** Room for the protocol header and the rest of a statement. */
const PACKET_MARGIN = 4096;

export interface UpsertStatement {
  sql: string;
  /** Set for a lone big row sent as a prepared statement. */
  params?: ReturnType<typeof rowParams>;
  /** The first key it writes, for error messages. */
  key: string;
}

/**
 * Packs rows into multi-row upserts of at most `limit` bytes. A row whose escaped form does not fit
 * (bytes are hex-escaped, doubling them) goes alone as a prepared statement, whose binary protocol
 * sends it raw; a row too big for that is rejected with the reason.
 */
export function planUpsert(
  table: string, rows: StoredRecord[], maxPacket: number, location: string,
): { statements: UpsertStatement[]; rejected: RejectInfo[]; keys: Set<string> } {
  const limit = maxPacket - PACKET_MARGIN;
  const now = nowDatetime();
  const head = upsertHead(table);
  const budget = limit - Buffer.byteLength(head) - Buffer.byteLength(UPSERT_TAIL);
  const single = `${head}(?, ?, ?, ?, ?)${UPSERT_TAIL}`;
  const statements: UpsertStatement[] = [];
  const rejected: RejectInfo[] = [];
  const keys = new Set<string>();
  let tuples: string[] = [];
  let size = 0;
  let firstKey = '';
  const flush = () => {
    if (tuples.length) statements.push({ sql: head + tuples.join(',') + UPSERT_TAIL, key: firstKey });
    tuples = [];
    size = 0;
  };
  for (const r of rows) {
    const valueBytes = typeof r.value === 'string' ? Buffer.byteLength(r.value) : r.value.byteLength;
    const raw = Buffer.byteLength(single) + Buffer.byteLength(r.key) + valueBytes + 128;
    if (raw > limit) {
      rejected.push({
        collection: table, key: r.key, location,
        reason: `value of ${valueBytes} bytes does not fit the server's max_allowed_packet of ${maxPacket} bytes with its statement; raise max_allowed_packet on the server to move it`,
      });
      continue;
    }
    keys.add(r.key);
    const tuple = raw * 2 < budget ? rowTuple(r, now) : null;
    const bytes = tuple === null ? Infinity : Buffer.byteLength(tuple) + 1;
    if (tuple === null || bytes > budget) {
      statements.push({ sql: single, params: rowParams(r, now), key: r.key });
      continue;
    }
    if (size + bytes > budget) flush();
    if (tuples.length === 0) firstKey = r.key;
    tuples.push(tuple);
    size += bytes;
  }
  flush();
  return { statements, rejected, keys };
}

/** MySQL error numbers this backend treats specially. */
export const ER_NO_SUCH_TABLE = 1146;
export const ER_BAD_DB_ERROR = 1049;

export function errno(err: unknown): number | undefined {
  const n = (err as { errno?: unknown } | null)?.errno;
  return typeof n === 'number' ? n : undefined;
}
