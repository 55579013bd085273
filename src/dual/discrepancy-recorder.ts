/**
 * Records what the dual store found different between the stores: counts by operation, collection
 * and kind, and a bounded sample of examples (key, both values, structural diff). Optionally
 * persists to the state database (table `dual_discrepancies`, capped, plus running totals in
 * `dual_discrepancy_counts`) so `cutover discrepancies` can show them from another process.
 * Persistence is buffered and flushed on a timer, off the request path.
 */
import type Database from 'better-sqlite3';
import type { RecordValue } from '../core/record.js';
import { openStateDb } from './flags-sqlite.js';
import { showValue, structuralDiff, type DiffEntry, type DiscrepancyKind } from './value-compare.js';

export type DiscrepancyOperation = 'read' | 'shadow-read' | 'write' | 'delete' | 'repair';

export interface DiscrepancyInput {
  operation: DiscrepancyOperation;
  kind: DiscrepancyKind;
  collection: string;
  key: string;
  old?: RecordValue | undefined;
  new?: RecordValue | undefined;
  /** For failed writes: the error message. */
  error?: string;
}

export interface DiscrepancyExample {
  at: string;
  operation: DiscrepancyOperation;
  kind: DiscrepancyKind;
  collection: string;
  key: string;
  old: string | null;
  new: string | null;
  diff: DiffEntry[];
  error?: string;
}

export interface DiscrepancyReport {
  total: number;
  byOperation: Record<string, number>;
  byCollection: Record<string, number>;
  byKind: Record<string, number>;
  examples: DiscrepancyExample[];
}

export interface DiscrepancyRecorderOptions {
  /** Examples kept in memory (oldest dropped). @default 100 */
  maxExamples?: number;
  /** Persist to this state database (e.g. `.cutover/state.db`). */
  statePath?: string;
  /** Rows kept in `dual_discrepancies`; older ones are deleted. @default 1000 */
  persistCap?: number;
  /** Flush buffered rows this often. @default 250 */
  flushMs?: number;
  /** Persistence problems (never thrown into the request path). */
  onError?: (error: Error) => void;
  /** Called for every discrepancy (metrics hook). */
  onRecord?: (input: DiscrepancyInput) => void;
}

function bump(map: Record<string, number>, name: string): void {
  map[name] = (map[name] ?? 0) + 1;
}

export function ensureDiscrepancyTables(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS dual_discrepancies (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at TEXT NOT NULL, operation TEXT NOT NULL, kind TEXT NOT NULL,
      collection TEXT NOT NULL, key TEXT NOT NULL,
      old_value TEXT, new_value TEXT, diff TEXT NOT NULL, error TEXT
    );
    CREATE TABLE IF NOT EXISTS dual_discrepancy_counts (
      operation TEXT NOT NULL, collection TEXT NOT NULL, kind TEXT NOT NULL, count INTEGER NOT NULL,
      PRIMARY KEY (operation, collection, kind)
    );`);
}

export class DiscrepancyRecorder {
  private total = 0;
  private byOperation: Record<string, number> = {};
  private byCollection: Record<string, number> = {};
  private byKind: Record<string, number> = {};
  private examples: DiscrepancyExample[] = [];
  private pending: DiscrepancyExample[] = [];
  private db: Database.Database | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: DiscrepancyRecorderOptions = {}) {
    if (options.statePath) {
      this.db = openStateDb(options.statePath);
      ensureDiscrepancyTables(this.db);
      this.timer = setInterval(() => this.flush(), options.flushMs ?? 250);
      this.timer.unref();
    }
  }

  record(input: DiscrepancyInput): void {
    this.total++;
    bump(this.byOperation, input.operation);
    bump(this.byCollection, input.collection);
    bump(this.byKind, input.kind);
    const example: DiscrepancyExample = {
      at: new Date().toISOString(),
      operation: input.operation,
      kind: input.kind,
      collection: input.collection,
      key: input.key,
      old: showValue(input.old),
      new: showValue(input.new),
      diff: input.kind === 'value-differs' ? structuralDiff(input.old, input.new) : [],
      ...(input.error ? { error: input.error } : {}),
    };
    this.examples.push(example);
    const max = this.options.maxExamples ?? 100;
    if (this.examples.length > max) this.examples.splice(0, this.examples.length - max);
    if (this.db) {
      this.pending.push(example);
      // A burst should not grow the buffer without bound: the cap is all that would be kept anyway.
      const cap = this.options.persistCap ?? 1000;
      if (this.pending.length > cap * 2) this.pending.splice(0, this.pending.length - cap);
    }
    try {
      this.options.onRecord?.(input);
    } catch (err) {
      this.options.onError?.(err as Error);
    }
  }

  report(): DiscrepancyReport {
    return {
      total: this.total,
      byOperation: { ...this.byOperation },
      byCollection: { ...this.byCollection },
      byKind: { ...this.byKind },
      examples: this.examples.map((e) => ({ ...e })),
    };
  }

  reset(): void {
    this.total = 0;
    this.byOperation = {};
    this.byCollection = {};
    this.byKind = {};
    this.examples = [];
  }

  /** Writes buffered examples and counts to the state database. */
  flush(): void {
    if (!this.db || this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    const db = this.db;
    try {
      const insert = db.prepare(`INSERT INTO dual_discrepancies (at, operation, kind, collection, key, old_value, new_value, diff, error)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      const count = db.prepare(`INSERT INTO dual_discrepancy_counts (operation, collection, kind, count) VALUES (?, ?, ?, 1)
        ON CONFLICT (operation, collection, kind) DO UPDATE SET count = count + 1`);
      const cap = this.options.persistCap ?? 1000;
      db.transaction(() => {
        for (const r of rows) {
          insert.run(r.at, r.operation, r.kind, r.collection, r.key, r.old, r.new, JSON.stringify(r.diff), r.error ?? null);
          count.run(r.operation, r.collection, r.kind);
        }
        db.prepare('DELETE FROM dual_discrepancies WHERE id <= (SELECT MAX(id) FROM dual_discrepancies) - ?').run(cap);
      })();
    } catch (err) {
      this.options.onError?.(err as Error);
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.flush();
    this.db?.close();
    this.db = null;
  }
}

/** What `cutover discrepancies` shows: persisted totals and the latest examples. */
export function readPersistedDiscrepancies(statePath: string, limit = 50): DiscrepancyReport {
  const db = openStateDb(statePath);
  try {
    ensureDiscrepancyTables(db);
    const report: DiscrepancyReport = { total: 0, byOperation: {}, byCollection: {}, byKind: {}, examples: [] };
    const counts = db.prepare('SELECT operation, collection, kind, count FROM dual_discrepancy_counts').all() as
      { operation: string; collection: string; kind: string; count: number }[];
    for (const c of counts) {
      report.total += c.count;
      report.byOperation[c.operation] = (report.byOperation[c.operation] ?? 0) + c.count;
      report.byCollection[c.collection] = (report.byCollection[c.collection] ?? 0) + c.count;
      report.byKind[c.kind] = (report.byKind[c.kind] ?? 0) + c.count;
    }
    const rows = db.prepare('SELECT * FROM dual_discrepancies ORDER BY id DESC LIMIT ?').all(limit) as Record<string, string | null>[];
    report.examples = rows.reverse().map((r) => ({
      at: r.at!,
      operation: r.operation as DiscrepancyOperation,
      kind: r.kind as DiscrepancyKind,
      collection: r.collection!,
      key: r.key!,
      old: r.old_value ?? null,
      new: r.new_value ?? null,
      diff: JSON.parse(r.diff ?? '[]') as DiffEntry[],
      ...(r.error ? { error: r.error } : {}),
    }));
    return report;
  } finally {
    db.close();
  }
}
