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
    if (c === 0x22) return JSON.stringify(this.string());
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    for (const lit of ['true', 'false', 'null']) {
      if (this.s.startsWith(lit, this.i)) {
        this.i += lit.length;
        return lit;
      }
    }
    throw new JsonSyntaxError(this.i >= this.s.length ? 'unexpected end of JSON' : 'unexpected character', this.i);
  }

  object(depth: number): string {
    this.i++;
    const members = new Map<string, string>();
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return '{}';
    }
    for (;;) {
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x22) throw new JsonSyntaxError('expected a member name', this.i);
      const name = this.string();
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x3a) throw new JsonSyntaxError('expected ":"', this.i);
      this.i++;
      this.ws();
      members.delete(name);
      members.set(name, this.value(depth + 1));
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === 0x7d) break;
      if (c !== 0x2c) throw new JsonSyntaxError('expected "," or "}"', this.i - 1);
    }
    // JCS sorts by UTF-16 code units, which is exactly JavaScript's default string comparison.
    const names = [...members.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let out = '{';
    for (let k = 0; k < names.length; k++) {
      const name = names[k]!;
      if (k > 0) out += ',';
      out += JSON.stringify(name) + ':' + members.get(name)!;
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

  string(): string {
    const s = this.s;
    const start = this.i;
    let j = start + 1;
    let escaped = false;
    for (;;) {
      const c = s.charCodeAt(j);
      if (Number.isNaN(c)) throw new JsonSyntaxError('unterminated string', start);
      if (c === 0x22) break;
      if (c < 0x20) throw new JsonSyntaxError('control character in string', j);
      if (c === 0x5c) {
        escaped = true;
        j += 2;
        continue;
      }
      j++;
    }
    this.i = j + 1;
    if (!escaped) return s.slice(start + 1, j);
    try {
      return JSON.parse(s.slice(start, j + 1)) as string;
    } catch {
      throw new JsonSyntaxError('invalid escape in string', start);
    }
  }

  number(): string {
    const s = this.s;
    const m = NUMBER.exec(s.slice(this.i, this.i + 1_000_000));
    if (!m) throw new JsonSyntaxError('invalid number', this.i);
    this.i += m[0].length;
    return normaliseNumber(m[1] === '-', m[2]!, m[3] ?? '', m[4] ?? '0');
  }
}

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
