/**
 * The JSONL reader's bytes path (ScanOptions.jsonBytes, for PostgreSQL's COPY): plain lines come as
 * RawJsonRecord, still in the bytes they were read as, and everything else takes the checked path.
 * Whatever the path, a scan must give exactly the records and rejects the string path gives.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RawJsonRecord, isPlainLine, plainRecord, recordValueSize, type StoredRecord } from '../../src/core/record.js';
import type { RejectInfo } from '../../src/core/errors.js';
import type { ScanOptions } from '../../src/core/store.js';
import { openStore } from '../../src/drivers/index.js';
import { serialize } from '../../src/drivers/file-jsonl.js';
import { plainSpan, spansOneValue } from '../../src/drivers/file-jsonl-lines.js';
import { HOSTILE_KEYS, ORDER_KEYS, TRICKY_JSON } from '../conformance/ugly-data.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function logDir(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-bytes-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'events.jsonl'), lines.join(''));
  return dir;
}

async function scan(dir: string, options: ScanOptions & { maxValueBytes?: number }) {
  const store = await openStore(`file:${dir}${options.maxValueBytes ? `?maxValueBytes=${options.maxValueBytes}` : ''}`);
  const records: StoredRecord[] = [];
  const rejects: RejectInfo[] = [];
  const lines: string[] = [];
  try {
    for await (const batch of store.scan('events', { batchSize: 7, ...options })) {
      batch.records.forEach((r, i) => {
        records.push(r);
        lines.push(batch.locationOf!(i));
      });
      rejects.push(...batch.rejects);
    }
  } finally {
    await store.close();
  }
  return { records, rejects, lines };
}

const pairs = (records: StoredRecord[]) => records.map((r) => [r.key, typeof r.value === 'string' ? r.value : `bytes:${Buffer.from(r.value).toString('hex')}`, r.updatedAt ?? null, r.version ?? null]);

describe('plainSpan', () => {
  it('agrees with spansOneValue on text without backslashes', () => {
    for (const text of ['{}', '[]', '{"a":{"b":[1,2,{"c":"]}"}]}}', '"x"', '-1.5e+10', '0', 'true', 'null', '{"é":"😀"}',
      '{"v":1},"extra":2', '[1],[2]', '"a","b"', '{"v":"}"', '{', '1,"x":2', 'tru', '', '01', '{"broken":}', `{"s":"${'y'.repeat(70)}"}`]) {
      const b = Buffer.from(text);
      expect(plainSpan(b, 0, b.length), text).toBe(spansOneValue(b, 0, b.length));
    }
  });

  it('refuses a negative zero (jsonb would store 0) and passes negative numbers that are not zero', () => {
    const plain = (text: string) => {
      const b = Buffer.from(text);
      return plainSpan(b, 0, b.length);
    };
    for (const text of ['-0', '[-0]', '{"a":-0.0}', '{"a":[1,-0e5]}', '{"a":-0.000E+3}', '{"a":-0.}']) expect(plain(text), text).toBe(false);
    for (const text of ['[-1]', '{"a":-0.5}', '{"a":-0.001}', '{"d":"2025-01-01","id":"a-0"}', '{"a":-10}']) expect(plain(text), text).toBe(true);
  });
});

describe('JSONL scan with jsonBytes', () => {
  const keys = [...ORDER_KEYS, ...HOSTILE_KEYS];
  const lines = [
    ...keys.map((key, i) => serialize({ key, value: TRICKY_JSON[i % TRICKY_JSON.length]! })),
    '{"key":"plain","value":{"note":"Grüße 🚀","n":[1,2.5,-3]}}\n',
    '{"key":"crlf","value":{"v":1}}\r\n',
    '{"key":"tab","value":{\t"v":1}}\n',
    '{"key":"nul","value":{"v":"a\u0000b"}}\n',
    '{"key":"negzero","value":{"v":-0.0}}\n',
    '{"key":"member after","value":{"v":1},"version":7}\n',
    '{"key":"meta","value":{"v":2},"updatedAt":"2025-01-02T03:04:05.000Z","version":3}\n',
    '{"key":"spaced", "value":{"v":1}}\n',
    '{"key":"malformed","value":{"broken":}}\n',
    'not json\n',
    '{"key":"","value":1}\n',
    '{"key":"big","value":"' + 'x'.repeat(300) + '"}\n',
    '{"key":"bytes","bytes":"AAEC/w=="}\n',
    '{"key":"ctl\u0001key","value":1}\n',
    '{"key":"tomb","value":1}\n',
    '{"key":"tomb","deleted":true}\n',
    '{"key":"last","value":[true]}', // no final newline
  ];

  it('gives the records, lines and rejects the string path gives', async () => {
    const dir = logDir(lines);
    for (const maxValueBytes of [undefined, 200]) {
      const strings = await scan(dir, { validateJson: false, maxValueBytes });
      const bytes = await scan(dir, { validateJson: false, jsonBytes: true, maxValueBytes });
      expect(pairs(bytes.records)).toEqual(pairs(strings.records));
      expect(bytes.lines).toEqual(strings.lines);
      expect(bytes.rejects).toEqual(strings.rejects);
      // Without validateJson: false the option does nothing.
      const checked = await scan(dir, { jsonBytes: true, maxValueBytes });
      expect(checked.records.some(isPlainLine)).toBe(false);
    }
  });

  it('hands out plain lines as RawJsonRecord and nothing else', async () => {
    const dir = logDir(lines);
    const { records } = await scan(dir, { validateJson: false, jsonBytes: true });
    const raw = new Set(records.filter(isPlainLine).map((r) => r.key));
    for (const key of ['plain', 'crlf', 'last', 'big', 'malformed']) expect(raw.has(key), key).toBe(true);
    expect(raw.has('spaced')).toBe(false); // not exactly the shape cutover writes
    // An escape, a tab, a NUL, a negative zero, a member after the value, metadata, bytes: checked path.
    for (const key of ['tab', 'nul', 'negzero', 'member after', 'meta', 'bytes']) expect(raw.has(key), key).toBe(false);
    expect(raw.has('a\\b')).toBe(false); // the key itself is escaped in the line
    expect(raw.has('中') && raw.has('😀')).toBe(true); // UTF-8 keys (not '中文': its value is -0)
    for (const r of records.filter(isPlainLine)) {
      expect(recordValueSize(r)).toBe(Buffer.byteLength(r.value as string));
      expect(r.jsonBytes()!.toString()).toBe(r.value);
    }
  });

  // Lines whose value, taken from the line's shape alone, is not the value the line holds.
  const shaped = [
    '{"key":"after obj","value":{"v":1},"x":{"y":[2]}}\n',
    '{"key":"two values","value":{"a":1},"value":{"b":2}}\n',
    '{"key":"late tomb","value":{"a":1},"deleted":true,"z":{}}\n',
    '{"key":"deep negzero","value":{"a":[1,-0]}}\n',
    '{"key":"spaced negzero","value":{"a": -0e3}}\n',
    '{"key":"negative","value":{"a":-0.5,"d":"2025-01-02","b":[-0.25]}}\n',
    '{"key":"array","value":[{"a":1},[2]]}\n',
    '{"key":"bad number","value":{"n":01}}\n',
  ];

  /** What a target that parses every value does: keep a value that is one JSON text, else reread or refuse it. */
  function asTargetReads(records: StoredRecord[]): { records: StoredRecord[]; rejects: RejectInfo[] } {
    const out = { records: [] as StoredRecord[], rejects: [] as RejectInfo[] };
    for (const r of records) {
      let one = true;
      try {
        JSON.parse(r.value as string);
      } catch {
        one = false;
      }
      const target: RejectInfo = { collection: 'events', key: r.key, location: 'target', reason: 'refused' };
      const again = one ? r : isPlainLine(r) && r.reread ? r.reread(r) : target;
      if (again === null) continue;
      if ('reason' in again) out.rejects.push(again);
      else out.records.push(again);
    }
    return out;
  }

  it('without proveExtent, gives through Reread what the proved scan gives', async () => {
    const dir = logDir([...shaped, ...lines]); // `lines` ends without a newline
    const proved = await scan(dir, { validateJson: false, jsonBytes: true });
    const shapedScan = await scan(dir, { validateJson: false, jsonBytes: true, proveExtent: false });
    const read = asTargetReads(shapedScan.records);
    // The proved scan checks JSON only as far as the target needs: compare with what PostgreSQL keeps.
    const kept = asTargetReads(proved.records);
    expect(pairs(read.records)).toEqual(pairs(kept.records));
    expect([...shapedScan.rejects, ...read.rejects].map((r) => r.key).sort()).toEqual([...proved.rejects, ...kept.rejects].map((r) => r.key).sort());
    const raw = new Map(shapedScan.records.filter(isPlainLine).map((r) => [r.key, r]));
    // Taken on their shape: the lines the walk refused or would have had to walk.
    for (const key of ['after obj', 'two values', 'late tomb', 'array', 'bad number', 'plain']) expect(raw.get(key)?.reread, key).toBeTypeOf('function');
    // A possible negative zero is walked (and refused: checked path); a negative number is walked and passes.
    for (const key of ['deep negzero', 'spaced negzero']) expect(raw.has(key), key).toBe(false);
    expect(raw.has('negative')).toBe(true);
    expect(read.records.find((r) => r.key === 'after obj')?.value).toBe('{"v":1}');
    expect(read.records.find((r) => r.key === 'two values')?.value).toBe('{"b":2}');
    expect(read.records.some((r) => r.key === 'late tomb')).toBe(false);
    const bad = read.rejects.find((r) => r.key === 'bad number')!;
    expect(bad.location).toBe(`${join(dir, 'events.jsonl')}:line ${shaped.length}`);
    expect(bad.reason).toMatch(/malformed JSON/);
    // The proved scan never needs a reread.
    expect(proved.records.some((r) => isPlainLine(r) && r.reread !== null)).toBe(false);
  });

  it('reads every plain line of a big log as bytes, and the one with an escape as a string', async () => {
    const many = Array.from({ length: 30_000 }, (_, i) => `{"key":"k${String(i).padStart(6, '0')}","value":{"i":${i},"pad":"${'p'.repeat(150)}","t":"${i % 5 === 0 ? 'ü' : 'u'}"}}\n`);
    many[123] = '{"key":"k000123","value":{"esc":"a\\"b"}}\n';
    const dir = logDir(many);
    const a = await scan(dir, { validateJson: false, jsonBytes: true });
    const b = await scan(dir, { validateJson: false });
    expect(pairs(a.records)).toEqual(pairs(b.records));
    expect(a.records.filter(isPlainLine).length).toBe(29_999);
  });
});

describe('RawJsonRecord', () => {
  const line = Buffer.from('xx\tk1\t{"a":1}\nk2\t[2]\n');

  it('decodes its value on demand and knows its size without decoding', () => {
    const r = new RawJsonRecord('k1', line, 3, 5, 14);
    expect(r.byteLength).toBe(7);
    expect(r.value).toBe('{"a":1}');
    expect(plainRecord(r)).toEqual({ key: 'k1', value: '{"a":1}' });
    expect(({ ...r } as Partial<StoredRecord>).value).toBeUndefined(); // why plainRecord exists
  });

  it('stops being a plain line once its key is replaced (its line still holds the old key)', () => {
    const r = new RawJsonRecord('k1', line, 3, 5, 14);
    r.key = 'other';
    expect(isPlainLine(r)).toBe(false);
    expect(r.key).toBe('other');
    expect(r.value).toBe('{"a":1}');
  });

  it('stops being a plain line once its value is replaced', () => {
    const r = new RawJsonRecord('k2', line, 14, 16, line.length);
    expect(isPlainLine(r)).toBe(true);
    r.value = '"changed"';
    expect(isPlainLine(r)).toBe(false);
    expect(r.jsonBytes()).toBeNull();
    expect(r.value).toBe('"changed"');
    expect(recordValueSize(r)).toBe(9);
  });
});
