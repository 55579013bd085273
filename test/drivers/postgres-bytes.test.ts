/**
 * PostgreSQL's side of the bytes path: RawJsonRecords (plain `key TAB json LF` lines) go into COPY as
 * they are, alone or mixed with string, bytes and metadata records, in load and upsert mode, and a bad
 * one is rejected alone. The table must hold exactly what the same records written as strings give.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameValue } from '../../src/core/canonical.js';
import { RawJsonRecord, plainRecord, type StoredRecord } from '../../src/core/record.js';
import { openStore } from '../../src/drivers/index.js';
import { serialize } from '../../src/drivers/file-jsonl.js';
import { migrate } from '../../src/engine/migrate.js';
import { scanAll } from '../conformance/suite.js';
import { HOSTILE_KEYS, ORDER_KEYS, TRICKY_JSON } from '../conformance/ugly-data.js';
import { pgFixture, storeUrl, tableRows, type PgFixture } from './postgres-helpers.js';

let f: PgFixture;
let dir: string;
beforeAll(async () => {
  f = await pgFixture('pgbytes');
  dir = mkdtempSync(join(tmpdir(), 'cutover-pgbytes-'));
});
afterAll(async () => {
  await f?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Plain lines laid end to end in one buffer, as the JSONL reader hands them out. */
function lines(entries: [string, string][]): RawJsonRecord[] {
  const buf = Buffer.from(entries.map(([k, v]) => `${k}\t${v}\n`).join(''));
  const out: RawJsonRecord[] = [];
  let at = 0;
  for (const [k, v] of entries) {
    const tab = at + Buffer.byteLength(k);
    const end = tab + 1 + Buffer.byteLength(v) + 1;
    out.push(new RawJsonRecord(k, buf, at, tab, end));
    at = end;
  }
  return out;
}

const plainValues = TRICKY_JSON.filter((v) => !v.includes('\\') && v !== '-0');
const entries = (prefix: string, n: number): [string, string][] =>
  Array.from({ length: n }, (_, i) => [`${prefix}${String(i).padStart(4, '0')} é😀`, plainValues[i % plainValues.length]!]);

describe('postgres: plain lines into COPY', () => {
  it('land exactly as the same records written as strings, in load and upsert mode', async () => {
    const raw = lines(entries('r', 600));
    for (const mode of ['load', 'upsert'] as const) {
      const a = await f.store.putMany(`raw_${mode}`, raw, { mode, checkpoint: { id: `bytes/${mode}`, cursor: 'x' } });
      const b = await f.store.putMany(`str_${mode}`, raw.map(plainRecord), { mode });
      expect(a).toEqual({ written: 600, rejected: [] });
      expect(b).toEqual({ written: 600, rejected: [] });
      expect(await tableRows(f, `raw_${mode}`)).toEqual(await tableRows(f, `str_${mode}`));
    }
  });

  it('mix with string, bytes and metadata records in one batch', async () => {
    const raw = lines(entries('m', 40));
    const mixed: StoredRecord[] = [...raw.slice(0, 10), { key: 'm-str', value: '{"s":"a\\\\b\\"c"}' }, ...raw.slice(10, 20), { key: 'm-bytes', value: Buffer.from([0, 9, 10, 92]) }, ...raw.slice(20)];
    const withMeta: StoredRecord[] = [...mixed, { key: 'm-meta', value: '{"v":1}', updatedAt: '2024-05-01T10:00:00.000Z', version: 9 }];
    for (const [name, batch] of [['mix_bytes', mixed], ['mix_meta', withMeta]] as const) {
      expect(await f.store.putMany(name, batch)).toEqual({ written: batch.length, rejected: [] });
      await f.store.putMany(`${name}_str`, batch.map(plainRecord));
      expect(await tableRows(f, name)).toEqual(await tableRows(f, `${name}_str`));
    }
    const meta = (await f.db.query(`SELECT version::text AS v FROM ${f.table('mix_meta')} WHERE key = 'm-meta'`)).rows[0];
    expect(meta).toEqual({ v: '9' });
  });

  it('rejects a malformed plain line alone, pinned to its key, and writes the rest', async () => {
    const e = entries('b', 30);
    e[17] = [e[17]![0], '{"broken":}'];
    for (const mode of ['load', 'upsert'] as const) {
      const r = await f.store.putMany(`bad_${mode}`, lines(e), { mode });
      expect(r.written).toBe(29);
      expect(r.rejected.map((x) => x.key)).toEqual([e[17]![0]]);
      expect(r.rejected[0]!.reason).toMatch(/invalid input syntax for type json/);
    }
  });

  it('leave out a line missing from the batch instead of sending the run of the buffer whole', async () => {
    const raw = lines(entries('g', 9));
    const gone = raw.splice(4, 1)[0]!;
    for (const mode of ['load', 'upsert'] as const) {
      await f.store.putMany(`gap_${mode}`, raw, { mode });
      const keys = (await tableRows(f, `gap_${mode}`)).map((r) => r.key);
      expect(keys).toEqual(raw.map((r) => r.key));
      expect(keys).not.toContain(gone.key);
    }
  });

  it('leave out the lines a batch drops (a repeated key: the last one wins) instead of sending the run whole', async () => {
    const e = entries('d', 12);
    e[8] = [e[3]![0], '{"second":true}'];
    const r = await f.store.putMany('dropped', lines(e));
    expect(r.rejected).toEqual([]);
    const rows = await tableRows(f, 'dropped');
    expect(rows.length).toBe(11);
    expect(JSON.parse(rows.find((x) => x.key === e[3]![0])!.value!)).toEqual({ second: true });
  });

  it('writes a record whose value was replaced as text, not its old line', async () => {
    const raw = lines(entries('v', 3));
    raw[1]!.value = '{"replaced":"tab\\there"}';
    await f.store.putMany('replaced', raw);
    const rows = await tableRows(f, 'replaced');
    expect(JSON.parse(rows[1]!.value!)).toEqual({ replaced: 'tab\there' });
  });
});

describe('JSONL -> postgres through the bytes path', () => {
  it('holds what JSONL -> SQLite holds, record by record', async () => {
    const keys = [...ORDER_KEYS, ...HOSTILE_KEYS];
    const log = [
      ...keys.map((key, i) => serialize({ key, value: TRICKY_JSON[i % TRICKY_JSON.length]! })),
      '{"key":"tab","value":{\t"v":1}}\n',
      '{"key":"crlf","value":{"v":[1,2]}}\r\n',
      '{"key":"meta","value":{"v":2},"updatedAt":"2025-01-02T03:04:05.000Z","version":3}\n',
      '{"key":"dup","value":1}\n{"key":"dup","value":2}\n',
      // Between plain lines, a put that a later tombstone deletes: the scan drops it from its batch.
      '{"key":"p1","value":1}\n{"key":"gone","value":1}\n{"key":"p2","value":2}\n{"key":"gone","deleted":true}\n',
      // Values taken from the line's shape that are not the line's value: PostgreSQL refuses them and
      // the reader's Reread gives the record (or the tombstone, or the reject) the line holds.
      '{"key":"after obj","value":{"v":1},"x":{"y":[2]}}\n',
      '{"key":"two values","value":{"a":1},"value":{"b":2}}\n',
      '{"key":"late tomb","value":{"a":1}}\n{"key":"late tomb","value":{"a":2},"deleted":true,"z":{}}\n',
      '{"key":"bad number","value":{"n":01}}\n',
      '{"key":"deep negzero","value":{"a":[1,-0]}}\n',
    ].join('');
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'events.jsonl'), log);
    const pg = storeUrl(`${f.schema}_e2e`);
    const sqlite = `sqlite:${join(dir, 'e2e.db')}`;
    const rejected: Record<string, string[]> = {};
    for (const to of [pg, sqlite]) {
      const r = await migrate({ from: `file:${join(dir, 'src')}`, to, state: join(dir, `${to.startsWith('sqlite') ? 's' : 'p'}.db`), batchSize: 16 });
      expect(r.status).toBe('completed');
      const lines = (existsSync(r.rejectsFile) ? readFileSync(r.rejectsFile, 'utf8') : '').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string; location: string; reason: string });
      rejected[to] = lines.map((l) => l.key).sort();
      // The reader names the line, whichever side found the value bad (SQLite's reader knows no key then).
      expect(lines.find((l) => /malformed JSON line/.test(l.reason))?.location).toBe(`${join(dir, 'src', 'events.jsonl')}:line ${log.split('\n').indexOf('{"key":"bad number","value":{"n":01}}') + 1}`);
    }
    // jsonb cannot hold -0: PostgreSQL gets every record but those, SQLite every one.
    expect(rejected[sqlite]).toEqual([null]);
    expect(rejected[pg]).toEqual([...keys.filter((_, i) => TRICKY_JSON[i % TRICKY_JSON.length] === '-0'), 'bad number', 'deep negzero'].sort());
    const [a, b] = [await openStore(pg), await openStore(sqlite)];
    try {
      const [ra, rb] = [(await scanAll(a, 'events')).records, (await scanAll(b, 'events')).records.filter((r) => !rejected[pg]!.includes(r.key))];
      expect(ra.map((r) => r.key)).toEqual(rb.map((r) => r.key));
      expect(ra.filter((r, i) => !sameValue(r.value, rb[i]!.value)).map((r) => r.key)).toEqual([]);
      expect(ra.find((r) => r.key === 'dup')?.value).toBe('2');
      expect(ra.find((r) => r.key === 'gone')).toBeUndefined();
      expect(ra.find((r) => r.key === 'late tomb')).toBeUndefined();
      expect(ra.find((r) => r.key === 'after obj')?.value).toBe('{"v": 1}');
      expect(ra.find((r) => r.key === 'two values')?.value).toBe('{"b": 2}');
    } finally {
      await a.close();
      await b.close();
      await f.db.query(`DROP SCHEMA IF EXISTS "${f.schema}_e2e" CASCADE`);
    }
  });
});
