/**
 * `memory:` and `memory:<name>`: an in-process store. A named store is shared by every `openStore` of
 * the same name in the process (tests, the dual store's examples); an unnamed one is private.
 */
import { assertCollectionName, lastWins, partitionRecords } from '../core/batch.js';
import { compareKeys } from '../core/key-order.js';
import type { StoredRecord } from '../core/record.js';
import type {
  Capabilities, CollectionStats, PutOptions, PutResult, ScanBatch, ScanOptions, Store, TargetCheckpoint,
} from '../core/store.js';
import { valueSize } from '../core/record.js';

export interface MemoryOptions {
  /** Shared name; omit for a private store. */
  name?: string;
}

const DRIVER = 'memory';
const shared = new Map<string, MemoryData>();

interface MemoryData {
  collections: Map<string, Map<string, StoredRecord>>;
  checkpoints: Map<string, TargetCheckpoint>;
}

function copyRecord(r: StoredRecord): StoredRecord {
  return {
    key: r.key,
    value: typeof r.value === 'string' ? r.value : Buffer.from(r.value),
    updatedAt: r.updatedAt ?? null,
    version: r.version ?? null,
  };
}

export function createMemoryStore(url = 'memory:'): Store {
  const name = url.slice(url.indexOf(':') + 1).replace(/^\/\//, '');
  let data: MemoryData;
  if (name) {
    data = shared.get(name) ?? { collections: new Map(), checkpoints: new Map() };
    shared.set(name, data);
  } else {
    data = { collections: new Map(), checkpoints: new Map() };
  }
  const capabilities: Capabilities = {
    orderedScan: true,
    bytesValues: true,
    transactionalCheckpoint: true,
    rangeScan: true,
    bulkLoad: false,
    validatesJson: false,
    pipelinedWrites: false,
    jsonBytes: false,
  };
  const location = name ? `memory:${name}` : 'memory:';
  const table = (collection: string) => data.collections.get(collection);

  return {
    driver: DRIVER,
    location,
    capabilities,
    async open() {},
    async close() {},
    async listCollections() {
      return [...data.collections.keys()].sort(compareKeys);
    },
    async ensureCollection(collection) {
      assertCollectionName(collection, DRIVER);
      if (!data.collections.has(collection)) data.collections.set(collection, new Map());
    },
    async count(collection) {
      return table(collection)?.size ?? 0;
    },
    async isOrdered() {
      return true;
    },
    async *scan(collection: string, options: ScanOptions = {}): AsyncIterable<ScanBatch> {
      const rows = table(collection);
      if (!rows) return;
      const batchSize = options.batchSize ?? 1000;
      const after = options.after ?? null;
      const until = options.until ?? null;
      const keys = [...rows.keys()]
        .filter((k) => (after === null || compareKeys(k, after) > 0) && (until === null || compareKeys(k, until) < 0))
        .sort(compareKeys);
      for (let i = 0; i < keys.length; i += batchSize) {
        options.signal?.throwIfAborted();
        const records: StoredRecord[] = [];
        for (const k of keys.slice(i, i + batchSize)) {
          const r = rows.get(k);
          if (r) records.push(copyRecord(r));
        }
        if (records.length === 0) continue;
        yield { records, rejects: [], cursor: records[records.length - 1]!.key };
      }
    },
    async getMany(collection, keys) {
      const rows = table(collection);
      return keys.map((k) => {
        const r = rows?.get(k);
        return r ? copyRecord(r) : undefined;
      });
    },
    async putMany(collection: string, records: StoredRecord[], options: PutOptions = {}): Promise<PutResult> {
      assertCollectionName(collection, DRIVER);
      const { accepted, rejected } = partitionRecords(collection, records, `${location}/${collection}`);
      let rows = table(collection);
      if (!rows) {
        rows = new Map();
        data.collections.set(collection, rows);
      }
      for (const r of lastWins(accepted)) rows.set(r.key, copyRecord(r));
      if (options.checkpoint) data.checkpoints.set(options.checkpoint.id, { ...options.checkpoint });
      return { written: accepted.length, rejected };
    },
    async deleteMany(collection, keys) {
      const rows = table(collection);
      if (!rows) return 0;
      let n = 0;
      for (const k of new Set(keys)) if (rows.delete(k)) n++;
      return n;
    },
    async readCheckpoint(id) {
      return data.checkpoints.get(id) ?? null;
    },
    async clearCheckpoints(prefix) {
      for (const id of [...data.checkpoints.keys()]) if (id.startsWith(prefix)) data.checkpoints.delete(id);
    },
    async stats(collection): Promise<CollectionStats> {
      const rows = table(collection);
      let bytes = 0;
      for (const r of rows?.values() ?? []) bytes += valueSize(r.value);
      return { count: rows?.size ?? 0, bytes };
    },
    async dropCollection(collection) {
      data.collections.delete(collection);
    },
  };
}
