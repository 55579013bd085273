/**
 * Hash partitions write records to temp files length-prefixed, JSON text as it is: keys and values
 * that look like the format (colons, digits, line breaks, escapes, bytes, empty text) must
 * come back exactly, and a key an unordered side repeats is judged on its last copy.
 */
import { describe, expect, it } from 'vitest';
import type { StoredRecord } from '../../src/core/record.js';
import { createMemoryStore } from '../../src/drivers/memory.js';
import { verify } from '../../src/verify/verify.js';
import { unordered } from './wrappers.js';

const tricky: StoredRecord[] = [
  { key: '12:ab', value: '{"a":"3:xyz"}' },
  { key: 'a:1', value: '{\n  "multi": [1,\n 2]\n}' },
  { key: 'line\nbreak', value: '"x"' },
  { key: 'e1:z', value: '"\\ud800"' },
  { key: 'bytes', value: new Uint8Array([0, 58, 10, 255]) },
  { key: 'J', value: '' },
  { key: '😀', value: '"😀:1"' },
];

describe('verify hash partitions', () => {
  for (const partitions of [1, 3]) {
    it(`round-trips keys and values that look like the file format (${partitions} partition(s))`, async () => {
      const a = createMemoryStore();
      const b = createMemoryStore();
      await a.putMany('t', tricky);
      await b.putMany('t', tricky);
      const same = await verify({ from: unordered(a), to: unordered(b), mode: 'full', examples: 100, tuning: { partitions } });
      expect(same.errors).toEqual([]);
      expect(same.collections[0]!.method).toBe('hash-partition');
      expect(same.collections[0]!.matching).toBe(tricky.length);
      expect(same.ok).toBe(true);

      // Change each value slightly in the target: every record must now differ, with its exact values.
      const changed = tricky.map((r): StoredRecord => ({
        key: r.key,
        value: typeof r.value === 'string' ? (r.value === '' ? ' 1' : `[${r.value}]`) : new Uint8Array([...r.value, 1]),
      }));
      await b.putMany('t', changed);
      const diff = await verify({ from: unordered(a), to: unordered(b), mode: 'full', examples: 100, tuning: { partitions } });
      const row = diff.collections[0]!;
      expect([row.matching, row.different]).toEqual([0, tricky.length]);
      for (const r of tricky) {
        const e = row.examples.find((x) => x.key === r.key)!;
        expect(e, JSON.stringify(r.key)).toBeDefined();
        expect(e.source).toEqual(r.value);
        expect(e.target).toEqual(changed.find((c) => c.key === r.key)!.value);
      }
    });
  }
});
