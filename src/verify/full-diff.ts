/**
 * Full comparison of two ordered sides: one streaming merge of both key-ordered scans, like a merge
 * join. Memory holds one batch per side plus the tally's examples, whatever the collection's size.
 * Values compare with `sameValue`: identical text is equal without canonicalising, and only values
 * whose raw forms differ are canonicalised.
 */
import { sameValue } from '../core/canonical.js';
import { compareKeys } from '../core/key-order.js';
import type { Store } from '../core/store.js';
import { OrderedCursor, readRecords, type RangeScan } from './scan-reader.js';
import type { DiffTally, ReadMeter } from './tally.js';

export interface MergeSides {
  source: Store;
  target: Store;
  collection: string;
  sourceMeter: ReadMeter;
  targetMeter: ReadMeter;
}

/** Compares the records of both sides within the range (default: everything) into the tally. */
export async function mergeDiff(sides: MergeSides, tally: DiffTally, range: RangeScan = {}): Promise<void> {
  const { source, target, collection } = sides;
  const bounds = { after: range.after ?? null, until: range.until ?? null };
  const s = new OrderedCursor(readRecords(source, collection, sides.sourceMeter, range), `source ${source.location} scan of "${collection}"`, bounds);
  const t = new OrderedCursor(readRecords(target, collection, sides.targetMeter, range), `target ${target.location} scan of "${collection}"`, bounds);
  try {
    for (;;) {
      const a = await s.peek();
      const b = await t.peek();
      if (!a && !b) break;
      const order = !a ? 1 : !b ? -1 : compareKeys(a.key, b.key);
      if (order < 0) {
        await tally.diff('missing', a!.key, a!.value);
        await s.advance();
      } else if (order > 0) {
        await tally.diff('extra', b!.key, undefined, b!.value);
        await t.advance();
      } else {
        if (sameValue(a!.value, b!.value)) tally.match();
        else await tally.diff('different', a!.key, a!.value, b!.value);
        await s.advance();
        await t.advance();
      }
    }
  } finally {
    await s.close();
    await t.close();
  }
}
