/**
 * A small structural diff of two record values for the report: which paths changed, old → new.
 * JSON is parsed into a tree that keeps every number's exact text, because `JSON.parse` would make
 * 9007199254740993 equal 9007199254740992 and hide the very change the report must show. Numbers
 * compare by exact decimal value (1.0 equals 1); member order never matters.
 */
import { normaliseNumber } from '../core/canonical.js';
import type { RecordValue } from '../core/record.js';

export interface JsonChange {
  /** `$.a.b[2]`; `$` is the whole value. */
  path: string;
  op: 'changed' | 'added' | 'removed';
  /** JSON text in the source (absent for `added`). */
  old?: string;
  /** JSON text in the target (absent for `removed`). */
  new?: string;
}

export type JsonNode =
  | { t: 'obj'; members: Map<string, JsonNode>; raw: string }
  | { t: 'arr'; items: JsonNode[]; raw: string }
  | { t: 'num'; exact: string; raw: string }
  | { t: 'lit'; raw: string };

const MAX_CHANGES = 50;
const MAX_TEXT = 200;

/** The changes from `source` to `target`, at most 50. */
export function diffValues(source: RecordValue, target: RecordValue): JsonChange[] {
  if (typeof source !== 'string' || typeof target !== 'string') return diffBytes(source, target);
  let a: JsonNode;
  let b: JsonNode;
  try {
    a = parseJsonTree(source);
    b = parseJsonTree(target);
  } catch {
    return source === target ? [] : [{ path: '$', op: 'changed', old: clip(source), new: clip(target) }];
  }
  const out: JsonChange[] = [];
  walk(a, b, '$', out);
  return out;
}

/** One line per change, indented for the report. */
export function formatChanges(changes: JsonChange[], indent = '    '): string {
  return changes
    .map((c) =>
      c.op === 'added' ? `${indent}+ ${c.path}: ${c.new}` : c.op === 'removed' ? `${indent}- ${c.path}: ${c.old}` : `${indent}~ ${c.path}: ${c.old} → ${c.new}`,
    )
    .join('\n');
}

function walk(a: JsonNode, b: JsonNode, path: string, out: JsonChange[]): void {
  if (out.length >= MAX_CHANGES) return;
  if (a.t === 'obj' && b.t === 'obj') {
    const names = new Set([...a.members.keys(), ...b.members.keys()]);
    for (const name of [...names].sort()) {
      const p = path + member(name);
      const x = a.members.get(name);
      const y = b.members.get(name);
      if (x && y) walk(x, y, p, out);
      else if (x) out.push({ path: p, op: 'removed', old: clip(x.raw) });
      else if (y) out.push({ path: p, op: 'added', new: clip(y.raw) });
      if (out.length >= MAX_CHANGES) return;
    }
    return;
  }
  if (a.t === 'arr' && b.t === 'arr') {
    const n = Math.max(a.items.length, b.items.length);
    for (let i = 0; i < n && out.length < MAX_CHANGES; i++) {
      const x = a.items[i];
      const y = b.items[i];
      if (x && y) walk(x, y, `${path}[${i}]`, out);
      else if (x) out.push({ path: `${path}[${i}]`, op: 'removed', old: clip(x.raw) });
      else if (y) out.push({ path: `${path}[${i}]`, op: 'added', new: clip(y.raw) });
    }
    return;
  }
  if (a.t === 'num' && b.t === 'num' && a.exact === b.exact) return;
  if (a.t === 'lit' && b.t === 'lit' && sameLiteral(a.raw, b.raw)) return;
  out.push({ path, op: 'changed', old: clip(a.raw), new: clip(b.raw) });
}

function sameLiteral(x: string, y: string): boolean {
  if (x === y) return true;
  // Strings may be spelled with different escapes ("\u00e9" vs "é") and still be the same string.
  return x.startsWith('"') && y.startsWith('"') && JSON.parse(x) === JSON.parse(y);
}

function member(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

function diffBytes(a: RecordValue, b: RecordValue): JsonChange[] {
  const describe = (v: RecordValue) => (typeof v === 'string' ? clip(v) : `<${v.byteLength} bytes>`);
  if (typeof a === 'string' || typeof b === 'string') return [{ path: '$', op: 'changed', old: describe(a), new: describe(b) }];
  const n = Math.min(a.byteLength, b.byteLength);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  if (i === n && a.byteLength === b.byteLength) return [];
  return [{ path: '$', op: 'changed', old: describe(a), new: `${describe(b)} (first difference at byte ${i})` }];
}

/** Parses JSON text into a tree that keeps each number's exact text. Throws on invalid JSON. */
export function parseJsonTree(text: string): JsonNode {
  const p = { s: text, i: 0 };
  skip(p);
  const node = value(p, 0);
  skip(p);
  if (p.i !== text.length) throw new SyntaxError('trailing text');
  return node;
}

interface P {
  s: string;
  i: number;
}

function skip(p: P): void {
  while (p.i < p.s.length && ' \n\r\t'.includes(p.s[p.i]!)) p.i++;
}

const NUMBER = /-?(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?/y;

function value(p: P, depth: number): JsonNode {
  if (depth > 1000) throw new SyntaxError('too deep to diff');
  const start = p.i;
  const c = p.s[p.i];
  if (c === '{') {
    p.i++;
    const members = new Map<string, JsonNode>();
    skip(p);
    if (p.s[p.i] === '}') p.i++;
    else {
      for (;;) {
        skip(p);
        const name = JSON.parse(stringRaw(p)) as string;
        skip(p);
        if (p.s[p.i++] !== ':') throw new SyntaxError('expected :');
        skip(p);
        members.delete(name);
        members.set(name, value(p, depth + 1));
        skip(p);
        const d = p.s[p.i++];
        if (d === '}') break;
        if (d !== ',') throw new SyntaxError('expected , or }');
      }
    }
    return { t: 'obj', members, raw: p.s.slice(start, p.i) };
  }
  if (c === '[') {
    p.i++;
    const items: JsonNode[] = [];
    skip(p);
    if (p.s[p.i] === ']') p.i++;
    else {
      for (;;) {
        skip(p);
        items.push(value(p, depth + 1));
        skip(p);
        const d = p.s[p.i++];
        if (d === ']') break;
        if (d !== ',') throw new SyntaxError('expected , or ]');
      }
    }
    return { t: 'arr', items, raw: p.s.slice(start, p.i) };
  }
  if (c === '"') return { t: 'lit', raw: stringRaw(p) };
  NUMBER.lastIndex = p.i;
  const m = NUMBER.exec(p.s);
  if (m) {
    p.i += m[0].length;
    return { t: 'num', exact: normaliseNumber(m[0].startsWith('-'), m[1]!, m[2] ?? '', m[3] ?? '0'), raw: m[0] };
  }
  for (const lit of ['true', 'false', 'null']) {
    if (p.s.startsWith(lit, p.i)) {
      p.i += lit.length;
      return { t: 'lit', raw: lit };
    }
  }
  throw new SyntaxError(`unexpected character at ${p.i}`);
}

function stringRaw(p: P): string {
  const start = p.i;
  if (p.s[p.i] !== '"') throw new SyntaxError('expected a string');
  let j = p.i + 1;
  while (j < p.s.length && p.s[j] !== '"') j += p.s[j] === '\\' ? 2 : 1;
  if (j >= p.s.length) throw new SyntaxError('unterminated string');
  p.i = j + 1;
  return p.s.slice(start, p.i);
}
