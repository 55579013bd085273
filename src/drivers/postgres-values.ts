/**
 * What `jsonb` in PostgreSQL 15 cannot hold exactly, found cheaply in JavaScript before COPY.
 *
 * Measured on PG 15 (`'<text>'::jsonb::text`):
 * - `\u0000` in a string is refused (22P05); a lone surrogate escape like `"\ud800"` is refused (22P02).
 * - Numbers become `numeric`, which is exact, so `1e400`, `1.0` or 30-digit integers come back as the
 *   same value (canonical forms equal), but negative zero (`-0`, `-0.0`, `-0e5`) silently becomes `0`,
 *   which canonicalJson keeps apart. That silent change is the one check that must happen here.
 * - A value needing more than 131072 digits before the point, or an input whose display scale
 *   (fraction digits minus exponent) passes 16383, is refused with "value overflows numeric format".
 * What PostgreSQL refuses needs no check here: COPY fails, and the writer isolates the record with
 * PostgreSQL's own message. NUL and lone surrogates are checked anyway because two `indexOf` scans
 * find them for nothing; numeric overflow is not, because finding it took the costliest scan of the
 * pre-check (every "e" after a digit) for numbers no real data holds.
 */

/** Why PostgreSQL jsonb cannot hold this JSON text exactly, or null. */
export function pgJsonProblem(text: string): string | null {
  if (text.indexOf('\u0000') !== -1) return 'value contains a raw NUL character, which PostgreSQL text cannot hold';
  if (text.indexOf('\\u') !== -1) {
    const problem = escapeProblem(text);
    if (problem) return problem;
  }
  return negativeZeroHint(text) ? negativeZero(text) : null;
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

/** Walks the number tokens outside strings and names the first negative zero. */
function negativeZero(text: string): string | null {
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
      if (m[1] === '-' && /^0*$/.test(m[2]! + (m[3] ?? ''))) {
        const shown = m[0].length > 40 ? `${m[0].slice(0, 37)}...` : m[0];
        return `number ${shown} is a negative zero, which PostgreSQL jsonb stores as 0`;
      }
      i += m[0].length;
      continue;
    }
    i++;
  }
  return null;
}

const NUMBER = /(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?/y;
