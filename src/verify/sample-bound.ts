/**
 * What a random sample proves: the exact (Clopper-Pearson) one-sided upper bound on the mismatch
 * rate. With x mismatches among n records checked, the bound is the p at which seeing x or fewer
 * mismatches has probability 1 - confidence; with x = 0 that is 1 - (1 - c)^(1/n).
 */
import { formatCount } from '../observe/numbers.js';

export interface SampleBound {
  checked: number;
  mismatches: number;
  confidence: number;
  /** Upper bound on the mismatch rate (0..1). */
  upperBound: number;
  /** The sentence the report prints. */
  statement: string;
}

/** P(X <= x) for X ~ Binomial(n, p), summed in log space so large n does not underflow. */
export function binomialCdf(x: number, n: number, p: number): number {
  if (x >= n || p <= 0) return 1;
  if (p >= 1) return 0;
  const logRatio = Math.log(p) - Math.log1p(-p);
  let logTerm = n * Math.log1p(-p); // log P(X = 0)
  const logs: number[] = [logTerm];
  for (let k = 0; k < x; k++) {
    logTerm += Math.log((n - k) / (k + 1)) + logRatio;
    logs.push(logTerm);
  }
  const max = Math.max(...logs);
  let sum = 0;
  for (const l of logs) sum += Math.exp(l - max);
  return Math.min(1, Math.exp(max + Math.log(sum)));
}

/** Clopper-Pearson one-sided upper bound on the rate, given x events in n trials. */
export function clopperPearsonUpper(x: number, n: number, confidence: number): number {
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be between 0 and 1, got ${confidence}`);
  if (n <= 0) return 1;
  if (x >= n) return 1;
  if (x === 0) return 1 - Math.pow(1 - confidence, 1 / n);
  const alpha = 1 - confidence;
  // The CDF falls as p rises; bisect for the p where it equals alpha.
  let lo = x / n;
  let hi = 1;
  for (let i = 0; i < 200 && hi - lo > 1e-15; i++) {
    const mid = (lo + hi) / 2;
    if (binomialCdf(x, n, mid) > alpha) lo = mid;
    else hi = mid;
  }
  return hi;
}

export function formatRate(rate: number): string {
  const pct = rate * 100;
  if (pct >= 10) return `${Math.round(pct)}%`;
  return `${Number(pct.toPrecision(2))}%`;
}

export function sampleBound(checked: number, mismatches: number, confidence: number): SampleBound {
  const upperBound = clopperPearsonUpper(mismatches, checked, confidence);
  const conf = `${Number((confidence * 100).toPrecision(6))}%`;
  const statement =
    `checked ${formatCount(checked)} random records, ${formatCount(mismatches)} ` +
    `mismatch${mismatches === 1 ? '' : 'es'}: mismatch rate below ${formatRate(upperBound)} at ${conf} confidence`;
  return { checked, mismatches, confidence, upperBound, statement };
}
