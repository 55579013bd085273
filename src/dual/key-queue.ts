/**
 * Per-store, per-key FIFO queues: the ordering half of the dual store's write guarantee.
 *
 * A dual write enqueues its primary part on the primary store's queue and, in the same synchronous
 * step, its secondary part on the secondary store's queue. Because both enqueues happen together
 * and each part waits only for parts enqueued earlier, every store receives the writes to a key in
 * the same order, whichever store is primary at the time (so flipping the mode mid-stream keeps the
 * order too). A slow secondary delays only later secondary parts of the same key, never the
 * primary path. A task that spans several keys (a batch) waits for all of their tails, and since
 * tails are taken atomically in one tick, no cycle can form.
 *
 * Watchers let a shadow comparison learn that a write to one of its keys was enqueued while it was
 * reading, so it can skip a comparison that would otherwise report a false difference. Shadow reads
 * use a cheaper means first (a watch's Map and Set entries cost as much as a read from SQLite): while
 * someone records (`startRecording`), the lock keys of every enqueued write are appended to a list,
 * and a comparison checks the part of the list written since its read began. The shadow reader
 * takes (empties) the list once per turn of the event loop, and gives a watch to each read still in
 * flight at that moment, so the list only ever spans about one turn.
 */
import type { Side } from './modes.js';

interface Slot {
  tail: Promise<unknown>;
  pending: number;
}

export interface WriteWatch {
  dirty: boolean;
  release(): void;
}

class Watch implements WriteWatch {
  dirty = false;
  done = false;
  constructor(private readonly queues: KeyQueues) {}
  release(): void {
    if (this.done) return;
    this.done = true;
    this.queues.released();
  }
}

/** Whether any lock in `recent` from position `from` on is one of `locks`. */
export function wroteAny(recent: readonly string[], from: number, locks: readonly string[]): boolean {
  for (let i = from; i < recent.length; i++) if (locks.includes(recent[i]!)) return true;
  return false;
}

export function lockKey(collection: string, key: string): string {
  return `${collection}\u0000${key}`;
}

export class KeyQueues {
  private readonly slots: Record<Side, Map<string, Slot>> = { old: new Map(), new: new Map() };
  private readonly watchers = new Map<string, Set<Watch>>();
  private releasedWatches = 0;
  /** Counts takeRecording() calls: a position is valid only within the generation it was taken in. */
  recordingGeneration = 0;
  /** Keys of writes enqueued since `startRecording`, while someone records; else null. */
  private recent: string[] | null = null;

  /** Runs `task` after every task enqueued earlier on `side` for any of `keys`. */
  enqueue<T>(side: Side, keys: readonly string[], task: () => Promise<T>): Promise<T> {
    return this.enqueueOn([side], keys, task);
  }

  /**
   * Runs `task` after every task enqueued earlier for the keys on each of `sides`; later tasks on
   * those sides wait for it (a repair that must see both stores settled).
   */
  enqueueOn<T>(sides: readonly Side[], keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const before: Promise<unknown>[] = [];
    for (const side of sides) {
      for (const k of keys) {
        const slot = this.slots[side].get(k);
        if (slot) before.push(slot.tail);
      }
    }
    const run = before.length === 0 ? task() : Promise.allSettled(before).then(task);
    const done = run.then(() => undefined, () => undefined);
    for (const side of sides) this.track(side, keys, done);
    return run;
  }

  private track(side: Side, keys: readonly string[], done: Promise<void>): void {
    const map = this.slots[side];
    if (this.recent) for (const k of keys) this.recent.push(k);
    for (const k of new Set(keys)) {
      const slot = map.get(k);
      if (slot) {
        slot.tail = done;
        slot.pending++;
      } else {
        map.set(k, { tail: done, pending: 1 });
      }
      if (this.watchers.size > 0) for (const w of this.watchers.get(k) ?? []) if (!w.done) w.dirty = true;
    }
    void done.then(() => {
      for (const k of new Set(keys)) {
        const slot = map.get(k);
        if (!slot) continue;
        slot.pending--;
        if (slot.pending === 0) map.delete(k);
      }
    });
  }

  /** Whether a write to any of the keys of the collection is queued or running on either side. */
  anyPending(collection: string, keys: readonly string[]): boolean {
    // No lock key is built while no write is pending at all (the common case on a read path).
    if (this.slots.old.size === 0 && this.slots.new.size === 0) return false;
    for (const k of keys) if (this.isPending(lockKey(collection, k))) return true;
    return false;
  }

  /**
   * Starts keeping the lock keys of writes enqueued from now on (if not already kept) and returns a
   * position in that record; `takeRecording` returns the record and stops keeping it.
   */
  startRecording(): number {
    if (!this.recent) this.recent = [];
    return this.recent.length;
  }

  takeRecording(): string[] {
    const r = this.recent ?? [];
    this.recent = null;
    this.recordingGeneration++;
    return r;
  }

  /** Whether a write to any of `locks` was enqueued since position `from` of the current record. */
  wroteSince(from: number, locks: readonly string[]): boolean {
    return this.recent !== null && wroteAny(this.recent, from, locks);
  }

  /** Whether writes to the key are queued or running on `side` (either side when omitted). */
  isPending(key: string, side?: Side): boolean {
    if (side) return this.slots[side].has(key);
    return this.slots.old.has(key) || this.slots.new.has(key);
  }

  /** Resolves when everything queued so far for the key on `side` has settled. */
  settled(side: Side, key: string): Promise<void> {
    const slot = this.slots[side].get(key);
    return slot ? slot.tail.then(() => undefined) : Promise.resolve();
  }

  /**
   * Marks itself dirty when a write to any of the keys is enqueued; call release() when done.
   * Released watches are pruned in bulk, not one by one: deleting the last entry of a Map and adding
   * one again costs more than a read from SQLite, and a shadow read takes a watch per read.
   */
  watch(keys: readonly string[]): WriteWatch {
    const watch = new Watch(this);
    for (const k of keys) {
      let set = this.watchers.get(k);
      if (!set) this.watchers.set(k, (set = new Set()));
      set.add(watch);
    }
    return watch;
  }

  /** Called by a watch's release(): prunes released watches once enough have gathered. */
  released(): void {
    if (++this.releasedWatches < 256) return;
    this.releasedWatches = 0;
    for (const [k, set] of this.watchers) {
      for (const w of set) if (w.done) set.delete(w);
      if (set.size === 0) this.watchers.delete(k);
    }
  }

  /** Resolves when every task enqueued so far on both sides has settled. */
  async drain(): Promise<void> {
    for (;;) {
      const tails = [...this.slots.old.values(), ...this.slots.new.values()].map((s) => s.tail);
      if (tails.length === 0) return;
      await Promise.allSettled(tails);
      // Let the bookkeeping `then`s run before looking again.
      await new Promise((r) => setImmediate(r));
    }
  }
}
