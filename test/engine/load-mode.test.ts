/**
 * The bulk-load path into an empty PostgreSQL table: plain COPY, checkpoint in the same transaction.
 * A JSONL log that repeats a key in a later batch makes the COPY fail on the primary key; the batch is
 * then upserted whole, so the later line wins and nothing is rejected or duplicated.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
});
