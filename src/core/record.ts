/**
 * The record model. A store holds named collections; a collection holds records.
 *
 * A value is either JSON *text* (a `string`) or bytes (a `Uint8Array`). Keeping JSON as text is what
 * makes values round-trip exactly: integers beyond 2^53, long decimals, `-0` and escapes survive
 * because nothing parses them into JavaScript numbers on the way through. Use `toJsonText` /
 * `parseJsonText` at the edges where an application hands over or wants JavaScript values.
 */
import { RecordRejected, type RejectInfo } from './errors.js';

export type RecordValue = string | Uint8Array;

export interface StoredRecord {
  key: string;
  /** JSON text, or bytes. */
  value: RecordValue;
  /** ISO-8601 timestamp of the last change, when the backend keeps one. */
  updatedAt?: string | null;
  version?: number | null;
}

export const MAX_KEY_BYTES = 1024;
const COLLECTION_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

/** Why a key is not acceptable, or null when it is. */
export function keyProblem(key: unknown): string | null {
  if (typeof key !== 'string') return `key must be a string, got ${key === null ? 'null' : typeof key}`;
  if (key.length === 0) return 'key is empty';
  if (key.includes('\u0000')) return 'key contains a NUL character';
  if (!key.isWellFormed()) return 'key contains a lone UTF-16 surrogate (not valid Unicode)';
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) return `key is ${bytes} UTF-8 bytes, more than the limit of ${MAX_KEY_BYTES}`;
  return null;
}

export function assertValidKey(key: unknown, collection: string, location: string): asserts key is string {
  const problem = keyProblem(key);
  if (problem) {
    throw new RecordRejected({ collection, key: typeof key === 'string' ? key : null, location, reason: problem });
  }
}

/** Collection names become table names, folder names and key prefixes, so they are kept plain. */
export function collectionNameProblem(name: string): string | null {
  if (!COLLECTION_NAME.test(name)) {
    return `collection name ${JSON.stringify(name)} must be 1-63 characters of letters, digits, "_", "-" or "." and not start with "-" or "."`;
  }
  return null;
}

export function isBytes(value: RecordValue): value is Uint8Array {
  return typeof value !== 'string';
}

/** Bytes in the value as stored: UTF-8 length of JSON text, or the byte length. */
export function valueSize(value: RecordValue): number {
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength;
}

/**
 * A record still in the bytes it was read as: `line[start, end)` is the plain line
 * `<key> TAB <JSON text> LF`, decoded only when something asks for `value`. A source hands these out
 * only when the scan asked for them (`ScanOptions.jsonBytes`), and only for plain text: valid UTF-8
 * with no backslash, tab, carriage return, line feed or NUL byte in the key or the JSON text, and no
 * negative-zero number. That is a row of PostgreSQL's COPY text format as it stands (key, value), so
 * a run of such lines goes to the server without a copy or a check per record, and the text is never
 * turned into a string and back (most of the CPU a JSONL -> PostgreSQL copy spent here).
 *
 * `value` is a getter on the prototype: `{ ...record }` would lose it, so copy with `plainRecord`.
 */
export class RawJsonRecord implements StoredRecord {
  updatedAt: string | null | undefined = undefined;
  version: number | null | undefined = undefined;
  /** false once `key` or `value` was assigned: the line no longer holds the record. */
  plain = true;
  private text: RecordValue | undefined = undefined;

  constructor(
    private k: string,
    readonly line: Buffer,
    readonly start: number,
    /** The TAB after the key. */
    readonly keyEnd: number,
    readonly end: number,
    /**
     * Set when the source took the value's extent from the line's shape without proving it
     * (`ScanOptions.proveExtent: false`): a target that refuses the value must write what this
     * returns instead (see `Reread`).
     */
    readonly reread: Reread | null = null,
    /** The number of the line in the source it was read from, for `reread`'s reject. */
    readonly lineNumber = 0,
  ) {}

  get key(): string {
    return this.k;
  }

  set key(k: string) {
    this.k = k;
    this.plain = false;
  }

  get value(): RecordValue {
    return (this.text ??= this.line.toString('utf8', this.keyEnd + 1, this.end - 1));
  }

  set value(v: RecordValue) {
    this.text = v;
    this.plain = false;
  }

  /** The plain JSON text as UTF-8 bytes (a view, not a copy), or null once `value` was replaced. */
  jsonBytes(): Buffer | null {
    return this.plain ? this.line.subarray(this.keyEnd + 1, this.end - 1) : null;
  }

  /** The UTF-8 length of the JSON text, without decoding it. */
  get byteLength(): number {
    return this.plain ? this.end - this.keyEnd - 2 : valueSize(this.value);
  }
}

/**
 * A source's full reading of a RawJsonRecord's line, for a target that refused the value it was handed
 * on the line's shape alone: the record the line really holds (say, with members after `value` that
 * the shape took for part of it), the reason it holds none (malformed JSON, named by file and line),
 * or null when it holds no record to write (a tombstone).
 */
export type Reread = (record: RawJsonRecord) => StoredRecord | RejectInfo | null;

/** Whether the record is a RawJsonRecord whose line still holds its value. */
export function isPlainLine(record: StoredRecord): record is RawJsonRecord {
  return record instanceof RawJsonRecord && record.plain;
}

/**
 * The end (exclusive) of the run of plain lines that starts at `records[i]`: records whose lines lie
 * end to end in one buffer, so that `records[i].line[records[i].start, records[j - 1].end)` holds them
 * all. `i` itself when `records[i]` is not a plain line.
 */
export function plainRunEnd(records: readonly StoredRecord[], i: number): number {
  const first = records[i];
  if (first === undefined || !isPlainLine(first)) return i;
  let end = first.end;
  let j = i + 1;
  for (; j < records.length; j++) {
    const r = records[j]!;
    if (!isPlainLine(r) || r.line !== first.line || r.start !== end) break;
    end = r.end;
  }
  return j;
}

/** Bytes of a record's value as stored, without decoding a RawJsonRecord. */
export function recordValueSize(record: StoredRecord): number {
  return record instanceof RawJsonRecord ? record.byteLength : valueSize(record.value);
}

/** A plain-object copy of a record (a RawJsonRecord's `value` lives on its prototype, which a spread drops). */
export function plainRecord(record: StoredRecord): StoredRecord {
  const out: StoredRecord = { key: record.key, value: record.value };
  if (record.updatedAt !== undefined) out.updatedAt = record.updatedAt;
  if (record.version !== undefined) out.version = record.version;
  return out;
}

/** A JavaScript value to JSON text, for application-facing APIs. Refuses what JSON cannot hold. */
export function toJsonText(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`cannot store ${typeof value} as JSON`);
  return text;
}

/** JSON text to a JavaScript value. Lossy for numbers beyond double precision, as JSON.parse is. */
export function parseJsonText(text: string): unknown {
  return JSON.parse(text);
}

/** The application-facing view: JSON values parsed, bytes as a Buffer. */
export function decodeValue(value: RecordValue): unknown {
  return typeof value === 'string' ? JSON.parse(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** The inverse of `decodeValue`: Buffers/Uint8Arrays stay bytes, anything else becomes JSON text. */
export function encodeValue(value: unknown): RecordValue {
  return value instanceof Uint8Array ? value : toJsonText(value);
}

/** Equal stored forms: identical text or identical bytes. Use `sameValue` in canonical.ts for semantic equality. */
export function identicalValue(a: RecordValue, b: RecordValue): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return Buffer.compare(a, b) === 0;
}
