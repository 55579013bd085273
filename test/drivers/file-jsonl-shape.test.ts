/**
 * spansOneValue: how the JSONL reader finds a value's extent without parsing it, when the target
 * validates JSON itself. It must never take a line's later members for part of the value.
 */
import { describe, expect, it } from 'vitest';
import { spansOneValue } from '../../src/drivers/file-jsonl-lines.js';

const spans = (text: string) => {
  const b = Buffer.from(text);
  return spansOneValue(b, 0, b.length);
};

describe('spansOneValue', () => {
  it('accepts one object, array, string, number or literal that ends at the last byte', () => {
    for (const text of ['{}', '[]', '{"a":{"b":[1,2,{"c":"]}"}]}}', '"x"', '"a\\"b"', '"\\\\"', '-1.5e+10', '0', 'true', 'false', 'null', '{"é":"😀"}']) {
      expect(spans(text), text).toBe(true);
    }
  });

  it('refuses text where something follows the value, or the value never closes', () => {
    for (const text of ['{"v":1},"extra":2', '{"v":1} ', '[1],[2]', '"a","b"', '"a\\"', '{"v":"}"', '{', '1,"x":2', 'tru', '', '01', '1 2']) {
      expect(spans(text), text).toBe(false);
    }
  });

  it('finds string ends the same near the opening quote and far from it (escaped quotes and backslashes on both sides)', () => {
    for (const pad of [0, 1, 30, 46, 47, 48, 49, 50, 200]) {
      const x = 'x'.repeat(pad);
      // A string whose escaped quote, escaped backslash or closing quote falls at every distance.
      expect(spans(String.raw`{"s":"${x}\\"}`), `closing after an escaped backslash, pad ${pad}`).toBe(true);
      expect(spans(String.raw`{"s":"${x}\\\"}"}`), `escaped quote then brace inside, pad ${pad}`).toBe(true);
      expect(spans(String.raw`{"s":"${x}\\\"}`), `string never closes, pad ${pad}`).toBe(false);
      expect(spans(`["${x}","}"],1`), `value followed by more, pad ${pad}`).toBe(false);
      expect(spans(String.raw`"${x}\\"`), `a string value, pad ${pad}`).toBe(true);
    }
  });

  it('leaves the syntax inside to the target: balanced but malformed text spans', () => {
    expect(spans('{"broken":}')).toBe(true);
    expect(spans('{"a":1]')).toBe(true);
  });

  it('works on a window of a larger buffer', () => {
    const b = Buffer.from('{"key":"k","value":{"v":[1]}}\n');
    expect(spansOneValue(b, 19, b.length - 2)).toBe(true);
    expect(spansOneValue(b, 19, b.length - 1)).toBe(false);
  });
});
