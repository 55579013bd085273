/**
 * Full comparison when a side cannot scan in key order and the lookup method does not apply (Redis
 * SCAN, an unordered target, or too many differences): both sides are hash-partitioned by key into N
 * temp files, then compared partition by partition. Memory holds one partition of each side as a
 * map, so N is picked from the counts to keep that bounded (`partitionRecords`). An unordered scan may
 * repeat a key (SCAN during rehashing, a log's later line); the last copy wins, as `lastWins` does.
 *
 * Records are written length-prefixed (`<key length>:<key><tag><value length>:<value>`, lengths in
 * UTF-16 units), so JSON text goes to disk as it is instead of being escaped inside another JSON
 * string, and buffers of several MiB are written with one call per partition.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sameValue } from '../core/canonical.js';
import type { RecordValue } from '../core/record.js';
import type { Store } from '../core/store.js';
import { readRecords } from './scan-reader.js';
import type { MergeSides } from './full-diff.js';
import type { DiffTally, ReadMeter } from './tally.js';

/** Characters buffered over all partitions of a side before they are written out. */
const FLUSH_CHARS = 2 * 1024 * 1024;
/** The reused encoding buffer (a UTF-16 unit is at most 3 UTF-8 bytes). */
const SCRATCH_BYTES = 1024 * 1024;

/** FNV-1a over UTF-16 code units: fast, stable across runs, and spreads similar keys. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function partitionCount(records: number, perPartition: number, fixed = 0): number {
  if (fixed > 0) return fixed;
  return Math.min(4096, Math.max(1, Math.ceil(records / Math.max(1, perPartition))));
}

export async function hashPartitionDiff(
  sides: MergeSides,
  tally: DiffTally,
  options: { partitions: number; batchSize: number; signal?: AbortSignal | undefined },
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-verify-'));
  try {
    const n = options.partitions;
    await spill(sides.source, sides.collection, sides.sourceMeter, dir, 's', n, options);
    await spill(sides.target, sides.collection, sides.targetMeter, dir, 't', n, options);
    for (let p = 0; p < n; p++) {
      options.signal?.throwIfAborted();
      const source = new Map<string, RecordValue>();
      // Later copies replace earlier ones; delete first so the map keeps the last copy's position.
      forEachRecord(join(dir, `s${p}`), (key, value) => {
        source.delete(key);
        source.set(key, value);
      });
      const target = new Map<string, RecordValue>();
      forEachRecord(join(dir, `t${p}`), (key, value) => {
        target.delete(key);
        target.set(key, value);
      });
      for (const [key, value] of source) {
        const other = target.get(key);
        if (other === undefined) await tally.diff('missing', key, value);
        else {
          if (value === other || sameValue(value, other)) tally.matching++;
          else await tally.diff('different', key, value, other);
          target.delete(key);
        }
      }
      source.clear();
      for (const [key, value] of target) await tally.diff('extra', key, undefined, value);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function spill(
  store: Store,
  collection: string,
  meter: ReadMeter,
  dir: string,
  side: string,
  n: number,
  options: { batchSize: number; signal?: AbortSignal | undefined },
): Promise<void> {
  const fds = Array.from({ length: n }, (_, p) => openSync(join(dir, `${side}${p}`), 'w'));
  try {
    const buffers: string[][] = Array.from({ length: n }, () => []);
    let buffered = 0;
    // Encoded into one reused buffer: a joined string per write would be encoded into a new
    // off-heap Buffer each time, and those piled up to hundreds of MB before a GC freed them.
    const scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
    const flush = () => {
      for (let p = 0; p < n; p++) {
        const fd = fds[p]!;
        let used = 0;
        for (const entry of buffers[p]!) {
          if (used + entry.length * 3 > SCRATCH_BYTES) {
            if (used > 0) writeSync(fd, scratch, 0, used);
            used = 0;
            if (entry.length * 3 > SCRATCH_BYTES) {
              writeSync(fd, entry);
              continue;
            }
          }
          used += scratch.write(entry, used);
        }
        if (used > 0) writeSync(fd, scratch, 0, used);
        buffers[p] = [];
      }
      buffered = 0;
    };
    for await (const record of readRecords(store, collection, meter, { batchSize: options.batchSize, signal: options.signal })) {
      const entry = encodeRecord(record.key, record.value);
      buffers[keyHash(record.key) % n]!.push(entry);
      buffered += entry.length;
      if (buffered >= FLUSH_CHARS) flush();
    }
    flush();
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/**
 * `<key>` then a tag and `<value>`, each as `<length>:<text>`. Tags: `J` JSON text as it is, `E` text
 * that is not well-formed UTF-16 (a lone surrogate would not survive UTF-8), stored as a JSON string,
 * `B` bytes as base64. Keys are well-formed (keyProblem), but a bad one is escaped the same way (`e`).
 */
function encodeRecord(key: string, value: RecordValue): string {
  const k = key.isWellFormed() ? `${key.length}:${key}` : `e${escaped(key)}`;
  if (typeof value !== 'string') {
    const b64 = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
    return `${k}B${b64.length}:${b64}`;
  }
  return value.isWellFormed() ? `${k}J${value.length}:${value}` : `${k}E${escaped(value)}`;
}

function escaped(text: string): string {
  const json = JSON.stringify(text);
  return `${json.length}:${json}`;
}

/** Calls `each` for every record of a partition file, in the order written. */
function forEachRecord(file: string, each: (key: string, value: RecordValue) => void): void {
  const s = readFileSync(file, 'utf8');
  let i = 0;
  const field = (): string => {
    const colon = s.indexOf(':', i);
    const length = Number(s.slice(i, colon));
    i = colon + 1 + length;
    return s.slice(colon + 1, i);
  };
  while (i < s.length) {
    let key: string;
    if (s.charCodeAt(i) === 0x65 /* e */) {
      i++;
      key = JSON.parse(field()) as string;
    } else key = field();
    const tag = s[i++];
    const text = field();
    each(key, tag === 'J' ? text : tag === 'E' ? (JSON.parse(text) as string) : new Uint8Array(Buffer.from(text, 'base64')));
  }
}
