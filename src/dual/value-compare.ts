/**
 * Comparing what the two stores returned for one key. Equality is core `sameValue` (canonical JSON:
 * key order and number spelling do not count); the structural diff is for people reading a report.
 */
import { sameValue } from '../core/canonical.js';
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

function short(v: unknown): string {
  const text = v === undefined ? '(absent)' : JSON.stringify(v);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/** Where two values differ, up to `limit` entries (objects by member, arrays by index). */
export function structuralDiff(a: RecordValue | undefined, b: RecordValue | undefined, limit = 20): DiffEntry[] {
  if (a === undefined || b === undefined || typeof a !== 'string' || typeof b !== 'string') {
    return [{ path: '$', old: showValue(a) ?? '(absent)', new: showValue(b) ?? '(absent)' }];
  }
  let x: unknown;
  let y: unknown;
  try {
    x = JSON.parse(a);
    y = JSON.parse(b);
  } catch {
    return [{ path: '$', old: showValue(a)!, new: showValue(b)! }];
  }
  const out: DiffEntry[] = [];
  walk(x, y, '$', out, limit);
  // Parsed doubles may hide a difference sameValue saw (2^53+1 vs 2^53): show the whole values then.
  if (out.length === 0) out.push({ path: '$', old: showValue(a)!, new: showValue(b)! });
  return out;
}

function walk(x: unknown, y: unknown, path: string, out: DiffEntry[], limit: number): void {
  if (out.length >= limit) return;
  const bothObjects = x !== null && y !== null && typeof x === 'object' && typeof y === 'object';
  if (bothObjects && Array.isArray(x) === Array.isArray(y)) {
    if (Array.isArray(x)) {
      const ya = y as unknown[];
      for (let i = 0; i < Math.max(x.length, ya.length); i++) walk(x[i], ya[i], `${path}[${i}]`, out, limit);
      return;
    }
    const xo = x as Record<string, unknown>;
    const yo = y as Record<string, unknown>;
    const names = new Set([...Object.keys(xo), ...Object.keys(yo)]);
    for (const name of [...names].sort()) {
      const sub = /^[A-Za-z_$][\w$]*$/.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`;
      walk(Object.hasOwn(xo, name) ? xo[name] : undefined, Object.hasOwn(yo, name) ? yo[name] : undefined, sub, out, limit);
    }
    return;
  }
  if (x === y) return;
  out.push({ path, old: short(x), new: short(y) });
}
