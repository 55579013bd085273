/**
 * The rejects file `.cutover/<id>/rejects.jsonl`: one line per record that could not be moved, with
 * its collection, key, source location and reason. Lines are appended and fsynced *before* the batch's
 * checkpoint, so a crash can only repeat a batch's rejects, never lose them; on resume the lines already
 * present are remembered and not written twice.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RejectInfo } from '../core/errors.js';

export interface RejectLine extends RejectInfo {
  at: string;
}

const identity = (r: RejectInfo) => JSON.stringify([r.collection, r.key, r.location, r.reason]);

export class RejectsFile {
  private fd: number | null = null;
  private readonly seen = new Set<string>();
  private lines = 0;

  constructor(readonly path: string) {
    if (existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          this.seen.add(identity(JSON.parse(line) as RejectInfo));
          this.lines++;
        } catch {
          // A torn last line from a crash: the batch it belonged to is redone, so it is written again.
        }
      }
    }
  }

  /** Rejects recorded so far, across runs of this migration. */
  get count(): number {
    return this.lines;
  }

  /** Appends new rejects and fsyncs; returns how many were new. */
  append(rejects: RejectInfo[]): number {
    if (rejects.length === 0) return 0;
    let out = '';
    let added = 0;
    const at = new Date().toISOString();
    for (const r of rejects) {
      const id = identity(r);
      if (this.seen.has(id)) continue;
      this.seen.add(id);
      out += JSON.stringify({ collection: r.collection, key: r.key, location: r.location, reason: r.reason, at }) + '\n';
      added++;
    }
    if (added === 0) return 0;
    if (this.fd === null) {
      mkdirSync(dirname(this.path), { recursive: true });
      this.fd = openSync(this.path, 'a');
    }
    writeSync(this.fd, out);
    fsyncSync(this.fd);
    this.lines += added;
    return added;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
