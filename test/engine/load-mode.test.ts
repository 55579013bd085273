/**
 * The bulk-load path into an empty PostgreSQL table: plain COPY, checkpoint in the same transaction.
 * A JSONL log that repeats a key in a later batch makes the COPY fail on the primary key; the batch is
 * then upserted whole, so the later line wins and nothing is rejected or duplicated.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { migrate } from '../../src/engine/migrate.js';
import { pgFixture, storeUrl, type PgFixture } from '../drivers/postgres-helpers.js';

let fx: PgFixture;
beforeAll(async () => {
  fx = await pgFixture('load');
});
afterAll(async () => fx?.close());

describe('bulk load into an empty PostgreSQL table', () => {
  it('loads, and upserts the batches where the source repeats a key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-load-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    let log = '';
    for (let i = 0; i < 100; i++) log += `{"key":"k${String(i).padStart(3, '0')}","value":{"v":${i},"big":123456789012345678901234567890}}\n`;
    log += `{"key":"k007","value":{"v":"seven, corrected"}}\n`;
    log += `{"key":"k050","value":{"v":"fifty, corrected"}}\n`;
    writeFileSync(join(dir, 'items.jsonl'), log);
    const events: string[] = [];
    const result = await migrate({
      from: `file:${dir}`, to: storeUrl(fx.schema), state: join(dir, 'state.db'), batchSize: 10,
      onEvent: (e) => { if (e.type === 'unit-start') events.push(e.mode); },
    });
    expect(result.status).toBe('completed');
    expect(events).toEqual(['load']);
    expect(result.rejectsTotal).toBe(0);
    const rows = (await fx.db.query(`SELECT key, value::text AS value FROM ${fx.table('items')} ORDER BY key`)).rows as { key: string; value: string }[];
    expect(rows).toHaveLength(100);
    expect(JSON.parse(rows.find((r) => r.key === 'k007')!.value)).toEqual({ v: 'seven, corrected' });
    expect(JSON.parse(rows.find((r) => r.key === 'k050')!.value)).toEqual({ v: 'fifty, corrected' });
    expect(rows.find((r) => r.key === 'k001')!.value).toContain('123456789012345678901234567890');
    const cp = (await fx.db.query(`SELECT count(*)::int AS n FROM ${fx.table('cutover_checkpoints')} WHERE id LIKE $1`, [`${result.id}/%`])).rows[0] as { n: number };
    expect(cp.n).toBe(1);
  });

  it('a key repeated in the very next batch: the batch in flight gives way, and the later line still wins', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-load-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    let log = '';
    // Batches of 10: every batch's first line repeats the previous batch's last key.
    for (let i = 0; i < 200; i++) {
      if (i > 0 && i % 10 === 0) log += `{"key":"k${String(i - 1).padStart(3, '0')}","value":{"v":"again ${i - 1}"}}\n`;
      log += `{"key":"k${String(i).padStart(3, '0')}","value":{"v":${i}}}\n`;
    }
    writeFileSync(join(dir, 'adjacent.jsonl'), log);
    const modes: string[] = [];
    const result = await migrate({
      from: `file:${dir}`, to: storeUrl(fx.schema), state: join(dir, 'state.db'), batchSize: 10,
      onEvent: (e) => { if (e.type === 'unit-start') modes.push(e.mode); },
    });
    expect(result.status).toBe('completed');
    expect(modes).toEqual(['load']);
    expect(result.rejectsTotal).toBe(0);
    const rows = (await fx.db.query(`SELECT key, value::text AS value FROM ${fx.table('adjacent')} ORDER BY key`)).rows as { key: string; value: string }[];
    expect(rows).toHaveLength(200);
    for (const { key, value } of rows) {
      const i = Number(key.slice(1));
      expect(JSON.parse(value), key).toEqual({ v: i % 10 === 9 && i < 199 ? `again ${i}` : i });
    }
  });

  it('hands JSON text to PostgreSQL unparsed: a malformed value is rejected with its file and line, the rest lands', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-load-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const lines = [
      '{"key":"a","value":{"ok":1}}',
      '{"key":"b","value":{"broken":}}',
      '{"key":"c","value":[1,2,{"x":"]}"}]}',
      '{"key":"d","value":{"v":1},"version":7}', // a member after the value: read in full, kept
      '{"key":"e","value":{"v":1}, "extra":{"y":2}}', // likewise
      '{"key":"f","value":"just a string"}',
      '{"key":"g","value":tru}',
      '{"key":"h","value":{"s":"\\"}"}}',
    ];
    writeFileSync(join(dir, 'shapes.jsonl'), lines.join('\n') + '\n');
    const result = await migrate({ from: `file:${dir}`, to: storeUrl(fx.schema), state: join(dir, 'state.db'), batchSize: 100 });
    expect(result.status).toBe('completed');
    const rejects = readFileSync(result.rejectsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; location: string; reason: string });
    const at = (line: number) => `${join(dir, 'shapes.jsonl')}:line ${line}`;
    expect(rejects.map((r) => [r.key, r.location, r.reason.split(':')[0]])).toEqual([
      // Not a JSON value by its shape: the reader parses the whole line and says so itself.
      [null, at(7), 'malformed JSON line'],
      // Shaped like one: PostgreSQL's jsonb input refuses it, pinned back on the source line.
      ['b', at(2), 'postgres'],
    ]);
    expect(rejects[1]!.reason).toMatch(/invalid input syntax for type json/);
    const rows = (await fx.db.query(`SELECT key, value::text AS value FROM ${fx.table('shapes')} ORDER BY key`)).rows as { key: string; value: string }[];
    expect(Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value)]))).toEqual({
      a: { ok: 1 }, c: [1, 2, { x: ']}' }], d: { v: 1 }, e: { v: 1 }, f: 'just a string', h: { s: '"}' },
    });
  });
});
