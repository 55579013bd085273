/**
 * What `jsonb` in PostgreSQL 15 cannot hold exactly, found cheaply in JavaScript before COPY.
 *
 * Measured on PG 15 (`'<text>'::jsonb::text`):
 * - `\u0000` in a string is refused (22P05); a lone surrogate escape like `"\ud800"` is refused (22P02).
 * - Numbers become `numeric`, which is exact, so `1e400`, `1.0` or 30-digit integers come back as the
 *   same value (canonical forms equal), but: negative zero (`-0`, `-0.0`, `-0e5`) silently becomes `0`,
 *   which canonicalJson keeps apart, so it is rejected here; a value needing more than 131072 digits
 *   before the point, or an input whose display scale (fraction digits minus exponent) passes 16383,
 *   is refused with "value overflows numeric format".
 * Every check is gated by a plain `indexOf`/regex test on the raw text, so ordinary records cost one
 * or two scans that find nothing. Anything missed here still fails COPY, and the writer isolates the
 * record with PostgreSQL's own message.
 */

const MAX_INT_DIGITS = 131072;
const MAX_DISPLAY_SCALE = 16383;

/** Why PostgreSQL jsonb cannot hold this JSON text exactly, or null. */
export function pgJsonProblem(text: string): string | null {
  if (text.indexOf('\u0000') !== -1) return 'value contains a raw NUL character, which PostgreSQL text cannot hold';
  if (text.indexOf('\\u') !== -1) {
    const problem = escapeProblem(text);
    if (problem) return problem;
  }
  if (negativeZeroHint(text) || bigExponentHint(text)) return numberProblem(text);
  return null;
}

// Candidates only: both may match inside strings; numberProblem decides with a real tokenizer.
const BIG_EXPONENT_HINT = /[0-9][eE][+-]?0*[1-9][0-9]{3}/g;

/**
 * An exponent of four digits or more on a number that stands alone: matches inside hex ids and words
 * ("a5e1234f", common in app data) are passed over by looking at what precedes the digits.
 */
function bigExponentHint(text: string): boolean {
  BIG_EXPONENT_HINT.lastIndex = 0;
  for (let m = BIG_EXPONENT_HINT.exec(text); m; m = BIG_EXPONENT_HINT.exec(text)) {
    let i = m.index;
    for (let c = text.charCodeAt(i - 1); (c >= 0x30 && c <= 0x39) || c === 0x2e; c = text.charCodeAt(--i - 1));
    const before = text.charCodeAt(i - 1);
    const word = (before >= 0x41 && before <= 0x5a) || (before >= 0x61 && before <= 0x7a) || before === 0x5f;
    if (!word) return true;
  }
  return false;
}

/**
 * A "-0" where a JSON number can start (after `:`, `,`, `[` or whitespace) and not followed by a digit:
 * dates ("2025-01-17") and ids ("a-0") are passed over without a regex, which matters because most
 * records carry a date.
 */
function negativeZeroHint(text: string): boolean {
  for (let i = text.indexOf('-0'); i !== -1; i = text.indexOf('-0', i + 2)) {
    const before = i === 0 ? 0x20 : text.charCodeAt(i - 1);
    const after = text.charCodeAt(i + 2);
    if ((before === 0x3a || before === 0x2c || before === 0x5b || before <= 0x20) && !(after >= 0x30 && after <= 0x39)) return true;
  }
  return false;
}

const ESCAPES = /(\\+)u(0000|[dD][89abAB][0-9a-fA-F]{2}|[dD][c-fC-F][0-9a-fA-F]{2})/g;
const LOW_ESCAPE = /^\\u[dD][c-fC-F][0-9a-fA-F]{2}/;

function escapeProblem(text: string): string | null {
  ESCAPES.lastIndex = 0;
  for (let m = ESCAPES.exec(text); m; m = ESCAPES.exec(text)) {
    // An even run of backslashes is escaped backslashes followed by a literal "u".
    if (m[1]!.length % 2 === 0) continue;
    const hex = m[2]!;
    if (hex === '0000') return 'value contains \\u0000 in a JSON string, which PostgreSQL jsonb cannot hold';
    const end = m.index + m[0].length;
    const c = hex.charCodeAt(1) | 0x20; // second hex digit, lower-cased
    if (c === 0x38 || c === 0x39 || c === 0x61 || c === 0x62) {
      if (LOW_ESCAPE.test(text.slice(end, end + 6))) {
        ESCAPES.lastIndex = end + 6;
        continue;
      }
    }
    return `value contains the lone surrogate escape \\u${hex}, which PostgreSQL jsonb refuses`;
  }
  return null;
}

/** Walks the number tokens outside strings and checks each against numeric's limits. */
function numberProblem(text: string): string | null {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m || m[0].length === 0) return null; // not JSON; PostgreSQL will say why
      const problem = numericProblem(m[0], m[1] === '-', m[2]!, m[3] ?? '', m[4] ?? '0');
      if (problem) return problem;
      i += m[0].length;
      continue;
    }
    i++;
  }
  return null;
}

const NUMBER = /(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?/y;

function numericProblem(token: string, negative: boolean, intPart: string, fracPart: string, expText: string): string | null {
  const exponent = BigInt(expText);
  const shown = token.length > 40 ? `${token.slice(0, 37)}...` : token;
  const scale = BigInt(fracPart.length) - exponent;
  if (scale > BigInt(MAX_DISPLAY_SCALE)) {
    return `number ${shown} has more than ${MAX_DISPLAY_SCALE} digits after the decimal point as PostgreSQL numeric reads it, so jsonb refuses it`;
  }
  const digits = (intPart + fracPart).replace(/^0+/, '');
  if (digits === '') {
    return negative ? `number ${shown} is a negative zero, which PostgreSQL jsonb stores as 0` : null;
  }
  // Digits before the point: position of the point counted from the first significant digit.
  const point = BigInt(digits.length) + exponent - BigInt(fracPart.length);
  if (point > BigInt(MAX_INT_DIGITS)) {
    return `number ${shown} has more than ${MAX_INT_DIGITS} digits before the decimal point, so PostgreSQL jsonb refuses it`;
  }
  return null;
}
