/** The end-of-run summary a person reads: one row per unit, totals, where the rejects went. */
import type { MigrationResult } from '../engine/migrate.js';
import { formatBytes, formatCount } from './numbers.js';
import { formatDuration } from './progress.js';
import { renderTable } from './table.js';

export function renderSummary(result: MigrationResult): string {
  if (result.status === 'dry-run') return renderDryRun(result);
  const rows = result.units.map((u) => [
    u.unit, u.status, formatCount(u.read), formatCount(u.written), formatCount(u.rejected), formatCount(u.retries),
    formatDuration(u.elapsedMs / 1000), formatCount(u.elapsedMs > 0 ? (u.read / u.elapsedMs) * 1000 : 0),
  ]);
  const t = result.totals;
  let out = `\nMigration ${result.id}: ${result.status}${result.resumed ? ' (resumed)' : ''}\n`;
  out += `  from ${result.source}\n  to   ${result.target}\n\n`;
  out += renderTable(['unit', 'status', 'read', 'written', 'rejected', 'retries', 'duration', 'records/s'], rows);
  out += `\n  total: ${formatCount(t.read)} read, ${formatCount(t.written)} written, ${formatCount(t.rejected)} rejected, ${formatCount(t.retries)} retries, ${formatBytes(t.bytes)}\n`;
  out += `  this run: ${formatDuration(result.durationMs / 1000)}, ${formatCount(result.recordsPerSecond)} records/s, peak memory ${formatBytes(result.peakRssBytes)}\n`;
  if (result.rejectsTotal > 0) out += `  rejects: ${formatCount(result.rejectsTotal)} record(s) in ${result.rejectsFile}\n`;
  if (result.status === 'paused') out += `  paused: run the same command again, or "cutover resume ${result.id}", to continue\n`;
  if (result.status === 'failed') out += `  failed: ${result.error}\n  fix the cause, then "cutover resume ${result.id}" continues from the last checkpoint\n`;
  if (result.status === 'already-completed') out += `  already completed earlier; pass --restart to copy again from the start\n`;
  return out;
}

function renderDryRun(result: MigrationResult): string {
  const plan = result.plan ?? [];
  let out = `\nDry run of migration ${result.id} (nothing written)\n  from ${result.source}\n  to   ${result.target}\n\n`;
  out += renderTable(
    ['collection', 'records', 'bytes', 'in target now', 'target action', 'key ranges'],
    plan.map((p) => [p.collection, formatCount(p.records), p.bytes === null ? '?' : formatBytes(p.bytes), p.targetExists ? formatCount(p.targetRecords) : '-', p.targetExists ? (p.targetRecords > 0 ? 'upsert into existing' : 'load into empty') : 'create', String(p.ranges ?? 1)]),
  );
  const total = plan.reduce((n, p) => n + p.records, 0);
  out += `\n  ${formatCount(total)} records, ${formatBytes(result.totals.bytes)} in ${plan.length} collection(s)\n`;
  if (result.estimate) {
    out += `  estimated time: ${formatDuration(result.estimate.estimatedSeconds)} (${result.estimate.basis})\n`;
  }
  if (result.error) out += `  note: ${result.error}\n`;
  return out;
}
