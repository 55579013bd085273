/**
 * A source/target pair with planted differences of every kind, and the exact answer verify must give.
 * Keys include astral-plane characters and the UTF-16/UTF-8 order traps, so with tiny checksum ranges
 * they land on range boundaries.
 */
import type { StoredRecord } from '../../src/core/record.js';
import type { Store } from '../../src/core/store.js';

export interface Planted {
  missing: string[];
  different: string[];
  extra: string[];
  /** Keys whose values differ only in spelling: must count as matching. */
  sameData: string[];
  sourceCount: number;
  targetCount: number;
}

const BOUNDARY_KEYS = ['\ue000', '\uffef', '\uff5e', '😀', '😀a', '𝄞', '𐀀', '\u{10ffff}', 'z😀', 'z\uffff', '中', 'é', 'e\u0301'];

/** Records shared by both sides unchanged. */
function base(n: number): StoredRecord[] {
  const out: StoredRecord[] = [];
  for (let i = 0; i < n; i++) out.push({ key: `k${String(i).padStart(5, '0')}`, value: JSON.stringify({ i, name: `n${i}`, tags: ['a', 'b'] }) });
  for (const [i, k] of BOUNDARY_KEYS.entries()) out.push({ key: k, value: JSON.stringify({ astral: k, i }) });
  return out;
}

/**
 * Fills `collection` on both stores. `bytes` adds a bytes-valued difference (only for backends that
 * hold bytes on both sides).
 */
export async function plant(source: Store, target: Store, collection: string, options: { n?: number; bytes?: boolean } = {}): Promise<Planted> {
  const shared = base(options.n ?? 200);
  const src: StoredRecord[] = [...shared];
  const tgt: StoredRecord[] = [...shared];
  const pair = (key: string, a: string, b: string) => {
    src.push({ key, value: a });
    tgt.push({ key, value: b });
  };
  // Differences that must count.
  pair('changed-string', '{"name":"Alice"}', '{"name":"Alicia"}');
  pair('changed-precision', '{"a":{"x":1.0000000000000002}}', '{"a":{"x":1}}');
  pair('changed-bigint', '{"id":12345678901234567890}', '{"id":12345678901234567891}');
  pair('truncated-decimal', '{"price":19.99}', '{"price":19.9}');
  pair('😀-changed', '{"v":"😀"}', '{"v":"😁"}');
  pair('\u{10ffff}-changed', '[1,2,3]', '[1,2]');
  pair('nfc-vs-nfd', '"\u00e9"', '"e\u0301"'); // no Unicode normalisation: these are different strings
  // Spelling-only differences that must NOT count.
  pair('key-order', '{"a":1,"b":{"c":2,"d":3}}', '{"b":{"d":3,"c":2},"a":1}');
  pair('number-spelling', '{"n":1.0,"m":1e2,"z":0.50}', '{"n":1,"m":100,"z":0.5}');
  pair('escape-spelling', '"\\u00e9"', '"é"');
  pair('whitespace', '{ "a" : [ 1 , 2 ] }', '{"a":[1,2]}');
  const missing = ['missing-1', '𝄞-missing', '\uffef-missing', 'zz-last-missing'];
  for (const k of missing) src.push({ key: k, value: JSON.stringify({ only: 'source', k }) });
  const extra = ['extra-1', '😀-extra', '\ue000-extra', '0-first-extra'];
  for (const k of extra) tgt.push({ key: k, value: JSON.stringify({ only: 'target', k }) });
  const different = ['changed-string', 'changed-precision', 'changed-bigint', 'truncated-decimal', '😀-changed', '\u{10ffff}-changed', 'nfc-vs-nfd'];
  if (options.bytes) {
    pair('bytes-same', '"x"', '"x"');
    src.push({ key: 'bytes-changed', value: new Uint8Array([1, 2, 3]) });
    tgt.push({ key: 'bytes-changed', value: new Uint8Array([1, 2, 4]) });
    src.push({ key: 'bytes-equal', value: new Uint8Array([9, 9]) });
    tgt.push({ key: 'bytes-equal', value: new Uint8Array([9, 9]) });
    different.push('bytes-changed');
  }
  await source.ensureCollection(collection);
  await target.ensureCollection(collection);
  await putAll(source, collection, src);
  await putAll(target, collection, tgt);
  return {
    missing: missing.sort(),
    different: different.sort(),
    extra: extra.sort(),
    sameData: ['key-order', 'number-spelling', 'escape-spelling', 'whitespace'],
    sourceCount: src.length,
    targetCount: tgt.length,
  };
}

async function putAll(store: Store, collection: string, records: StoredRecord[]): Promise<void> {
  for (let i = 0; i < records.length; i += 200) {
    const result = await store.putMany(collection, records.slice(i, i + 200));
    if (result.rejected.length > 0) throw new Error(`planting failed: ${JSON.stringify(result.rejected)}`);
  }
}

/** Every record of a collection, by key, read back through the store (independent of verify). */
export async function readAll(store: Store, collection: string): Promise<Map<string, StoredRecord>> {
  const out = new Map<string, StoredRecord>();
  for await (const batch of store.scan(collection, { batchSize: 500 })) for (const r of batch.records) out.set(r.key, r);
  return out;
}
