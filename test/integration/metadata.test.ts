/**
 * Record metadata across the backends that keep it (SQLite, PostgreSQL, MariaDB): a record's
 * `updatedAt` (to the microsecond, which all three can hold) and `version` survive a migration in
 * every direction. Backends without metadata (file dir layout, Redis) are not part of this.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sameValue } from '../../src/core/canonical.js';
import { openStore } from '../../src/drivers/index.js';
import { migrate } from '../../src/engine/migrate.js';
import { makePlace, readAll, type Kind } from './backends.js';

const KEEPERS: Kind[] = ['sqlite', 'postgres', 'mysql'];
const dir = mkdtempSync(join(tmpdir(), 'cutover-meta-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An ISO timestamp in any offset or precision, as UTC microseconds since the epoch. */
function micros(iso: string | null | undefined): bigint | null {
  if (!iso) return null;
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/.exec(iso);
  if (!m) throw new Error(`not an ISO timestamp: ${iso}`);
  const ms = Date.parse(`${m[1]}T${m[2]}${m[4] === undefined || m[4] === 'Z' ? 'Z' : m[4]}`);
  return BigInt(ms) * 1000n + BigInt((m[3] ?? '').padEnd(6, '0').slice(0, 6));
}

const RECORDS = [
  { key: 'micro', value: '{"n":1}', updatedAt: '2024-01-02T03:04:05.678901Z', version: 7 },
  { key: 'milli', value: '{"n":2}', updatedAt: '2023-12-31T23:59:59.999Z', version: 42 },
  { key: 'offset', value: '{"n":3}', updatedAt: '2024-06-01T12:00:00.123456+02:00', version: 3 },
];

describe('metadata between the backends that keep it', () => {
  for (const sourceKind of KEEPERS) {
    for (const targetKind of KEEPERS) {
      if (sourceKind === targetKind) continue;
      it(`${sourceKind} → ${targetKind}: updatedAt to the microsecond and version`, async () => {
        const source = makePlace(sourceKind, 'meta_s');
        const target = makePlace(targetKind, 'meta_t');
        try {
          const store = await openStore(source.url, { create: true });
          try {
            expect((await store.putMany('m', RECORDS)).rejected).toEqual([]);
          } finally {
            await store.close();
          }
          const src = await readAll(source.url, 'm');
          for (const r of RECORDS) {
            expect(micros(src.get(r.key)?.updatedAt), `${sourceKind} keeps ${r.key}'s updatedAt`).toBe(micros(r.updatedAt));
            expect(src.get(r.key)?.version, `${sourceKind} keeps ${r.key}'s version`).toBe(r.version);
          }
          const result = await migrate({ from: source.url, to: target.url, state: join(dir, `${sourceKind}-${targetKind}.db`) });
          expect(result.status, result.error).toBe('completed');
          const dst = await readAll(target.url, 'm');
          for (const r of RECORDS) {
            const got = dst.get(r.key);
            expect(got && sameValue(got.value, r.value), `${r.key}: ${String(got?.value)}`).toBe(true);
            expect(micros(got?.updatedAt), `${r.key}: ${got?.updatedAt} vs ${r.updatedAt}`).toBe(micros(r.updatedAt));
            expect(got?.version, r.key).toBe(r.version);
          }
        } finally {
          await source.cleanup();
          await target.cleanup();
        }
      }, 120_000);
    }
  }
});
