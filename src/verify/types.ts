/**
 * Public shapes of `verify`: options, the per-collection result and the whole result. A mismatch is
 * data in the result (`ok: false`), never an exception.
 */
import type { RejectInfo } from '../core/errors.js';
import type { RecordValue } from '../core/record.js';
import type { Store } from '../core/store.js';
import type { SampleBound } from './sample-bound.js';
import type { JsonChange } from './diff-json.js';

export type VerifyMode = 'count' | 'checksum' | 'full' | 'sample';
export type DiffKind = 'missing' | 'different' | 'extra';
export type VerifyMethod = 'count' | 'merge' | 'row-digest-merge' | 'lookup' | 'hash-partition' | 'checksum-bisect' | 'sql-pushdown' | 'sql-join' | 'sample';

export interface VerifyOptions {
  /** Source store or URL (the truth). */
  from: string | Store;
  /** Target store or URL (the copy being checked). */
  to: string | Store;
  /** Collections to check; default every collection either side lists. */
  only?: string[];
  /** @default 'checksum' */
  mode?: VerifyMode;
  /** For `mode: 'sample'`: a count (`10000`) or a percentage (`'1%'`). @default 10000 */
  sample?: string | number;
  /** Confidence of the sample bound, between 0 and 1. @default 0.99 */
  confidence?: number;
  /** Copy missing and different records from source to target, then verify again. @default false */
  repair?: boolean;
  /** With `repair`, also delete records only the target holds. @default false */
  deleteExtra?: boolean;
  /** Records per second read or written, over both stores (protects production). @default unlimited */
  maxRate?: number;
  /** Examples of each kind kept per collection. @default 10 */
  examples?: number;
  /** A YAML/JSON file declaring references to check in the target (`references:` list). */
  refs?: string;
  signal?: AbortSignal;
  onProgress?: (event: VerifyProgress) => void;
  /** Seed for the sample's random choice (tests, reproducible audits). @default random */
  seed?: number;
  /** Tuning, mostly for tests: partitions for unordered sides, checksum leaf size and fan-out, scan batch. */
  tuning?: Partial<VerifyTuning>;
}

export interface VerifyTuning {
  /** Records per scan batch. @default 1000 */
  batchSize: number;
  /** Hash partitions for unordered sides; 0 picks from the counts. @default 0 */
  partitions: number;
  /** Records a partition holds in memory at most when the count is picked automatically. @default 10000 */
  partitionRecords: number;
  /** A checksum range with at most this many source records is compared record by record. @default 1000 */
  leafSize: number;
  /** Sub-ranges per bisection step. @default 64 */
  fanout: number;
  /** Difference keys kept in memory before repair spills them to a temp file. @default 10000 */
  spillThreshold: number;
  /**
   * An unordered source against an ordered target is streamed and looked up in the target by key,
   * holding the records that differ so far (a repeated key is judged on its last value); past this many
   * it falls back to hash partitions. 0 always uses hash partitions. @default 20000
   */
  lookupPending: number;
  /** Distinct source keys the lookup method holds in memory before counting them through temp files. @default 100000 */
  lookupMemoryKeys: number;
  /** Checksum mode without database-side digests: compute range digests in this process and bisect
   * (as data-diff does) instead of one streaming merge. Both read every record of both sides here, and
   * the merge needs no canonicalising where the text is identical, so the merge is the default.
   * @default false */
  clientDigests: boolean;
  /** Full mode between two stores that digest each record themselves (two PostgreSQL servers): merge
   * keys and digests, reading values only where digests differ (row-digest-merge.ts). false streams
   * every value instead. @default true */
  rowDigests: boolean;
  /** Full mode between two tables of one database (two PostgreSQL schemas): let the database join
   * them and return only the keys that differ (sql-join.ts). false compares them as two separate
   * stores. @default true */
  sqlJoin: boolean;
  /** Records per range of such a join, about (the ranges come from a sample). @default 100000 */
  joinRangeRecords: number;
}

export interface VerifyProgress {
  phase: 'count' | 'compare' | 'sample' | 'repair' | 'refs';
  collection: string;
  /** Records handled so far in this phase and collection. */
  records: number;
}

export interface DiffExample {
  kind: DiffKind;
  key: string;
  source?: RecordValue;
  target?: RecordValue;
  /** For `different`: what changed, path by path. */
  diff?: JsonChange[];
}

export interface CollectionResult {
  collection: string;
  sourceCount: number;
  targetCount: number;
  matching: number;
  missing: number;
  different: number;
  extra: number;
  examples: DiffExample[];
  recordsPerSecond: number;
  /** Bytes of keys, values and digests read from both stores. */
  bytesTransferred: number;
  method: VerifyMethod;
  note?: string;
}

export interface DanglingRef {
  collection: string;
  key: string;
  path: string;
  /** The referenced key that is absent. */
  ref: string;
  refCollection: string;
}

export interface DanglingRefs {
  checked: number;
  dangling: number;
  examples: DanglingRef[];
}

export interface RepairSummary {
  before: CollectionResult[];
  after: CollectionResult[];
  copied: number;
  deleted: number;
  /** Records the target refused: reported, never dropped silently. */
  rejected: RejectInfo[];
}

export interface VerifyError {
  collection?: string;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  mode: VerifyMode;
  collections: CollectionResult[];
  sampleBound?: SampleBound;
  repair?: RepairSummary;
  danglingRefs?: DanglingRefs;
  errors: VerifyError[];
}
