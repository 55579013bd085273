/**
 * What the three layouts of the `file:` backend share: the layout interface, atomic writes
 * (temp file in the same folder, write, fsync, rename), folder fsync, strict UTF-8 and JSON checks.
 * Temp files always start with "." so no layout ever mistakes one for data.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { RejectInfo } from '../core/errors.js';
import type { StoredRecord } from '../core/record.js';
import type { CollectionStats, ScanBatch, ScanOptions } from '../core/store.js';

export type LayoutKind = 'dir' | 'jsonl' | 'json';

export interface FileLimits {
  maxValueBytes: number;
  maxMapBytes: number;
  tmpDir: string | undefined;
  sortRunSize: number;
  countMemoryKeys: number;
}

/** One collection in one layout; the store picks it by looking at the files. */
export interface CollectionLayout {
  readonly kind: LayoutKind;
  /** The folder or file that holds the collection. */
  readonly path: string;
  readonly ordered: boolean;
  exists(): Promise<boolean>;
  create(): Promise<void>;
  drop(): Promise<void>;
  count(signal?: AbortSignal): Promise<number>;
  /** Cheaper than `count` where exactness costs a full parse (JSONL). */
  estimateCount?(): Promise<number>;
  stats(): Promise<CollectionStats>;
  scan(options: ScanOptions): AsyncIterable<ScanBatch>;
  getMany(keys: string[]): Promise<(StoredRecord | undefined)[]>;
  /** Records are already checked (keys, JSON text); writes them durably. */
  putMany(records: StoredRecord[]): Promise<void>;
  deleteMany(keys: string[]): Promise<number>;
  /** Extra reasons this layout cannot hold a record. */
  refuse?(record: StoredRecord): string | null;
}

export const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export function tempName(forName: string): string {
  return `.${forName.slice(0, 100)}.tmp-${randomBytes(6).toString('hex')}`;
}

/** Writes a file so that readers see the old or the new content, never a mix (no folder fsync). */
export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), tempName(basename(path)));
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Makes renames and creations in a folder durable. */
export async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Why a JSON text cannot be stored, or null. */
export function jsonTextProblem(text: string): string | null {
  try {
    JSON.parse(text);
    return null;
  } catch (err) {
    return `value is not valid JSON text (${(err as Error).message})`;
  }
}

export function reject(collection: string, key: string | null, location: string, reason: string): RejectInfo {
  return { collection, key, location, reason };
}

export function errorReason(err: unknown): string {
  const code = (err as { code?: string }).code;
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'EACCES' || code === 'EPERM') return `file cannot be read (${code}); check its permissions`;
  if (code === 'EISDIR') return 'a folder has the name of a record file; rename or remove it';
  if (code === 'ENOENT') return 'file vanished or is a dangling symbolic link';
  return `file cannot be read: ${msg}`;
}

/** Runs `fn` over items with at most `limit` at a time, keeping result positions. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Removes leading BOM and surrounding JSON whitespace: hand-edited files often have both. */
export function trimJson(text: string): string {
  const t = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return /^[ \t\r\n]|[ \t\r\n]$/.test(t) ? t.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '') : t;
}
