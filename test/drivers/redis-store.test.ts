/**
 * The Redis backend against the real server, checked with an independent ioredis client: the keys
 * and bytes really in Redis, not what the store reports.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.js';
import type { StoredRecord } from '../../src/core/record.js';
import type { ScanBatch, Store } from '../../src/core/store.js';
import { createRedisStore } from '../../src/drivers/redis.js';
import { byKey, scanAll } from '../conformance/suite.js';
import { records } from '../conformance/ugly-data.js';
import { REDIS_URL, runId } from '../helpers/services.js';

const id = runId('rd');
const prefix = `${id}:own:`;
const withParams = (params: Record<string, string>) => `${REDIS_URL}?${new URLSearchParams(params)}`;
let redis: Redis;
const stores: Store[] = [];

function open(params: Record<string, string>): Store {
  const s = createRedisStore(withParams(params), {});
  stores.push(s);
  return s;
}

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  for (const s of stores) await s.close();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${id}:*`, 'COUNT', 1000);
    if (keys.length) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
});

describe('redis own layout', () => {
  it('writes real string keys: JSON raw, bytes behind a 0x00 tag, and the bookkeeping sets', async () => {
    const store = open({ prefix });
    const bytes = randomBytes(300);
    await store.putMany('users', [{ key: 'u:1', value: '{"n":12345678901234567890}' }, { key: 'blob', value: bytes }]);
    expect(await redis.get(`${prefix}users:u:1`)).toBe('{"n":12345678901234567890}');
    const raw = await redis.getBuffer(`${prefix}users:blob`);
    expect(raw![0]).toBe(0);
    expect(Buffer.compare(raw!.subarray(1), bytes)).toBe(0);
    expect((await redis.smembers(`${prefix}_keys/users`)).sort()).toEqual(['blob', 'u:1']);
    expect(await redis.smembers(`${prefix}_collections`)).toEqual(['users']);
    await store.deleteMany('users', ['u:1']);
    expect(await redis.exists(`${prefix}users:u:1`)).toBe(0);
    expect(await redis.smembers(`${prefix}_keys/users`)).toEqual(['blob']);
    expect(await store.count('users')).toBe(1);
  });

  it('tells bytes from JSON: bytes that look like JSON or start with 0x00 stay bytes', async () => {
    const store = open({ prefix });
    const batch: StoredRecord[] = [
      { key: 'json-bytes', value: Buffer.from('{"a":1}') },
      { key: 'zero-first', value: Buffer.from([0, 0, 1]) },
      { key: 'empty', value: Buffer.alloc(0) },
      { key: 'bom', value: Buffer.from([0xef, 0xbb, 0xbf, 0x31]) },
      { key: 'nul-escape', value: '"\\u0000"' },
      { key: 'text', value: '"é 😀"' },
    ];
    await store.putMany('tags', batch);
    // Plain JSON written by another client reads as JSON; a hand-tagged value reads as bytes.
    await redis.set(`${prefix}tags:by-hand`, '[1,2]');
    await redis.set(`${prefix}tags:hand-tagged`, Buffer.from([0, 0x7b, 0x7d]));
    const got = await store.getMany('tags', [...batch.map((r) => r.key), 'by-hand', 'hand-tagged']);
    batch.forEach((want, i) => {
      const r = got[i]!;
      if (typeof want.value === 'string') expect(r.value).toBe(want.value);
      else expect(Buffer.compare(Buffer.from(r.value as Uint8Array), Buffer.from(want.value))).toBe(0);
    });
    expect(got[batch.length]!.value).toBe('[1,2]');
    // Text that would read back as tagged bytes is refused, not altered.
    const res = await store.putMany('tags', [{ key: 'nul-text', value: '\u0000x' }, { key: 'fine', value: '1' }]);
    expect(res.rejected.map((r) => r.key)).toEqual(['nul-text']);
    expect(await redis.exists(`${prefix}tags:nul-text`)).toBe(0);
    expect(Buffer.from(got[batch.length + 1]!.value as Uint8Array)).toEqual(Buffer.from('{}'));
  });

  it('resuming a SCAN mid-way loses nothing, even when keys are added in between', async () => {
    const store = open({ prefix, });
    const keys = Array.from({ length: 3000 }, (_, i) => `r${i}`);
    await store.putMany('resume', records(keys));
    const first: ScanBatch[] = [];
    for await (const batch of store.scan('resume', { batchSize: 100 })) {
      first.push(batch);
      if (first.length === 7) break;
    }
    // More keys make Redis grow (rehash) its table; SCAN still returns every key present throughout.
    await store.putMany('resume', records(Array.from({ length: 5000 }, (_, i) => `late${i}`)));
    const again = open({ prefix }); // a new client, as after a restart
    const rest = await scanAll(again, 'resume', { after: first[first.length - 1]!.cursor, batchSize: 100 });
    const seen = new Set([...first.flatMap((b) => b.records.map((r) => r.key)), ...rest.records.map((r) => r.key)]);
    for (const k of keys) expect(seen.has(k), k).toBe(true);
    expect(await again.count('resume')).toBe(8000);
  });

  it('commits the records and the checkpoint in one MULTI/EXEC, checkpoint last', async () => {
    const store = open({ prefix });
    await store.ensureCollection('cp'); // connects, so MONITOR sees only the batch
    const monitor = await redis.monitor();
    const events: { args: string[]; source: string }[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => events.push({ args, source }));
    await store.putMany('cp', records(['a', 'b']), { checkpoint: { id: 'm/u1', cursor: 'b', data: '{"n":2}' } });
    const ours = () => events.find((e) => e.args[0]?.toLowerCase() === 'mset' && e.args[1]?.startsWith(`${prefix}cp:`));
    // Only this store's connection: other clients may use the server meanwhile.
    const seen = () => events.filter((e) => e.source === ours()?.source).map((e) => e.args);
    for (let i = 0; i < 100 && !seen().some((a) => a[0]?.toLowerCase() === 'exec'); i++) await new Promise((r) => setTimeout(r, 20));
    monitor.disconnect();
    expect(seen().map((a) => a[0]!.toLowerCase())).toEqual(['multi', 'mset', 'sadd', 'sadd', 'hset', 'exec']);
    expect(await redis.hget(`${prefix}_checkpoints`, 'm/u1')).toBe('{"cursor":"b","data":"{\\"n\\":2}"}');
    expect(await store.readCheckpoint!('m/u1')).toEqual({ id: 'm/u1', cursor: 'b', data: '{"n":2}' });
  });
});

describe('redis application keyspace (?match=)', () => {
  const app = `${id}:app:user:`;

  it('reads keys written by hand: JSON, non-JSON as bytes, other types rejected by key and type', async () => {
    await redis.set(`${app}1`, '{"name":"Ada","n":9007199254740993}');
    await redis.set(`${app}2`, 'not json at all');
    await redis.set(`${app}bin`, Buffer.from([0xff, 0xfe, 0x00]));
    await redis.set(`${app}num`, '42');
    await redis.hset(`${app}h`, 'f', 'v');
    await redis.rpush(`${app}list`, 'x');
    await redis.set(`${id}:app:other:1`, '{}'); // outside the pattern
    const store = open({ match: `${app}*` });
    expect(await store.listCollections()).toEqual([`${id}.app.user`]);
    const c = `${id}.app.user`;
    const { records: got, batches } = await scanAll(store, c, { batchSize: 2 });
    const map = byKey(got);
    expect([...map.keys()].sort()).toEqual(['1', '2', 'bin', 'num']);
    expect(map.get('1')!.value).toBe('{"name":"Ada","n":9007199254740993}');
    expect(map.get('num')!.value).toBe('42');
    expect(Buffer.from(map.get('2')!.value as Uint8Array).toString()).toBe('not json at all');
    expect(Buffer.from(map.get('bin')!.value as Uint8Array)).toEqual(Buffer.from([0xff, 0xfe, 0x00]));
    const rejects = batches.flatMap((b) => b.rejects);
    expect(rejects.map((r) => r.key).sort()).toEqual(['h', 'list']);
    expect(rejects.find((r) => r.key === 'h')!.reason).toContain(`"${app}h" holds a hash`);
    expect(rejects.find((r) => r.key === 'list')!.reason).toContain('holds a list');
    expect(await store.count(c)).toBe(4); // string keys only
    expect(await store.isOrdered(c)).toBe(false);
    await expect(store.count('users')).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('?collection= names it; writes go back under the literal prefix, unambiguous bytes only', async () => {
    const store = open({ match: `${app}*`, collection: 'people' });
    const res = await store.putMany('people', [
      { key: 'new', value: '{"ok":true}' },
      { key: 'raw', value: Buffer.from([1, 2, 3]) },
      { key: 'looks-json', value: Buffer.from('[1]') },
      { key: 'not-json-text', value: 'plain words' },
    ]);
    expect(res.rejected.map((r) => r.key)).toEqual(['looks-json', 'not-json-text']);
    expect(await redis.get(`${app}new`)).toBe('{"ok":true}');
    expect(await redis.getBuffer(`${app}raw`)).toEqual(Buffer.from([1, 2, 3]));
    expect(await redis.exists(`${app}looks-json`)).toBe(0);
    const readOnly = open({ match: `${id}:app:*:profile` });
    await expect(readOnly.putMany(`${id}.app`, records(['x']))).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('escapes glob characters of the prefix in MATCH', async () => {
    const odd = `${id}:g[l]ob*?:`;
    const store = open({ prefix: odd });
    await store.putMany('c', records(['k1', 'k2']));
    // Keys that the unescaped pattern would also match must not show up.
    await redis.set(`${id}:glob-anything-x:c:k3`, '1');
    await redis.set(`${id}:glob*?:c:k4`, '1');
    expect([...byKey((await scanAll(store, 'c')).records).keys()].sort()).toEqual(['k1', 'k2']);
    expect(await redis.get(`${odd}c:k1`)).toBe(JSON.stringify({ k: 'k1', i: 0 }));
  });
});
