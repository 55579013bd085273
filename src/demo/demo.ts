/**
 * `cutover demo`: the main job on the embedded default. Generates a realistic file store, migrates it
 * to SQLite with progress, and checks the outcome against what the generator planted: every good
 * record in the target with its exact value, every broken one in the rejects file.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigurationError } from '../core/errors.js';
import { sameValue } from '../core/canonical.js';
import { openStore } from '../drivers/index.js';
import type { EventListener } from '../engine/events.js';
import { migrate, type MigrationResult } from '../engine/migrate.js';
import { generateDemoStore, type GeneratedStore } from './generate.js';

export interface DemoOptions {
  /** Records to generate; default 200,000. */
  records?: number;
  /** Working folder; default ./.cutover-demo (replaced on each run). */
  dir?: string;
  batchSize?: number;
  signal?: AbortSignal;
  onEvent?: EventListener;
  /** Called once the source is generated, before the copy. */
  onGenerated?: (store: GeneratedStore, seconds: number) => void;
}

export interface DemoCheck {
  collection: string;
  expected: number;
  inTarget: number;
  plantedBad: number;
  rejected: number;
  ok: boolean;
}

export interface DemoResult {
  ok: boolean;
  dir: string;
  sourceUrl: string;
  targetUrl: string;
  generated: GeneratedStore;
  migration: MigrationResult;
  checks: DemoCheck[];
  /** A sample of exact-value checks (big integers, long decimals, unicode) read back from the target. */
  exactValues: { key: string; ok: boolean }[];
}

const MARKER = '.cutover-demo-dir';

export async function demo(options: DemoOptions = {}): Promise<DemoResult> {
  const dir = resolve(options.dir ?? '.cutover-demo');
  if (existsSync(dir)) {
    if (!existsSync(join(dir, MARKER))) {
      throw new ConfigurationError(`${dir} exists and was not made by "cutover demo"; choose another --dir so nothing of yours is replaced`);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MARKER), 'made by cutover demo; removed and remade on each run\n');

  const t0 = performance.now();
  const generated = generateDemoStore(join(dir, 'source'), options.records ?? 200_000);
  options.onGenerated?.(generated, (performance.now() - t0) / 1000);

  const sourceUrl = `file:${join(dir, 'source')}`;
  const targetUrl = `sqlite:${join(dir, 'target.db')}`;
  const migration = await migrate({
    from: sourceUrl,
    to: targetUrl,
    state: join(dir, 'state.db'),
    batchSize: options.batchSize ?? 2000,
    restart: true,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });

  const checks: DemoCheck[] = [];
  const exactValues: { key: string; ok: boolean }[] = [];
  if (migration.status === 'completed') {
    const rejectedBy = new Map<string, number>();
    if (existsSync(migration.rejectsFile)) {
      for (const line of readFileSync(migration.rejectsFile, 'utf8').split('\n')) {
        if (!line) continue;
        const c = (JSON.parse(line) as { collection: string }).collection;
        rejectedBy.set(c, (rejectedBy.get(c) ?? 0) + 1);
      }
    }
    const target = await openStore(targetUrl, { create: false });
    const source = await openStore(sourceUrl, { create: false });
    try {
      for (const [collection, expected] of Object.entries(generated.expected)) {
        const inTarget = await target.count(collection);
        const plantedBad = generated.planted[collection]?.length ?? 0;
        const rejected = rejectedBy.get(collection) ?? 0;
        checks.push({ collection, expected, inTarget, plantedBad, rejected, ok: inTarget === expected && rejected === plantedBad });
      }
      const keys: [string, string][] = [
        ['sessions', 'sess-000000'], ['events', 'evt-00000007'], ['checkpoints', 'ckpt-000001'], ['dlq', 'dlq-000002'], ['events', '../../etc/passwd'],
      ];
      for (const [collection, key] of keys) {
        const [s] = await source.getMany(collection, [key]);
        const [t] = await target.getMany(collection, [key]);
        exactValues.push({ key: `${collection}/${key}`, ok: Boolean(s && t && typeof s.value === 'string' && typeof t.value === 'string' && sameValue(s.value, t.value)) });
      }
    } finally {
      await target.close();
      await source.close();
    }
  }
  const ok = migration.status === 'completed' && checks.every((c) => c.ok) && exactValues.every((v) => v.ok);
  return { ok, dir, sourceUrl, targetUrl, generated, migration, checks, exactValues };
}
