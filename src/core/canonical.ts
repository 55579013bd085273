/**
 * Canonical JSON in the style of RFC 8785 (JCS), computed from JSON *text* so that numbers stay exact.
 *
 * JCS serialises numbers as IEEE doubles, which would make 2^53+1 equal 2^53. Here a number is kept as
 * its exact decimal value and written in one normal form: `1`, `1.0`, `1e0` and `10e-1` all become `1`;
 * `12345678901234567890123` stays itself; `-0` stays `-0` (it is a different JSON text and some
 * backends cannot hold it, so it must not compare equal to `0` silently). For every number that a
 * double represents exactly with its shortest form, the result is the same as JCS's.
 * Object members are sorted by UTF-16 code units (JCS), duplicate names keep the last (as JSON.parse),
 * strings are re-escaped the way JSON.stringify does. No Unicode normalisation is ever applied.
 */
import { identicalValue, type RecordValue } from './record.js';

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly position: number) {
    super(`${message} at position ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

export function canonicalJson(text: string): string {
  const p = new Parser(text);
  p.ws();
  const out = p.value(0);
  p.ws();
  if (p.i !== text.length) throw new JsonSyntaxError('unexpected text after the JSON value', p.i);
  return out;
}

/** Canonical form of a record value: JSON canonicalised, bytes as-is (prefixed so they never equal text). */
export function canonicalValue(value: RecordValue): string | Uint8Array {
  return typeof value === 'string' ? canonicalJson(value) : value;
}

/**
 * Whether two values are the same data. Identical text proves it without canonicalising, which is
 * the common case and costs nothing; otherwise compare canonical forms.
 */
export function sameValue(a: RecordValue, b: RecordValue): boolean {
  if (identicalValue(a, b)) return true;
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  try {
    return canonicalJson(a) === canonicalJson(b);
  } catch {
    return false;
  }
}

const MAX_DEPTH = 10_000;

class Parser {
  i = 0;
  constructor(private readonly s: string) {}

  ws(): void {
    const s = this.s;
    let c = s.charCodeAt(this.i);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = s.charCodeAt(++this.i);
  }

  value(depth: number): string {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError(`nesting deeper than ${MAX_DEPTH}`, this.i);
    const c = this.s.charCodeAt(this.i);
    if (c === 0x7b) return this.object(depth);
    if (c === 0x5b) return this.array(depth);
    if (c === 0x22) return this.string();
    if (c === 0x2d || isDigit(c)) return this.number();
    const lit = c === 0x74 ? 'true' : c === 0x66 ? 'false' : c === 0x6e ? 'null' : '';
    if (lit !== '' && this.s.startsWith(lit, this.i)) {
      this.i += lit.length;
      return lit;
    }
    throw new JsonSyntaxError(this.i >= this.s.length ? 'unexpected end of JSON' : 'unexpected character', this.i);
  }

  object(depth: number): string {
    this.i++;
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return '{}';
    }
    // Names as JSON.parse reads them (the sort key) and as written out, with the values' canonical text.
    const names: string[] = [];
    const written: string[] = [];
    const values: string[] = [];
    let sorted = true;
    for (;;) {
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x22) throw new JsonSyntaxError('expected a member name', this.i);
      const out = this.string();
      const name = this.decoded;
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x3a) throw new JsonSyntaxError('expected ":"', this.i);
      this.i++;
      this.ws();
      // JCS sorts by UTF-16 code units, which is exactly JavaScript's string comparison.
      if (names.length > 0 && !(names[names.length - 1]! < name)) sorted = false;
      names.push(name);
      written.push(out);
      values.push(this.value(depth + 1));
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === 0x7d) break;
      if (c !== 0x2c) throw new JsonSyntaxError('expected "," or "}"', this.i - 1);
    }
    let out = '{';
    if (sorted) {
      for (let k = 0; k < names.length; k++) out += (k > 0 ? ',' : '') + written[k] + ':' + values[k];
      return out + '}';
    }
    // By name, then by position, so that of duplicate names the last is kept (as JSON.parse does).
    const order = names.map((_, k) => k).sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : a - b));
    let first = true;
    for (let k = 0; k < order.length; k++) {
      const m = order[k]!;
      if (k + 1 < order.length && names[order[k + 1]!] === names[m]) continue;
      out += (first ? '' : ',') + written[m] + ':' + values[m];
      first = false;
    }
    return out + '}';
  }

  array(depth: number): string {
    this.i++;
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return '[]';
    }
    let out = '[';
    for (let first = true; ; first = false) {
      this.ws();
      if (!first) out += ',';
      out += this.value(depth + 1);
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === 0x5d) break;
      if (c !== 0x2c) throw new JsonSyntaxError('expected "," or "]"', this.i - 1);
    }
    return out + ']';
  }

  /** The string as JSON.parse reads it, set by `string`. */
  decoded = '';

  /**
   * A string at `i`: returns it written the way JSON.stringify writes it, and sets `decoded`. Text
   * without escapes or surrogates is already written that way (no quote, backslash or control
   * character can stand in it), so it is returned as it stands.
   */
  string(): string {
    const s = this.s;
    const start = this.i;
    let j = start + 1;
    let plain = true;
    for (;;) {
      const c = s.charCodeAt(j);
      if (Number.isNaN(c)) throw new JsonSyntaxError('unterminated string', start);
      if (c === 0x22) break;
      if (c < 0x20) throw new JsonSyntaxError('control character in string', j);
      if (c === 0x5c) {
        plain = false;
        j += 2;
        continue;
      }
      // A lone surrogate is escaped by JSON.stringify; a pair is not, but let it go the same way.
      if (c >= 0xd800 && c <= 0xdfff) plain = false;
      j++;
    }
    this.i = j + 1;
    if (plain) {
      this.decoded = s.slice(start + 1, j);
      return s.slice(start, j + 1);
    }
    try {
      this.decoded = JSON.parse(s.slice(start, j + 1)) as string;
    } catch {
      throw new JsonSyntaxError('invalid escape in string', start);
    }
    return JSON.stringify(this.decoded);
  }

  /**
   * A number in its normal form. Without an exponent, and with the decimal point where the normal
   * form puts it too (at most 21 integer digits, and not 6 or more zeros right after `0.`), the normal
   * form is the text itself without the fraction's trailing zeros: that is most numbers, done without
   * a regular expression or BigInt.
   */
  number(): string {
    const s = this.s;
    const start = this.i;
    let j = s.charCodeAt(start) === 0x2d ? start + 1 : start;
    const intStart = j;
    while (isDigit(s.charCodeAt(j))) j++;
    const intEnd = j;
    let fracEnd = j;
    if (s.charCodeAt(j) === 0x2e) {
      j++;
      while (isDigit(s.charCodeAt(j))) j++;
      fracEnd = j;
    }
    const e = s.charCodeAt(j);
    const intLen = intEnd - intStart;
    const valid = intLen === 1 || (intLen > 1 && s.charCodeAt(intStart) !== 0x30);
    if (valid && e !== 0x65 && e !== 0x45 && fracEnd !== intEnd + 1 && intLen <= 21) {
      let end = fracEnd;
      if (end > intEnd) {
        while (s.charCodeAt(end - 1) === 0x30) end--;
        if (end === intEnd + 1) end = intEnd;
      }
      const zeroInt = intLen === 1 && s.charCodeAt(intStart) === 0x30;
      if (!zeroInt) {
        this.i = fracEnd;
        return s.slice(start, end);
      }
      // 0.x: the form is the same unless the digits start 6 or more places after the point.
      let lead = intEnd + 1;
      while (lead < end && s.charCodeAt(lead) === 0x30) lead++;
      if (end === intEnd || lead - (intEnd + 1) < 6) {
        this.i = fracEnd;
        return s.slice(start, end);
      }
    }
    const m = NUMBER.exec(s.slice(start, start + 1_000_000));
    if (!m) throw new JsonSyntaxError('invalid number', start);
    this.i = start + m[0].length;
    return normaliseNumber(m[1] === '-', m[2]!, m[3] ?? '', m[4] ?? '0');
  }
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

const NUMBER = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?/;

/** The exact decimal value in one normal form (see the module note). */
export function normaliseNumber(negative: boolean, intPart: string, fracPart: string, expText: string): string {
  let digits = intPart + fracPart;
  let exponent = BigInt(expText) - BigInt(fracPart.length); // value = digits * 10^exponent
  let lead = 0;
  while (lead < digits.length - 1 && digits.charCodeAt(lead) === 0x30) lead++;
  digits = digits.slice(lead);
  if (digits === '0') return negative ? '-0' : '0';
  let trail = digits.length;
  while (digits.charCodeAt(trail - 1) === 0x30) trail--;
  exponent += BigInt(digits.length - trail);
  digits = digits.slice(0, trail);
  const sign = negative ? '-' : '';
  const n = digits.length;
  // Position of the decimal point relative to the start of `digits` (ECMAScript's "n" in Number::toString).
  const point = BigInt(n) + exponent;
  if (exponent >= 0n && point <= 21n) return sign + digits + '0'.repeat(Number(exponent));
  if (point > 0n && point <= 21n) {
    const p = Number(point);
    return sign + digits.slice(0, p) + '.' + digits.slice(p);
  }
  if (point <= 0n && point > -6n) return sign + '0.' + '0'.repeat(Number(-point)) + digits;
  const e = point - 1n;
  const mantissa = n === 1 ? digits : digits[0] + '.' + digits.slice(1);
  return sign + mantissa + 'e' + (e < 0n ? '-' : '+') + (e < 0n ? -e : e).toString();
}
