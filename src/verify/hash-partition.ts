/**
 * Full comparison when a side cannot scan in key order (Redis SCAN, JSONL files): both sides are
 * hash-partitioned by key into N temp files (spilled to disk), then compared partition by partition.
 * Memory holds one partition of each side, so N is picked from the counts to keep that bounded.
 * An unordered scan may repeat a key (SCAN during rehashing); the last copy wins, as `lastWins` does.
 */
import { createReadStream } from 'node:fs';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sameValue } from '../core/canonical.js';
import type { RecordValue } from '../core/record.js';
import type { Store } from '../core/store.js';
import { readRecords } from './scan-reader.js';
import type { MergeSides } from './full-diff.js';
import type { DiffTally, ReadMeter } from './tally.js';

const FLUSH_BYTES = 4 * 1024 * 1024;

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
  const dir = await mkdtemp(join(tmpdir(), 'cutover-verify-'));
  try {
    const n = options.partitions;
    await spill(sides.source, sides.collection, sides.sourceMeter, dir, 's', n, options);
    await spill(sides.target, sides.collection, sides.targetMeter, dir, 't', n, options);
    for (let p = 0; p < n; p++) {
      options.signal?.throwIfAborted();
      const source = await load(join(dir, `s${p}.jsonl`));
      const target = await load(join(dir, `t${p}.jsonl`));
      for (const [key, value] of source) {
        const other = target.get(key);
        if (other === undefined) await tally.diff('missing', key, value);
        else {
          if (sameValue(value, other)) tally.match();
          else await tally.diff('different', key, value, other);
          target.delete(key);
        }
      }
      for (const [key, value] of target) await tally.diff('extra', key, undefined, value);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
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
  const buffers: string[][] = Array.from({ length: n }, () => []);
  let buffered = 0;
  const flush = async () => {
    for (let p = 0; p < n; p++) {
      if (buffers[p]!.length === 0) continue;
      await appendFile(join(dir, `${side}${p}.jsonl`), buffers[p]!.join(''));
      buffers[p] = [];
    }
    buffered = 0;
  };
  for (let p = 0; p < n; p++) await writeFile(join(dir, `${side}${p}.jsonl`), '');
  for await (const record of readRecords(store, collection, meter, { batchSize: options.batchSize, signal: options.signal })) {
    const line = encodeLine(record.key, record.value);
    buffers[keyHash(record.key) % n]!.push(line);
    buffered += line.length;
    if (buffered >= FLUSH_BYTES) await flush();
  }
  await flush();
}

function encodeLine(key: string, value: RecordValue): string {
  return (typeof value === 'string' ? JSON.stringify([key, value]) : JSON.stringify([key, null, Buffer.from(value).toString('base64')])) + '\n';
}

async function load(file: string): Promise<Map<string, RecordValue>> {
  const out = new Map<string, RecordValue>();
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line) continue;
    const [key, text, b64] = JSON.parse(line) as [string, string | null, string?];
    out.delete(key);
    out.set(key, text ?? new Uint8Array(Buffer.from(b64!, 'base64')));
  }
  return out;
}
