/**
 * `file:<dir>`: records in plain files under a folder, "the file storage". `file:./data` and
 * `file:data` are relative to the working directory, `file:///abs/dir` is absolute.
 *
 * A collection is one of three layouts, detected from what is on disk:
 * - `<root>/<collection>/`: a folder with one file per record (file-dir.ts, names by file-names.ts);
 * - `<root>/<collection>.jsonl`: a log of `{"key":…,"value":…}` lines, later lines win (file-jsonl.ts);
 * - `<root>/<collection>.json`: one object `{ key: value, … }` for small collections (file-map.ts).
 * `?layout=dir|jsonl|json` picks the layout of collections this store creates. Two layouts for one
 * name is a ConfigurationError. Values pass through as the exact JSON text of the file, and every
 * unreadable record becomes a reject in its scan batch, never a failed scan.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { assertCollectionName, partitionRecords } from '../core/batch.js';
import { ConfigurationError, StoreError } from '../core/errors.js';
import { compareKeys } from '../core/key-order.js';
import { collectionNameProblem, valueSize, type StoredRecord } from '../core/record.js';
import type { Capabilities, OpenOptions, PutOptions, PutResult, ScanBatch, ScanOptions, Store } from '../core/store.js';
import { parseStoreUrl, pathOfUrl } from '../core/url.js';
import { dirLayout } from './file-dir.js';
import { jsonTextProblem, type CollectionLayout, type FileLimits, type LayoutKind } from './file-io.js';
import { jsonlLayout } from './file-jsonl.js';
import { mapLayout } from './file-map.js';

export interface FileOptions {
  /** Layout of collections this store creates (existing ones keep theirs). Also `?layout=`.
   * @default 'dir' */
  layout?: LayoutKind;
  /** Largest value read or written; bigger ones are rejected. Also `?maxValueBytes=`.
   * @default 67108864 (64 MiB) */
  maxValueBytes?: number;
  /** Largest one-object `.json` collection file read whole. Also `?maxMapBytes=`.
   * @default 134217728 (128 MiB) */
  maxMapBytes?: number;
  /** Folder for external-sort runs and count partitions. Also `?tmpDir=`.
   * @default os.tmpdir() */
  tmpDir?: string;
  /** Names sorted in memory per run when scanning a folder; more spill to sorted temp files.
   * @default 50000 */
  sortRunSize?: number;
  /** Distinct keys a JSONL count keeps in memory before it hash-partitions through temp files.
   * @default 250000 (about 25 MB of keys; beyond, temp files keep memory flat) */
  countMemoryKeys?: number;
}

const DRIVER = 'file';
const LAYOUTS: LayoutKind[] = ['dir', 'jsonl', 'json'];

function numberOption(name: string, value: string | null | undefined, fallback: number | undefined, def: number): number {
  if (value === null || value === undefined) return fallback ?? def;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigurationError(`[file] ?${name}=${value} must be a positive whole number`);
  return n;
}

export function createFileStore(url: string, options: OpenOptions & FileOptions = {}): Store {
  const parsed = parseStoreUrl(url);
  const q = parsed.searchParams;
  const root = resolve(pathOfUrl(parsed, url));
  const layout = (q.get('layout') ?? options.layout ?? 'dir') as LayoutKind;
  if (!LAYOUTS.includes(layout)) throw new ConfigurationError(`[file] ?layout=${layout} in ${url} is unknown; use dir, jsonl or json`);
  const limits: FileLimits = {
    maxValueBytes: numberOption('maxValueBytes', q.get('maxValueBytes'), options.maxValueBytes, 64 * 1024 * 1024),
    maxMapBytes: numberOption('maxMapBytes', q.get('maxMapBytes'), options.maxMapBytes, 128 * 1024 * 1024),
    tmpDir: q.get('tmpDir') ?? options.tmpDir,
    sortRunSize: numberOption('sortRunSize', q.get('sortRunSize'), options.sortRunSize, 50_000),
    countMemoryKeys: numberOption('countMemoryKeys', q.get('countMemoryKeys'), options.countMemoryKeys, 250_000),
  };
  const capabilities: Capabilities = {
    orderedScan: true,
    bytesValues: layout !== 'json',
    transactionalCheckpoint: false,
    // `until` is a key bound; a JSONL collection's cursor is a byte offset, so it cannot honour one.
    rangeScan: layout !== 'jsonl',
    bulkLoad: false,
    validatesJson: false,
    pipelinedWrites: false,
    jsonBytes: false,
  };

  let opening: Promise<void> | null = null;
  const ready = () => {
    opening ??= (async () => {
      const st = await stat(root).catch(() => null);
      if (st && !st.isDirectory()) throw new ConfigurationError(`[file] ${root} is not a folder; point ${url} at a folder`);
      if (!st) {
        if (options.create === false) throw new ConfigurationError(`[file] folder ${root} does not exist; create it or fix the path in ${url}`);
        await mkdir(root, { recursive: true });
      }
    })().catch((err) => {
      opening = null;
      throw err;
    });
    return opening;
  };

  const layoutsOf = (collection: string): CollectionLayout[] => [
    dirLayout(join(root, collection), collection, limits),
    jsonlLayout(join(root, `${collection}.jsonl`), collection, limits),
    mapLayout(join(root, `${collection}.json`), collection, limits),
  ];

  /** The layout that holds the collection, or the store's default when none does. */
  async function find(collection: string): Promise<{ layout: CollectionLayout; exists: boolean }> {
    assertCollectionName(collection, DRIVER);
    await ready();
    const all = layoutsOf(collection);
    const present: CollectionLayout[] = [];
    for (const l of all) if (await l.exists()) present.push(l);
    if (present.length > 1) {
      throw new ConfigurationError(
        `[file] collection "${collection}" is stored twice, as ${present.map((p) => p.path).join(' and ')}; keep one and move the other out of ${root}`,
      );
    }
    return present[0] ? { layout: present[0], exists: true } : { layout: all[LAYOUTS.indexOf(layout)]!, exists: false };
  }

  const fail = (operation: string, collection: string, err: unknown, key?: string): never => {
    if (err instanceof ConfigurationError || (err as Error)?.name === 'AbortError') throw err;
    throw new StoreError(DRIVER, operation, { collection, key }, err);
  };

  return {
    driver: DRIVER,
    location: url,
    capabilities,
    open: ready,
    async close() {},
    async listCollections() {
      await ready();
      const names = new Set<string>();
      for (const e of await readdir(root, { withFileTypes: true })) {
        if (e.name.startsWith('.')) continue;
        let name: string | null = null;
        if (e.isDirectory()) name = e.name;
        else if (e.name.endsWith('.jsonl')) name = e.name.slice(0, -6);
        else if (e.name.endsWith('.json')) name = e.name.slice(0, -5);
        if (name !== null && collectionNameProblem(name) === null) names.add(name);
      }
      return [...names].sort(compareKeys);
    },
    async ensureCollection(collection) {
      const { layout: l, exists } = await find(collection);
      if (!exists) await l.create().catch((err) => fail('create', collection, err));
    },
    async count(collection, opts) {
      const { layout: l, exists } = await find(collection);
      return exists ? l.count(opts?.signal).catch((err) => fail('count', collection, err)) : 0;
    },
    async estimateCount(collection) {
      const { layout: l, exists } = await find(collection);
      if (!exists) return 0;
      return (l.estimateCount ? l.estimateCount() : l.count()).catch((err) => fail('count', collection, err));
    },
    async stats(collection) {
      const { layout: l, exists } = await find(collection);
      return exists ? l.stats().catch((err) => fail('stats', collection, err)) : { count: 0, bytes: 0 };
    },
    async isOrdered(collection) {
      return (await find(collection)).layout.ordered;
    },
    async *scan(collection: string, opts: ScanOptions = {}): AsyncIterable<ScanBatch> {
      const { layout: l, exists } = await find(collection);
      if (!exists) return;
      opts.signal?.throwIfAborted();
      yield* l.scan(opts);
    },
    async getMany(collection, keys) {
      const { layout: l, exists } = await find(collection);
      if (!exists || keys.length === 0) return keys.map(() => undefined);
      return l.getMany(keys).catch((err) => fail('read', collection, err, keys[0]));
    },
    async putMany(collection: string, records: StoredRecord[], opts: PutOptions = {}): Promise<PutResult> {
      const { layout: l } = await find(collection);
      const { accepted, rejected } = partitionRecords(collection, records, l.path, (r) => {
        if (valueSize(r.value) > limits.maxValueBytes) return `value is ${valueSize(r.value)} bytes, more than maxValueBytes (${limits.maxValueBytes})`;
        return l.refuse?.(r) ?? (typeof r.value === 'string' ? jsonTextProblem(r.value) : null);
      });
      opts.signal?.throwIfAborted();
      if (accepted.length > 0) await l.putMany(accepted).catch((err) => fail('write', collection, err, accepted[0]!.key));
      return { written: accepted.length, rejected };
    },
    async deleteMany(collection, keys) {
      const { layout: l, exists } = await find(collection);
      if (!exists || keys.length === 0) return 0;
      return l.deleteMany(keys).catch((err) => fail('delete', collection, err, keys[0]));
    },
    async dropCollection(collection) {
      assertCollectionName(collection, DRIVER);
      await ready();
      for (const l of layoutsOf(collection)) await l.drop();
    },
  };
}
