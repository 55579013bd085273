/**
 * A Keyv storage adapter over any Store — typically the dual store, so an application that already
 * talks to Keyv can migrate without changing a call site: `new Keyv({ store: new KeyvDualAdapter(dual) })`.
 *
 * Keyv serialises values itself (with the expiry inside), so the adapter stores what Keyv hands it
 * as it is: strings as JSON strings, Buffers as bytes. Expiry is Keyv's: it drops expired entries
 * on read, so `ttl` is not passed to the backend. Keys arrive already prefixed with `namespace:`;
 * `clear()` removes only the keys of the adapter's namespace.
 */
import { EventEmitter } from 'node:events';
import { decodeValue, encodeValue } from '../core/record.js';
import type { Store } from '../core/store.js';

export interface KeyvDualAdapterOptions {
  /** Collection that holds the entries. @default "keyv" */
  collection?: string;
  /** Close the store when Keyv disconnects. @default false */
  closeOnDisconnect?: boolean;
}

export class KeyvDualAdapter extends EventEmitter {
  /** Keyv reads options from here (and its test suite sets `deserialize` on it). */
  opts: Record<string, unknown>;
  namespace?: string | undefined;
  readonly collection: string;

  constructor(readonly store: Store, options: KeyvDualAdapterOptions = {}) {
    super();
    this.collection = options.collection ?? 'keyv';
    // Keyv reads `dialect` and `url` to decide whether to wire iterator(); its list names only its
    // own adapters, so ours stays unwired there (call adapter.iterator() directly).
    this.opts = { dialect: 'cutover', url: `cutover:${store.driver}`, collection: this.collection, ...options };
  }

  async get<Value>(key: string): Promise<Value | undefined> {
    const [record] = await this.store.getMany(this.collection, [key]);
    return record ? (decodeValue(record.value) as Value) : undefined;
  }

  async getMany<Value>(keys: string[]): Promise<(Value | undefined)[]> {
    const records = await this.store.getMany(this.collection, keys);
    return records.map((r) => (r ? (decodeValue(r.value) as Value) : undefined));
  }

  /** `ttl` is ignored: the expiry is inside the value Keyv serialised. */
  async set(key: string, value: unknown, _ttl?: number): Promise<boolean> {
    await this.write([{ key, value }]);
    return true;
  }

  async setMany(entries: { key: string; value: unknown; ttl?: number }[]): Promise<void> {
    await this.write(entries);
  }

  private async write(entries: { key: string; value: unknown }[]): Promise<void> {
    const records = entries.map((e) => ({ key: e.key, value: encodeValue(e.value) }));
    const res = await this.store.putMany(this.collection, records);
    if (res.rejected.length > 0) {
      const r = res.rejected[0]!;
      throw new Error(`[cutover] [keyv] key ${JSON.stringify(r.key)} was refused by ${this.store.location}: ${r.reason}`);
    }
  }

  async delete(key: string): Promise<boolean> {
    return (await this.store.deleteMany(this.collection, [key])) > 0;
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    return (await this.store.deleteMany(this.collection, keys)) > 0;
  }

  async has(key: string): Promise<boolean> {
    const value = await this.get<unknown>(key);
    if (value === undefined) return false;
    // With `has` defined Keyv no longer checks expiry itself, so look inside its envelope.
    if (typeof value === 'string') {
      try {
        const expires = (JSON.parse(value) as { expires?: unknown }).expires;
        if (typeof expires === 'number' && expires <= Date.now()) return false;
      } catch {
        // A custom serialiser's format: presence is all we can tell.
      }
    }
    return true;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return Promise.all(keys.map((k) => this.has(k)));
  }

  private prefix(namespace = this.namespace): string | null {
    return namespace ? `${namespace}:` : null;
  }

  /** Removes this namespace's entries (every entry of the collection when there is no namespace). */
  async clear(): Promise<void> {
    const prefix = this.prefix();
    for await (const batch of this.store.scan(this.collection, { batchSize: 500 })) {
      const keys = batch.records.map((r) => r.key).filter((k) => prefix === null || k.startsWith(prefix));
      if (keys.length > 0) await this.store.deleteMany(this.collection, keys);
    }
  }

  /** Entries of a namespace as [key, raw value] pairs (Keyv's iterator contract). */
  async *iterator<Value>(namespace?: string): AsyncGenerator<[string, Value], void> {
    const prefix = this.prefix(namespace);
    for await (const batch of this.store.scan(this.collection, { batchSize: 500 })) {
      for (const r of batch.records) {
        if (prefix === null || r.key.startsWith(prefix)) yield [r.key, decodeValue(r.value) as Value];
      }
    }
  }

  async disconnect(): Promise<void> {
    if (this.opts.closeOnDisconnect) await this.store.close();
  }
}
