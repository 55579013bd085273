import { describe, expect, it } from 'vitest';
import { HOSTILE_KEYS, ORDER_KEYS } from '../conformance/ugly-data.js';
import { BYTES_EXT, JSON_EXT, decodeName, encodeKey, keyPath, parseRecordPath, plainPath } from '../../src/drivers/file-names.js';

/** A small seeded PRNG so a failure names a reproducible key. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

const ALPHABET = [
  ...'abcxyzABCXYZ0189', '.', ' ', '/', '\\', ':', '%', '^', '~', '*', '?', '"', '<', '>', '|', '\t', '\n', '\u007f',
  'é', 'É', 'ß', 'ẞ', 'ı', 'İ', 'K', '\u0301', '中', '\ue000', '\uffff', '😀', '𝄞', '\u{10ffff}', '%2e', '^a', 'CON', 'nul', 'com1', 'Lpt9',
];

function randomKey(next: () => number): string {
  const len = 1 + Math.floor(next() * (next() < 0.1 ? 400 : 12));
  let k = '';
  for (let i = 0; i < len; i++) k += ALPHABET[Math.floor(next() * ALPHABET.length)]!;
  while (Buffer.byteLength(k) > 1024) k = [...k].slice(0, -1).join('');
  return k;
}

function caseVariants(k: string): string[] {
  return [k, k.toUpperCase(), k.toLowerCase(), k.charAt(0).toUpperCase() + k.slice(1)];
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)/i;

function assertSafePieces(key: string, rel: string): void {
  const pieces = rel.split('/');
  for (const p of pieces) {
    expect(Buffer.byteLength(p), `piece of ${JSON.stringify(key)}`).toBeLessThanOrEqual(255);
    expect(p).toMatch(/^[\x20-\x7e]+$/);
    expect(p).not.toMatch(/[\\:*?"<>|]/);
    expect(p === '.' || p === '..').toBe(false);
    expect(p.startsWith('.') || p.startsWith(' ')).toBe(false);
    expect(p.endsWith('.') || p.endsWith(' ')).toBe(false);
    expect(WINDOWS_RESERVED.test(p), `reserved name ${p}`).toBe(false);
    expect(p).toBe(p.toLowerCase());
  }
}

describe('file names', () => {
  const fixed = [...HOSTILE_KEYS, ...ORDER_KEYS, 'con', 'CON.json', 'aux.txt', 'com1', 'lpt1.x', 'trailing.', 'x.'.repeat(300), '.'.repeat(1024),
    ' '.repeat(1024), '😀'.repeat(256), 'a'.repeat(1024), '%41', '^a', 'a~', 'x'.repeat(199) + '~', 'user-42', 'Alice Smith'];

  it('round-trips and stays safe for hostile, ordered and long keys', () => {
    for (const key of fixed) {
      for (const ext of [JSON_EXT, BYTES_EXT]) {
        const rel = keyPath(key, ext);
        assertSafePieces(key, rel);
        expect(parseRecordPath(rel), JSON.stringify(key)).toEqual({ key, ext });
      }
    }
  });

  it('is injective and reversible over random keys, also ignoring case (property test)', () => {
    const next = rng(20261122);
    const seen = new Map<string, string>();
    for (let i = 0; i < 1500; i++) {
      for (const key of caseVariants(randomKey(next))) {
        if (Buffer.byteLength(key) > 1024) continue;
        const rel = keyPath(key, JSON_EXT);
        assertSafePieces(key, rel);
        expect(parseRecordPath(rel)?.key, JSON.stringify(key)).toBe(key);
        // A case-insensitive volume folds case (and Unicode case: all non-ASCII is escaped to ASCII).
        const folded = rel.toLowerCase();
        const other = seen.get(folded);
        if (other !== undefined) expect(other, `${JSON.stringify(key)} and ${JSON.stringify(other)} share ${folded}`).toBe(key);
        seen.set(folded, key);
      }
    }
    expect(seen.size).toBeGreaterThan(3000);
  });

  it('keys that differ only in case get names that differ in more than case', () => {
    const names = ['Case', 'case', 'CASE', 'cASE', 'É', 'é', 'İ', 'i'].map((k) => keyPath(k, JSON_EXT).toLowerCase());
    expect(new Set(names).size).toBe(names.length);
  });

  it('long keys become sub-folders of at most 200 characters plus the mark', () => {
    const rel = keyPath('é'.repeat(512), JSON_EXT);
    const pieces = rel.split('/');
    expect(pieces.length).toBeGreaterThan(10);
    for (const p of pieces.slice(0, -1)) {
      expect(p.endsWith('~')).toBe(true);
      expect(p.length).toBeLessThanOrEqual(201);
    }
    expect(encodeKey('short')).toEqual(['short']);
  });

  it('names written by hand read back as the obvious key', () => {
    for (const name of ['user-42', 'Alice Smith', 'Jürgen', '中文', '100%', 'a^B', 'UPPER', 'x%zz', 'rate 5%.']) {
      expect(parseRecordPath(`${name}.json`)?.key).toBe(name);
    }
    expect(decodeName('%41bc')).toBe('Abc');
    expect(decodeName('%ff%fe')).toBe('%ff%fe'); // not UTF-8: taken as written
    expect(plainPath('Alice Smith', JSON_EXT)).toBe('Alice Smith.json');
    expect(plainPath('user-42', JSON_EXT)).toBeNull(); // already its own escaped name
    expect(plainPath('a/b', JSON_EXT)).toBeNull();
  });
});
