/**
 * Reading a JSONL log into parsed lines: the chunked reader and the line parser, shared by the scan
 * in this thread and the parse worker (file-jsonl-worker.ts). Nothing here keeps state between
 * chunks except the line number.
 */
import { open } from 'node:fs/promises';
import { isAscii, isUtf8 } from 'node:buffer';
import { keyProblem, valueSize, type StoredRecord } from '../core/record.js';
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

export function lineReader(path: string, collection: string, limits: FileLimits) {
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
    const fast = fastPut(text, end, line);
    if (fast) return fast;
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
   * The shape cutover and most apps write, `{"key":"<no escapes>","value":<JSON>}`, without parsing
   * the line twice (JSON.parse to validate, then a scan for the value's text): the value's text is
   * everything between `,"value":` and the final `}`, and JSON.parse of that text alone both validates
   * it and proves nothing else follows it. Any other shape returns null and takes the general path.
   */
  function fastPut(text: string, end: number, line: number): Line | null {
    if (!text.startsWith('{"key":"') || text.charCodeAt(text.length - 1) !== 125) return null;
    const keyEnd = text.indexOf('"', 8);
    if (keyEnd < 0 || !text.startsWith(',"value":', keyEnd + 1)) return null;
    const key = text.slice(8, keyEnd);
    if (key.includes('\\') || CONTROL.test(key)) return null;
    const value = text.slice(keyEnd + 10, text.length - 1);
    try {
      JSON.parse(value);
    } catch {
      return null;
    }
    if (keyProblem(key) !== null || value.length * 3 > limits.maxValueBytes) return null;
    return { end, line, put: { key, value } };
  }

  /** Every line from byte `from` on, a chunk's worth at a time. */
  async function* lines(from: number, signal?: AbortSignal): AsyncGenerator<Line[]> {
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
    for await (const c of chunks(path, from, maxLine)) {
      signal?.throwIfAborted();
      if ('oversized' in c) {
        const m = /^\s*\{\s*"key"\s*:\s*("(?:[^"\\]|\\.)*")/.exec(c.oversized.head.toString('utf8'));
        const key = m ? (JSON.parse(m[1]!) as string) : null;
        const reason = `line is ${c.oversized.end - c.oversized.pos} bytes, too long for maxValueBytes (${limits.maxValueBytes})`;
        yield [{ end: c.oversized.end, line, reject: reject(collection, key, at(line), reason) }];
        line++;
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

  return { parseLine, lines };
}
