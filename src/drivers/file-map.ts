/**
 * The map layout: `<root>/<collection>.json` holding one object `{ "key": value, … }`, for small
 * collections (settings, fixtures). It is read whole, so files over `maxMapBytes` are refused with a
 * ConfigurationError; values are the exact member texts (file-json-text.ts). Every write rewrites
 * the file atomically, members in key order. JSON values only: bytes need layout=dir or jsonl.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigurationError, type RejectInfo } from '../core/errors.js';
import { compareKeys } from '../core/key-order.js';
import { keyProblem, type StoredRecord } from '../core/record.js';
import type { ScanBatch, ScanOptions } from '../core/store.js';
import { objectMembers } from './file-json-text.js';
import { reject, syncDir, utf8Strict, writeAtomic, type CollectionLayout, type FileLimits } from './file-io.js';

interface MapContent {
  /** key -> exact JSON text */
  entries: Map<string, string>;
  rejects: RejectInfo[];
  /** False when the file itself is unusable (then `rejects` says why and writing would lose data). */
  usable: boolean;
}

/**
 * Writes to one map file, in order. Each write reads the whole file, changes it and replaces it, so two
 * at once in this process (split units, several stores on one folder) would lose one's records. Keyed
 * by path because a layout object is made per call.
 */
const writing = new Map<string, Promise<unknown>>();

function serialized<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const previous = writing.get(path) ?? Promise.resolve();
  const next = previous.then(fn, fn);
  const settled = next.catch(() => undefined);
  writing.set(path, settled);
  void settled.then(() => {
    if (writing.get(path) === settled) writing.delete(path);
  });
  return next;
}

export function mapLayout(path: string, collection: string, limits: FileLimits): CollectionLayout {
  async function load(): Promise<MapContent | null> {
    const st = await stat(path).catch(() => null);
    if (!st) return null;
    if (st.size > limits.maxMapBytes) {
      throw new ConfigurationError(
        `${path} is ${st.size} bytes, more than maxMapBytes (${limits.maxMapBytes}) for the one-object JSON layout; convert it to JSONL (one {"key":…,"value":…} per line) or raise ?maxMapBytes=`,
      );
    }
    const broken = (reason: string): MapContent => ({ entries: new Map(), rejects: [reject(collection, null, path, reason)], usable: false });
    let text: string;
    try {
      text = utf8Strict.decode(await readFile(path));
    } catch (err) {
      return broken(err instanceof TypeError ? 'file is not valid UTF-8' : `file cannot be read: ${(err as Error).message}`);
    }
    if (text.trim() === '') return broken('empty file: the JSON map layout needs one object { "key": value, … }');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return broken(`malformed JSON: ${(err as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return broken('the file must hold one JSON object { "key": value, … }');
    const entries = new Map<string, string>();
    const rejects: RejectInfo[] = [];
    for (const m of objectMembers(text)) {
      const problem = keyProblem(m.name);
      const size = m.end - m.start;
      if (problem) rejects.push(reject(collection, m.name, path, problem));
      else if (size > limits.maxValueBytes) rejects.push(reject(collection, m.name, path, `value is more than maxValueBytes (${limits.maxValueBytes})`));
      else {
        entries.delete(m.name); // a repeated member: the last wins, as in JSON.parse
        entries.set(m.name, text.slice(m.start, m.end));
      }
    }
    return { entries, rejects, usable: true };
  }

  async function loadForWrite(): Promise<Map<string, string>> {
    const content = await load();
    if (content && !content.usable) {
      throw new ConfigurationError(`${path} cannot be updated: ${content.rejects[0]!.reason}; fix or move the file first`);
    }
    return content?.entries ?? new Map();
  }

  async function save(entries: Map<string, string>): Promise<void> {
    const keys = [...entries.keys()].sort(compareKeys);
    const body = keys.length === 0 ? '{}\n' : `{\n${keys.map((k) => `  ${JSON.stringify(k)}: ${entries.get(k)}`).join(',\n')}\n}\n`;
    await writeAtomic(path, body);
    await syncDir(dirname(path));
  }

  return {
    kind: 'json',
    path,
    ordered: true,
    async exists() {
      return (await stat(path).catch(() => null))?.isFile() ?? false;
    },
    async create() {
      await serialized(path, async () => {
        if (!(await this.exists())) await save(new Map());
      });
    },
    async drop() {
      await rm(path, { force: true });
    },
    async count() {
      return (await load())?.entries.size ?? 0;
    },
    async stats() {
      const content = await load();
      let bytes = 0;
      for (const v of content?.entries.values() ?? []) bytes += Buffer.byteLength(v);
      return { count: content?.entries.size ?? 0, bytes };
    },
    async *scan(options: ScanOptions): AsyncIterable<ScanBatch> {
      const content = await load();
      if (!content) return;
      const after = options.after ?? null;
      const until = options.until ?? null;
      const batchSize = Math.max(1, options.batchSize ?? 1000);
      const keys = [...content.entries.keys()]
        .filter((k) => (after === null || compareKeys(k, after) > 0) && (until === null || compareKeys(k, until) < 0))
        .sort(compareKeys);
      let rejects = after === null ? content.rejects : [];
      for (let i = 0; i < keys.length || rejects.length > 0; i += batchSize) {
        options.signal?.throwIfAborted();
        const slice = keys.slice(i, i + batchSize);
        const records = slice.map((key) => ({ key, value: content.entries.get(key)! }));
        yield { records, rejects, cursor: slice.length > 0 ? slice[slice.length - 1]! : (after ?? ''), locationOf: () => path };
        rejects = [];
      }
    },
    async getMany(keys) {
      const content = await load();
      return keys.map((key) => {
        const value = content?.entries.get(key);
        return value === undefined ? undefined : { key, value };
      });
    },
    async putMany(records: StoredRecord[]) {
      await serialized(path, async () => {
        const entries = await loadForWrite();
        for (const r of records) entries.set(r.key, r.value as string);
        await save(entries);
      });
    },
    async deleteMany(keys) {
      if (!(await this.exists())) return 0;
      return serialized(path, async () => {
        const entries = await loadForWrite();
        let n = 0;
        for (const k of new Set(keys)) if (entries.delete(k)) n++;
        if (n > 0) await save(entries);
        return n;
      });
    },
    refuse(record) {
      return typeof record.value === 'string' ? null : 'the one-object JSON layout holds JSON values only; use ?layout=dir or ?layout=jsonl for bytes';
    },
  };
}
