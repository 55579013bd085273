/**
 * The data every cross-backend migration carries: the conformance suite's ugly keys and values, keys at
 * the 1024-byte limit, bytes, a 1 MiB value, and a bulk of ordinary records, with the records each
 * backend is known to be unable to hold named up front (so an unexpected loss fails a test).
 */
import { randomBytes } from 'node:crypto';
import type { StoredRecord } from '../../src/core/record.js';
import { HOSTILE_KEYS, ORDER_KEYS, TRICKY_JSON, deepJson } from '../conformance/ugly-data.js';
import type { Kind } from './backends.js';

export const UGLY = 'ugly';
export const BULK = 'bulk';

/**
 * Values PostgreSQL jsonb cannot hold exactly, by key, with a pattern the reject's reason must match
 * (the reason has to say why, not only that it failed).
 */
export const PG_CANNOT: Record<string, { value: string; reason: RegExp }> = {
  'v/neg-zero': { value: '-0', reason: /negative zero/i },
  'v/neg-zero-nested': { value: '{"a":[1,-0.0,2],"b":"-0 in a string is fine"}', reason: /negative zero/i },
  'v/nul-escape': { value: '{"s":"before\\u0000after"}', reason: /\\u0000|NUL/ },
  'v/lone-surrogate-escape': { value: '["\\ud800"]', reason: /surrogate/i },
};

/** Which records of `records` a backend must reject, with the reason pattern. */
export function mustReject(kind: Kind): Map<string, RegExp> {
  const out = new Map<string, RegExp>();
  if (kind === 'postgres') for (const [key, { reason }] of Object.entries(PG_CANNOT)) out.set(key, reason);
  return out;
}

/** A target of a pair: a backend, or the file backend's JSONL or one-object JSON layout (JSON values only). */
export type TargetKind = Kind | 'file-jsonl' | 'file-json';

/** Why `target` cannot hold a record: a pattern its reject reason must match, or null when it can. */
export function cannotHold(target: TargetKind, collection: string, record: StoredRecord): RegExp | null {
  const pg = collection === UGLY ? PG_CANNOT[record.key] : undefined;
  if (target === 'postgres' && pg && pg.value === record.value) return pg.reason;
  if (target === 'file-json' && typeof record.value !== 'string') return /JSON values only/;
  return null;
}

const MiB = 1024 * 1024;

/** A JSON string of exactly `bytes` UTF-8 bytes, with multi-byte and astral characters and escapes in it. */
function bigJsonString(bytes: number): string {
  const unit = 'abc é 中 😀 \\" \\\\ \\n '; // JSON text: escapes are written as two characters
  let body = unit.repeat(Math.floor((bytes - 2) / Buffer.byteLength(unit)));
  body += 'x'.repeat(bytes - 2 - Buffer.byteLength(body));
  return `"${body}"`;
}

/** Deterministic bytes (a seeded xorshift), so a failure is reproducible. */
function pseudoBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

export function uglyRecords(): StoredRecord[] {
  const out: StoredRecord[] = [];
  const add = (key: string, value: string | Uint8Array) => out.push({ key, value });
  const extra = [
    deepJson(1000),
    '{"huge":1e400,"tiny":1e-400,"long":3.14159265358979323846264338327950288419716939937510582097494459}',
    '{"neg":-12345678901234567890123456789012345678901234567890,"frac":-0.000000000000000000000001}',
    '"\\u2028\\u2029\\/\\b\\f\\r\\t\\u001f \\ud83d\\ude00 \\u00e9"',
    '{"":"empty name","a":{"":{"":[]}}, "dup":1, "dup":2}',
    '  {"spaced" :  [ 1 , 2 ] }  ',
    '{"pad":"' + 'é'.repeat(3000) + '"}',
  ];
  const values = [...TRICKY_JSON.filter((v) => v !== '-0'), ...extra];
  // Every ugly key gets a value from the tricky list, in turn.
  [...ORDER_KEYS, ...HOSTILE_KEYS].forEach((key, i) => add(key, values[i % values.length]!));
  // Each tricky value also under a plain key, so a lost value is named plainly.
  values.forEach((value, i) => add(`v/${String(i).padStart(2, '0')}`, value));
  // Keys and values that mean something to bulk-load formats (COPY text: \N is NULL, \. ends the data;
  // CSV-ish quoting; line ends), to terminals and to line-based logs.
  const loaderKeys = ['\\N', '\\.', '\\', 'cr\r', '\r\n', 'a\tb\\tc', '"quoted"', "it's", 'x,y', '\u0085nel', '\u2028ls', '\u001b[31mred', '\u0001\u001f'];
  for (const [i, key] of loaderKeys.entries()) {
    const value = i % 2 === 0 ? JSON.stringify(key) : JSON.stringify({ k: key, raw: '\\N' });
    add(key, value);
    add(`k/${key}`, value);
  }
  add('v/copy-markers', JSON.stringify(['\\N', '\\.', '\\\\N', '\r\n', '\t', '\\']));
  // Keys at exactly 1024 UTF-8 bytes, made of 1-, 2-, 3- and 4-byte characters.
  add('x'.repeat(1024), '"1024 one-byte characters"');
  add('😀'.repeat(256), '"256 four-byte characters"');
  add('中'.repeat(341) + 'x', '"341 three-byte characters and one more byte"');
  add('ß'.repeat(511) + 'ab', '{"bytes":1024}');
  // Values PostgreSQL cannot hold: everyone else must carry them.
  for (const [key, { value }] of Object.entries(PG_CANNOT)) add(key, value);
  // Bytes.
  add('b/pseudo-random', pseudoBytes(4096, 7));
  add('b/all-byte-values', Uint8Array.from({ length: 256 }, (_, i) => i));
  add('b/empty', new Uint8Array(0));
  add('b/looks-like-json', Buffer.from('{"a":1}'));
  add('b/nul-first', Uint8Array.from([0, 0x4a, 0x7b, 0x7d]));
  add('b/invalid-utf8', Uint8Array.from([0xc3, 0x28, 0xff, 0xfe]));
  // One MiB of JSON text and one MiB of bytes.
  add('big/json-1mib', bigJsonString(MiB));
  add('big/bytes-1mib', pseudoBytes(MiB, 1234567));
  return out;
}

const TEXTS = ['Grüße', '日本語', 'deploy 🚀', 'שלום', 'e\u0301 vs é', 'tab\t"q"\\', '𝕄𝕒𝕥𝕙', ''];

export function bulkRecords(n: number): StoredRecord[] {
  const out: StoredRecord[] = [];
  const salt = randomBytes(4).toString('hex');
  for (let i = 0; i < n; i++) {
    const key = i % 10 === 7 ? `rec/${String(i).padStart(6, '0')}/${TEXTS[i % TEXTS.length]}` : `rec-${String(i).padStart(6, '0')}`;
    const value =
      i % 25 === 3
        ? pseudoBytes(64 + (i % 200), i + 1)
        : `{"i":${i},"seq":${9007199254740993n + BigInt(i) * 1000003n},"amount":${i}.${String(i * 7).padStart(2, '0')}0,` +
          `"note":${JSON.stringify(TEXTS[i % TEXTS.length] + salt)},"tags":["t${i % 7}",{"n":${i % 3 === 0 ? 'null' : 'true'}}]}`;
    out.push({ key, value });
  }
  return out;
}
