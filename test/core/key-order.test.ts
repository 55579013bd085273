import { describe, expect, it } from 'vitest';
import { compareKeys } from '../../src/core/key-order.js';
import { ORDER_KEYS } from '../conformance/ugly-data.js';

const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

describe('compareKeys', () => {
  it('orders exactly as UTF-8 bytes do, unlike JavaScript string order', () => {
    const expected = [...ORDER_KEYS].sort(byUtf8);
    expect([...ORDER_KEYS].sort(compareKeys)).toEqual(expected);
    // The case that motivates it: U+FFEF sorts after an astral character in UTF-16 order only.
    expect('\uffef' < '😀').toBe(false);
    expect(compareKeys('\uffef', '😀')).toBeLessThan(0);
  });

  it('agrees with byte order on random strings from every plane', () => {
    const pick = () => {
      const r = Math.random();
      if (r < 0.3) return String.fromCharCode(0x20 + Math.floor(Math.random() * 95));
      if (r < 0.5) return String.fromCharCode(0xa0 + Math.floor(Math.random() * 0xd700));
      if (r < 0.7) return String.fromCharCode(0xe000 + Math.floor(Math.random() * 0x1fff));
      return String.fromCodePoint(0x10000 + Math.floor(Math.random() * 0xfffff));
    };
    for (let n = 0; n < 5000; n++) {
      const a = Array.from({ length: 1 + Math.floor(Math.random() * 4) }, pick).join('');
      const b = Math.random() < 0.3 ? a + pick() : Array.from({ length: 1 + Math.floor(Math.random() * 4) }, pick).join('');
      expect(Math.sign(compareKeys(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(Math.sign(byUtf8(a, b)));
    }
  });
});
