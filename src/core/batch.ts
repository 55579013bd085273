import type { RejectInfo } from './errors.js';
import { collectionNameProblem, isPlainLine, keyProblem, type StoredRecord } from './record.js';
import { ConfigurationError } from './errors.js';

/**
 * Splits a batch into records a backend can take and rejects with reasons. `extra` adds backend
 * rules (e.g. PostgreSQL cannot hold \u0000 in jsonb). Invalid keys are always rejected here so that
 * no backend has to remember to.
 */
export function partitionRecords(
  collection: string,
  records: StoredRecord[],
  location: string,
  extra?: (record: StoredRecord) => string | null,
): { accepted: StoredRecord[]; rejected: RejectInfo[] } {
  const accepted: StoredRecord[] = [];
  const rejected: RejectInfo[] = [];
  for (const record of records) {
    const reason = keyProblem(record.key) ?? valueProblem(record) ?? (extra ? extra(record) : null);
    if (reason) rejected.push({ collection, key: typeof record.key === 'string' ? record.key : null, location, reason });
    else accepted.push(record);
  }
  return { accepted, rejected };
}

/** A JSON text with a lone surrogate has no UTF-8 form, so no backend can hold it exactly. */
function valueProblem(record: StoredRecord): string | null {
  // Valid UTF-8 by construction: no lone surrogate, and no string to make of it here.
  if (isPlainLine(record)) return null;
  const v = record.value;
  if (typeof v === 'string') {
    if (!v.isWellFormed()) return 'value contains a lone UTF-16 surrogate, which has no UTF-8 form; escape it as \\uXXXX in the JSON text';
    return null;
  }
  if (!(v instanceof Uint8Array)) return `value must be JSON text or bytes, got ${v === null ? 'null' : typeof v}`;
  return null;
}

export function assertCollectionName(name: string, backend: string): void {
  const problem = collectionNameProblem(name);
  if (problem) throw new ConfigurationError(`[${backend}] ${problem}`);
}

/** Keeps the last record per key, in first-seen order: a batch may carry a key twice (logs, SCAN). */
export function lastWins(records: StoredRecord[]): StoredRecord[] {
  if (records.length < 2) return records;
  // Keys in strictly ascending order (any one order will do) are distinct: ordered sources skip the map.
  let ascending = true;
  for (let i = 1; ascending && i < records.length; i++) ascending = records[i - 1]!.key < records[i]!.key;
  if (ascending) return records;
  const seen = new Map<string, number>();
  for (let i = 0; i < records.length; i++) seen.set(records[i]!.key, i);
  if (seen.size === records.length) return records;
  const out: StoredRecord[] = [];
  for (let i = 0; i < records.length; i++) if (seen.get(records[i]!.key) === i) out.push(records[i]!);
  return out;
}
