/**
 * Routing: for one collection and key, which store is primary for writes, which (if any) also gets
 * the write, where reads go, and whether reads are shadowed or validated.
 *
 * Progressive routing hashes collection+key (first 4 bytes of SHA-256 → 0..9999 basis points) and
 * sends a key to the new store when its bucket is below the read percentage. One key therefore always
 * goes the same way in every process, and raising the percentage only ever moves keys old → new.
 */
import { createHash } from 'node:crypto';
import type { DualFlags, DualMode, Side } from './modes.js';

export interface Route {
  primary: Side;
  /** Also receives writes, after the primary; null in single-store modes. */
  secondary: Side | null;
  read: Side;
  /** Read the other store in the background and compare (shadow mode). */
  shadow: boolean;
  /** Read both stores, compare, return the primary read (read-validation mode). */
  validate: boolean;
}

/** The bucket 0..9999 of a key, stable across processes and versions. */
export function keyBucket(collection: string, key: string): number {
  const digest = createHash('sha256').update(collection).update('\u0000').update(key).digest();
  return digest.readUInt32BE(0) % 10_000;
}

/**
 * Buckets of recently routed keys: a SHA-256 per read costs ~1 µs, more than a SQLite read's worth of
 * dual-store overhead. Bounded; cleared whole when full (cheaper than LRU bookkeeping per read).
 */
const bucketCache = new Map<string, number>();
const BUCKET_CACHE_SIZE = 16_384;

function cachedBucket(collection: string, key: string): number {
  const id = `${collection}\u0000${key}`;
  let bucket = bucketCache.get(id);
  if (bucket === undefined) {
    if (bucketCache.size >= BUCKET_CACHE_SIZE) bucketCache.clear();
    bucket = keyBucket(collection, key);
    bucketCache.set(id, bucket);
  }
  return bucket;
}

/** Percentage (0..100, two decimals) → basis points (0..10000). */
export function percentToBasisPoints(percent: number): number {
  return Math.round(percent * 100);
}

export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(re + '$', 's');
}

interface CanaryRule {
  collection: RegExp;
  key: RegExp | null;
}

export function compileCanary(entries: string[]): CanaryRule[] {
  return entries.map((entry) => {
    const colon = entry.indexOf(':');
    if (colon < 0) return { collection: globToRegExp(entry), key: null };
    const keyGlob = entry.slice(colon + 1);
    return { collection: globToRegExp(entry.slice(0, colon)), key: keyGlob === '*' || keyGlob === '' ? null : globToRegExp(keyGlob) };
  });
}

const OTHER: Record<Side, Side> = { old: 'new', new: 'old' };

function makeDual(primary: Side, read: Side = primary, shadow = false, validate = false): Route {
  return { primary, secondary: OTHER[primary], read, shadow, validate };
}

/** The dual-write routes without shadow or validation, made once (routes are never mutated). */
const PLAIN: Record<Side, Record<Side, Route>> = {
  old: { old: makeDual('old', 'old'), new: makeDual('old', 'new') },
  new: { old: makeDual('new', 'old'), new: makeDual('new', 'new') },
};

function dual(primary: Side, read: Side = primary, shadow = false, validate = false): Route {
  return shadow || validate ? makeDual(primary, read, shadow, validate) : PLAIN[primary][read];
}

/** A router compiled from one set of flags (cheap to build; rebuilt when the flags change). */
export class Router {
  readonly mode: DualMode;
  private readonly canary: CanaryRule[];
  private readonly basisPoints: number;
  /** The route of every key when it does not depend on the key (all modes but progressive and canary). */
  readonly fixed: Route | null;

  constructor(readonly flags: DualFlags) {
    this.mode = flags.mode;
    this.canary = compileCanary(flags.canary);
    this.basisPoints = percentToBasisPoints(flags.readPercent);
    switch (flags.mode) {
      case 'old-only': this.fixed = { primary: 'old', secondary: null, read: 'old', shadow: false, validate: false }; break;
      case 'new-only': this.fixed = { primary: 'new', secondary: null, read: 'new', shadow: false, validate: false }; break;
      case 'write-through': this.fixed = dual('old'); break;
      case 'shadow': this.fixed = dual('old', 'old', true); break;
      case 'read-validation': this.fixed = dual('old', 'old', false, true); break;
      case 'new-primary': this.fixed = dual('new'); break;
      default: this.fixed = null;
    }
  }

  /** The route of one key. */
  route(collection: string, key: string): Route {
    if (this.fixed) return this.fixed;
    if (this.mode === 'canary') return this.isCanary(collection, key) ? dual('new') : dual('old');
    // progressive
    const primary = this.flags.writePrimary;
    if (this.basisPoints <= 0) return dual(primary, 'old');
    if (this.basisPoints >= 10_000) return dual(primary, 'new');
    return dual(primary, cachedBucket(collection, key) < this.basisPoints ? 'new' : 'old');
  }

  /**
   * Where whole-collection operations (scan, count, listCollections) go: the store that is
   * authoritative for the collection, since a scan cannot be split key by key.
   */
  collectionRoute(collection: string | null): Route {
    if (this.fixed) return this.fixed;
    if (this.mode === 'canary') {
      const whole = collection !== null && this.canary.some((r) => r.key === null && r.collection.test(collection));
      return whole ? dual('new') : dual('old');
    }
    return dual(this.flags.writePrimary);
  }

  isCanary(collection: string, key: string): boolean {
    return this.canary.some((r) => r.collection.test(collection) && (r.key === null || r.key.test(key)));
  }
}
