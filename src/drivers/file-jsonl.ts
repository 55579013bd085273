/**
 * The JSONL layout: `<root>/<collection>.jsonl`, one `{"key":…,"value":…}` per line (or
 * `"bytes":"<base64>"`; optional "updatedAt" and "version"), and `{"key":…,"deleted":true}`
 * tombstones. Later lines win. Writes append and fsync once per batch.
 *
 * Scans go in file order (not key order): the cursor is the byte offset after the batch's last
 * line, so a resumed scan starts exactly there; a key written again later simply comes again.
 * A scan first looks for tombstones after its start (a cheap byte search for `"deleted"`, parsing
 * only the lines that contain it) and skips a put that a later tombstone deletes. That map holds
 * the deleted keys only. The file is read in 4 MiB chunks split on "\n" by hand; each line is
 * checked with a strict UTF-8 decode and JSON.parse, and the value is passed on as the exact text
 * of its "value" member (file-json-text.ts). Every bad line becomes a reject with its line number.
 *
 * `count` needs the distinct live keys: a Map of them up to `countMemoryKeys`, past that the keys
 * are hash-partitioned into 64 temp files that are counted one at a time, so memory stays at about
 * `countMemoryKeys` keys whatever the file holds. getMany and deleteMany read the whole file: this
 * layout is for streaming, not for lookups.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { isAscii, isUtf8 } from 'node:buffer';
import { ConfigurationError, type RejectInfo } from '../core/errors.js';
import { keyProblem, valueSize, type StoredRecord } from '../core/record.js';
import type { ScanBatch, ScanOptions } from '../core/store.js';
import { memberText } from './file-json-text.js';
import { reject, syncDir, type CollectionLayout, type FileLimits } from './file-io.js';

// 1 MiB: big enough for few syscalls, small enough that a parsed chunk (~5k records) stays a few MB.
const CHUNK = 1024 * 1024;
const CONTROL = /[\u0000-\u001f]/;
const NL = 10;
const DELETED = Buffer.from('"deleted"');
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A run of complete lines (the last may lack its "\n" at the end of the file), or one line too long to
 * hold. `buf` is a view of the reader's own buffer, valid until the consumer asks for the next chunk:
 * every consumer decodes a chunk completely before that, and reusing one buffer keeps freed 1 MiB
 * blocks from piling up in the allocator (RSS grew by ~50 MB over 1M records with a copy per chunk).
 */
type Chunk = { buf: Buffer; pos: number } | { oversized: { pos: number; end: number; head: Buffer } };

/** One parsed line. `end` is the byte offset after it (its cursor). */
type Line =
  | { end: number; line: number; put: StoredRecord }
  | { end: number; line: number; deleted: string }
  | { end: number; line: number; reject: RejectInfo }
  | { end: number; line: number; blank: true };

async function* chunks(path: string, from: number, maxLine: number): AsyncGenerator<Chunk> {
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

function countNewlines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(NL); i >= 0; i = buf.indexOf(NL, i + 1)) n++;
  return n;
}

export function jsonlLayout(path: string, collection: string, limits: FileLimits): CollectionLayout {
  const maxLine = Math.ceil(limits.maxValueBytes * 1.4) + 64 * 1024;
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

  /** Keys deleted by a tombstone after `from`, with the offset after their last tombstone. */
  async function tombstones(from: number): Promise<Map<string, number>> {
    const dead = new Map<string, number>();
    for await (const c of chunks(path, from, maxLine)) {
      if ('oversized' in c) continue;
      const { buf, pos } = c;
      for (let i = buf.indexOf(DELETED); i >= 0; ) {
        const s = buf.lastIndexOf(NL, i) + 1;
        const nl = buf.indexOf(NL, i);
        const e = nl < 0 ? buf.length : nl + 1;
        const parsed = parseLine(buf, s, e, pos + e, 0, false, false);
        if ('deleted' in parsed) dead.set(parsed.deleted, parsed.end);
        i = buf.indexOf(DELETED, e);
      }
    }
    return dead;
  }

  /** Distinct live keys and their value bytes; hash-partitions through temp files past `countMemoryKeys`. */
  async function liveTotals(signal?: AbortSignal): Promise<{ count: number; bytes: number }> {
    const live = new Map<string, number>();
    for await (const batch of lines(0, signal)) {
      for (const l of batch) {
        if ('put' in l) live.set(l.put.key, valueSize(l.put.value));
        else if ('deleted' in l) live.set(l.deleted, -1);
      }
      if (live.size > limits.countMemoryKeys) return partitionedTotals(signal);
    }
    return tally(live);
  }

  function tally(live: Map<string, number>): { count: number; bytes: number } {
    let count = 0;
    let bytes = 0;
    for (const size of live.values()) if (size >= 0) (count++, (bytes += size));
    return { count, bytes };
  }

  async function partitionedTotals(signal?: AbortSignal): Promise<{ count: number; bytes: number }> {
    const parts = 64;
    const dir = await mkdtemp(join(limits.tmpDir ?? tmpdir(), 'cutover-count-'));
    try {
      const outs = Array.from({ length: parts }, (_, i) => createWriteStream(join(dir, `p${i}`)));
      for await (const batch of lines(0, signal)) {
        for (const l of batch) {
          const key = 'put' in l ? l.put.key : 'deleted' in l ? l.deleted : null;
          if (key === null) continue;
          const size = 'put' in l ? valueSize(l.put.value) : -1;
          const out = outs[hash(key) % parts]!;
          if (!out.write(JSON.stringify([key, size]) + '\n')) await once(out, 'drain');
        }
      }
      await Promise.all(outs.map((o) => (o.end(), once(o, 'finish'))));
      const total = { count: 0, bytes: 0 };
      for (let i = 0; i < parts; i++) {
        const live = new Map<string, number>();
        for await (const text of createInterface({ input: createReadStream(join(dir, `p${i}`)), crlfDelay: Infinity })) {
          const [key, size] = JSON.parse(text) as [string, number];
          live.set(key, size);
        }
        const t = tally(live);
        total.count += t.count;
        total.bytes += t.bytes;
      }
      return total;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async function lookup(keys: string[]): Promise<Map<string, { record: StoredRecord }>> {
    const wanted = new Set(keys);
    const found = new Map<string, { record: StoredRecord }>();
    for await (const batch of lines(0)) {
      for (const l of batch) {
        if ('put' in l && wanted.has(l.put.key)) found.set(l.put.key, { record: l.put });
        else if ('deleted' in l) found.delete(l.deleted);
      }
    }
    return found;
  }

  async function append(text: string): Promise<void> {
    const existed = (await stat(path).catch(() => null)) !== null;
    const fh = await open(path, 'a+');
    try {
      const { size } = await fh.stat();
      if (size > 0) {
        // A crash may have left a line without its "\n"; never glue a new line onto it.
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, size - 1);
        if (last[0] !== NL) text = '\n' + text;
      }
      if (text) await fh.write(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (!existed) await syncDir(dirname(path));
  }

  return {
    kind: 'jsonl',
    path,
    ordered: false,
    async exists() {
      return (await stat(path).catch(() => null))?.isFile() ?? false;
    },
    async create() {
      await append('');
    },
    async drop() {
      await rm(path, { force: true });
    },
    async count(signal) {
      return (await liveTotals(signal)).count;
    },
    async stats() {
      return liveTotals();
    },
    async estimateCount() {
      // Lines, not distinct live keys: no parse, no key set, one sequential read.
      let n = 0;
      for await (const c of chunks(path, 0, maxLine)) n += 'oversized' in c ? 1 : countNewlines(c.buf);
      return n;
    },
    async *scan(options: ScanOptions): AsyncIterable<ScanBatch> {
      const from = options.after ? Number(options.after) : 0;
      if (!Number.isSafeInteger(from) || from < 0) throw new ConfigurationError(`[file] ${path} is a JSONL collection, whose scan cursor is a byte offset, not ${JSON.stringify(options.after)}; restart this scan from the beginning`);
      const batchSize = Math.max(1, options.batchSize ?? 1000);
      const dead = await tombstones(from);
      let batch: ScanBatch = { records: [], rejects: [], cursor: String(from), locations: [] };
      for await (const chunk of lines(from, options.signal)) {
        for (const l of chunk) {
          batch.cursor = String(l.end);
          if ('put' in l) {
            if ((dead.get(l.put.key) ?? -1) > l.end) continue;
            batch.records.push(l.put);
            batch.locations!.push(at(l.line));
          } else if ('reject' in l) batch.rejects.push(l.reject);
          if (batch.records.length + batch.rejects.length >= batchSize) {
            yield batch;
            options.signal?.throwIfAborted();
            batch = { records: [], rejects: [], cursor: batch.cursor, locations: [] };
          }
        }
      }
      if (batch.records.length + batch.rejects.length > 0) yield batch;
    },
    async getMany(keys) {
      const found = await lookup(keys);
      return keys.map((k) => found.get(k)?.record);
    },
    async putMany(records) {
      let text = '';
      for (const r of records) text += serialize(r);
      await append(text);
    },
    async deleteMany(keys) {
      const found = await lookup(keys);
      if (found.size === 0) return 0;
      let text = '';
      for (const key of found.keys()) text += `{"key":${JSON.stringify(key)},"deleted":true}\n`;
      await append(text);
      return found.size;
    },
  };
}

/** One line for a record. A JSON text's line breaks can only be whitespace, so they become spaces. */
export function serialize(r: StoredRecord): string {
  let line = `{"key":${JSON.stringify(r.key)}`;
  if (typeof r.value === 'string') line += `,"value":${/[\r\n]/.test(r.value) ? r.value.replace(/[\r\n]/g, ' ') : r.value}`;
  else line += `,"bytes":"${Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength).toString('base64')}"`;
  if (r.updatedAt) line += `,"updatedAt":${JSON.stringify(r.updatedAt)}`;
  if (r.version !== undefined && r.version !== null) line += `,"version":${r.version}`;
  return line + '}\n';
}

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
