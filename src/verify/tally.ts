/**
 * Counting differences in bounded memory: every comparison method reports each record here; only the
 * first N examples of each kind are kept, the rest are counts. A `sink` (repair's key spill) sees
 * every difference key.
 */
import { compareKeys } from '../core/key-order.js';
import type { RejectInfo } from '../core/errors.js';
import type { RecordValue, StoredRecord } from '../core/record.js';
import { recordValueSize } from '../core/record.js';
import type { RateLimiter } from '../engine/rate-limiter.js';
import { diffValues } from './diff-json.js';
import type { DiffExample, DiffKind, VerifyProgress } from './types.js';

export type DiffSink = (kind: DiffKind, key: string) => void | Promise<void>;

export class DiffTally {
  matching = 0;
  missing = 0;
  different = 0;
  extra = 0;
  private readonly kept: Record<DiffKind, DiffExample[]> = { missing: [], different: [], extra: [] };

  constructor(
    private readonly examplesPerKind: number,
    private readonly sink?: DiffSink,
  ) {}

  match(): void {
    this.matching++;
  }

  /** Whether the next difference of this kind becomes an example (so its values are worth reading). */
  wantsExample(kind: DiffKind): boolean {
    return this.kept[kind].length < this.examplesPerKind;
  }

  /** How many more differences of this kind become examples. */
  examplesLeft(kind: DiffKind): number {
    return Math.max(0, this.examplesPerKind - this.kept[kind].length);
  }

  async diff(kind: DiffKind, key: string, source?: RecordValue, target?: RecordValue): Promise<void> {
    this[kind]++;
    const list = this.kept[kind];
    if (list.length < this.examplesPerKind) {
      const example: DiffExample = { kind, key };
      if (source !== undefined) example.source = source;
      if (target !== undefined) example.target = target;
      if (kind === 'different' && source !== undefined && target !== undefined) example.diff = diffValues(source, target);
      list.push(example);
    }
    if (this.sink) await this.sink(kind, key);
  }

  /** Examples in key order within each kind: missing, different, extra. */
  examples(): DiffExample[] {
    const byKey = (a: DiffExample, b: DiffExample) => compareKeys(a.key, b.key);
    return [...this.kept.missing.sort(byKey), ...this.kept.different.sort(byKey), ...this.kept.extra.sort(byKey)];
  }
}

/**
 * Counts what crosses the wire and paces reads with the shared `--max-rate` limiter, so every method
 * reports `bytesTransferred` the same way.
 */
export class ReadMeter {
  bytes = 0;
  records = 0;
  rejectCount = 0;
  readonly rejects: RejectInfo[] = [];

  constructor(
    readonly collection: string,
    private readonly options: {
      limiter?: RateLimiter | undefined;
      signal?: AbortSignal | undefined;
      phase?: VerifyProgress['phase'];
      onProgress?: ((event: VerifyProgress) => void) | undefined;
    } = {},
  ) {}

  /** Records read; absent ones (undefined, or null: judged without being read) are skipped. */
  async took(records: (StoredRecord | undefined | null)[]): Promise<void> {
    let n = 0;
    for (const r of records) {
      if (!r) continue;
      n++;
      this.bytes += Buffer.byteLength(r.key, 'utf8') + recordValueSize(r);
    }
    await this.compared(n);
  }

  addBytes(n: number): void {
    this.bytes += n;
  }

  /**
   * Records compared, counted and paced by `--max-rate`: those `took` read, and those compared without
   * a record object each (a range image, a join in the database).
   */
  async compared(n: number): Promise<void> {
    this.records += n;
    if (this.options.limiter && n > 0) await this.options.limiter.take(n, this.options.signal);
    this.options.onProgress?.({ phase: this.options.phase ?? 'compare', collection: this.collection, records: this.records });
  }

  rejected(list: RejectInfo[]): void {
    this.rejectCount += list.length;
    for (const r of list) if (this.rejects.length < 10) this.rejects.push(r);
  }
}
