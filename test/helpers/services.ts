/**
 * The real services the tests talk to. URLs come from env vars with the machine's defaults; every
 * test file makes its own schema / database / key prefix from `runId()` and removes it afterwards.
 */
import net from 'node:net';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';

export const POSTGRES_URL = process.env.CUTOVER_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env.CUTOVER_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
export const REDIS_URL = process.env.CUTOVER_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** A short unique name for this test file's schema/database/prefix: letters, digits and "_". */
export function runId(label: string): string {
  return `cut_${label}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

function reachable(url: string, defaultPort: number): Promise<string | null> {
  const u = new URL(url);
  const host = u.hostname || '127.0.0.1';
  const port = Number(u.port || defaultPort);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (problem: string | null) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(3000, () => done(`${host}:${port} timed out`));
    socket.once('connect', () => done(null));
    socket.once('error', (e) => done(`${host}:${port}: ${e.message}`));
  });
}

/**
 * Every service must answer: the tests against real servers are part of the suite, never skipped.
 * Start them with `.ci/run` (which starts installed-but-stopped services) or point the env vars elsewhere.
 */
export async function checkServices(): Promise<void> {
  const checks: [string, string, string, number][] = [
    ['PostgreSQL', 'CUTOVER_TEST_POSTGRES_URL', POSTGRES_URL, 5432],
    ['MariaDB/MySQL', 'CUTOVER_TEST_MYSQL_URL', MYSQL_URL, 3306],
    ['Redis', 'CUTOVER_TEST_REDIS_URL', REDIS_URL, 6379],
  ];
  const problems: string[] = [];
  for (const [name, env, url, port] of checks) {
    const problem = await reachable(url, port);
    if (problem) problems.push(`${name} is unreachable (${problem}); start it (bash .ci/run starts installed services) or set ${env}`);
  }
  if (problems.length > 0) throw new Error(`[cutover tests] ${problems.join('; ')}`);
}

/** The Redis URL with `?prefix=` added, for a store confined to one prefix. */
export function redisUrlWithPrefix(prefix: string, url = REDIS_URL): string {
  return `${url}${url.includes('?') ? '&' : '?'}prefix=${encodeURIComponent(prefix)}`;
}

/** Removes every key under the prefix (SCAN + UNLINK, never KEYS). */
export async function unlinkRedisPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const client = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await client.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}
