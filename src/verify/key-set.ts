/**
 * The distinct keys an unordered scan produced, in bounded memory: a `Set` up to `memoryKeys` keys,
 * past that every key is appended to one of P temp files chosen by a hash of the key, so one
 * partition's keys fit in memory when they are read back. A key the scan repeats is written again
 * and counted once per partition. Answers two questions at the end: how many distinct keys were
 * seen, and which keys of another ordered stream were never seen (`unseen`).
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyHash } from './hash-partition.js';

/** Bytes buffered over all partitions before they are written out in one pass. */
const FLUSH_BYTES = 1024 * 1024;

/**
 * One key per line. Keys hold no NUL but may hold a line break, so a key with "\n" or "\r", or one
 * that starts with a quote, is written as a JSON string; every other key as it is (the common case
 * costs no encoding).
 */
function encodeKey(key: string): string {
  return key.charCodeAt(0) === 0x22 || key.includes('\n') || key.includes('\r') ? JSON.stringify(key) : key;
}

function decodeKey(line: string): string {
  return line.charCodeAt(0) === 0x22 ? (JSON.parse(line) as string) : line;
}

class PartitionFiles {
  readonly dir: string;
  private readonly fds: number[];
  private readonly buffers: string[][];
  private buffered = 0;

  constructor(
    prefix: string,
    readonly count: number,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.fds = Array.from({ length: count }, (_, p) => openSync(join(this.dir, `${p}`), 'w'));
    this.buffers = Array.from({ length: count }, () => []);
  }

  add(key: string): void {
    const line = encodeKey(key);
    this.buffers[keyHash(key) % this.count]!.push(line);
    this.buffered += line.length + 1;
    if (this.buffered >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    for (let p = 0; p < this.count; p++) {
      const b = this.buffers[p]!;
      if (b.length === 0) continue;
      b.push('');
      writeSync(this.fds[p]!, b.join('\n'));
      this.buffers[p] = [];
    }
    this.buffered = 0;
  }

  /** The keys of partition `p` (with repeats), after a `flush`. */
  read(p: number): string[] {
    const text = readFileSync(join(this.dir, `${p}`), 'utf8');
    if (text.length === 0) return [];
    const lines = text.split('\n');
    lines.pop(); // after the last "\n"
    for (let i = 0; i < lines.length; i++) lines[i] = decodeKey(lines[i]!);
    return lines;
  }

  dispose(): void {
    for (const fd of this.fds) closeSync(fd);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class SeenKeys {
  private memory: Set<string> | null = new Set();
  private files: PartitionFiles | null = null;

  /**
   * @param memoryKeys keys held in memory before spilling to temp files
   * @param partitions temp files once spilled; pick so that `expected / partitions` keys fit in memory
   */
  constructor(
    private readonly memoryKeys: number,
    private readonly partitions: number,
  ) {}

  add(key: string): void {
    if (this.memory !== null) {
      this.memory.add(key);
      if (this.memory.size > this.memoryKeys) this.spill();
    } else {
      this.files!.add(key);
    }
  }

  /** Whether the keys went to temp files (the report says so). */
  get spilled(): boolean {
    return this.files !== null;
  }

  private spill(): void {
    this.files = new PartitionFiles('cutover-verify-keys-', this.partitions);
    for (const key of this.memory!) this.files.add(key);
    this.memory = null;
  }

  /** Distinct keys added. Reads the temp files back once spilled (one partition at a time). */
  distinct(): number {
    if (this.memory !== null) return this.memory.size;
    const files = this.files!;
    files.flush();
    let n = 0;
    for (let p = 0; p < files.count; p++) n += new Set(files.read(p)).size;
    return n;
  }

  /**
   * Keys of `keys` (an async stream of key batches) that were never added, handed to `found` in
   * batches. In memory that is a lookup per key; once spilled, the stream's keys are partitioned the
   * same way and each partition is compared with the matching partition of the seen keys.
   */
  async unseen(keys: AsyncIterable<string[]>, found: (keys: string[]) => Promise<void>, batchSize: number): Promise<void> {
    const memory = this.memory;
    if (memory !== null) {
      for await (const batch of keys) {
        const out = batch.filter((k) => !memory.has(k));
        if (out.length > 0) await found(out);
      }
      return;
    }
    const seen = this.files!;
    seen.flush();
    const other = new PartitionFiles('cutover-verify-other-', seen.count);
    try {
      for await (const batch of keys) for (const k of batch) other.add(k);
      other.flush();
      for (let p = 0; p < seen.count; p++) {
        const have = new Set(seen.read(p));
        let out: string[] = [];
        for (const k of other.read(p)) {
          if (have.has(k)) continue;
          out.push(k);
          if (out.length >= batchSize) {
            await found(out);
            out = [];
          }
        }
        if (out.length > 0) await found(out);
      }
    } finally {
      other.dispose();
    }
  }

  dispose(): void {
    this.files?.dispose();
    this.files = null;
    this.memory = null;
  }
}
