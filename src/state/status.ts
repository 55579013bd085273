/** `cutover status`: what the state store knows, as a result object. */
import { processAlive } from './process-alive.js';
import { openStateStore, type MigrationRow, type UnitRow } from './state-store.js';

export interface UnitStatusView {
  unit: string;
  collection: string;
  status: string;
  read: number;
  written: number;
  rejected: number;
  retries: number;
  total: number | null;
  percent: number | null;
  rate: number;
  etaSeconds: number | null;
  cursor: string | null;
  updatedAt: string;
  error: string | null;
}

export interface MigrationStatusView {
  id: string;
  status: string;
  source: string;
  target: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** A running migration whose process is gone crashed: resuming it is safe. */
  stale: boolean;
  pauseRequested: boolean;
  error: string | null;
  units: UnitStatusView[];
  totals: { read: number; written: number; rejected: number; total: number | null };
  recentEvents: { at: string; event: string; detail: string | null }[];
}

export interface StatusOptions {
  id?: string;
  state?: string;
}

export async function status(options: StatusOptions = {}): Promise<{ statePath: string; migrations: MigrationStatusView[] }> {
  const state = openStateStore(options.state);
  try {
    const rows = state.listMigrations(options.id);
    return {
      statePath: state.path,
      migrations: rows.map((m) => view(m, state.units(m.id), options.id ? state.auditLog(m.id, 10) : [])),
    };
  } finally {
    state.close();
  }
}

function view(m: MigrationRow, units: UnitRow[], audit: { at: string; event: string; detail: string | null }[]): MigrationStatusView {
  const unitViews = units.map((u): UnitStatusView => {
    const rate = u.elapsedMs > 0 ? (u.read / u.elapsedMs) * 1000 : 0;
    const left = u.total !== null ? Math.max(0, u.total - u.read) : null;
    return {
      unit: u.unit, collection: u.collection, status: u.status, read: u.read, written: u.written, rejected: u.rejected,
      retries: u.retries, total: u.total,
      percent: u.status === 'done' ? 100 : u.total ? Math.min(100, (u.read / u.total) * 100) : null,
      rate, etaSeconds: u.status === 'done' ? 0 : left !== null && rate > 0 ? left / rate : null,
      cursor: u.cursor, updatedAt: u.updatedAt, error: u.error,
    };
  });
  const known = units.every((u) => u.total !== null);
  return {
    id: m.id, status: m.status, source: m.source, target: m.target, createdAt: m.createdAt, updatedAt: m.updatedAt,
    finishedAt: m.finishedAt, stale: m.status === 'running' && (m.pid === null || !processAlive(m.pid)), pauseRequested: m.control === 'pause',
    error: m.error, units: unitViews,
    totals: {
      read: units.reduce((n, u) => n + u.read, 0),
      written: units.reduce((n, u) => n + u.written, 0),
      rejected: units.reduce((n, u) => n + u.rejected, 0),
      total: known ? units.reduce((n, u) => n + (u.total ?? 0), 0) : null,
    },
    recentEvents: audit.map((a) => ({ at: a.at, event: a.event, detail: a.detail })),
  };
}
