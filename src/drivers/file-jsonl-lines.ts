/**
 * Reading a JSONL log into parsed lines: the chunked reader and the line parser, shared by the scan
 * in this thread and the parse worker (file-jsonl-worker.ts). Nothing here keeps state between
 * chunks except the line number.
 */
import { open } from 'node:fs/promises';
import { isAscii, isUtf8 } from 'node:buffer';
import { MAX_KEY_BYTES, keyProblem, valueSize, type StoredRecord } from '../core/record.js';
import type { RejectInfo } from '../core/errors.js';
import { memberText } from './file-json-text.js';
import { reject, type FileLimits } from './file-io.js';

// 1 MiB: big enough for few syscalls, small enough that a parsed chunk (~5k records) stays a few MB.
const CHUNK = 1024 * 1024;
const CONTROL = /[\u0000-\u001f]/;
export const NL = 10;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A run of complete lines (the last may lack its "\n" at the end of the file), or one line too long to
 * hold. `buf` is a view of the reader's own buffer, valid until the consumer asks for the next chunk:
 * every consumer decodes a chunk completely before that, and reusing one buffer keeps freed 1 MiB
 * blocks from piling up in the allocator (RSS grew by ~50 MB over 1M records with a copy per chunk).
 */
export type Chunk = { buf: Buffer; pos: number } | { oversized: { pos: number; end: number; head: Buffer } };

/** One parsed line. `end` is the byte offset after it (its cursor). */
export type Line =
  | { end: number; line: number; put: StoredRecord }
  | { end: number; line: number; deleted: string }
  | { end: number; line: number; reject: RejectInfo }
  | { end: number; line: number; blank: true };

export async function* chunks(path: string, from: number, maxLine: number): AsyncGenerator<Chunk> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return;
    throw err;
  }
  try {
    let buf = Buffer.allocUnsafe(CHUNK);
    let filled = 0;
    let pos = from;
    for (;;) {
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, pos + filled);
      filled += bytesRead;
      if (bytesRead === 0) {
        if (filled > 0) yield { buf: buf.subarray(0, filled), pos };
        return;
      }
      const lastNl = buf.subarray(0, filled).lastIndexOf(NL);
      if (lastNl >= 0) {
        yield { buf: buf.subarray(0, lastNl + 1), pos };
        buf.copy(buf, 0, lastNl + 1, filled);
        pos += lastNl + 1;
        filled -= lastNl + 1;
      } else if (filled === buf.length) {
        if (buf.length < maxLine) {
          const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, maxLine));
          buf.copy(bigger, 0, 0, filled);
          buf = bigger;
        } else {
          // Too long to be a record: find its end without holding it, report it, go on after it.
          const head = Buffer.from(buf.subarray(0, 4096));
          let at = pos + filled;
          const probe = Buffer.allocUnsafe(CHUNK);
          let end = -1;
          for (;;) {
            const r = await fh.read(probe, 0, probe.length, at);
            if (r.bytesRead === 0) break;
            const i = probe.subarray(0, r.bytesRead).indexOf(NL);
            if (i >= 0) {
              end = at + i + 1;
              break;
            }
            at += r.bytesRead;
          }
          if (end < 0) end = at;
          yield { oversized: { pos, end, head } };
          pos = end;
          filled = 0;
          buf = Buffer.allocUnsafe(CHUNK);
        }
      }
    }
  } finally {
    await fh.close();
  }
}

export function countNewlines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(NL); i >= 0; i = buf.indexOf(NL, i + 1)) n++;
  return n;
}


/** The longest line the reader holds; longer ones are reported as oversized without being read whole. */
export function maxLineBytes(limits: FileLimits): number {
  return Math.ceil(limits.maxValueBytes * 1.4) + 64 * 1024;
}

export interface LineReaderOptions {
  /** false: the value's JSON text is taken by its structure (ScanOptions.validateJson). @default true */
  validateJson?: boolean;
  /**
   * true (only with `validateJson: false`): plain lines are packed as bytes and spans (KIND_RAW) for
   * `RawJsonRecord`s instead of as decoded strings (ScanOptions.jsonBytes). @default false
   */
  jsonBytes?: boolean;
  /**
   * false (with `jsonBytes`): a plain line whose value is an object or array that closes right before
   * the line's `}` is packed without walking the value (ScanOptions.proveExtent). @default true
   */
  proveExtent?: boolean;
}

export function lineReader(path: string, collection: string, limits: FileLimits, options: LineReaderOptions = {}) {
  const validateJson = options.validateJson ?? true;
  const jsonBytes = !validateJson && (options.jsonBytes ?? false);
  const proveExtent = !jsonBytes || (options.proveExtent ?? true);
  const maxLine = maxLineBytes(limits);
  const at = (line: number) => `${path}:line ${line}`;

  /**
   * Parses the line `buf[s, e)` (with its "\n", if any). Hot path: an all-ASCII chunk is decoded as
   * latin1 without a per-line UTF-8 check; otherwise a native isUtf8 check precedes the decode.
   */
  function parseLine(buf: Buffer, s: number, e: number, end: number, line: number, last: boolean, ascii: boolean): Line {
    const hasNl = e > s && buf[e - 1] === NL;
    let n = hasNl ? e - 1 : e;
    if (n > s && buf[n - 1] === 13) n--;
    const fail = (reason: string, key: string | null = null): Line => ({ end, line, reject: reject(collection, key, at(line), reason) });
    let text: string;
    if (ascii) text = buf.toString('latin1', s, n);
    else if (isUtf8(buf.subarray(s, n))) text = buf.toString('utf8', s, n);
    else return fail('line is not valid UTF-8');
    const c0 = text.charCodeAt(0);
    if (c0 !== 123 && text.trim() === '') return { end, line, blank: true };
    const keyEnd = fastKeyEnd(text, buf, s, n);
    if (keyEnd >= 0) return { end, line, put: { key: text.slice(8, keyEnd), value: text.slice(keyEnd + 10, text.length - 1) } };
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      return fail(last && !hasNl ? 'truncated last line (the file ends in the middle of a record)' : `malformed JSON line: ${(err as Error).message}`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return fail('line is not a JSON object');
    const o = obj as Record<string, unknown>;
    if (typeof o.key !== 'string') return fail('line has no string "key" member');
    const key = o.key;
    const problem = keyProblem(key);
    if (problem) return fail(problem, key);
    if (o.deleted === true) return { end, line, deleted: key };
    let value: StoredRecord['value'];
    if (typeof o.bytes === 'string') {
      if (o.bytes.length % 4 !== 0 || !BASE64.test(o.bytes)) return fail('"bytes" is not base64', key);
      value = Buffer.from(o.bytes, 'base64');
    } else if ('value' in o) {
      value = memberText(text, 'value')!;
    } else return fail('line has neither a "value" nor a "bytes" member', key);
    if (valueSize(value) > limits.maxValueBytes) return fail(`value is ${valueSize(value)} bytes, more than maxValueBytes (${limits.maxValueBytes})`, key);
    const put: StoredRecord = { key, value };
    if (typeof o.updatedAt === 'string') put.updatedAt = o.updatedAt;
    if (typeof o.version === 'number') put.version = o.version;
    return { end, line, put };
  }

  /**
   * The shape cutover and most apps write, `{"key":"<no escapes>","value":<JSON>}`, in the line
   * `text` (bytes `buf[bs, bn)`), without parsing the line twice (JSON.parse to validate, then a
   * scan for the value's text): the value's text is everything between `,"value":` and the final `}`,
   * and JSON.parse of that text alone both validates it and proves nothing else follows it. Without
   * `validateJson` the value's extent is proved by its structure alone (spansOneValue) and its syntax
   * left to the target, which saves the parse, about half of the reader's CPU. Returns the index of the
   * key's closing quote, or -1 for any other shape, which takes the general path.
   */
  function fastKeyEnd(text: string, buf: Buffer, bs: number, bn: number): number {
    if (!text.startsWith('{"key":"') || text.charCodeAt(text.length - 1) !== 125) return -1;
    const keyEnd = text.indexOf('"', 8);
    if (keyEnd < 0 || !text.startsWith(',"value":', keyEnd + 1)) return -1;
    const key = text.slice(8, keyEnd);
    if (key.includes('\\') || CONTROL.test(key)) return -1;
    if (!validateJson) {
      // The same bounds in the line's bytes (the key holds no quote, and no byte of a multi-byte UTF-8
      // character is one), where the scan runs several times faster than over the string.
      if (!spansOneValue(buf, buf.indexOf(0x22, bs + 8) + 10, bn - 1)) return -1;
    } else {
      try {
        JSON.parse(text.slice(keyEnd + 10, text.length - 1));
      } catch {
        return -1;
      }
    }
    if (keyProblem(key) !== null || (text.length - 1 - keyEnd - 10) * 3 > limits.maxValueBytes) return -1;
    return keyEnd;
  }

  /**
   * Every line from byte `from` on, packed for the trip from the parse worker: the records' keys and
   * values as one array of strings and two numbers a line, instead of two objects a record, which
   * structured clone handles far more slowly. A pack holds about PACK_BYTES of lines, so that the
   * worker's share of memory stays small.
   */
  async function* packedLines(from: number, signal?: AbortSignal): AsyncGenerator<PackedLines> {
    let line = await lineNumberAt(from);
    for await (const c of chunks(path, from, maxLine)) {
      signal?.throwIfAborted();
      if ('oversized' in c) {
        yield { strings: [], firstLine: line, fields: Float64Array.of(KIND_OTHER, c.oversized.end), others: [oversized(c.oversized, line++)], bytes: null, spans: null };
        continue;
      }
      for (let s = 0; s < c.buf.length; ) {
        const cut = s + PACK_BYTES >= c.buf.length ? -1 : c.buf.indexOf(NL, s + PACK_BYTES);
        const e = cut < 0 ? c.buf.length : cut + 1;
        const packed = pack(c.buf.subarray(s, e), c.pos + s, line);
        line += packed.fields.length / PACKED_FIELDS;
        yield packed;
        s = e;
      }
    }
  }

  /**
   * The lines of `buf` (complete lines, starting at byte `pos` of the file, the first numbered `line`).
   * With `jsonBytes`, a pack of valid UTF-8 gets bytes of its own, and each plain line (plainKeyEnd)
   * is rewritten into them as `<key> TAB <value> LF` (compacted in place: the line only shrinks) and
   * located by a span (RawJsonRecord): no string is made of its value, none is cloned to the scan's
   * thread, and PostgreSQL's COPY gets runs of these lines as they are.
   */
  function pack(buf: Buffer, pos: number, line: number): PackedLines {
    const firstLine = line;
    const ascii = isAscii(buf);
    const lineCount = countNewlines(buf) + (buf[buf.length - 1] === NL ? 0 : 1);
    const fields = new Float64Array(lineCount * PACKED_FIELDS);
    const strings: string[] = [];
    const others: Line[] = [];
    // A pack that is not all valid UTF-8 goes line by line, so that the bad lines are named.
    const raw = jsonBytes && (ascii || isUtf8(buf));
    // Its own ArrayBuffer (not a slice of the pool), so that the worker can transfer it.
    const out = raw ? Buffer.allocUnsafeSlow(buf.length) : null;
    if (out) buf.copy(out);
    const spans = raw ? new Int32Array(lineCount * SPAN_FIELDS) : null;
    const dirty = raw ? positionsIn(dirtyBytes(buf)) : null;
    // Lines that may hold a negative zero keep the walk, which refuses one (jsonb would make it 0).
    const mayHoldNegativeZero = raw && !proveExtent ? positionsIn(negativeZeroStarts(buf)) : null;
    let spanAt = 0;
    let o = 0;
    for (let s = 0, f = 0; s < buf.length; f += PACKED_FIELDS) {
      const nl = buf.indexOf(NL, s);
      const e = nl < 0 ? buf.length : nl + 1;
      fields[f + 1] = pos + e;
      if (out !== null) {
        let n = nl < 0 ? e : nl;
        if (n > s && buf[n - 1] === 13) n--;
        const prove = mayHoldNegativeZero ? mayHoldNegativeZero(s, n) : proveExtent;
        const keyEnd = dirty!(s, n) ? -1 : plainKeyEnd(buf, s, n, prove);
        if (keyEnd >= 0) {
          fields[f] = plainKeyAscii ? KIND_RAW : KIND_RAW_UTF8;
          // o <= s: what is moved is never overwritten before it moves.
          spans![spanAt++] = o;
          out.copyWithin(o, s + 8, keyEnd);
          o += keyEnd - (s + 8);
          spans![spanAt++] = o;
          out[o++] = 0x09;
          out.copyWithin(o, keyEnd + 10, n - 1);
          o += n - 1 - (keyEnd + 10);
          out[o++] = NL;
          spans![spanAt++] = o;
          line++;
          s = e;
          continue;
        }
      }
      const l = parseLine(buf, s, e, pos + e, line++, nl < 0, ascii);
      if ('put' in l && typeof l.put.value === 'string' && l.put.updatedAt === undefined && l.put.version === undefined) {
        fields[f] = KIND_PUT;
        strings.push(l.put.key, l.put.value);
      } else {
        fields[f] = KIND_OTHER;
        others.push(l);
      }
      s = e;
    }
    return { strings, firstLine, fields, others, bytes: out, spans };
  }

  /**
   * The shape cutover writes, `{"key":"<plain>","value":<one plain value>}`, in a line `buf[s, n)` that
   * holds no dirty byte (dirtyBytes): the key's closing quote, or -1 for anything else, which takes the
   * checked path (parseLine). Without a backslash in the line the first quote after the key's opening
   * one closes it. Without `prove`, an object or array value is taken to end at the line's `}` when its
   * closing bracket stands there (closesAtEnd). Sets plainKeyAscii.
   */
  function plainKeyEnd(buf: Buffer, s: number, n: number, prove: boolean): number {
    if (n - s < 20 || buf[n - 1] !== 0x7d || !bytesAt(buf, s, KEY_OPEN)) return -1;
    const q = buf.indexOf(0x22, s + 8);
    if (q <= s + 8 || q + 11 > n - 1 || q - (s + 8) > MAX_KEY_BYTES || !bytesAt(buf, q + 1, VALUE_MEMBER)) return -1;
    let ascii = true;
    for (let i = s + 8; i < q; i++) {
      const c = buf[i]!;
      // A raw control character makes the line malformed JSON: the checked path says so.
      if (c < 0x20) return -1;
      if (c >= 0x80) ascii = false;
    }
    const vs = q + 10;
    if (n - 1 - vs > limits.maxValueBytes || !(prove ? plainSpan(buf, vs, n - 1) : closesAtEnd(buf, vs, n - 1))) return -1;
    plainKeyAscii = ascii;
    return q;
  }
  let plainKeyAscii = true;

  /** Every line from byte `from` on, a chunk's worth at a time. */
  async function* lines(from: number, signal?: AbortSignal): AsyncGenerator<Line[]> {
    let line = await lineNumberAt(from);
    for await (const c of chunks(path, from, maxLine)) {
      signal?.throwIfAborted();
      if ('oversized' in c) {
        yield [oversized(c.oversized, line++)];
        continue;
      }
      const out: Line[] = [];
      const { buf, pos } = c;
      const ascii = isAscii(buf);
      for (let s = 0; s < buf.length; ) {
        const nl = buf.indexOf(NL, s);
        const e = nl < 0 ? buf.length : nl + 1;
        out.push(parseLine(buf, s, e, pos + e, line++, nl < 0, ascii));
        s = e;
      }
      yield out;
    }
  }

  /** The number of the line that starts at byte `from` (1 for the start of the file). */
  async function lineNumberAt(from: number): Promise<number> {
    let line = 1;
    if (from > 0) for await (const c of chunks(path, 0, maxLine)) {
      if ('oversized' in c) {
        if (c.oversized.end > from) break;
        line++;
      } else if (c.pos + c.buf.length <= from) line += countNewlines(c.buf);
      else {
        line += countNewlines(c.buf.subarray(0, from - c.pos));
        break;
      }
    }
    return line;
  }

  function oversized(o: { pos: number; end: number; head: Buffer }, line: number): Line {
    const m = /^\s*\{\s*"key"\s*:\s*("(?:[^"\\]|\\.)*")/.exec(o.head.toString('utf8'));
    const key = m ? (JSON.parse(m[1]!) as string) : null;
    const reason = `line is ${o.end - o.pos} bytes, too long for maxValueBytes (${limits.maxValueBytes})`;
    return { end: o.end, line, reject: reject(collection, key, at(line), reason) };
  }

  return { parseLine, lines, packedLines };
}

const PACK_BYTES = 64 * 1024;

/** How a plain line starts, and what follows its key's closing quote. */
export const KEY_OPEN = Buffer.from('{"key":"');
export const VALUE_MEMBER = Buffer.from(',"value":');

function bytesAt(buf: Buffer, at: number, want: Buffer): boolean {
  for (let i = 0; i < want.length; i++) if (buf[at + i] !== want[i]) return false;
  return true;
}

/**
 * Bytes that keep a line off the plain path, ascending: a backslash (an escape, which may hide a
 * \u0000 or a lone surrogate, and which COPY text format would have to double), a tab or carriage
 * return (COPY delimiters) and NUL. Each is looked for with a native indexOf over the whole pack;
 * typical data holds none of them.
 */
function dirtyBytes(buf: Buffer): number[] {
  const at: number[] = [];
  for (const b of DIRTY) for (let i = buf.indexOf(b); i !== -1; i = buf.indexOf(b, i + 1)) at.push(i);
  return at.length > 1 ? at.sort((x, y) => x - y) : at;
}
const DIRTY = [0x5c, 0x09, 0x0d, 0x00];

/**
 * Ascending byte positions asked about line by line, in order: whether one lies in `[s, n)`. Each call
 * starts where the last one stopped, so a pack's positions are passed over once.
 */
function positionsIn(at: number[]): (s: number, n: number) => boolean {
  let i = 0;
  return (s, n) => {
    while (i < at.length && at[i]! < s) i++;
    return i < at.length && at[i]! < n;
  };
}

/**
 * Where a number may start with "-0" (a minus and a zero after `:`, `,`, `[` or a space), ascending.
 * Also finds such text inside strings; a line with one is only walked, not refused.
 */
function negativeZeroStarts(buf: Buffer): number[] {
  const at: number[] = [];
  for (let i = buf.indexOf(0x2d); i !== -1; i = buf.indexOf(0x2d, i + 1)) {
    if (buf[i + 1] !== 0x30) continue;
    const c = buf[i - 1];
    if (c === 0x3a || c === 0x2c || c === 0x5b || c === 0x20) at.push(i);
  }
  return at;
}

/** Numbers per KIND_RAW line in PackedLines.spans: where its `key TAB value LF` line starts in `bytes`, its TAB, its end. */
export const SPAN_FIELDS = 3;

/** Numbers per line in PackedLines.fields: kind, end. */
export const PACKED_FIELDS = 2;
/** The line is a record of the next two of `strings`, key and JSON text. */
export const KIND_PUT = 1;
/** The line is the next of `others`, parsed in full. */
export const KIND_OTHER = 0;
/** The line is a plain record in `bytes` at the next SPAN_FIELDS of `spans`; its key is ASCII. */
export const KIND_RAW = 2;
/** As KIND_RAW, with a key to decode as UTF-8. */
export const KIND_RAW_UTF8 = 3;

/** One chunk's lines (see packedLines); `end` is the byte offset after each line, its cursor. */
export interface PackedLines {
  strings: string[];
  firstLine: number;
  fields: Float64Array;
  others: Line[];
  /** The pack's own bytes holding its KIND_RAW lines, rewritten (jsonBytes). */
  bytes: Uint8Array | null;
  spans: Int32Array | null;
}

const SCALAR = /^(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)$/;

/**
 * Whether the UTF-8 bytes `b[s, e)` are exactly one JSON value by their structure: an object or array
 * whose brackets (outside strings) close at the last byte, a string whose closing quote is the last
 * byte, or a number or literal. This finds the value's extent in a line that is valid JSON; it does not
 * validate the syntax inside, which is the target's job when the caller chose not to validate.
 */
export function spansOneValue(b: Uint8Array, s: number, e: number, refuseNegativeZero = false): boolean {
  if (s >= e) return false;
  const first = b[s]!;
  if (first === 0x22) return stringEnd(b, s, e) === e - 1;
  if (first !== 0x7b && first !== 0x5b) return SCALAR.test(Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1'));
  let depth = 0;
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c === 0x22) {
      i = stringEnd(b, i, e);
      if (i < 0) return false;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) return i === e - 1;
    } else if (refuseNegativeZero && c === 0x2d && b[i + 1] === 0x30 && !nonZeroFraction(b, i + 2)) return false;
  }
  return false;
}

/**
 * spansOneValue for a plain value, which also refuses a negative-zero number (jsonb would store it as
 * 0; the checked path rejects it with that reason) and anything else that starts with "-0" (rare; the
 * checked path decides).
 */
export function plainSpan(b: Uint8Array, s: number, e: number): boolean {
  return !(b[s] === 0x2d && b[s + 1] === 0x30) && spansOneValue(b, s, e, true);
}

/**
 * The shape of one value without the walk: an object or array whose last byte is its own closing
 * bracket. Text like `{"a":1},"x":{}` has that shape too; the target, which parses every value, refuses
 * it, and the source's Reread then reads the line in full. Strings and scalars are short to prove.
 */
function closesAtEnd(b: Uint8Array, s: number, e: number): boolean {
  const first = b[s];
  if (first === 0x7b) return b[e - 1] === 0x7d;
  if (first === 0x5b) return b[e - 1] === 0x5d;
  return plainSpan(b, s, e);
}

/** After "-0" at `at`: whether a fraction with a non-zero digit follows (then the number is not zero). */
function nonZeroFraction(b: Uint8Array, at: number): boolean {
  if (b[at] !== 0x2e) return false;
  let i = at + 1;
  while (b[i] === 0x30) i++;
  const c = b[i]!;
  return c >= 0x31 && c <= 0x39;
}

/**
 * The index of the quote closing the string that opens at `s`, or -1; a quote after an odd run of
 * backslashes is escaped. Most strings in a JSON text are short (member names, ids), and a native
 * indexOf call costs more than looking at their few bytes here (measured: a third of the bracket
 * scan), so the first bytes are looked at in a loop and a longer string is left to indexOf.
 */
function stringEnd(b: Uint8Array, s: number, e: number): number {
  const near = Math.min(e, s + 1 + SHORT_STRING);
  let i = s + 1;
  for (; i < near; i++) if (b[i] === 0x22 && !escaped(b, i)) return i;
  for (i = b.indexOf(0x22, i); i !== -1 && i < e; i = b.indexOf(0x22, i + 1)) if (!escaped(b, i)) return i;
  return -1;
}

const SHORT_STRING = 48;

function escaped(b: Uint8Array, quote: number): boolean {
  let k = quote - 1;
  while (b[k] === 0x5c) k--;
  return (quote - 1 - k) % 2 === 1;
}
