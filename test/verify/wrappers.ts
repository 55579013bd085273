/**
 * Store wrappers that change what a real store can do, to reach verify's other methods: an unordered
 * view (scans shuffled, with repeated keys, as Redis SCAN may) and a view that computes range digests
 * itself (what a SQL driver would push into the database).
 */
import { compareKeys } from '../../src/core/key-order.js';
import type { StoredRecord } from '../../src/core/record.js';
import type { ScanBatch, ScanOptions, Store } from '../../src/core/store.js';
import { rangeDigestOf, type KeyRange, type RangeDigestSource } from '../../src/verify/checksum-diff.js';
import { seededRandom } from '../../src/verify/sample.js';

async function all(store: Store, collection: string, range: KeyRange = { from: null, until: null }): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for await (const b of store.scan(collection, { batchSize: 1000 })) {
    for (const r of b.records) {
      if (range.from !== null && compareKeys(r.key, range.from) < 0) continue;
      if (range.until !== null && compareKeys(r.key, range.until) >= 0) continue;
      out.push(r);
    }
  }
  return out;
}

export function unordered(store: Store, seed = 1): Store {
  return {
    ...store,
    driver: store.driver,
    location: `${store.location} (unordered)`,
    capabilities: { ...store.capabilities, orderedScan: false, rangeScan: false },
    isOrdered: async () => false,
    async *scan(collection: string, options: ScanOptions = {}): AsyncIterable<ScanBatch> {
      const records = await all(store, collection);
      const random = seededRandom(seed);
      for (let i = records.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [records[i], records[j]] = [records[j]!, records[i]!];
      }
      // Every 5th record comes again later, as SCAN may return a key twice.
      const stream = [...records, ...records.filter((_, i) => i % 5 === 0)];
      const size = options.batchSize ?? 100;
      for (let i = 0; i < stream.length; i += size) yield { records: stream.slice(i, i + size), rejects: [], cursor: String(i + size) };
    },
  };
}

export interface PushdownStore extends Store, RangeDigestSource {
  digestCalls: number;
}

export function withPushdown(store: Store): PushdownStore {
  const wrapped: PushdownStore = {
    ...store,
    driver: store.driver,
    location: store.location,
    capabilities: store.capabilities,
    digestCalls: 0,
    async rangeDigest(collection, range) {
      wrapped.digestCalls++;
      return rangeDigestOf(await all(store, collection, range));
    },
    async splitKeys(collection, range, parts) {
      const keys = (await all(store, collection, range)).map((r) => r.key);
      const out: string[] = [];
      for (let j = 1; j < parts; j++) {
        const k = keys[Math.floor((j * keys.length) / parts)];
        if (k !== undefined && k !== out[out.length - 1] && j * keys.length >= parts) out.push(k);
      }
      return out.filter((k, i) => i === 0 || compareKeys(k, out[i - 1]!) > 0);
    },
  };
  return wrapped;
}
