/**
 * The human report of a `VerifyResult`: one table row per collection, then the first examples of each
 * kind with a structural diff of the value. `--json` prints the same result object instead.
 */
import type { RecordValue } from '../core/record.js';
import { formatBytes, formatCount } from '../observe/numbers.js';
import { formatChanges } from './diff-json.js';
import type { CollectionResult, DiffKind, VerifyResult } from './types.js';

/** `read`: the bytes both sides sent to compare the collection (ReadMeter), which checksum mode keeps small. */
const HEAD = ['collection', 'source', 'target', 'matching', 'missing', 'different', 'extra', 'records/s', 'read', 'method'];

export function formatTable(rows: CollectionResult[]): string {
  const cells = rows.map((r) => [
    r.collection,
    num(r.sourceCount),
    num(r.targetCount),
    num(r.matching),
    num(r.missing),
    num(r.different),
    num(r.extra),
    num(r.recordsPerSecond),
    formatBytes(r.bytesTransferred),
    r.method,
  ]);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c.map((v, i) => (i === 0 || i === c.length - 1 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(HEAD), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function formatReport(result: VerifyResult): string {
  const out: string[] = [];
  const differing = result.collections.filter((c) => c.missing + c.different + c.extra > 0 || c.sourceCount !== c.targetCount).length;
  const verdict = result.ok ? 'EQUAL' : result.errors.length > 0 ? 'ERRORS' : 'DIFFERENT';
  out.push(`cutover verify (${result.mode}): ${verdict}: ${result.collections.length} collection${result.collections.length === 1 ? '' : 's'} checked, ${differing} differ${differing === 1 ? 's' : ''}`);
  out.push('');
  if (result.repair) {
    out.push('before repair:');
    out.push(formatTable(result.repair.before));
    out.push('');
    out.push(`repair: copied ${num(result.repair.copied)}, deleted ${num(result.repair.deleted)}, rejected by the target ${num(result.repair.rejected.length)}`);
    for (const r of result.repair.rejected.slice(0, 20)) out.push(`  rejected ${r.key === null ? '(no key)' : showKey(r.key)} in "${r.collection}": ${r.reason}`);
    out.push('');
    out.push('after repair:');
  }
  if (result.collections.length > 0) out.push(formatTable(result.collections));
  for (const c of result.collections) if (c.note) out.push(`  ${c.collection}: ${c.note}`);
  for (const c of result.collections) {
    for (const kind of ['missing', 'different', 'extra'] as DiffKind[]) {
      const list = c.examples.filter((e) => e.kind === kind);
      if (list.length === 0) continue;
      const total = c[kind];
      out.push('');
      out.push(`${c.collection}: ${kind} (${num(total)}${total > list.length ? `, first ${list.length} shown` : ''})`);
      for (const e of list) {
        if (kind === 'different') {
          out.push(`  ${showKey(e.key)}`);
          out.push(e.diff && e.diff.length > 0 ? formatChanges(e.diff) : `    ${show(e.source)} → ${show(e.target)}`);
        } else {
          out.push(`  ${showKey(e.key)}: ${show(kind === 'missing' ? e.source : e.target)}`);
        }
      }
    }
  }
  if (result.sampleBound) {
    out.push('');
    out.push(`sample: ${result.sampleBound.statement}`);
  }
  if (result.danglingRefs) {
    const d = result.danglingRefs;
    out.push('');
    out.push(`references: ${num(d.checked)} checked in the target, ${num(d.dangling)} dangling`);
    for (const e of d.examples) out.push(`  ${e.collection} ${showKey(e.key)} .${e.path} -> ${e.refCollection} ${showKey(e.ref)} (absent)`);
  }
  if (result.errors.length > 0) {
    out.push('');
    out.push('errors:');
    for (const e of result.errors) out.push(`  ${e.collection ? `${e.collection}: ` : ''}${e.message}`);
  }
  return out.join('\n') + '\n';
}

/** A key in quotes, with invisible characters (controls, format, private use, unassigned) escaped so they show. */
export function showKey(key: string): string {
  return JSON.stringify(key).replace(/[\p{C}\p{Zl}\p{Zp}]/gu, (ch) => `\\u{${ch.codePointAt(0)!.toString(16)}}`);
}

function num(n: number): string {
  return Number.isInteger(n) ? formatCount(n) : n.toLocaleString('en-US');
}

function show(v: RecordValue | undefined): string {
  if (v === undefined) return '(none)';
  if (typeof v !== 'string') return `<${v.byteLength} bytes>`;
  return v.length > 120 ? `${v.slice(0, 120)}…` : v;
}

/** The result as JSON-safe data: byte values become `{ "$bytes": base64 }`. */
export function resultToJson(result: VerifyResult): unknown {
  return JSON.parse(
    // `this[key]` is the value before Buffer#toJSON ran, so Buffers and plain Uint8Arrays both match.
    JSON.stringify(result, function (this: Record<string, unknown>, key, value: unknown) {
      const raw = this[key];
      return raw instanceof Uint8Array ? { $bytes: Buffer.from(raw).toString('base64') } : value;
    }),
  );
}
