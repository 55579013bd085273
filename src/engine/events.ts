/** What the engine tells its observers (progress bars, NDJSON on stderr, tests). */
import type { RejectInfo } from '../core/errors.js';

export interface UnitProgress {
  migrationId: string;
  unit: string;
  collection: string;
  read: number;
  written: number;
  rejected: number;
  retries: number;
  bytes: number;
  /** Records expected in the unit, when known. */
  total: number | null;
  /** Records per second over this run. */
  rate: number;
  /** Seconds left at the current rate, when the total is known. */
  etaSeconds: number | null;
}

export type MigrationEvent =
  | { type: 'plan'; migrationId: string; units: { unit: string; collection: string; total: number | null; done: boolean }[]; resumed: boolean }
  | { type: 'unit-start'; migrationId: string; unit: string; collection: string; cursor: string | null; mode: 'upsert' | 'load' }
  | ({ type: 'progress' } & UnitProgress)
  | ({ type: 'unit-done'; status: 'done' | 'paused' | 'failed'; error?: string } & UnitProgress)
  | { type: 'retry'; migrationId: string; unit: string; attempt: number; error: string }
  | { type: 'reject'; migrationId: string; unit: string; reject: RejectInfo }
  | { type: 'verify'; migrationId: string; ok: boolean; summary: string };

export type EventListener = (event: MigrationEvent) => void;
