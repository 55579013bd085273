/**
 * Finds the members of a JSON object *in its text*, so a value can be passed on as the exact text
 * the file holds (big integers, -0, long decimals and escapes intact) instead of JSON.parse ->
 * JSON.stringify. The text must already be valid JSON (callers JSON.parse it first to validate);
 * the scanner only tracks strings and nesting to find where each member's value starts and ends.
 */

export interface MemberSpan {
  name: string;
  /** The value's text is `text.slice(start, end)`. */
  start: number;
  end: number;
}

function ws(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else return i;
  }
}

/** Index just past the string that starts at `i` (a `"`). */
function skipString(text: string, i: number): number {
  for (i++; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i + 1;
  }
  return i;
}

/** Index just past the value that starts at `i`. */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 34) return skipString(text, i);
  if (c === 123 || c === 91) {
    let depth = 0;
    for (; i < text.length; i++) {
      const d = text.charCodeAt(i);
      if (d === 34) i = skipString(text, i) - 1;
      else if (d === 123 || d === 91) depth++;
      else if (d === 125 || d === 93) {
        if (--depth === 0) return i + 1;
      }
    }
    return i;
  }
  // number or literal: runs until a delimiter
  for (; i < text.length; i++) {
    const d = text.charCodeAt(i);
    if (d === 44 || d === 125 || d === 93 || d === 32 || d === 10 || d === 13 || d === 9) return i;
  }
  return i;
}

/** The top-level members of the object text, in order (duplicates included: JSON.parse keeps the last). */
export function objectMembers(text: string): MemberSpan[] {
  const out: MemberSpan[] = [];
  let i = ws(text, 0);
  if (text.charCodeAt(i) !== 123) return out;
  i = ws(text, i + 1);
  while (i < text.length && text.charCodeAt(i) !== 125) {
    const nameEnd = skipString(text, i);
    const raw = text.slice(i + 1, nameEnd - 1);
    const name = raw.includes('\\') ? (JSON.parse(text.slice(i, nameEnd)) as string) : raw;
    i = ws(text, nameEnd);
    i = ws(text, i + 1); // past ":"
    const start = i;
    const end = skipValue(text, i);
    out.push({ name, start, end });
    i = ws(text, end);
    if (text.charCodeAt(i) === 44) i = ws(text, i + 1);
  }
  return out;
}

/** The exact text of the last member called `name`, or undefined. */
export function memberText(text: string, name: string): string | undefined {
  let found: MemberSpan | undefined;
  for (const m of objectMembers(text)) if (m.name === name) found = m;
  return found ? text.slice(found.start, found.end) : undefined;
}
