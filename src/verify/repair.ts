/**
 * Repair: copy missing and different records from source to target (and delete extras when asked).
 * The difference keys stream in from the comparison into a `KeySpill` (memory up to a threshold,
 * then a temp file), so a collection with millions of differences does not hold them all. Records
 * are re-read from the source at repair time, so a record changed since the comparison is copied
 * as it is now; writes are idempotent upserts, which makes the shared retry policy safe.
 */
import { createReadStream } from 'node:fs';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { RejectInfo } from '../core/errors.js';
import type { Store } from '../core/store.js';
import type { RateLimiter } from '../engine/rate-limiter.js';
import type { Retrier } from '../engine/retry.js';

/** An append-only list of keys that spills to a temp file past `threshold` keys. */
export class KeySpill {
  private memory: string[] = [];
  private file: string | null = null;
  private dir: string | null = null;
  private pending: string[] = [];
  size = 0;

  constructor(private readonly threshold: number) {}

  async add(key: string): Promise<void> {
    this.size++;
    if (this.file === null && this.memory.length < this.threshold) {
      this.memory.push(key);
      return;
    }
    if (this.file === null) {
      this.dir = await mkdtemp(join(tmpdir(), 'cutover-repair-'));
      this.file = join(this.dir, 'keys.jsonl');
    }
    this.pending.push(JSON.stringify(key) + '\n');
    if (this.pending.length >= 1000) await this.flush();
  }

  /** Whether keys went to disk (the report says so). */
  get spilled(): boolean {
    return this.file !== null;
  }

  private async flush(): Promise<void> {
    if (this.file === null || this.pending.length === 0) return;
    await appendFile(this.file, this.pending.join(''));
    this.pending = [];
  }

  async *batches(size: number): AsyncGenerator<string[]> {
    for (let i = 0; i < this.memory.length; i += size) yield this.memory.slice(i, i + size);
    if (this.file === null) return;
    await this.flush();
    let batch: string[] = [];
    for await (const line of createInterface({ input: createReadStream(this.file, 'utf8'), crlfDelay: Infinity })) {
      if (!line) continue;
      batch.push(JSON.parse(line) as string);
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  async dispose(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.memory = [];
    this.pending = [];
  }
}

export interface RepairOptions {
  retrier: Retrier;
  limiter?: RateLimiter | undefined;
  deleteExtra: boolean;
  batchSize: number;
  signal?: AbortSignal | undefined;
  onProgress?: (records: number) => void;
}

export interface RepairOutcome {
  copied: number;
  deleted: number;
  rejected: RejectInfo[];
}

export async function repairCollection(
  source: Store,
  target: Store,
  collection: string,
  copyKeys: KeySpill,
  extraKeys: KeySpill,
  options: RepairOptions,
): Promise<RepairOutcome> {
  const out: RepairOutcome = { copied: 0, deleted: 0, rejected: [] };
  const { retrier, limiter, signal } = options;
  let done = 0;
  const goneFromSource = new KeySpill(10_000);
  try {
    if (copyKeys.size > 0) await target.ensureCollection(collection);
    for await (const keys of copyKeys.batches(options.batchSize)) {
      signal?.throwIfAborted();
      const found = await retrier(() => source.getMany(collection, keys), signal);
      const records = found.filter((r) => r !== undefined);
      // Deleted from the source since the comparison: now an extra in the target, not something to copy.
      for (let i = 0; i < keys.length; i++) if (!found[i]) await goneFromSource.add(keys[i]!);
      if (records.length === 0) continue;
      if (limiter) await limiter.take(records.length, signal);
      const result = await retrier((s) => target.putMany(collection, records, { signal: s }), signal);
      out.copied += records.length - result.rejected.length;
      out.rejected.push(...result.rejected);
      done += records.length;
      options.onProgress?.(done);
    }
    if (options.deleteExtra) {
      for (const spill of [extraKeys, goneFromSource]) {
        for await (const keys of spill.batches(options.batchSize)) {
          signal?.throwIfAborted();
          // A key written to the source since the comparison is no longer an extra: never delete it.
          const inSource = await retrier(() => source.getMany(collection, keys), signal);
          const doomed = keys.filter((_, i) => !inSource[i]);
          if (doomed.length === 0) continue;
          if (limiter) await limiter.take(doomed.length, signal);
          out.deleted += await retrier(() => target.deleteMany(collection, doomed), signal);
          done += keys.length;
          options.onProgress?.(done);
        }
      }
    }
  } finally {
    await goneFromSource.dispose();
  }
  return out;
}
