/**
 * The dual-mode store: the application side of a zero-downtime migration. It is itself a `Store`
 * (so it passes the shared conformance suite) over an old and a new store, routed by live flags.
 *
 * Write guarantee (dual-write modes: every mode except old-only and new-only):
 * - A write is acknowledged only after the primary store accepted it; the primary's error surfaces.
 * - The secondary store then gets the same write. Its failure (or a timeout) never reaches the
 *   caller: the key is recorded as a divergence, with the store that holds the acknowledged value as
 *   its source, and `repairDivergences()` copies source → target. Until repaired, reads of that key
 *   go to the source, so a stale copy is never served.
 * - Within one process, both stores receive the writes to a key in the same order (per-key queues,
 *   see key-queue.ts), also across mode changes. So when every secondary write succeeds the stores
 *   converge by themselves, and when one fails the repair (queued behind earlier writes) converges
 *   them. Across processes writing the same key concurrently, the two stores may apply those writes
 *   in different orders; verification and repair handle that, the per-key order cannot.
 * - old-only and new-only write one store only, by design (before dual-write starts / after
 *   the old store is retired).
 *
 * Reads go to the route's read store. Shadow mode also reads the other store in the background
 * (sampled, bounded concurrency, timeout; never awaited by the caller) and records differences;
 * read-validation reads both, compares and returns the primary's answer. A comparison is skipped when
 * a write to the key was in flight during it, since it would report a difference that is not one.
 */
import { performance } from 'node:perf_hooks';
import { ConfigurationError, RecordRejected, type RejectInfo } from '../core/errors.js';
import { decodeValue, encodeValue, type StoredRecord } from '../core/record.js';
import type {
  Capabilities, CollectionStats, PutOptions, PutResult, ScanBatch, ScanOptions, Store,
} from '../core/store.js';
import { Deadlines, type Expiring } from './deadlines.js';
import { DiscrepancyRecorder, type DiscrepancyRecorderOptions, type DiscrepancyReport } from './discrepancy-recorder.js';
import { isFlagSource, StaticFlags, type FlagSource } from './flags.js';
import { KeyQueues, lockKey } from './key-queue.js';
import { DualMetrics, type Incrementer, type Observer } from './metrics.js';
import type { DualFlags, DualFlagsInput, DualMode, Side } from './modes.js';
import { Router, type Route } from './router.js';
import { ShadowReader } from './shadow-reader.js';
import type { Registry } from 'prom-client';

export interface DualStoreOptions {
  old: Store;
  new: Store;
  /** Flags in force: a live source (file, SQLite, `staticFlags`) or a fixed object. */
  flags: FlagSource | DualFlagsInput;
  /** Prometheus registry for the metrics. @default a new Registry */
  registry?: Registry;
  /** A recorder to share, or options for a new one. */
  discrepancies?: DiscrepancyRecorder | DiscrepancyRecorderOptions;
  /** Acknowledge a write once the primary has it; the secondary write continues in order in the
   * background (close() waits for it). Lower latency; reads of that key wait for the pending write.
   * @default false */
  ackAfterPrimary?: boolean;
  /** A secondary write slower than this is treated as failed (divergence); the queue moves on. It is
   * given up at most a quarter of this (≤ 250 ms) later: one timer watches all writes in flight.
   * @default 10000 */
  secondaryTimeoutMs?: number;
  /** close() also closes the old and new stores. @default true */
  closeStores?: boolean;
  /** close() also closes the flag source. @default true when the dual store made it, else false */
  closeFlags?: boolean;
  /** Problems that are not surfaced to a caller: secondary failures, refused flags, persistence. */
  onError?: (error: Error) => void;
  onFlagsChange?: (flags: DualFlags) => void;
}

export interface Divergence {
  collection: string;
  key: string;
  /** The store holding the acknowledged value. */
  source: Side;
  target: Side;
  reason: string;
  at: string;
}

export interface RepairResult {
  repaired: number;
  failed: number;
  remaining: number;
}

const SIDES: Side[] = ['old', 'new'];

function intersect(a: Capabilities, b: Capabilities): Capabilities {
  return {
    orderedScan: a.orderedScan && b.orderedScan,
    bytesValues: a.bytesValues && b.bytesValues,
    rangeScan: a.rangeScan && b.rangeScan,
    // A checkpoint belongs to one migration target, not to a pair of stores.
    transactionalCheckpoint: false,
    bulkLoad: false,
    validatesJson: false,
    pipelinedWrites: false,
    jsonBytes: false,
  };
}

/** Rejects sorted by the position of their key's first record in the batch. */
function inRecordOrder(records: StoredRecord[], rejected: RejectInfo[]): RejectInfo[] {
  if (rejected.length <= 1) return rejected;
  const order = new Map<unknown, number>();
  records.forEach((r, i) => { if (!order.has(r.key)) order.set(r.key, i); });
  return [...rejected].sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class DualStore implements Store {
  readonly driver = 'dual';
  readonly location: string;
  readonly capabilities: Capabilities;
  readonly recorder: DiscrepancyRecorder;
  readonly metrics: DualMetrics;
  private readonly stores: Record<Side, Store>;
  private readonly flagSource: FlagSource;
  private readonly ownsFlags: boolean;
  private router: Router;
  private readonly unsubscribe: () => void;
  private readonly queues = new KeyQueues();
  private readonly divergences = new Map<string, Divergence>();
  private readonly shadow: ShadowReader;
  private readonly ownsRecorder: boolean;
  private closed = false;
  /** Secondary writes in flight, against `secondaryTimeoutMs`. */
  private readonly secondaryDeadlines = new Deadlines<Expiring>();
  /** Metric cells of single-store reads, bound once: the read path observes them without lookups. */
  private readonly getCells: Record<Side, { latency: Observer; routed: Incrementer; errors: () => void }>;

  constructor(private readonly options: DualStoreOptions) {
    this.stores = { old: options.old, new: options.new };
    this.location = `dual(${options.old.location} -> ${options.new.location})`;
    this.capabilities = intersect(options.old.capabilities, options.new.capabilities);
    this.ownsFlags = !isFlagSource(options.flags);
    this.flagSource = isFlagSource(options.flags) ? options.flags : new StaticFlags(options.flags);
    this.router = new Router(this.flagSource.current());
    this.unsubscribe = this.flagSource.subscribe((flags) => {
      this.router = new Router(flags);
      options.onFlagsChange?.(flags);
    });
    this.metrics = new DualMetrics({ registry: options.registry });
    const cells = (side: Side) => ({
      latency: this.metrics.latencyOf(side, 'get'),
      routed: this.metrics.routingOf('get', side),
      errors: () => this.metrics.error(side, 'get'),
    });
    this.getCells = { old: cells('old'), new: cells('new') };
    const report = (e: Error) => this.reportError(e);
    if (options.discrepancies instanceof DiscrepancyRecorder) {
      this.recorder = options.discrepancies;
      this.ownsRecorder = false;
    } else {
      const o = options.discrepancies ?? {};
      this.recorder = new DiscrepancyRecorder({
        ...o,
        onError: o.onError ?? report,
        onRecord: (d) => {
          this.metrics.discrepancy(d.operation, d.collection, d.kind);
          o.onRecord?.(d);
        },
      });
      this.ownsRecorder = true;
    }
    this.shadow = new ShadowReader({
      stores: this.stores,
      queues: this.queues,
      recorder: this.recorder,
      metrics: this.metrics,
      timed: (side, op, fn) => this.timed(side, op, fn),
      repair: (collection, keys) => {
        // A key already divergent has its own source; read-repair must not overrule it.
        for (const key of keys) if (!this.divergences.has(lockKey(collection, key))) this.addDivergence(collection, key, 'old', 'new', 'read-repair');
        void this.repairKeys(keys.map((k) => lockKey(collection, k)));
      },
    });
  }

  /** The flags in force. */
  get flags(): DualFlags {
    return this.router.flags;
  }

  get mode(): DualMode {
    return this.router.mode;
  }

  private reportError(err: Error): void {
    try {
      this.options.onError?.(err);
    } catch {
      // A failing error handler must not break the request path.
    }
  }

  /** `fn()`'s promise, timed; `shape` maps the value in the same reaction (no extra promise hop). */
  private timed<T>(side: Side, op: string, fn: () => Promise<T>, shape?: (value: T) => T): Promise<T> {
    // Plain promise chaining rather than an async function: this wraps every backend call.
    const start = performance.now();
    let promise: Promise<T>;
    try {
      promise = fn();
    } catch (err) {
      promise = Promise.reject(err);
    }
    return promise.then(
      (value) => {
        this.metrics.observe(side, op, (performance.now() - start) / 1000);
        return shape ? shape(value) : value;
      },
      (err: unknown) => {
        this.metrics.error(side, op);
        this.metrics.observe(side, op, (performance.now() - start) / 1000);
        throw err;
      },
    );
  }

  private closedError(): ConfigurationError {
    return new ConfigurationError(`dual store ${this.location} is closed; create a new one`);
  }

  private assertOpen(): void {
    if (this.closed) throw this.closedError();
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  async open(): Promise<void> {
    this.assertOpen();
    const primary = this.router.collectionRoute(null).primary;
    await Promise.all(SIDES.map(async (side) => {
      try {
        await this.stores[side].open();
      } catch (err) {
        // The store that is only secondary now may come up later; its writes become divergences.
        if (side === primary) throw err;
        this.reportError(err as Error);
      }
    }));
  }

  /** Waits for queued secondary writes, flushes the recorder, and closes what this store owns. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A hung secondary write must still time out while close() waits for it.
    this.secondaryDeadlines.hold(true);
    try {
      await this.queues.drain();
    } finally {
      this.secondaryDeadlines.hold(false);
    }
    await this.shadow.drain();
    this.unsubscribe();
    if (this.options.closeFlags ?? this.ownsFlags) await this.flagSource.close();
    if (this.ownsRecorder) await this.recorder.close();
    if (this.options.closeStores ?? true) {
      await Promise.allSettled(SIDES.map((s) => this.stores[s].close()));
    }
  }

  // ---- whole-collection operations: the store authoritative for the collection -------------------

  private collectionStore(collection: string | null, op: string): [Side, Store] {
    const side = this.router.collectionRoute(collection).primary;
    this.metrics.routed(op, side);
    return [side, this.stores[side]];
  }

  async listCollections(): Promise<string[]> {
    const [side, store] = this.collectionStore(null, 'listCollections');
    return this.timed(side, 'listCollections', () => store.listCollections());
  }

  async ensureCollection(collection: string): Promise<void> {
    this.assertOpen();
    const route = this.router.collectionRoute(collection);
    await this.timed(route.primary, 'ensureCollection', () => this.stores[route.primary].ensureCollection(collection));
    if (route.secondary) {
      const secondary = route.secondary;
      try {
        await this.timed(secondary, 'ensureCollection', () => this.stores[secondary].ensureCollection(collection));
      } catch (err) {
        this.reportError(err as Error);
      }
    }
  }

  async count(collection: string, options?: { signal?: AbortSignal }): Promise<number> {
    const [side, store] = this.collectionStore(collection, 'count');
    return this.timed(side, 'count', () => store.count(collection, options));
  }

  scan(collection: string, options?: ScanOptions): AsyncIterable<ScanBatch> {
    const [, store] = this.collectionStore(collection, 'scan');
    return store.scan(collection, options);
  }

  async isOrdered(collection: string): Promise<boolean> {
    const [, store] = this.collectionStore(collection, 'isOrdered');
    return store.isOrdered(collection);
  }

  async stats(collection: string): Promise<CollectionStats> {
    const [, store] = this.collectionStore(collection, 'stats');
    if (store.stats) return store.stats(collection);
    return { count: await store.count(collection) };
  }

  async dropCollection(collection: string): Promise<void> {
    const route = this.router.collectionRoute(collection);
    await this.stores[route.primary].dropCollection?.(collection);
    if (route.secondary) {
      try {
        await this.stores[route.secondary].dropCollection?.(collection);
      } catch (err) {
        this.reportError(err as Error);
      }
    }
  }

  // ---- reads ------------------------------------------------------------------------------------

  getMany(collection: string, keys: string[]): Promise<(StoredRecord | undefined)[]> {
    if (this.closed) return Promise.reject(this.closedError());
    const router = this.router;
    // Fast path: every key goes the same way (a mode with one route, or a single key) and nothing
    // awaits repair (the common case). The caller gets the store's own promise: no async frame and
    // no extra promise hop on its path. One reaction registered before the caller's own records the
    // latency (it runs just before the caller resumes) and hands the records to a queued shadow
    // comparison (shadow-reader.ts). With ackAfterPrimary a read waits for queued writes to its
    // keys: only when there are any.
    const route = router.fixed ?? (keys.length === 1 ? router.route(collection, keys[0]!) : null);
    if (route && !route.validate && this.divergences.size === 0
      && (!this.options.ackAfterPrimary || !this.queues.anyPending(collection, keys))) {
      const side = route.read;
      const ticket = route.shadow && keys.length > 0 ? this.shadow.enqueue(collection, keys, side, router.flags) : null;
      const cells = this.getCells[side];
      cells.routed.inc(keys.length);
      const start = performance.now();
      let promise: Promise<(StoredRecord | undefined)[]>;
      try {
        promise = this.stores[side].getMany(collection, keys);
      } catch (err) {
        promise = Promise.reject(err);
      }
      if (side !== route.primary) {
        // Reading the store that is not primary (progressive): its failure falls back to the primary.
        const other: Side = side === 'old' ? 'new' : 'old';
        return promise.then(
          (got) => {
            cells.latency.observe((performance.now() - start) / 1000);
            return got;
          },
          (err: unknown) => {
            cells.errors();
            cells.latency.observe((performance.now() - start) / 1000);
            this.reportError(err as Error);
            return this.timed(other, 'get', () => this.stores[other].getMany(collection, keys));
          },
        );
      }
      // Neither handler throws, so the promise `then` returns never rejects unhandled.
      void promise.then(
        (got) => {
          cells.latency.observe((performance.now() - start) / 1000);
          if (ticket) ticket.deliver(got);
        },
        () => {
          cells.errors();
          cells.latency.observe((performance.now() - start) / 1000);
          if (ticket) ticket.cancel();
        },
      );
      return promise;
    }
    return this.getManyRouted(collection, keys);
  }

  /** Reads key by key route: progressive, canary, read-validation, divergent keys, ackAfterPrimary. */
  private async getManyRouted(collection: string, keys: string[]): Promise<(StoredRecord | undefined)[]> {
    const router = this.router;
    const result: (StoredRecord | undefined)[] = new Array(keys.length);
    const groups: Record<Side, number[]> = { old: [], new: [] };
    // Keys whose primary-side read is compared with the other store (shadow / validation).
    const compared: Record<'shadow' | 'validate', number[]> = { shadow: [], validate: [] };
    const mayFallBack: Record<Side, boolean> = { old: true, new: true };
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const route = router.route(collection, key);
      const d = this.divergences.size > 0 ? this.divergences.get(lockKey(collection, key)) : undefined;
      // A key awaiting repair is read from the store that holds its acknowledged value.
      const side = d ? d.source : route.read;
      groups[side].push(i);
      // Reading a store that is not primary (progressive): its failure may fall back to the primary.
      if (side === route.primary) mayFallBack[side] = false;
      if (!d && side === route.primary && side === 'old') {
        if (route.shadow) compared.shadow.push(i);
        else if (route.validate) compared.validate.push(i);
      }
    }
    const shadowIdx = compared.shadow;
    const validateIdx = compared.validate;
    const shadowTicket = shadowIdx.length > 0 ? this.shadow.enqueue(collection, shadowIdx.map((i) => keys[i]!), 'old', router.flags) : null;
    const validation = validateIdx.length > 0 ? this.shadow.begin(collection, validateIdx.map((i) => keys[i]!), 'old', router.flags) : null;
    try {
      await Promise.all(SIDES.map(async (side) => {
        const idx = groups[side];
        if (idx.length === 0) return;
        this.metrics.routed('get', side, idx.length);
        const sideKeys = idx.map((i) => keys[i]!);
        if (this.options.ackAfterPrimary) {
          await Promise.all(sideKeys.map((k) => this.queues.settled(side, lockKey(collection, k))));
        }
        let got: (StoredRecord | undefined)[];
        try {
          got = await this.timed(side, 'get', () => this.stores[side].getMany(collection, sideKeys));
        } catch (err) {
          if (!mayFallBack[side]) throw err;
          this.reportError(err as Error);
          const other: Side = side === 'old' ? 'new' : 'old';
          got = await this.timed(other, 'get', () => this.stores[other].getMany(collection, sideKeys));
        }
        idx.forEach((i, j) => { result[i] = got[j]; });
      }));
    } catch (err) {
      shadowTicket?.cancel();
      validation?.cancel();
      throw err;
    }
    // Shadow comparisons run in the background; validation is part of the read.
    shadowTicket?.deliver(shadowIdx.map((i) => result[i]));
    if (validation) await validation.finish(validateIdx.map((i) => result[i]));
    return result;
  }

  // ---- writes -----------------------------------------------------------------------------------

  private addDivergence(collection: string, key: string, source: Side, target: Side, reason: string): void {
    this.divergences.set(lockKey(collection, key), { collection, key, source, target, reason, at: new Date().toISOString() });
    this.metrics.divergencesPending.set(this.divergences.size);
  }

  /** Groups keys by their write route (a batch may straddle canary/non-canary keys). */
  private groupByRoute<T>(collection: string, items: T[], keyOf: (t: T) => string): { route: Route; items: T[] }[] {
    const router = this.router;
    const groups = new Map<string, { route: Route; items: T[] }>();
    for (const item of items) {
      const route = router.route(collection, String(keyOf(item)));
      const id = `${route.primary}|${route.secondary ?? ''}`;
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { route, items: [] }));
      g.items.push(item);
    }
    return [...groups.values()];
  }

  /**
   * One write to a group of keys with the same route: primary part and secondary part enqueued
   * together (see the module note). Resolves with the primary's result.
   */
  private write<R>(
    collection: string,
    keys: string[],
    route: Route,
    op: 'put' | 'delete',
    primaryPart: (store: Store) => Promise<R>,
    secondaryPart: (store: Store, primaryResult: R) => Promise<void>,
    shape?: (primaryResult: R) => R,
  ): Promise<R> {
    const locks = keys.length === 1 ? [lockKey(collection, keys[0]!)] : keys.map((k) => lockKey(collection, k));
    const primary = route.primary;
    this.metrics.routed(op, primary, keys.length);
    const p = this.queues.enqueue(primary, locks, () => this.timed(primary, op, () => primaryPart(this.stores[primary]), shape));
    if (!route.secondary) return p;
    const secondary = route.secondary;
    const s = this.queues.enqueue(secondary, locks, () => p.then(
      (primaryResult) => this.secondaryWrite(collection, keys, primary, secondary, op, () => secondaryPart(this.stores[secondary], primaryResult)),
      () => undefined, // Not acknowledged: nothing to copy.
    ));
    if (this.options.ackAfterPrimary) return p;
    // The primary's error reaches the caller at once; its success once the secondary part settled.
    return p.then((r) => s.then(() => r));
  }

  /**
   * The secondary part of a write. Never rejects: a failure, or no answer within
   * `secondaryTimeoutMs` (watched by one timer for all writes, see deadlines.ts), makes the keys
   * divergent, and the queue moves on.
   */
  private secondaryWrite(
    collection: string,
    keys: string[],
    primary: Side,
    secondary: Side,
    op: 'put' | 'delete',
    attempt: () => Promise<void>,
  ): Promise<void> {
    const timeoutMs = this.options.secondaryTimeoutMs ?? 10_000;
    return new Promise<void>((resolve) => {
      const pending: Expiring & { expired: boolean } = {
        deadline: 0,
        slot: -1,
        expired: false,
        expire: () => {
          pending.expired = true;
          for (const key of keys) this.addDivergence(collection, key, primary, secondary, `${op} timed out after ${timeoutMs} ms`);
          this.metrics.error(secondary, op);
          resolve();
        },
      };
      this.secondaryDeadlines.add(pending, timeoutMs);
      this.timed(secondary, op, attempt).then(
        () => {
          // A write that timed out may still land later, out of order: mark the keys again.
          if (pending.expired) for (const key of keys) this.addDivergence(collection, key, primary, secondary, `late ${op}`);
          this.secondaryDeadlines.remove(pending);
          resolve();
        },
        (err: unknown) => {
          this.secondaryDeadlines.remove(pending);
          if (pending.expired) {
            for (const key of keys) this.addDivergence(collection, key, primary, secondary, `late ${op} failed`);
            return;
          }
          for (const key of keys) {
            this.addDivergence(collection, key, primary, secondary, message(err));
            this.recorder.record({ operation: op === 'put' ? 'write' : 'delete', kind: 'write-failed', collection, key, error: message(err) });
          }
          this.reportError(err as Error);
          resolve();
        },
      );
    });
  }

  putMany(collection: string, records: StoredRecord[], options: PutOptions = {}): Promise<PutResult> {
    if (this.closed) return Promise.reject(this.closedError());
    const fixed = this.router.fixed;
    // Fast path: one route for every key, so one write and the primary's result as it is (its
    // rejects in record order, as the routed path returns them).
    if (fixed) {
      return this.putGroup(collection, records, fixed, options, (r) =>
        ({ written: r.written, rejected: inRecordOrder(records, r.rejected) }));
    }
    return this.putManyRouted(collection, records, options);
  }

  private putGroup(
    collection: string,
    records: StoredRecord[],
    route: Route,
    options: PutOptions,
    shape?: (r: PutResult) => PutResult,
  ): Promise<PutResult> {
    return this.write<PutResult>(
      collection,
      records.map((r) => String(r.key)),
      route,
      'put',
      (store) => store.putMany(collection, records, { signal: options.signal }),
      async (store, primaryResult) => {
        let accepted = records;
        if (primaryResult.rejected.length > 0) {
          const refused = new Set(primaryResult.rejected.map((r) => r.key));
          accepted = records.filter((r) => !refused.has(r.key));
        }
        if (accepted.length === 0) return;
        const res = await store.putMany(collection, accepted, { signal: options.signal });
        for (const r of res.rejected) {
          // The secondary cannot hold what the primary holds: not repairable by copying, so it is a
          // discrepancy for people to look at, not a divergence to replay.
          this.recorder.record({ operation: 'write', kind: 'write-rejected', collection, key: String(r.key), error: r.reason });
        }
      },
      shape,
    );
  }

  private async putManyRouted(collection: string, records: StoredRecord[], options: PutOptions): Promise<PutResult> {
    const results = await Promise.all(this.groupByRoute(collection, records, (r) => r.key).map((g) =>
      this.putGroup(collection, g.items, g.route, options)));
    return {
      written: results.reduce((n, r) => n + r.written, 0),
      rejected: inRecordOrder(records, results.flatMap((r) => r.rejected)),
    };
  }

  deleteMany(collection: string, keys: string[]): Promise<number> {
    if (this.closed) return Promise.reject(this.closedError());
    const fixed = this.router.fixed;
    if (fixed) return this.deleteGroup(collection, keys, fixed);
    return Promise.all(this.groupByRoute(collection, keys, (k) => k).map((g) => this.deleteGroup(collection, g.items, g.route)))
      .then((counts) => counts.reduce((a, b) => a + b, 0));
  }

  private deleteGroup(collection: string, keys: string[], route: Route): Promise<number> {
    return this.write<number>(
      collection, keys, route, 'delete',
      (store) => store.deleteMany(collection, keys),
      async (store) => { await store.deleteMany(collection, keys); },
    );
  }

  // ---- divergences ------------------------------------------------------------------------------

  /** Keys whose secondary write failed and that await repair. */
  pendingDivergences(): Divergence[] {
    return [...this.divergences.values()].map((d) => ({ ...d }));
  }

  /** Copies every divergent key source → target, in order with the writes to it. */
  async repairDivergences(): Promise<RepairResult> {
    return this.repairKeys([...this.divergences.keys()]);
  }

  private async repairKeys(locks: string[]): Promise<RepairResult> {
    let repaired = 0;
    let failed = 0;
    await Promise.all(locks.map(async (lock) => {
      if (!this.divergences.has(lock)) return;
      // Queued on both stores: it runs once every earlier write to the key has settled on both, and
      // only then looks up the divergence, whose source is by then the store with the latest
      // acknowledged value (a later failed write may have moved it since the repair was asked for).
      try {
        await this.queues.enqueueOn(SIDES, [lock], async () => {
          const d = this.divergences.get(lock);
          if (!d) return;
          const { collection, key, source, target } = d;
          const [record] = await this.timed(source, 'repair-read', () => this.stores[source].getMany(collection, [key]));
          await this.timed(target, 'repair', async () => {
            if (record) {
              const r = await this.stores[target].putMany(collection, [record]);
              if (r.rejected.length > 0) throw new Error(r.rejected[0]!.reason);
            } else {
              await this.stores[target].deleteMany(collection, [key]);
            }
          });
          if (this.divergences.get(lock) === d) this.divergences.delete(lock);
        });
        repaired++;
      } catch (err) {
        failed++;
        this.reportError(err as Error);
      }
    }));
    this.metrics.divergencesPending.set(this.divergences.size);
    return { repaired, failed, remaining: this.divergences.size };
  }

  // ---- reporting --------------------------------------------------------------------------------

  discrepancyReport(): DiscrepancyReport {
    return this.recorder.report();
  }

  /** Prometheus exposition text, ready to serve at /metrics. */
  metricsText(): Promise<string> {
    return this.metrics.text();
  }

  // ---- application-facing API: JavaScript values ------------------------------------------------

  async get(collection: string, key: string): Promise<unknown> {
    const [record] = await this.getMany(collection, [key]);
    return record ? decodeValue(record.value) : undefined;
  }

  /** Values for the keys (undefined where absent), decoded like `get`. */
  async getValues(collection: string, keys: string[]): Promise<unknown[]> {
    const records = await this.getMany(collection, keys);
    return records.map((r) => (r ? decodeValue(r.value) : undefined));
  }

  /** Stores a JavaScript value (bytes stay bytes); throws RecordRejected if the primary refuses it. */
  async put(collection: string, key: string, value: unknown): Promise<void> {
    const res = await this.putMany(collection, [{ key, value: encodeValue(value) }]);
    if (res.rejected.length > 0) throw new RecordRejected(res.rejected[0]!);
  }

  async delete(collection: string, key: string): Promise<boolean> {
    return (await this.deleteMany(collection, [key])) > 0;
  }
}

export function createDualStore(options: DualStoreOptions): DualStore {
  return new DualStore(options);
}
