/**
 * COPY ... FROM STDIN in text format. JSON text goes in as it came from the source (no parse and
 * re-stringify); only the four characters the text format gives meaning to are escaped. Rows are
 * streamed in chunks of about CHUNK_BYTES so a batch never becomes one giant buffer, and
 * `pipeline` applies the socket's backpressure.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { isPlainLine, plainRunEnd, type RawJsonRecord, type StoredRecord } from '../core/record.js';
import { copyColumns, type CopyShape } from './postgres-sql.js';

const CHUNK_BYTES = 256 * 1024;
/** After a JSON value: no bytes, end of line. */
const PLAIN_END = Buffer.from('\t\\N\n');
const EMPTY = Buffer.alloc(0);
/** After a JSON value in the `json` shape (no bytes column). */
const JSON_END = Buffer.from('\n');
const CONTROL = /[\n\r\t]/g;
const ESCAPED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A field for COPY text format: backslash, newline, carriage return and tab escaped. JSON is full of
 * backslashes (every escaped quote), so they go through the native replaceAll; raw tabs and newlines
 * only appear in pretty-printed JSON, so they are looked for with indexOf first. About twice as fast
 * as one regex replace on typical JSON lines.
 */
export function copyText(s: string): string {
  if (s.indexOf('\\') !== -1) s = s.replaceAll('\\', '\\\\');
  if (s.indexOf('\n') !== -1 || s.indexOf('\t') !== -1 || s.indexOf('\r') !== -1) s = s.replace(CONTROL, (c) => ESCAPED[c]!);
  return s;
}

/**
 * What to write for a record without usable metadata, when the batch copies metadata columns at
 * all: `\N` into the staging table (the upsert fills in now() and the version), real values when
 * loading straight into the table, whose columns are NOT NULL.
 */
export interface MetaDefaults {
  updatedAt: string;
  version: string;
}

export const STAGE_META: MetaDefaults = { updatedAt: '\\N', version: '\\N' };

export function loadMeta(): MetaDefaults {
  return { updatedAt: new Date().toISOString(), version: '1' };
}

/** One COPY line: key, value (jsonb), bytes (bytea hex), and with `meta` updated_at and version. */
export function copyLine(record: StoredRecord, meta: MetaDefaults | null): string {
  const v = record.value;
  // bytea hex input is "\x..."; the backslash itself must be escaped in COPY text.
  let line = typeof v === 'string'
    ? `${copyText(record.key)}\t${copyText(v)}\t\\N`
    : `${copyText(record.key)}\t\\N\t\\\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (meta) {
    line += `\t${usableTimestamp(record.updatedAt) ? record.updatedAt : meta.updatedAt}`;
    line += `\t${usableVersion(record.version) ? String(record.version) : meta.version}`;
  }
  return line + '\n';
}

/** The shape of a batch's COPY rows (see CopyShape). */
export function copyShape(records: StoredRecord[], withMeta: boolean): CopyShape {
  if (withMeta) return 'meta';
  for (const r of records) if (!isPlainLine(r) && typeof r.value !== 'string') return 'bytes';
  return 'json';
}

/**
 * The COPY data as buffers of about CHUNK_BYTES, each line encoded straight into place. Encoding each
 * short line (mostly Latin-1 text) is cheaper than concatenating them into a long string first: one
 * emoji made a whole concatenated chunk a two-byte string, which then had to be flattened and encoded
 * as UTF-16 (a third of the COPY path's CPU). Plain lines (RawJsonRecord) already are rows of the
 * `json` shape: a run of them that lie end to end in the source's buffer goes out as one view of it.
 */
function* chunks(records: StoredRecord[], shape: CopyShape, meta: MetaDefaults | null): Generator<Buffer> {
  // Allocated on first use: a batch of plain lines needs none.
  let buf = EMPTY;
  let at = 0;
  const end = shape === 'json' ? JSON_END : PLAIN_END;
  for (let i = 0; i < records.length; ) {
    const j = shape === 'json' ? plainRunEnd(records, i) : i;
    if (j > i) {
      if (at > 0) {
        yield buf.subarray(0, at);
        buf = EMPTY;
        at = 0;
      }
      const first = records[i] as RawJsonRecord;
      yield first.line.subarray(first.start, (records[j - 1] as RawJsonRecord).end);
      i = j;
      continue;
    }
    const r = records[i++]!;
    const plainLine = isPlainLine(r);
    // A plain line without metadata to add is copied as it is, up to its LF.
    const asLine = plainLine && meta === null;
    // The common line, JSON text without metadata, is written in pieces: no line string to build.
    const plain = meta === null && !asLine && typeof r.value === 'string';
    const key = plain ? copyText(r.key) : '';
    const text = asLine ? '' : plain ? copyText(r.value as string) : copyLine(r, meta);
    // A UTF-16 code unit never takes more than 3 bytes of UTF-8.
    const most = (key.length + text.length) * 3 + (asLine ? r.end - r.start : 0) + end.length + 1;
    if (at + most > buf.length) {
      if (at > 0) yield buf.subarray(0, at);
      // A fresh buffer: the stream may still hold the one just yielded.
      buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, most));
      at = 0;
    }
    if (asLine) {
      // `key TAB value` of the line, then this shape's end of row.
      at += r.line.copy(buf, at, r.start, r.end - 1);
      at += end.copy(buf, at);
    } else if (plain) {
      at += buf.write(key, at);
      buf[at++] = 0x09;
      at += buf.write(text, at);
      at += end.copy(buf, at);
    } else at += buf.write(text, at);
  }
  if (at > 0) yield buf.subarray(0, at);
}

/** Streams the records into `COPY <target> <columns> FROM STDIN`; resolves with the rows copied. */
export async function copyRecords(client: PoolClient, target: string, shape: CopyShape, records: StoredRecord[], meta: MetaDefaults | null): Promise<number> {
  const stream = client.query(copyFrom(`COPY ${target} ${copyColumns(shape)} FROM STDIN`));
  await pipeline(Readable.from(chunks(records, shape, meta), { objectMode: false }), stream);
  return stream.rowCount;
}

/** The 1-based COPY line a PostgreSQL error points at ("COPY t, line 3, column value: ..."), if any. */
export function copyErrorLine(err: unknown): number | null {
  const where = (err as { where?: unknown } | null)?.where;
  if (typeof where !== 'string') return null;
  const m = /COPY [^,]+, line (\d+)/.exec(where);
  return m ? Number(m[1]) : null;
}

/**
 * Metadata is kept only in forms PostgreSQL surely reads: an ISO-8601 timestamp and a safe integer.
 * Anything else (another backend's odd format) is dropped in favour of now() and a fresh version,
 * because a record must never be rejected for its bookkeeping alone.
 */
const ISO_TIMESTAMP = /^(\d{4})-(\d\d)-(\d\d)[T ]([01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?$/;

function usableTimestamp(t: string | null | undefined): t is string {
  if (typeof t !== 'string') return false;
  const m = ISO_TIMESTAMP.exec(t);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return year >= 1 && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function usableVersion(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** A record's metadata in the forms PostgreSQL surely reads, null where it has none usable. */
export function usableMeta(record: StoredRecord): { updatedAt: string | null; version: string | null } {
  return {
    updatedAt: usableTimestamp(record.updatedAt) ? record.updatedAt : null,
    version: usableVersion(record.version) ? String(record.version) : null,
  };
}

/** Whether records carry metadata that must be copied instead of left to column defaults. */
export function hasMeta(records: StoredRecord[]): boolean {
  for (const r of records) {
    if (usableTimestamp(r.updatedAt) || usableVersion(r.version)) return true;
  }
  return false;
}
