/**
 * The JSONL parse worker: reads and parses a log from a byte offset in its own thread and posts each
 * chunk's parsed lines to the scan, which only has to batch them. Parsing (UTF-8 checks, JSON.parse
 * of every value) is most of a JSONL scan's CPU time; on another core it overlaps with the target's
 * writes. At most AHEAD chunks wait unacknowledged, so memory stays bounded.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FileLimits } from './file-io.js';
import { lineReader } from './file-jsonl-lines.js';

export interface WorkerInput {
  path: string;
  collection: string;
  limits: FileLimits;
  from: number;
}

export type WorkerMessage =
  | { lines: unknown[] }
  | { done: true }
  | { error: { message: string; code?: string; name?: string } };

const AHEAD = 3;

async function run(): Promise<void> {
  const port = parentPort!;
  const { path, collection, limits, from } = workerData as WorkerInput;
  let unacknowledged = 0;
  let wake: (() => void) | null = null;
  port.on('message', () => {
    unacknowledged--;
    wake?.();
    wake = null;
  });
  try {
    for await (const lines of lineReader(path, collection, limits).lines(from)) {
      port.postMessage({ lines } satisfies WorkerMessage);
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
