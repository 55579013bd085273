/**
 * The JSONL layout: `<root>/<collection>.jsonl`, one `{"key":…,"value":…}` per line (or
 * `"bytes":"<base64>"`; optional "updatedAt" and "version"), and `{"key":…,"deleted":true}`
 * tombstones. Later lines win. Writes append and fsync once per batch.
 *
 * Scans go in file order (not key order): the cursor is the byte offset after the batch's last
 * line, so a resumed scan starts exactly there; a key written again later simply comes again.
 * Before its first record a scan needs the tombstones (a cheap byte search of the whole log for
 * `"deleted"`, parsing only the lines that contain it) to skip a put that a later tombstone deletes;
 * that map holds the deleted keys only. The same read counts the lines for the plan's estimate, and
 * its result is kept for the next scan while the file is unchanged (see `surveyed`). The file is read
 * in 1 MiB chunks split on "\n" by hand (file-jsonl-lines.ts; in a worker thread for logs over 4 MiB,
 * file-jsonl-worker.ts); each line is checked with a strict
 * UTF-8 decode and JSON.parse, and the value is passed on as the exact text of its "value" member.
 * Every bad line becomes a reject with its line number.
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
import { ConfigurationError } from '../core/errors.js';
import { RawJsonRecord, valueSize, type Reread, type StoredRecord } from '../core/record.js';
import type { ScanBatch, ScanOptions } from '../core/store.js';
import { syncDir, type CollectionLayout, type FileLimits } from './file-io.js';
import { KEY_OPEN, KIND_PUT, KIND_RAW, KIND_RAW_UTF8, NL, PACKED_FIELDS, VALUE_MEMBER, chunks, countNewlines, lineReader, maxLineBytes } from './file-jsonl-lines.js';
import { workerLines } from './file-jsonl-worker-client.js';

// Without its quotes, which are checked at each hit: a search that starts on a quote, JSON's most
// common byte, took twice as long (185 against 85 ms for 1M lines).
const DELETED = Buffer.from('deleted');
const QUOTE = Buffer.from('"');
const LINE_CLOSE = Buffer.from('}');

export function jsonlLayout(path: string, collection: string, limits: FileLimits): CollectionLayout {
  const { parseLine, lines, packedLines } = lineReader(path, collection, limits);
  const maxLine = maxLineBytes(limits);

  /**
   * One read of the whole log for what must be known before its records: the line count (the plan's
   * estimate) and the keys deleted by a tombstone, each with the offset after its last tombstone (a
   * scan skips a put that a later tombstone deletes). Kept while the file is unchanged (`surveyed`),
   * so a migration's plan and its scan read the log once between them, not twice.
   */
  function survey(): Promise<Survey> {
    return surveyed(path, async () => {
      let lines = 0;
      const dead = new Map<string, number>();
      for await (const c of chunks(path, 0, maxLine)) {
        if ('oversized' in c) {
          lines++;
          continue;
        }
        const { buf, pos } = c;
        lines += countNewlines(buf);
        for (let i = buf.indexOf(DELETED); i >= 0; ) {
          if (buf[i - 1] !== 0x22 || buf[i + DELETED.length] !== 0x22) {
            i = buf.indexOf(DELETED, i + 1);
            continue;
          }
          const s = buf.lastIndexOf(NL, i) + 1;
          const nl = buf.indexOf(NL, i);
          const e = nl < 0 ? buf.length : nl + 1;
          const parsed = parseLine(buf, s, e, pos + e, 0, false, false);
          if ('deleted' in parsed) dead.set(parsed.deleted, parsed.end);
          i = buf.indexOf(DELETED, e);
        }
      }
      return { lines, dead };
    });
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

  /**
   * The Reread of RawJsonRecords whose values' extent was taken from the line's shape: the line, put
   * back together from its key and value text, read in full by parseLine.
   */
  const reread: Reread = (record) => {
    const text = Buffer.concat([KEY_OPEN, record.line.subarray(record.start, record.keyEnd), QUOTE, VALUE_MEMBER, record.line.subarray(record.keyEnd + 1, record.end - 1), LINE_CLOSE]);
    const l = parseLine(text, 0, text.length, 0, record.lineNumber, false, false);
    // A malformed line names no key of its own; this one's key is known.
    return 'put' in l ? l.put : 'reject' in l ? { ...l.reject, key: l.reject.key ?? record.key } : null;
  };

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
      // Lines, not distinct live keys: no parse, no key set, one sequential read (shared with the scan).
      return (await survey()).lines;
    },
    async *scan(options: ScanOptions): AsyncIterable<ScanBatch> {
      const from = options.after ? Number(options.after) : 0;
      if (!Number.isSafeInteger(from) || from < 0) throw new ConfigurationError(`[file] ${path} is a JSONL collection, whose scan cursor is a byte offset, not ${JSON.stringify(options.after)}; restart this scan from the beginning`);
      const batchSize = Math.max(1, options.batchSize ?? 1000);
      // Tombstones before `from` end before every put read from there on, so they change nothing.
      const { dead } = await survey();
      // Line numbers, not location strings: see ScanBatch.locationOf.
      const open = (cursor: string): ScanBatch & { lines: number[] } => {
        const lines: number[] = [];
        return { records: [], rejects: [], cursor, lines, locationOf: (index) => `${path}:line ${lines[index]}` };
      };
      let batch = open(String(from));
      let readTo = from;
      const validateJson = options.validateJson ?? true;
      const jsonBytes = !validateJson && (options.jsonBytes ?? false);
      const proveExtent = !jsonBytes || (options.proveExtent ?? true);
      const source = (await workerLines({ path, collection, limits, from, validateJson, jsonBytes, proveExtent }, options.signal))
        ?? (validateJson ? packedLines : lineReader(path, collection, limits, { validateJson, jsonBytes, proveExtent }).packedLines)(from, options.signal);
      const rereadRaw = proveExtent ? null : reread;
      for await (const { strings, firstLine, fields, others, bytes, spans } of source) {
        let other = 0;
        let string = 0;
        let span = 0;
        for (let f = 0, line = firstLine; f < fields.length; f += PACKED_FIELDS, line++) {
          const end = fields[f + 1]!;
          // The cursor is made a string once per batch, not once per line.
          readTo = end;
          const kind = fields[f];
          if (kind === KIND_RAW || kind === KIND_RAW_UTF8) {
            const buf = bytes as Buffer;
            const start = spans![span++]!;
            const tab = spans![span++]!;
            const lineEnd = spans![span++]!;
            const key = buf.toString(kind === KIND_RAW ? 'latin1' : 'utf8', start, tab);
            if (dead.size > 0 && (dead.get(key) ?? -1) > end) continue;
            batch.records.push(new RawJsonRecord(key, buf, start, tab, lineEnd, rereadRaw, line));
            batch.lines.push(line);
          } else if (kind === KIND_PUT) {
            const key = strings[string++]!;
            const value = strings[string++]!;
            if (dead.size > 0 && (dead.get(key) ?? -1) > end) continue;
            batch.records.push({ key, value });
            batch.lines.push(line);
          } else {
            const l = others[other++]!;
            if ('put' in l) {
              if ((dead.get(l.put.key) ?? -1) > l.end) continue;
              batch.records.push(l.put);
              batch.lines.push(l.line);
            } else if ('reject' in l) batch.rejects.push(l.reject);
          }
          if (batch.records.length + batch.rejects.length >= batchSize) {
            batch.cursor = String(readTo);
            yield batch;
            options.signal?.throwIfAborted();
            batch = open(batch.cursor);
          }
        }
      }
      batch.cursor = String(readTo);
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

interface Survey {
  lines: number;
  dead: Map<string, number>;
}

/**
 * Surveys of the last few logs read. A survey is reused only for the same file (device and inode)
 * with the same size, mtime and ctime, and only if the file had been still for QUIET_NS when the
 * survey began: a rewrite of the same size within one tick of a coarse clock (or one that restores
 * the mtime, like `cp -p`; the ctime cannot be set back) would otherwise reuse a stale list of
 * tombstones and drop live records.
 */
const surveys = new Map<string, { stamp: string; survey: Promise<Survey> }>();
const SURVEYS_KEPT = 8;
const QUIET_NS = 2_000_000_000n;

async function surveyed(path: string, make: () => Promise<Survey>): Promise<Survey> {
  const began = BigInt(Date.now()) * 1_000_000n;
  let st;
  try {
    st = await stat(path, { bigint: true });
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return { lines: 0, dead: new Map() };
    throw err;
  }
  const stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  const kept = surveys.get(path);
  if (kept && kept.stamp === stamp) return kept.survey;
  const survey = make();
  surveys.delete(path);
  if (began - st.mtimeNs >= QUIET_NS && began - st.ctimeNs >= QUIET_NS) {
    surveys.set(path, { stamp, survey });
    if (surveys.size > SURVEYS_KEPT) surveys.delete(surveys.keys().next().value!);
    survey.catch(() => surveys.delete(path));
  }
  return survey;
}

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
