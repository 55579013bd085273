/**
 * The bytes test for a range: a store that can hand over a key range's rows as one byte string,
 * `key TAB value LF` per row in key order (its *image*), lets a plain JSONL batch (RawJsonRecords,
 * which already are such lines in the reader's buffer) be proved equal to the target with one memcmp
 * instead of a string per record on each side and a comparison per pair.
 *
 * Exactness: the batch's lines hold no TAB or LF inside a key or value (plain lines), the image has as
 * many rows as the batch has records, and its length is the sum of its rows' own lengths plus two per
 * row. Equal bytes then split into the same rows the same way (every row has at least its one TAB and
 * one LF, and there are no others to spare), so each row is the record's key and exact value text.
 * Anything else (a value that is bytes, a row that differs) fails the test, and the batch is compared
 * record by record as before: the test can only save work, never decide a difference.
 */
import { isPlainLine, plainRunEnd, type RawJsonRecord, type StoredRecord } from '../core/record.js';
import type { Store } from '../core/store.js';

/** Optional driver method: the image of the rows with `after < key <= last`. */
export interface RangeImageSource {
  rangeImage(collection: string, after: string | null, last: string, signal?: AbortSignal): Promise<RangeImage | null>;
}

export interface RangeImage {
  rows: number;
  /** Sum over rows of key bytes + value bytes + 2, as the store counts them (not from the image). */
  bytes: number;
  image: Buffer;
}

export function hasRangeImage(store: Store): store is Store & RangeImageSource {
  return typeof (store as Partial<RangeImageSource>).rangeImage === 'function';
}

/** Whether every record is a plain line, so that the batch has an image to compare. */
export function allPlain(records: readonly StoredRecord[]): boolean {
  for (const r of records) if (!isPlainLine(r)) return false;
  return true;
}

/** Whether the plain records, in order, are exactly the image's rows. */
export function sameImage(records: readonly StoredRecord[], found: RangeImage): boolean {
  const { image } = found;
  if (found.rows !== records.length || found.bytes !== image.length) return false;
  let at = 0;
  let i = 0;
  while (i < records.length) {
    // A run of lines that lie end to end in one buffer is compared in one call.
    const j = plainRunEnd(records, i);
    if (j === i) return false;
    const first = records[i] as RawJsonRecord;
    const end = (records[j - 1] as RawJsonRecord).end;
    const n = end - first.start;
    if (at + n > image.length || image.compare(first.line, first.start, end, at, at + n) !== 0) return false;
    at += n;
    i = j;
  }
  return at === image.length;
}
