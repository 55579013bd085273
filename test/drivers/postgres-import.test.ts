/**
 * Opening a PostgreSQL store must not load Node's fetch implementation (pg's Cloudflare probe builds a
 * `Response` when there is no `navigator`), and must leave the global `navigator` as it found it.
 * Checked in a fresh node process on the built library: the test runner has fetch loaded already.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runId } from '../helpers/services.js';
import { storeUrl } from './postgres-helpers.js';

const DRIVERS = fileURLToPath(new URL('../../dist/drivers/index.js', import.meta.url));

/** Opens (and closes, unused: no connection is made) a PostgreSQL store in a fresh process. */
function probe(prelude: string): { navigatorBefore: string; navigatorAfter: string; fetchLoaded: boolean; opened: boolean } {
  if (!existsSync(DRIVERS)) throw new Error('dist/ is missing: run "npm run build" (npm test does it)');
  const script = `${prelude}
const describe = () => JSON.stringify(Object.getOwnPropertyDescriptor(globalThis, 'navigator') ?? null, (k, v) => typeof v === 'function' ? 'fn' : v);
const navigatorBefore = describe();
const { openStore } = await import(${JSON.stringify(DRIVERS)});
const store = await openStore(${JSON.stringify(storeUrl(runId("pgimport")))}, { create: false });
const opened = typeof store.scan === 'function';
await store.close();
const fetchLoaded = process.moduleLoadList.some((m) => m.includes('internal/deps/undici'));
console.log(JSON.stringify({ navigatorBefore, navigatorAfter: describe(), fetchLoaded, opened }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

describe('loading the postgres driver', () => {
  it('leaves navigator as it was and, on a Node without navigator, does not load fetch', () => {
    const r = probe('');
    expect(r.opened).toBe(true);
    expect(r.navigatorAfter).toBe(r.navigatorBefore);
    if (r.navigatorBefore === 'null') expect(r.fetchLoaded).toBe(false);
  });

  it('keeps a navigator the process already has', () => {
    const r = probe(`globalThis.navigator = { userAgent: 'app-polyfill' };`);
    expect(r.navigatorBefore).toContain('app-polyfill');
    expect(r.navigatorAfter).toBe(r.navigatorBefore);
  });
});
