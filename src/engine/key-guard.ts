/**
 * Proves, for free, that the keys a unit writes are pairwise distinct: while they arrive in strictly
 * ascending key order, no key can come twice. Ordered sources (SQLite, PostgreSQL, MySQL, a sorted
 * JSONL log) always pass; the first key that is not greater than the one before ends the proof for
 * the rest of the unit, whether or not it is a repeat. Distinct keys let batches stream at once
 * (pipeline.ts): no row lock of one can make another wait. The units of one collection cover disjoint
 * key ranges, so a guard per unit covers the collection.
 */
import type { StoredRecord } from '../core/record.js';
import { compareKeys } from '../core/key-order.js';

export class AscendingKeys {
  private last: string | null = null;
  private holds = true;

  /** Whether every key so far, these included, is greater than the one before it. */
  admit(records: readonly StoredRecord[]): boolean {
    if (!this.holds) return false;
    let last = this.last;
    for (const { key } of records) {
      // One order only (UTF-8 byte order, the sources' own): mixing two could admit a, b, a.
      if (last !== null && compareKeys(key, last) <= 0) return (this.holds = false);
      last = key;
    }
    this.last = last;
    return true;
  }
}
