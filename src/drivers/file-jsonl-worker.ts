/**
 * The JSONL parse worker: reads and parses a log from a byte offset in its own thread and posts each
 * chunk's parsed lines (packed: see packedLines) to the scan, which only has to batch them. Parsing (UTF-8 checks, JSON.parse
 * of every value) is most of a JSONL scan's CPU time; on another core it overlaps with the target's
 * writes. At most AHEAD packs wait unacknowledged, so memory stays bounded.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FileLimits } from './file-io.js';
import { lineReader, type PackedLines } from './file-jsonl-lines.js';

export interface WorkerInput {
  path: string;
  collection: string;
  limits: FileLimits;
  from: number;
  validateJson: boolean;
  jsonBytes: boolean;
  proveExtent: boolean;
}

export type WorkerMessage =
  | { packed: PackedLines }
  | { done: true }
  | { error: { message: string; code?: string; name?: string } };

// About 3 MiB of packs (see PACK_BYTES in file-jsonl-lines.ts), about a 5,000-record batch and a half.
const AHEAD = 48;

async function run(): Promise<void> {
  const port = parentPort!;
  const { path, collection, limits, from, validateJson, jsonBytes, proveExtent } = workerData as WorkerInput;
  let unacknowledged = 0;
  let wake: (() => void) | null = null;
  port.on('message', () => {
    unacknowledged--;
    wake?.();
    wake = null;
  });
  try {
    for await (const packed of lineReader(path, collection, limits, { validateJson, jsonBytes, proveExtent }).packedLines(from)) {
      const transfer = [packed.fields.buffer as ArrayBuffer];
      if (packed.bytes && packed.spans) transfer.push(packed.bytes.buffer as ArrayBuffer, packed.spans.buffer as ArrayBuffer);
      port.postMessage({ packed } satisfies WorkerMessage, transfer);
      unacknowledged++;
      while (unacknowledged >= AHEAD) await new Promise<void>((resolve) => (wake = resolve));
    }
    port.postMessage({ done: true } satisfies WorkerMessage);
  } catch (err) {
    const e = err as { message?: string; code?: string; name?: string };
    port.postMessage({ error: { message: e.message ?? String(err), code: e.code, name: e.name } } satisfies WorkerMessage);
  }
}

void run();
