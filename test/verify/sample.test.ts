import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/drivers/memory.js';
import { parseSample, reservoirSample, sampleSize, seededRandom } from '../../src/verify/sample.js';
import { binomialCdf, clopperPearsonUpper, sampleBound } from '../../src/verify/sample-bound.js';
import { verify } from '../../src/verify/verify.js';

describe('sample bound (Clopper-Pearson, one-sided upper)', () => {
  // Reference values from scipy.stats.beta.ppf(c, x + 1, n - x).
  const known: [number, number, number, number][] = [
    [0, 10000, 0.99, 0.0004604109969121544],
    [1, 10, 0.95, 0.39416330243650466],
    [3, 1000, 0.99, 0.010009791991707746],
    [0, 100, 0.95, 0.029513049607039925],
    [5, 200, 0.9, 0.04587869036775376],
    [50, 100000, 0.99, 0.0006906065059266389],
  ];
  for (const [x, n, c, want] of known) {
    it(`x=${x} n=${n} c=${c} → ${want}`, () => {
      expect(clopperPearsonUpper(x, n, c)).toBeCloseTo(want, 9);
      expect(Math.abs(clopperPearsonUpper(x, n, c) - want) / want).toBeLessThan(1e-6);
    });
  }

  it('with 0 mismatches equals 1-(1-c)^(1/n)', () => {
    expect(clopperPearsonUpper(0, 500, 0.95)).toBe(1 - Math.pow(0.05, 1 / 500));
  });

  it('the binomial CDF agrees with a direct sum', () => {
    // n=10, p=0.3: P(X<=2) = 0.3827827864
    expect(binomialCdf(2, 10, 0.3)).toBeCloseTo(0.3827827864, 9);
    expect(binomialCdf(10, 10, 0.3)).toBe(1);
  });

  it('states the bound as the report sentence', () => {
    expect(sampleBound(10_000, 0, 0.99).statement).toBe('checked 10,000 random records, 0 mismatches: mismatch rate below 0.046% at 99% confidence');
    expect(sampleBound(10, 1, 0.95).statement).toBe('checked 10 random records, 1 mismatch: mismatch rate below 39% at 95% confidence');
    expect(sampleBound(0, 0, 0.99).upperBound).toBe(1);
  });
});

describe('sample size', () => {
  it('parses counts and percentages', () => {
    expect(parseSample('1%')).toEqual({ fraction: 0.01 });
    expect(parseSample('2.5%')).toEqual({ fraction: 0.025 });
    expect(parseSample('500')).toEqual({ count: 500 });
    expect(parseSample(7)).toEqual({ count: 7 });
    expect(() => parseSample('abc')).toThrow(/count like 10000/);
    expect(() => parseSample('101%')).toThrow(/at most 100%/);
    expect(sampleSize({ fraction: 0.01 }, 1234)).toBe(13);
    expect(sampleSize({ count: 50 }, 10)).toBe(10);
  });
});

/** Chi-square statistic of observed bucket counts against equal expected counts. */
function chiSquare(observed: number[]): number {
  const total = observed.reduce((a, b) => a + b, 0);
  const expected = total / observed.length;
  return observed.reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
}

describe('sampling is uniform', () => {
  it('reservoir sampling picks every position equally often (chi-square, fixed seed)', async () => {
    const random = seededRandom(12345);
    const buckets = new Array(20).fill(0);
    for (let run = 0; run < 2000; run++) {
      async function* items() {
        for (let i = 0; i < 200; i++) yield i;
      }
      const { sample, seen } = await reservoirSample(items(), 20, random);
      expect(seen).toBe(200);
      expect(new Set(sample).size).toBe(20);
      for (const i of sample) buckets[Math.floor(i / 10)]++;
    }
    // 19 degrees of freedom: 43.8 is the 0.1% critical value; a first-N sample would score ~760,000.
    expect(chiSquare(buckets)).toBeLessThan(60);
    expect(Math.min(...buckets)).toBeGreaterThan(1700);
  });

  it('verify --mode sample spreads its sample over the whole collection, not its start', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    const n = 2000;
    const keys = Array.from({ length: n }, (_, i) => `k${String(i).padStart(5, '0')}`);
    await a.putMany('c', keys.map((key) => ({ key, value: '1' })));
    await b.putMany('c', keys.map((key) => ({ key, value: '2' }))); // every record differs, so every sampled key is an example
    const result = await verify({ from: a, to: b, mode: 'sample', sample: 200, seed: 99, examples: 200 });
    const sampled = result.collections[0]!.examples.map((e) => Number(e.key.slice(1)));
    expect(new Set(sampled).size).toBe(200);
    const buckets = new Array(10).fill(0);
    for (const i of sampled) buckets[Math.floor(i / (n / 10))]++;
    expect(chiSquare(buckets)).toBeLessThan(35); // 9 df: 27.9 is the 0.1% critical value
    expect(result.sampleBound!.checked).toBe(200);
    expect(result.sampleBound!.mismatches).toBe(200);
    expect(result.ok).toBe(false);
  });

  it('a percentage samples that share of the records and bounds the rate', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    const records = Array.from({ length: 1000 }, (_, i) => ({ key: `k${i}`, value: `{"i":${i}}` }));
    await a.putMany('c', records);
    await b.putMany('c', records);
    const result = await verify({ from: a, to: b, mode: 'sample', sample: '10%', seed: 5 });
    expect(result.ok).toBe(true);
    expect(result.sampleBound!.checked).toBe(100);
    expect(result.sampleBound!.upperBound).toBeCloseTo(1 - Math.pow(0.01, 1 / 100), 12);
    expect(result.sampleBound!.statement).toMatch(/checked 100 random records, 0 mismatches: mismatch rate below 4.5% at 99% confidence/);
  });
});
