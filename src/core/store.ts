/**
 * The one interface every backend implements. Differences between backends are declared as
 * capability flags (false unless a backend says otherwise) and the engine falls back, as Kysely's
 * dialect adapters do.
 */
import type { RejectInfo } from './errors.js';
import type { StoredRecord } from './record.js';

export interface Capabilities {
  /** `scan` yields keys in UTF-8 byte order and `after` is a key. False: the cursor is opaque (Redis SCAN). */
  orderedScan: boolean;
  /** Values may be bytes as well as JSON. */
  bytesValues: boolean;
  /** A batch and its checkpoint can be committed in one transaction (see `putMany`'s `checkpoint`). */
  transactionalCheckpoint: boolean;
  /** `scan` honours `until` (an exclusive upper key bound), so a collection can be split into key ranges. */
  rangeScan: boolean;
  /** `putMany` with `mode: 'load'` may take a faster path into an empty collection. */
  bulkLoad: boolean;
  /**
   * The backend checks JSON text itself and refuses a malformed value with a per-record error (like
   * PostgreSQL's jsonb), so a source may hand it JSON text without parsing it (`ScanOptions.validateJson`).
   */
  validatesJson: boolean;
  /**
   * `putMany` honours `PutOptions.pipeline`: a batch may stream its rows while the previous batch
   * commits, and commits only after it. Needs `transactionalCheckpoint`.
   */
  pipelinedWrites: boolean;
  /**
   * `putMany` writes a `RawJsonRecord`'s plain UTF-8 bytes as they are, without decoding them, so a
   * source may hand JSON text over as bytes (`ScanOptions.jsonBytes`). When it refuses the value of
   * one that has a `reread`, it writes what that returns instead (or rejects with its reason), so the
   * source need not prove the value's extent (`ScanOptions.proveExtent`).
   */
  jsonBytes: boolean;
}

export interface ScanOptions {
  /** Resume position: the cursor of the last batch already handled, or null/undefined to start. */
  after?: string | null;
  /** Exclusive upper key bound (only where `capabilities.rangeScan`). */
  until?: string | null;
  /** Records per batch (a hint; a batch may be smaller). */
  batchSize?: number;
  /**
   * The reader needs only `key` and `value` (verify): a backend may leave `updatedAt` and `version`
   * out and skip reading them. @default false
   */
  skipMetadata?: boolean;
  /**
   * false: the records go to a target that checks JSON itself (`capabilities.validatesJson`), so a
   * backend may pass JSON text on without parsing it. It must still find each value's extent exactly;
   * a malformed value is then refused by the target, per record. @default true
   */
  validateJson?: boolean;
  /**
   * true: the records go to a target that takes JSON as bytes (`capabilities.jsonBytes`), so a backend
   * may hand out `RawJsonRecord`s (JSON text still in the bytes it read) instead of strings. Only
   * together with `validateJson: false`. @default false
   */
  jsonBytes?: boolean;
  /**
   * false (with `jsonBytes`): the target parses every value and rereads a refused one
   * (`capabilities.jsonBytes`), so a source may take a value's extent from its line's shape without
   * walking the value, and hand out a RawJsonRecord with a `reread`. @default true
   */
  proveExtent?: boolean;
  signal?: AbortSignal;
}

export interface ScanBatch {
  records: StoredRecord[];
  /** Records the source could not read (malformed JSON, bad keys); they go to the rejects file. */
  rejects: RejectInfo[];
  /** Position after this batch; pass it as `after` to continue. */
  cursor: string;
  /**
   * Where `records[index]` came from (file and line), when the backend knows. A function, not an
   * array: a location is wanted only for a reject, and a string per record is garbage for all others.
   */
  locationOf?: (index: number) => string;
}

/** A batch's checkpoint, committed in the same target transaction as the batch. */
export interface TargetCheckpoint {
  /** Identifies the migration and unit: `<migrationId>/<unit>`. */
  id: string;
  cursor: string;
  /** Opaque JSON the engine wants back on resume (counters). */
  data?: string;
}

export interface PutOptions {
  /** 'upsert' (default) is idempotent. 'load' promises the target collection held none of these keys
   * before this migration started, which lets a backend use a plain bulk load; only the engine,
   * with a transactional checkpoint, uses it. */
  mode?: 'upsert' | 'load';
  checkpoint?: TargetCheckpoint;
  /** Only where `capabilities.pipelinedWrites`; see WritePipeline. */
  pipeline?: WritePipeline;
  signal?: AbortSignal;
}

/**
 * Overlaps a batch's write with the batches before it (the engine sets it; see
 * src/engine/pipeline.ts). The backend takes a connection and opens its transaction only once
 * `beginAfter` resolves, then calls `onBegun`; it calls `onStaged` when the rows are in the open
 * transaction and only the commit remains, and commits (the rows and the checkpoint) only once
 * `commitAfter` resolves. When either rejects, it rolls back and throws that rejection unchanged: the
 * engine writes the batch again after the previous one settles.
 */
export interface WritePipeline {
  beginAfter: Promise<void>;
  commitAfter: Promise<void>;
  onBegun(): void;
  onStaged(): void;
}

export interface PutResult {
  written: number;
  /** Records this backend cannot hold exactly, each with the reason; the rest of the batch landed. */
  rejected: RejectInfo[];
}

export interface CollectionStats {
  count: number;
  /** Approximate bytes of values, when cheap to know. */
  bytes?: number;
}

export interface Store {
  /** Driver name, e.g. "sqlite". */
  readonly driver: string;
  /** The URL with any password removed, for messages. */
  readonly location: string;
  readonly capabilities: Capabilities;

  /** Connects or opens files; idempotent. Every other method opens lazily too. */
  open(): Promise<void>;
  close(): Promise<void>;

  listCollections(): Promise<string[]>;
  /** Creates the collection if missing; idempotent. */
  ensureCollection(collection: string): Promise<void>;
  /** Exact count of records in a collection (0 when it does not exist). */
  count(collection: string, options?: { signal?: AbortSignal }): Promise<number>;
  /** Records in batches from a resume position. Ordered by key where `capabilities.orderedScan`. */
  scan(collection: string, options?: ScanOptions): AsyncIterable<ScanBatch>;
  /** Whether `scan` of this collection is in key order (a store may mix layouts, e.g. files). */
  isOrdered(collection: string): Promise<boolean>;
  /** A cheap estimate of the count, for progress and ETA (a JSONL log counts lines, not distinct keys). */
  estimateCount?(collection: string): Promise<number>;
  /** Records for the keys, in the same positions; undefined where absent. */
  getMany(collection: string, keys: string[]): Promise<(StoredRecord | undefined)[]>;
  /** Idempotent upsert of a batch. Records the backend cannot hold exactly come back in `rejected`. */
  putMany(collection: string, records: StoredRecord[], options?: PutOptions): Promise<PutResult>;
  /** Deletes the keys; returns how many existed. */
  deleteMany(collection: string, keys: string[]): Promise<number>;
  /** The cursor stored with `putMany`'s checkpoint, if any. */
  readCheckpoint?(id: string): Promise<TargetCheckpoint | null>;
  /** Removes checkpoints whose id starts with the prefix (a finished or restarted migration). */
  clearCheckpoints?(idPrefix: string): Promise<void>;
  /** Count and size, when the backend can tell cheaply. */
  stats?(collection: string): Promise<CollectionStats>;
  /** Deletes a collection and its records (tests, rollback). */
  dropCollection?(collection: string): Promise<void>;
  /**
   * Up to `parts - 1` keys that cut the collection of `count` records (the caller has counted them)
   * into ranges of about equal record counts, each with the key just before it, found without reading
   * the records through cutover (an index walk in the database). Where present, big collections are
   * split automatically (engine/split.ts).
   */
  splitPoints?(collection: string, parts: number, count: number): Promise<SplitPoint[]>;
}

/** A range boundary: `key` starts a range; `previous`, the key before it, ends the one before. */
export interface SplitPoint {
  key: string;
  previous: string;
}

export const NO_CAPABILITIES: Capabilities = {
  orderedScan: false,
  bytesValues: false,
  transactionalCheckpoint: false,
  rangeScan: false,
  bulkLoad: false,
  validatesJson: false,
  pipelinedWrites: false,
  jsonBytes: false,
};

/** Options every driver factory receives besides the URL. */
export interface OpenOptions {
  /** Create the database/folder when missing (targets). Default true. */
  create?: boolean;
}

/** A driver module's default export: gets the URL exactly as the user wrote it. */
export type StoreFactory = (url: string, options: OpenOptions) => Store | Promise<Store>;
