/**
 * Flags in the SQLite state database (`.cutover/state.db` by default), table `dual_flags`: one row
 * with the flags as JSON and a version counter that every write increments. Running instances poll
 * the version (a primary-key lookup, microseconds) every 500 ms and read the flags only when it
 * changed. WAL and busy_timeout let `cutover route` write while applications read.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigurationError } from '../core/errors.js';
import { FlagHolder, type FlagSourceOptions } from './flags.js';
import { DEFAULT_FLAGS, parseFlags, type DualFlags, type DualFlagsInput } from './modes.js';

export const DEFAULT_STATE_PATH = '.cutover/state.db';

export interface SqliteFlagsOptions extends FlagSourceOptions {
  /** Poll the version counter this often. @default 500 */
  pollMs?: number;
}

export interface StoredFlags {
  version: number;
  updatedAt: string;
  flags: DualFlags;
}

/** Opens the state database with the settings every reader and writer uses. */
export function openStateDb(path: string = DEFAULT_STATE_PATH, readonly = false): Database.Database {
  if (!readonly) mkdirSync(dirname(resolve(path)), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly });
  } catch (err) {
    throw new ConfigurationError(`cannot open the state database ${path} (${(err as Error).message}); check the --state path`, { cause: err });
  }
  db.pragma('busy_timeout = 5000');
  if (!readonly) db.pragma('journal_mode = WAL');
  return db;
}

function ensureTable(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS dual_flags (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    flags TEXT NOT NULL,
    updated_at TEXT NOT NULL
  )`);
}

function readRow(db: Database.Database): { version: number; flags: string; updated_at: string } | undefined {
  return db.prepare('SELECT version, flags, updated_at FROM dual_flags WHERE id = 1').get() as
    | { version: number; flags: string; updated_at: string }
    | undefined;
}

/** The flags stored in the state database, validated; null when none were ever written. */
export function readSqliteFlags(path: string = DEFAULT_STATE_PATH): StoredFlags | null {
  const db = openStateDb(path);
  try {
    ensureTable(db);
    const row = readRow(db);
    if (!row) return null;
    return { version: row.version, updatedAt: row.updated_at, flags: parseFlags(JSON.parse(row.flags), `${path} table dual_flags`) };
  } finally {
    db.close();
  }
}

/** Validates and stores flags, incrementing the version so every instance picks them up. */
export function writeSqliteFlags(path: string, input: DualFlagsInput): StoredFlags {
  const flags = parseFlags(input, 'the new flags');
  const db = openStateDb(path);
  try {
    ensureTable(db);
    const at = new Date().toISOString();
    db.prepare(`INSERT INTO dual_flags (id, version, flags, updated_at) VALUES (1, 1, ?, ?)
      ON CONFLICT (id) DO UPDATE SET version = version + 1, flags = excluded.flags, updated_at = excluded.updated_at`)
      .run(JSON.stringify(flags), at);
    const row = readRow(db)!;
    return { version: row.version, updatedAt: row.updated_at, flags };
  } finally {
    db.close();
  }
}

export class SqliteFlags extends FlagHolder {
  private readonly db: Database.Database;
  private readonly versionStmt: Database.Statement;
  private version = 0;
  private poller: NodeJS.Timeout;

  constructor(readonly path: string = DEFAULT_STATE_PATH, options: SqliteFlagsOptions & { initial?: DualFlagsInput } = {}) {
    super(options.initial ? parseFlags(options.initial, 'initial flags') : DEFAULT_FLAGS, options.onError);
    this.db = openStateDb(path);
    ensureTable(this.db);
    this.versionStmt = this.db.prepare('SELECT version FROM dual_flags WHERE id = 1').pluck();
    this.poll();
    this.poller = setInterval(() => this.poll(), options.pollMs ?? 500);
    this.poller.unref();
  }

  /** Checks the version now and applies new flags when it changed. */
  poll(): void {
    let version: number | undefined;
    try {
      version = this.versionStmt.get() as number | undefined;
    } catch (err) {
      this.onError(new ConfigurationError(`cannot read flags from ${this.path} (${(err as Error).message})`, { cause: err }));
      return;
    }
    if (version === undefined || version === this.version) return;
    this.version = version;
    const row = readRow(this.db);
    if (!row) return;
    let input: unknown;
    try {
      input = JSON.parse(row.flags);
    } catch (err) {
      this.onError(new ConfigurationError(`flags in ${this.path} table dual_flags are not JSON (${(err as Error).message}); rewrite them with \`cutover route\``));
      return;
    }
    this.offer(input, `${this.path} table dual_flags (version ${version})`);
  }

  override async close(): Promise<void> {
    clearInterval(this.poller);
    this.db.close();
    await super.close();
  }
}

/** Watches the flags in a state database; starts from `initial` (default old-only) until a row exists. */
export function watchSqliteFlags(path?: string, options?: SqliteFlagsOptions & { initial?: DualFlagsInput }): SqliteFlags {
  return new SqliteFlags(path, options);
}
