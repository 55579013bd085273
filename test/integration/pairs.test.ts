/**
 * Migrations between every ordered pair of real backends (file, SQLite, PostgreSQL, MariaDB, Redis)
 * with the ugly data set. After each migration both sides are read back through fresh stores and
 * compared record by record with `sameValue`; a record may be missing from the target only when the
 * target cannot hold it, and then it must be in the rejects file exactly once with a reason that says
 * why. Which records each target rejects is fixed in ugly-set.ts, so a silent loss fails.
 * Small batches and --split 3 make the ugly keys cross batch and range boundaries (cursors, `until`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameValue } from '../../src/core/canonical.js';
import type { StoredRecord } from '../../src/core/record.js';
import { openStore } from '../../src/drivers/index.js';
import { migrate } from '../../src/engine/migrate.js';
import { KINDS, makePlace, readAll, readRejects, show, type Kind, type Place } from './backends.js';
import { BULK, UGLY, bulkRecords, cannotHold, mustReject, uglyRecords, type TargetKind } from './ugly-set.js';

const BULK_SIZE = 2500;

/** The seed per collection, as written to every source. */
const seed: Record<string, StoredRecord[]> = { [UGLY]: uglyRecords(), [BULK]: bulkRecords(BULK_SIZE) };

function expectSame(got: StoredRecord['value'] | undefined, want: StoredRecord['value'], what: string): void {
  expect(got, `${what}: missing`).toBeDefined();
  expect(typeof got, `${what}: kind (JSON text or bytes)`).toBe(typeof want);
  expect(sameValue(got!, want), `${what}: ${show(got)} vs ${show(want)}`).toBe(true);
}

for (const sourceKind of KINDS) {
  describe(`from ${sourceKind}`, () => {
    let source: Place;

    beforeAll(async () => {
      source = makePlace(sourceKind, `src_${sourceKind}`);
      const store = await openStore(source.url, { create: true });
      try {
        const refused = new Map<string, string>();
        for (const [collection, records] of Object.entries(seed)) {
          await store.ensureCollection(collection);
          for (let i = 0; i < records.length; i += 300) {
            const res = await store.putMany(collection, records.slice(i, i + 300));
            for (const r of res.rejected) refused.set(`${collection}/${r.key}`, r.reason);
          }
        }
        // The source itself may refuse only what its backend is known not to hold.
        const expected = [...mustReject(sourceKind).keys()].map((k) => `${UGLY}/${k}`).sort();
        expect([...refused.keys()].sort(), JSON.stringify([...refused])).toEqual(expected);
      } finally {
        await store.close();
      }
      // What a fresh store reads back is what was written (else the pair tests below prove nothing).
      for (const [collection, records] of Object.entries(seed)) {
        const back = await readAll(source.url, collection);
        const held = records.filter((r) => !(collection === UGLY && mustReject(sourceKind).has(r.key)));
        expect(back.size, `${sourceKind} ${collection} size`).toBe(held.length);
        for (const r of held) expectSame(back.get(r.key)?.value, r.value, `${sourceKind} seed ${collection}/${JSON.stringify(r.key)}`);
      }
    }, 180_000);

    afterAll(async () => {
      await source?.cleanup();
    }, 60_000);

    // Every other backend; from SQLite also the file backend's other layouts: a JSONL log, and the
    // one-object JSON map, which holds no bytes (capabilities.bytesValues false), so there every bytes
    // record must be a reject.
    const extraTargets: TargetKind[] = sourceKind === 'sqlite' ? ['file-jsonl', 'file-json'] : [];
    for (const targetKind of [...KINDS.filter((k) => k !== sourceKind), ...extraTargets]) {
      it(`to ${targetKind}: every record lands exactly or is rejected with its reason`, async () => {
        const layout = targetKind === 'file-json' ? 'json' : targetKind === 'file-jsonl' ? 'jsonl' : null;
        const driver: Kind = layout ? 'file' : (targetKind as Kind);
        const place = makePlace(driver, `dst_${targetKind}`);
        const target = layout ? { ...place, url: `${place.url}?layout=${layout}` } : place;
        const stateDir = mkdtempSync(join(tmpdir(), 'cutover-pairs-state-'));
        try {
          // The JSON layout rewrites its one file per batch, so it gets bigger batches.
          const batchSize = targetKind === 'file-json' ? 500 : 16;
          const result = await migrate({ from: source.url, to: target.url, state: join(stateDir, 'state.db'), batchSize, concurrency: 3, split: 3 });
          expect(result.status, result.error).toBe('completed');
          // --split 3 cut each collection into 3 key ranges wherever the source can scan ranges.
          expect(result.units.length, JSON.stringify(result.units.map((u) => u.unit))).toBe(sourceKind === 'redis' ? 2 : 6);

          const rejects = readRejects(result.rejectsFile);
          let expectedRejects = 0;
          for (const collection of [UGLY, BULK]) {
            const src = await readAll(source.url, collection);
            const dst = await readAll(target.url, collection);
            expect(src.size, `source ${collection} read back`).toBe(seed[collection]!.length - (collection === UGLY ? mustReject(sourceKind).size : 0));
            // Nothing in the target that the source does not have.
            const extra = [...dst.keys()].filter((k) => !src.has(k));
            expect(extra, `${collection}: keys in the target only`).toEqual([]);
            // getMany on the target agrees with its scan (a second, independent read path).
            const reader = await openStore(target.url, { create: false });
            let got: (StoredRecord | undefined)[];
            try {
              got = [];
              const keys = [...src.keys()];
              for (let i = 0; i < keys.length; i += 500) got.push(...(await reader.getMany(collection, keys.slice(i, i + 500))));
            } finally {
              await reader.close();
            }
            let i = 0;
            for (const [key, record] of src) {
              const viaGet = got[i++];
              const what = `${sourceKind}→${targetKind} ${collection}/${JSON.stringify(key).slice(0, 80)}`;
              const reason = cannotHold(targetKind, collection, record);
              if (reason) {
                expectedRejects++;
                expect(dst.has(key), `${what} must not be in the target`).toBe(false);
                expect(viaGet, `${what} must not be in the target (getMany)`).toBeUndefined();
                const lines = rejects.filter((r) => r.collection === collection && r.key === key);
                expect(lines.length, `${what} in the rejects file exactly once`).toBe(1);
                expect(lines[0]!.reason, what).toMatch(reason);
                expect(lines[0]!.reason, what).toMatch(new RegExp(driver));
                continue;
              }
              expectSame(dst.get(key)?.value, record.value, `${what} (scan)`);
              expectSame(viaGet?.value, record.value, `${what} (getMany)`);
            }
          }
          // No reject beyond the expected ones: every other record is in the target, checked above.
          expect(rejects.map((r) => `${r.collection}/${r.key}: ${r.reason}`)).toHaveLength(expectedRejects);
        } finally {
          await target.cleanup();
          rmSync(stateDir, { recursive: true, force: true });
        }
      }, 240_000);
    }
  });
}
