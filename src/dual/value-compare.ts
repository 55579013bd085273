/**
 * Comparing what the two stores returned for one key. Equality is core `sameValue` (canonical JSON:
 * key order and number spelling do not count); the structural diff is for people reading a report.
 */
import { sameValue } from '../core/canonical.js';
import { diffValues } from '../verify/diff-json.js';
import type { RecordValue, StoredRecord } from '../core/record.js';

export type DiscrepancyKind = 'missing-in-new' | 'missing-in-old' | 'value-differs' | 'write-failed' | 'write-rejected';

export interface DiffEntry {
  /** JSONPath-like location, `$` for the whole value. */
  path: string;
  old: string;
  new: string;
}

/** null when equal, otherwise the kind of difference. */
export function compareRecords(oldRecord: StoredRecord | undefined, newRecord: StoredRecord | undefined): DiscrepancyKind | null {
  if (!oldRecord && !newRecord) return null;
  if (!newRecord) return 'missing-in-new';
  if (!oldRecord) return 'missing-in-old';
  return sameValue(oldRecord.value, newRecord.value) ? null : 'value-differs';
}

const MAX_SHOWN = 200;

/** A value as a short human string: JSON text, or bytes as base64. */
export function showValue(value: RecordValue | undefined): string | null {
  if (value === undefined) return null;
  const text = typeof value === 'string' ? value : `base64:${Buffer.from(value).toString('base64')}`;
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}… (${text.length} chars)` : text;
}

/**
 * Paths that differ, old → new, for a discrepancy example: verify's structural diff (diff-json.ts),
 * which keeps numbers exact, so 2^53+1 against 2^53 shows where it is.
 */
export function structuralDiff(a: RecordValue | undefined, b: RecordValue | undefined, limit = 20): DiffEntry[] {
  if (a === undefined || b === undefined || typeof a !== 'string' || typeof b !== 'string') {
    return [{ path: '$', old: showValue(a) ?? '(absent)', new: showValue(b) ?? '(absent)' }];
  }
  const out = diffValues(a, b).slice(0, limit).map((c) => ({ path: c.path, old: c.old ?? '(absent)', new: c.new ?? '(absent)' }));
  if (out.length === 0) out.push({ path: '$', old: showValue(a)!, new: showValue(b)! });
  return out;
}
