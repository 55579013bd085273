/**
 * Backends are found by URL scheme. Each driver module is imported only when its scheme is used, so
 * `cutover` on SQLite never loads `pg` or `ioredis`.
 */
import { ConfigurationError } from '../core/errors.js';
import type { OpenOptions, Store, StoreFactory } from '../core/store.js';
import { parseStoreUrl, redactUrl } from '../core/url.js';

type Loader = () => Promise<StoreFactory>;

const drivers = new Map<string, Loader>([
  ['memory', async () => (await import('./memory.js')).createMemoryStore],
  ['file', async () => (await import('./file.js')).createFileStore],
  ['sqlite', async () => (await import('./sqlite.js')).createSqliteStore],
  ['postgres', loadPostgres],
  ['postgresql', loadPostgres],
  ['mysql', async () => (await import('./mysql.js')).createMysqlStore],
  ['mariadb', async () => (await import('./mysql.js')).createMysqlStore],
  ['redis', async () => (await import('./redis.js')).createRedisStore],
  ['rediss', async () => (await import('./redis.js')).createRedisStore],
]);

/**
 * pg asks at import whether it runs in Cloudflare Workers. Without a global `navigator` (Node 20 has
 * none) it builds a fetch `Response` to find out, which loads Node's fetch implementation (undici)
 * into every process that opens PostgreSQL: ~45 ms of CPU and ~5 MB of RSS per command (measured on a
 * million-row checksum verify: 15% of its client CPU, 3% of its wall time). While pg loads, a
 * `navigator` answers as Node 21+'s does; it is removed afterwards, and an existing one is left alone.
 */
async function loadPostgres(): Promise<StoreFactory> {
  const load = async () => (await import('./postgres.js')).createPostgresStore;
  if ('navigator' in globalThis) return load();
  const stand = { userAgent: 'Node.js' };
  Object.defineProperty(globalThis, 'navigator', { value: stand, configurable: true, writable: true });
  try {
    return await load();
  } finally {
    // Only ours: something else may have set its own while pg loaded.
    const g = globalThis as { navigator?: unknown };
    if (g.navigator === stand) delete g.navigator;
  }
}

/** Adds or replaces a backend for a URL scheme (without the colon). */
export function registerDriver(scheme: string, factory: StoreFactory): void {
  drivers.set(scheme.toLowerCase(), async () => factory);
}

export function knownSchemes(): string[] {
  return [...drivers.keys()];
}

/** Opens the store a URL names; the connection itself is made lazily on first use. */
export async function openStore(url: string, options: OpenOptions = {}): Promise<Store> {
  const scheme = parseStoreUrl(url).protocol.slice(0, -1).toLowerCase();
  const load = drivers.get(scheme);
  if (!load) {
    throw new ConfigurationError(
      `no backend for "${scheme}:" in ${redactUrl(url)}; use one of ${[...drivers.keys()].map((s) => s + ':').join(', ')}`,
    );
  }
  const factory = await load();
  const store = await factory(url, options);
  await store.open();
  return store;
}
