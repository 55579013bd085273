/**
 * `redis://[user:pass@]host:6379/<db>?prefix=cutover:` (also `rediss:` for TLS): records as string
 * keys, through one ioredis client that connects on first use. Layout and value tags in redis-keys.ts.
 *
 * - Scans use SCAN with MATCH (never KEYS); the SCAN cursor is the resume position. Redis keeps no
 *   order, and SCAN may return a key twice, so `orderedScan` is false and consumers de-duplicate.
 * - Writes are one MULTI/EXEC per `putMany` (MSET in chunks, the key-set update and the checkpoint),
 *   so a batch and its checkpoint land together: `transactionalCheckpoint`.
 * - count: cutover's own collections keep a set of their record keys, updated in the same MULTI/EXEC
 *   as the records, so SCARD is exact and O(1) even while writers race (as long as they write through
 *   cutover); the cost is the set's memory, about the size of the keys again. An application's
 *   keyspace (`?match=`) has no such set: its count is a full SCAN pass over string keys with
 *   de-duplication, exact when nothing writes meanwhile and O(keys in the database).
 * - MULTI/EXEC is all or nothing against crashes and lost connections (nothing runs before EXEC), but
 *   Redis does not roll back a command that fails at run time, so the checkpoint is queued last.
 * - `?match=user:*&collection=users` reads an application's keyspace as one collection; values that
 *   are not JSON text become bytes, other Redis types (hash, list…) are rejected naming key and type.
 */
import { Redis } from 'ioredis';
import { assertCollectionName, lastWins, partitionRecords } from '../core/batch.js';
import { ConfigurationError, ConnectionError, StoreError, type RejectInfo } from '../core/errors.js';
import { keyProblem, type StoredRecord } from '../core/record.js';
import type {
  Capabilities, OpenOptions, PutOptions, PutResult, ScanBatch, ScanOptions, Store, TargetCheckpoint,
} from '../core/store.js';
import { redactUrl } from '../core/url.js';
import { decodeStored, decodeUtf8, encodeTagged, escapeGlob, isJsonText, parseRedisUrl } from './redis-keys.js';

export interface RedisOptions extends OpenOptions {
  /** Key prefix of cutover's own keys when the URL has no `?prefix=`. @default "cutover:" */
  prefix?: string;
  /** Records per MSET / MGET / UNLINK command inside a batch. @default 500 */
  chunk?: number;
  /**
   * SCAN's COUNT: how much of the keyspace one SCAN call walks. A collection that is a small part of
   * the database needs a large COUNT or each page comes back nearly empty. @default 1000
   */
  scanCount?: number;
}

const DRIVER = 'redis';
/** Resume position after the last SCAN page: SCAN's own "0" would mean "start again". */
const END = 'end';

export function createRedisStore(url: string, options: RedisOptions = {}): Store {
  const layout = parseRedisUrl(url, options.prefix ?? 'cutover:');
  const { prefix, match } = layout;
  const location = redactUrl(url);
  const chunkSize = options.chunk ?? 500;
  const scanCount = options.scanCount ?? 1000;
  const registryKey = `${prefix}_collections`;
  const checkpointsKey = `${prefix}_checkpoints`;
  const keySetKey = (collection: string) => `${prefix}_keys/${collection}`;
  const capabilities: Capabilities = {
    orderedScan: false,
    bytesValues: true,
    transactionalCheckpoint: true,
    rangeScan: false,
    bulkLoad: false,
    validatesJson: false,
    pipelinedWrites: false,
    jsonBytes: false,
  };
  const client = new Redis({
    host: layout.host,
    port: layout.port,
    username: layout.username,
    password: layout.password,
    db: layout.db,
    tls: layout.tls ? {} : undefined,
    lazyConnect: true,
    maxRetriesPerRequest: 3,
  });
  // Errors reach callers through their commands; without a listener ioredis would log them.
  client.on('error', () => {});

  const fail = (operation: string, err: unknown, detail: { collection?: string; key?: string } = {}) =>
    err instanceof ConfigurationError || err instanceof StoreError
      ? err
      : new StoreError(DRIVER, `${operation} on ${location}`, detail, err);

  /** The Redis key prefix of a collection's records. */
  function recordPrefix(collection: string): string {
    assertCollectionName(collection, DRIVER);
    if (!match) return `${prefix}${collection}:`;
    if (collection !== match.collection) {
      throw new ConfigurationError(`[redis] ${location} maps ${match.pattern} to the collection "${match.collection}" only, not "${collection}"; set ?collection=${collection} or use that name`);
    }
    return match.literal;
  }
  function scanPattern(collection: string): string {
    const literal = recordPrefix(collection);
    return match ? match.pattern : escapeGlob(literal) + '*';
  }

  function chunks<T>(list: T[], size = chunkSize): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
    return out;
  }

  /** Runs a MULTI/EXEC and returns its replies, failing on the first command error. */
  async function exec(multi: ReturnType<Redis['multi']>): Promise<unknown[]> {
    const replies = await multi.exec();
    if (!replies) throw new Error('transaction was aborted');
    return replies.map(([err, reply]) => {
      if (err) throw err;
      return reply;
    });
  }

  /** Reads the values of a page of Redis keys; non-string types become rejects naming the type. */
  async function fetch(collection: string, redisKeys: Buffer[]): Promise<{ records: StoredRecord[]; rejects: RejectInfo[] }> {
    const records: StoredRecord[] = [];
    const rejects: RejectInfo[] = [];
    const literal = recordPrefix(collection);
    const values = redisKeys.length ? await client.mgetBuffer(redisKeys) : [];
    const missing: number[] = [];
    values.forEach((raw, i) => {
      const name = decodeUtf8(redisKeys[i]!);
      const where = `${location} key ${name === null ? '0x' + redisKeys[i]!.toString('hex') : JSON.stringify(name)}`;
      if (name === null) {
        rejects.push({ collection, key: null, location: where, reason: 'the Redis key is not valid UTF-8, so it has no text key' });
        return;
      }
      const key = name.slice(literal.length);
      const problem = keyProblem(key);
      if (problem) {
        rejects.push({ collection, key, location: where, reason: problem });
        return;
      }
      if (raw === null) missing.push(i);
      else records.push({ key, value: decodeStored(raw, !match) });
    });
    if (missing.length) {
      // MGET answers nil both for a key deleted since SCAN and for a key of another type.
      const pipe = client.pipeline();
      for (const i of missing) pipe.type(redisKeys[i]!);
      const types = (await pipe.exec()) ?? [];
      missing.forEach((i, n) => {
        const type = types[n]?.[1];
        if (type === 'none' || type === undefined) return;
        const name = decodeUtf8(redisKeys[i]!)!;
        rejects.push({
          collection, key: name.slice(literal.length), location: `${location} key ${JSON.stringify(name)}`,
          reason: `Redis key ${JSON.stringify(name)} holds a ${String(type)}, not a string; only string keys can be moved (convert it or narrow ?match=)`,
        });
      });
    }
    return { records, rejects };
  }

  /** Values that would read back as something else: the layouts tell bytes from JSON by content. */
  function valueProblem(value: string | Uint8Array): string | null {
    if (!match) {
      return typeof value === 'string' && value.charCodeAt(0) === 0
        ? 'JSON text cannot start with a NUL character (it would read back as tagged bytes); check the value'
        : null;
    }
    if (typeof value === 'string') {
      return isJsonText(value) ? null : "the value is not valid JSON text, and an application's keyspace would read it back as bytes";
    }
    const text = decodeUtf8(value);
    return text !== null && isJsonText(text)
      ? "bytes that are also valid JSON text cannot be told apart from JSON in an application's keyspace; store them as JSON or use cutover's own layout (no ?match=)"
      : null;
  }

  const store: Store = {
    driver: DRIVER,
    location,
    capabilities,

    async open() {
      if (client.status !== 'wait') return;
      try {
        await client.connect();
      } catch (err) {
        throw new ConnectionError(DRIVER, `cannot connect to ${location}: ${(err as Error).message}; check the host, port and password`, { cause: err });
      }
    },

    async close() {
      if (client.status === 'end' || client.status === 'wait') {
        client.disconnect();
        return;
      }
      await client.quit().catch(() => client.disconnect());
    },

    async listCollections() {
      if (match) return [match.collection];
      return (await client.smembers(registryKey)).sort();
    },

    async ensureCollection(collection) {
      recordPrefix(collection);
      if (!match) await client.sadd(registryKey, collection);
    },

    async count(collection) {
      const pattern = scanPattern(collection);
      try {
        if (!match) return await client.scard(keySetKey(collection));
        const seen = new Set<string>();
        let cursor = '0';
        do {
          // TYPE string: keys of other types are rejects, not records.
          const [next, keys] = await client.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', scanCount, 'TYPE', 'string');
          for (const k of keys) seen.add(k.toString('latin1'));
          cursor = next.toString();
        } while (cursor !== '0');
        return seen.size;
      } catch (err) {
        throw fail('count', err, { collection });
      }
    },

    async isOrdered() {
      return false;
    },

    async *scan(collection: string, scanOptions: ScanOptions = {}): AsyncIterable<ScanBatch> {
      const pattern = scanPattern(collection);
      const batchSize = Math.max(1, scanOptions.batchSize ?? 1000);
      let cursor = scanOptions.after ?? '0';
      if (cursor === END) return;
      if (!/^\d+$/.test(cursor)) throw new ConfigurationError(`[redis] scan cursor ${JSON.stringify(cursor)} is not a Redis SCAN cursor; resume with a cursor this backend returned`);
      do {
        scanOptions.signal?.throwIfAborted();
        let next: string;
        let page: { records: StoredRecord[]; rejects: RejectInfo[] };
        try {
          const [nextBuf, keys] = await client.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', Math.max(batchSize, scanCount));
          next = nextBuf.toString();
          page = await fetch(collection, keys);
        } catch (err) {
          throw fail('scan', err, { collection });
        }
        const done = next === '0' ? END : next;
        // SCAN's COUNT is a hint; a page bigger than the batch is split. Only the last part carries the
        // new cursor: resuming from an earlier part re-reads this page, which repeats keys but loses none.
        const parts = page.records.length > batchSize ? chunks(page.records, batchSize) : [page.records];
        for (let i = 0; i < parts.length; i++) {
          if (i > 0) scanOptions.signal?.throwIfAborted();
          const last = i === parts.length - 1;
          const batch: ScanBatch = { records: parts[i]!, rejects: last ? page.rejects : [], cursor: last ? done : cursor };
          if (batch.records.length || batch.rejects.length) yield batch;
        }
        cursor = next;
      } while (cursor !== '0');
    },

    async getMany(collection, keys) {
      const literal = recordPrefix(collection);
      const out: (StoredRecord | undefined)[] = [];
      try {
        for (const part of chunks(keys)) {
          const values = await client.mgetBuffer(part.map((k) => literal + k));
          values.forEach((raw, i) => {
            const key = part[i]!;
            out.push(raw === null || keyProblem(key) ? undefined : { key, value: decodeStored(raw, !match) });
          });
        }
      } catch (err) {
        throw fail('get', err, { collection });
      }
      return out;
    },

    async putMany(collection: string, records: StoredRecord[], putOptions: PutOptions = {}): Promise<PutResult> {
      putOptions.signal?.throwIfAborted();
      const literal = recordPrefix(collection);
      if (match && !match.writable) {
        throw new ConfigurationError(`[redis] ${location} cannot be written: only a pattern of the form <prefix>* maps every record key back into ?match=${match.pattern}`);
      }
      const where = match ? `${location} ${match.pattern}` : `${location} ${literal}*`;
      const { accepted, rejected } = partitionRecords(collection, records, where, (r) => valueProblem(r.value));
      const unique = lastWins(accepted);
      const multi = client.multi();
      for (const part of chunks(unique)) {
        const args: (string | Buffer)[] = [];
        for (const r of part) args.push(literal + r.key, match ? Buffer.from(r.value) : encodeTagged(r.value));
        multi.mset(...args);
        if (!match) multi.sadd(keySetKey(collection), ...part.map((r) => r.key));
      }
      if (!match) multi.sadd(registryKey, collection);
      if (putOptions.checkpoint) {
        const cp = putOptions.checkpoint;
        multi.hset(checkpointsKey, cp.id, JSON.stringify({ cursor: cp.cursor, data: cp.data ?? null }));
      }
      try {
        await exec(multi);
      } catch (err) {
        throw fail('write', err, { collection, ...(unique[0] ? { key: unique[0].key } : {}) });
      }
      return { written: accepted.length, rejected };
    },

    async deleteMany(collection, keys) {
      const literal = recordPrefix(collection);
      const valid = [...new Set(keys)].filter((k) => keyProblem(k) === null);
      let n = 0;
      try {
        for (const part of chunks(valid)) {
          const multi = client.multi();
          multi.unlink(...part.map((k) => literal + k));
          if (!match) multi.srem(keySetKey(collection), ...part);
          n += Number((await exec(multi))[0]);
        }
      } catch (err) {
        throw fail('delete', err, { collection });
      }
      return n;
    },

    async readCheckpoint(id) {
      const raw = await client.hget(checkpointsKey, id);
      if (raw === null) return null;
      const saved = JSON.parse(raw) as { cursor: string; data: string | null };
      const cp: TargetCheckpoint = { id, cursor: saved.cursor };
      if (saved.data !== null) cp.data = saved.data;
      return cp;
    },

    async clearCheckpoints(idPrefix) {
      const ids = (await client.hkeys(checkpointsKey)).filter((id) => id.startsWith(idPrefix));
      for (const part of chunks(ids)) await client.hdel(checkpointsKey, ...part);
    },

    async stats(collection) {
      return { count: await store.count(collection) };
    },

    async dropCollection(collection) {
      const pattern = scanPattern(collection);
      let cursor = '0';
      try {
        do {
          const [next, keys] = await client.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', scanCount);
          if (keys.length) await client.unlink(...keys);
          cursor = next.toString();
        } while (cursor !== '0');
        if (!match) await client.multi().unlink(keySetKey(collection)).srem(registryKey, collection).exec();
      } catch (err) {
        throw fail('drop', err, { collection });
      }
    },
  };
  return store;
}
