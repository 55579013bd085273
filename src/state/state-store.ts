/**
 * Migration state: what a migration is (its plan and options), where every unit stands (checkpoint
 * cursor and counters) and what happened (audit log). Kept in SQLite, `.cutover/state.db` by default.
 *
 * Invariants:
 * - A unit's cursor is written only after the batch it covers is committed in the target, so the
 *   state never claims more than the target holds. (A transactional target also keeps its own
 *   checkpoint in the same transaction as the batch; the engine prefers that one on resume.)
 * - Control requests (pause) are rows another process writes; the running engine polls them.
 * - WAL + busy_timeout let `cutover status` and `cutover pause` read and write while a migration runs.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigurationError } from '../core/errors.js';

export type MigrationStatus = 'running' | 'paused' | 'completed' | 'failed';
export type UnitStatus = 'pending' | 'running' | 'done' | 'failed';

export interface MigrationRow {
  id: string;
  source: string;
  target: string;
  options: string;
  status: MigrationStatus;
  control: string | null;
  pid: number | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
}

export interface UnitCounters {
  read: number;
  written: number;
  rejected: number;
  retries: number;
  bytes: number;
}

export interface UnitRow extends UnitCounters {
  migrationId: string;
  unit: string;
  collection: string;
  rangeAfter: string | null;
  rangeUntil: string | null;
  cursor: string | null;
  status: UnitStatus;
  total: number | null;
  /** The target collection was empty when the migration was planned (enables bulk load). */
  fresh: boolean;
  elapsedMs: number;
  updatedAt: string;
  error: string | null;
}

export interface AuditRow {
  at: string;
  migrationId: string | null;
  event: string;
  detail: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS migrations (
  id TEXT PRIMARY KEY, source TEXT NOT NULL, target TEXT NOT NULL, options TEXT NOT NULL,
  status TEXT NOT NULL, control TEXT, pid INTEGER,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, error TEXT
);
CREATE TABLE IF NOT EXISTS units (
  migration_id TEXT NOT NULL, unit TEXT NOT NULL, collection TEXT NOT NULL,
  range_after TEXT, range_until TEXT, cursor TEXT, status TEXT NOT NULL, total INTEGER, fresh INTEGER NOT NULL DEFAULT 0,
  read INTEGER NOT NULL DEFAULT 0, written INTEGER NOT NULL DEFAULT 0, rejected INTEGER NOT NULL DEFAULT 0,
  retries INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0, elapsed_ms INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL, error TEXT,
  PRIMARY KEY (migration_id, unit)
);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, migration_id TEXT, event TEXT NOT NULL, detail TEXT
);
`;

const now = () => new Date().toISOString();

function toMigration(r: Record<string, unknown>): MigrationRow {
  return {
    id: r.id as string,
    source: r.source as string,
    target: r.target as string,
    options: r.options as string,
    status: r.status as MigrationStatus,
    control: (r.control as string | null) ?? null,
    pid: (r.pid as number | null) ?? null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    startedAt: (r.started_at as string | null) ?? null,
    finishedAt: (r.finished_at as string | null) ?? null,
    error: (r.error as string | null) ?? null,
  };
}

function toUnit(r: Record<string, unknown>): UnitRow {
  return {
    migrationId: r.migration_id as string,
    unit: r.unit as string,
    collection: r.collection as string,
    rangeAfter: (r.range_after as string | null) ?? null,
    rangeUntil: (r.range_until as string | null) ?? null,
    cursor: (r.cursor as string | null) ?? null,
    status: r.status as UnitStatus,
    total: (r.total as number | null) ?? null,
    fresh: r.fresh === 1,
    read: r.read as number,
    written: r.written as number,
    rejected: r.rejected as number,
    retries: r.retries as number,
    bytes: r.bytes as number,
    elapsedMs: r.elapsed_ms as number,
    updatedAt: r.updated_at as string,
    error: (r.error as string | null) ?? null,
  };
}

/** `--state` accepts a path or `sqlite:<path>`; the default is `.cutover/state.db` in the working directory. */
export function resolveStatePath(state?: string): string {
  if (!state) return resolve('.cutover', 'state.db');
  if (state.startsWith('sqlite:')) return resolve(state.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, ''));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(state)) {
    throw new ConfigurationError(`--state must be a SQLite path or sqlite:<path>, got "${state}"`);
  }
  return resolve(state);
}

export class StateStore {
  readonly path: string;
  private readonly db: Database.Database;

  constructor(path: string) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new Database(path);
    } catch (cause) {
      throw new ConfigurationError(`cannot open the state database ${path} (${(cause as Error).message}); check the --state path and its permissions`, { cause });
    }
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives process crashes; a power cut may drop the last few transactions.
    // That is safe here because the state may lag the target but never lead it: checkpoints are written
    // after the target commits, so a lost one only means a batch is upserted again (and transactional
    // targets keep their own checkpoint anyway). FULL would fsync on every batch for no gain.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(SCHEMA);
  }

  /** Folder for a migration's files (rejects), beside the state database. */
  migrationDir(id: string): string {
    return resolve(dirname(this.path), id);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  getMigration(id: string): MigrationRow | undefined {
    const r = this.db.prepare('SELECT * FROM migrations WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? toMigration(r) : undefined;
  }

  /** Migrations newest first; a prefix of an id finds it too. */
  listMigrations(idPrefix?: string): MigrationRow[] {
    const rows = idPrefix
      ? this.db.prepare("SELECT * FROM migrations WHERE id = ? OR id LIKE ? || '%' ORDER BY created_at DESC").all(idPrefix, idPrefix)
      : this.db.prepare('SELECT * FROM migrations ORDER BY created_at DESC').all();
    return (rows as Record<string, unknown>[]).map(toMigration);
  }

  createMigration(m: { id: string; source: string; target: string; options: string }): void {
    const t = now();
    this.db
      .prepare(`INSERT INTO migrations (id, source, target, options, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'running', ?, ?)`)
      .run(m.id, m.source, m.target, m.options, t, t);
  }

  /** Forgets a migration's units so it starts over (`--restart`). */
  resetMigration(id: string, options: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM units WHERE migration_id = ?').run(id);
      this.db
        .prepare(`UPDATE migrations SET options = ?, status = 'running', control = NULL, error = NULL, started_at = NULL, finished_at = NULL, updated_at = ? WHERE id = ?`)
        .run(options, now(), id);
    })();
  }

  markStarted(id: string, pid: number): void {
    this.db
      .prepare(`UPDATE migrations SET status = 'running', control = NULL, pid = ?, error = NULL, started_at = COALESCE(started_at, ?), updated_at = ? WHERE id = ?`)
      .run(pid, now(), now(), id);
  }

  setStatus(id: string, status: MigrationStatus, error?: string | null): void {
    const finished = status === 'completed' || status === 'failed' ? now() : null;
    this.db
      .prepare(`UPDATE migrations SET status = ?, error = ?, control = NULL, pid = NULL, finished_at = ?, updated_at = ? WHERE id = ?`)
      .run(status, error ?? null, finished, now(), id);
  }

  requestPause(id: string): boolean {
    const r = this.db.prepare(`UPDATE migrations SET control = 'pause', updated_at = ? WHERE id = ? AND status = 'running'`).run(now(), id);
    return r.changes > 0;
  }

  controlOf(id: string): string | null {
    const r = this.db.prepare('SELECT control FROM migrations WHERE id = ?').get(id) as { control: string | null } | undefined;
    return r?.control ?? null;
  }

  units(id: string): UnitRow[] {
    return (this.db.prepare('SELECT * FROM units WHERE migration_id = ? ORDER BY unit').all(id) as Record<string, unknown>[]).map(toUnit);
  }

  /** Records the whole plan at once: a kill while planning leaves no units, so the next run plans again. */
  addUnits(units: { migrationId: string; unit: string; collection: string; rangeAfter: string | null; rangeUntil: string | null; total: number | null; fresh: boolean }[]): void {
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO units (migration_id, unit, collection, range_after, range_until, status, total, fresh, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const u of units) insert.run(u.migrationId, u.unit, u.collection, u.rangeAfter, u.rangeUntil, u.total, u.fresh ? 1 : 0, now());
    })();
  }

  /** Records a committed batch: cursor and counters together, in one transaction. */
  checkpoint(migrationId: string, unit: string, cursor: string, counters: UnitCounters, elapsedMs: number): void {
    this.db
      .prepare(`UPDATE units SET cursor = ?, status = 'running', read = ?, written = ?, rejected = ?, retries = ?, bytes = ?, elapsed_ms = ?, updated_at = ? WHERE migration_id = ? AND unit = ?`)
      .run(cursor, counters.read, counters.written, counters.rejected, counters.retries, counters.bytes, Math.round(elapsedMs), now(), migrationId, unit);
  }

  setUnitStatus(migrationId: string, unit: string, status: UnitStatus, error?: string | null, counters?: UnitCounters, elapsedMs?: number): void {
    if (counters) {
      this.db
        .prepare(`UPDATE units SET status = ?, error = ?, read = ?, written = ?, rejected = ?, retries = ?, bytes = ?, elapsed_ms = ?, updated_at = ? WHERE migration_id = ? AND unit = ?`)
        .run(status, error ?? null, counters.read, counters.written, counters.rejected, counters.retries, counters.bytes, Math.round(elapsedMs ?? 0), now(), migrationId, unit);
    } else {
      this.db.prepare(`UPDATE units SET status = ?, error = ?, updated_at = ? WHERE migration_id = ? AND unit = ?`).run(status, error ?? null, now(), migrationId, unit);
    }
  }

  audit(migrationId: string | null, event: string, detail?: unknown): void {
    this.db
      .prepare('INSERT INTO audit (at, migration_id, event, detail) VALUES (?, ?, ?, ?)')
      .run(now(), migrationId, event, detail === undefined ? null : JSON.stringify(detail));
  }

  auditLog(migrationId?: string, limit = 100): AuditRow[] {
    const rows = migrationId
      ? this.db.prepare('SELECT * FROM audit WHERE migration_id = ? ORDER BY seq DESC LIMIT ?').all(migrationId, limit)
      : this.db.prepare('SELECT * FROM audit ORDER BY seq DESC LIMIT ?').all(limit);
    return (rows as Record<string, unknown>[]).map((r) => ({
      at: r.at as string,
      migrationId: (r.migration_id as string | null) ?? null,
      event: r.event as string,
      detail: (r.detail as string | null) ?? null,
    }));
  }
}

export function openStateStore(state?: string): StateStore {
  return new StateStore(resolveStatePath(state));
}
