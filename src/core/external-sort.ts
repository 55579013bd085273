/**
 * Sorting more items than fit comfortably in memory: sorted runs of `runSize` items go to temp files
 * (one serialised item per line), then a k-way merge with a binary heap streams them back in order.
 * Memory stays at one run plus one read buffer per merged run; with more than `fanIn` runs the runs
 * are first merged in groups, so the number of open files stays bounded too. Up to `runSize` items
 * never touch the disk. Temp files are removed when the iteration ends, also on break or error.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';

export interface ExternalSortOptions<T> {
  compare: (a: T, b: T) => number;
  /** Items sorted in memory per run.
   * @default 50000 */
  runSize?: number;
  /** Runs merged at once; more runs are merged in rounds.
   * @default 64 */
  fanIn?: number;
  /** Folder for the run files (a private sub-folder is made in it).
   * @default os.tmpdir() */
  tmpDir?: string;
  /** One line of text per item, without "\n".
   * @default JSON.stringify */
  serialize?: (item: T) => string;
  /** @default JSON.parse */
  deserialize?: (line: string) => T;
  signal?: AbortSignal;
}

export async function* externalSort<T>(
  items: AsyncIterable<T> | Iterable<T>,
  options: ExternalSortOptions<T>,
): AsyncGenerator<T> {
  const runSize = Math.max(1, options.runSize ?? 50_000);
  const fanIn = Math.max(2, options.fanIn ?? 64);
  const serialize = options.serialize ?? ((x: T) => JSON.stringify(x));
  const deserialize = options.deserialize ?? ((line: string) => JSON.parse(line) as T);
  const { compare } = options;
  let buffer: T[] = [];
  let dir: string | null = null;
  let runs: string[] = [];
  let seq = 0;

  const newRunPath = async () => {
    dir ??= await mkdtemp(join(options.tmpDir ?? tmpdir(), 'cutover-sort-'));
    return join(dir, `run-${seq++}`);
  };
  const spill = async () => {
    buffer.sort(compare);
    const path = await newRunPath();
    await writeLines(path, buffer.map(serialize));
    runs.push(path);
    buffer = [];
  };

  try {
    for await (const item of items) {
      buffer.push(item);
      if (buffer.length >= runSize) {
        options.signal?.throwIfAborted();
        await spill();
      }
    }
    if (runs.length === 0) {
      buffer.sort(compare);
      yield* buffer;
      return;
    }
    if (buffer.length > 0) await spill();
    while (runs.length > fanIn) {
      const next: string[] = [];
      for (let i = 0; i < runs.length; i += fanIn) {
        options.signal?.throwIfAborted();
        const group = runs.slice(i, i + fanIn);
        const path = await newRunPath();
        const out = createWriteStream(path);
        for await (const line of mergeLines(group, compare, deserialize)) {
          if (!out.write(line + '\n')) await once(out, 'drain');
        }
        out.end();
        await once(out, 'finish');
        await Promise.all(group.map((p) => rm(p, { force: true })));
        next.push(path);
      }
      runs = next;
    }
    for await (const line of mergeLines(runs, compare, deserialize)) yield deserialize(line);
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

async function writeLines(path: string, lines: string[]): Promise<void> {
  const out = createWriteStream(path);
  for (const line of lines) if (!out.write(line + '\n')) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

interface Head<T> {
  item: T;
  line: string;
  it: AsyncIterator<string>;
}

/** k-way merge of sorted run files; yields the serialised lines so rounds can copy them unchanged. */
async function* mergeLines<T>(paths: string[], compare: (a: T, b: T) => number, deserialize: (line: string) => T): AsyncGenerator<string> {
  const heap: Head<T>[] = [];
  const less = (a: Head<T>, b: Head<T>) => compare(a.item, b.item) < 0;
  const iterators: AsyncIterator<string>[] = [];
  const push = (h: Head<T>) => {
    heap.push(h);
    for (let i = heap.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!less(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const pop = (): Head<T> => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  };
  try {
    for (const path of paths) {
      const it = createInterface({ input: createReadStream(path, { highWaterMark: 64 * 1024 }), crlfDelay: Infinity })[Symbol.asyncIterator]();
      iterators.push(it);
      const first = await it.next();
      if (!first.done) push({ item: deserialize(first.value), line: first.value, it });
    }
    while (heap.length > 0) {
      const h = pop();
      yield h.line;
      const next = await h.it.next();
      if (!next.done) push({ item: deserialize(next.value), line: next.value, it: h.it });
    }
  } finally {
    await Promise.all(iterators.map((it) => it.return?.()));
  }
}
