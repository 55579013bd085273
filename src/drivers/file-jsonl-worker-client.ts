/**
 * The scan's side of the JSONL parse worker. Used for logs with more than WORKER_MIN_BYTES left to
 * read (a worker costs ~30 ms to start); smaller ones, and runs from TypeScript sources (tests), parse
 * in this thread. Packed lines arrive by structured clone (the numbers transferred), so the bytes values
 * of fully parsed lines come back as Uint8Array and are wrapped as Buffers again.
 */
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FileLimits } from './file-io.js';
import type { PackedLines } from './file-jsonl-lines.js';
import type { WorkerInput, WorkerMessage } from './file-jsonl-worker.js';

export const WORKER_MIN_BYTES = 4 * 1024 * 1024;
const WORKER_URL = new URL('./file-jsonl-worker.js', import.meta.url);
const workerBuilt = existsSync(fileURLToPath(WORKER_URL));

/** Parsed lines from `from` on, parsed by a worker; null when this scan should parse in-thread. */
export async function workerLines(input: WorkerInput, signal?: AbortSignal): Promise<AsyncGenerator<PackedLines> | null> {
  if (!workerBuilt || process.env.CUTOVER_JSONL_WORKER === '0') return null;
  let size = 0;
  try {
    size = statSync(input.path).size;
  } catch {
    return null;
  }
  if (size - input.from < WORKER_MIN_BYTES) return null;
  return consume(input, signal);
}

async function* consume(input: WorkerInput, signal?: AbortSignal): AsyncGenerator<PackedLines> {
  // The worker holds a few parsed chunks at most; small heap limits keep its share of RSS small.
  const worker = new Worker(WORKER_URL, { workerData: input, resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: Math.max(64, Math.ceil((input.limits.maxValueBytes * 8) / 2 ** 20)) } });
  const queue: PackedLines[] = [];
  let done = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  worker.on('message', (m: WorkerMessage) => {
    if ('packed' in m) queue.push(m.packed);
    else if ('done' in m) done = true;
    else failure = Object.assign(new Error(m.error.message), { code: m.error.code, name: m.error.name ?? 'Error' });
    notify();
  });
  worker.on('error', (err) => {
    failure = err;
    notify();
  });
  worker.on('exit', (code) => {
    if (!done && !failure) failure = new Error(`the JSONL parse worker for ${input.path} stopped (exit code ${code})`);
    notify();
  });
  try {
    for (;;) {
      const packed = queue.shift();
      if (packed) {
        worker.postMessage(0);
        // Transferred bytes arrive as a plain Uint8Array; RawJsonRecord copies and decodes a Buffer.
        if (packed.bytes) packed.bytes = Buffer.from(packed.bytes.buffer, packed.bytes.byteOffset, packed.bytes.byteLength);
        for (const l of packed.others) {
          if ('put' in l && typeof l.put.value !== 'string' && !Buffer.isBuffer(l.put.value)) {
            const v = l.put.value;
            l.put.value = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
          }
        }
        yield packed;
        continue;
      }
      if (failure) throw failure;
      if (done) return;
      signal?.throwIfAborted();
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    await worker.terminate();
  }
}
