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
 * use a cheaper means first (a watch allocates a Set and Map entries per read): while someone
 * records (`startRecording`), the lock keys of every enqueued write are appended to a list, and a
 * comparison checks the part of the list written since its read began. The shadow reader takes
 * (empties) the list on each turn that starts shadow reads, or at its timer's next tick, and gives a
 * watch to each read still in flight at that moment, so the list spans about one turn under steady
 * traffic and one tick (at most 250 ms) otherwise.
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

/** Whether any lock in `recent` from position `from` on is one of `locks`. */
export function wroteAny(recent: readonly string[], from: number, locks: readonly string[]): boolean {
  for (let i = from; i < recent.length; i++) if (locks.includes(recent[i]!)) return true;
  return false;
}

const ONE_SIDE: Record<Side, readonly Side[]> = { old: ['old'], new: ['new'] };

export function lockKey(collection: string, key: string): string {
  return `${collection}\u0000${key}`;
}

export class KeyQueues {
  private readonly slots: Record<Side, Map<string, Slot>> = { old: new Map(), new: new Map() };
  private readonly watchers = new Map<string, Set<WriteWatch>>();
  /** Counts takeRecording() calls: a position is valid only within the generation it was taken in. */
  recordingGeneration = 0;
  /** Keys of writes enqueued since `startRecording`, while someone records; else null. */
  private recent: string[] | null = null;

  /** Runs `task` after every task enqueued earlier on `side` for any of `keys`. */
  enqueue<T>(side: Side, keys: readonly string[], task: () => Promise<T>): Promise<T> {
    return this.enqueueOn(ONE_SIDE[side], keys, task);
  }

  /**
   * Runs `task` after every task enqueued earlier for the keys on each of `sides`; later tasks on
   * those sides wait for it (a repair that must see both stores settled).
   */
  enqueueOn<T>(sides: readonly Side[], keys: readonly string[], task: () => Promise<T>): Promise<T> {
    // A single key is the common case: no Set, no array of tails, no allSettled.
    let first: Promise<unknown> | null = null;
    let before: Promise<unknown>[] | null = null;
    for (const side of sides) {
      const map = this.slots[side];
      if (map.size === 0) continue;
      for (const k of keys) {
        const slot = map.get(k);
        if (!slot) continue;
        if (!first) first = slot.tail;
        else (before ??= [first]).push(slot.tail);
      }
    }
    // Tails never reject (see `settle` below), so `then(task)` runs the task after the tail either way.
    const run = before ? Promise.allSettled(before).then(task) : first ? first.then(task) : task();
    const unique = keys.length === 1 ? keys : [...new Set(keys)];
    // The slots this task holds, so settling needs no lookups (a key's slot lives while it has tasks).
    const held: Slot[] = [];
    const settle = (): undefined => {
      let i = 0;
      for (const side of sides) {
        const map = this.slots[side];
        for (const k of unique) if (--held[i++]!.pending === 0) map.delete(k);
      }
      return undefined;
    };
    const done = run.then(settle, settle);
    if (this.recent) for (const k of unique) this.recent.push(k);
    for (const side of sides) {
      const map = this.slots[side];
      for (const k of unique) {
        let slot = map.get(k);
        if (slot) {
          slot.tail = done;
          slot.pending++;
        } else {
          map.set(k, (slot = { tail: done, pending: 1 }));
        }
        held.push(slot);
      }
    }
    if (this.watchers.size > 0) {
      for (const k of unique) for (const w of this.watchers.get(k) ?? []) w.dirty = true;
    }
    return run;
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

  /** Marks itself dirty when a write to any of the keys is enqueued; call release() when done. */
  watch(keys: readonly string[]): WriteWatch {
    const watch: WriteWatch = {
      dirty: false,
      release: () => {
        for (const k of keys) {
          const set = this.watchers.get(k);
          set?.delete(watch);
          if (set && set.size === 0) this.watchers.delete(k);
        }
      },
    };
    for (const k of keys) {
      let set = this.watchers.get(k);
      if (!set) this.watchers.set(k, (set = new Set()));
      set.add(watch);
    }
    return watch;
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
