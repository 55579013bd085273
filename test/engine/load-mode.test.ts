/**
 * The bulk-load path into an empty PostgreSQL table: plain COPY, checkpoint in the same transaction.
 * A JSONL log that repeats a key in a later batch makes the COPY fail on the primary key; the batch is
 * then upserted whole, so the later line wins and nothing is rejected or duplicated.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openStore, registerDriver } from '../../src/drivers/index.js';
import { migrate } from '../../src/engine/migrate.js';
import { faulty } from '../helpers/faulty-store.js';
import { pgFixture, storeUrl, type PgFixture } from '../drivers/postgres-helpers.js';

let fx: PgFixture;
beforeAll(async () => {
  fx = await pgFixture('load');
});
afterAll(async () => fx?.close());

/** A temp folder removed when the test ends. */
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-load-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A memory store holding `n` records `<prefix>000`, `<prefix>001`, ... with values {"i": i}. */
async function numberedSource(url: string, collection: string, prefix: string, n: number) {
  const records = Array.from({ length: n }, (_, i) => ({ key: `${prefix}${String(i).padStart(3, '0')}`, value: JSON.stringify({ i }) }));
  await (await openStore(url)).putMany(collection, records);
  return records;
}

describe('bulk load into an empty PostgreSQL table', () => {
  it('loads, and upserts the batches where the source repeats a key', async () => {
    const dir = tempDir();
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
    const dir = tempDir();
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

  it('pipelined batches survive failed first attempts around them: transient errors, a poisoned record', async () => {
    const dir = tempDir();
    const records = await numberedSource(`memory:pipeline-${fx.schema}`, 'piped', 'p', 120);
    const inner = await openStore(storeUrl(fx.schema));
    expect(inner.capabilities.pipelinedWrites).toBe(true);
    let puts = 0;
    // Every fourth write fails once with a connection error; p035's batch fails for good until bisected.
    registerDriver(`faultypg${fx.schema.replaceAll("_", "")}`, () => faulty(inner, {
      beforePut: () => {
        if (++puts % 4 === 0) throw Object.assign(new Error('read ECONNRESET (injected)'), { code: 'ECONNRESET' });
      },
      poison: (k) => k === 'p035',
    }));
    const result = await migrate({ from: `memory:pipeline-${fx.schema}`, to: `faultypg${fx.schema.replaceAll("_", "")}:x`, state: join(dir, 'state.db'), batchSize: 10 });
    expect(result.status).toBe('completed');
    expect(result.rejectsTotal).toBe(1);
    expect(result.totals.written).toBe(119);
    const rows = (await fx.db.query(`SELECT key, value::text AS value FROM ${fx.table('piped')} ORDER BY key`)).rows as { key: string; value: string }[];
    expect(rows.map((r) => r.key)).toEqual(records.filter((r) => r.key !== 'p035').map((r) => r.key));
    for (const r of rows) expect(JSON.parse(r.value)).toEqual({ i: Number(r.key.slice(1)) });
    const cp = (await fx.db.query(`SELECT cursor FROM ${fx.table('cutover_checkpoints')} WHERE id LIKE $1`, [`${result.id}/%`])).rows as { cursor: string }[];
    expect(cp).toEqual([{ cursor: 'p119' }]);
  });

  it('a pipelined batch never commits before the batch before it, however slow that one is', async () => {
    const dir = tempDir();
    const records = await numberedSource(`memory:order-${fx.schema}`, 'ordered', 'o', 80);
    const inner = await openStore(storeUrl(fx.schema));
    const committed: string[] = [];
    let overlapped = 0;
    let inFlight = 0;
    const scheme = `slowpg${fx.schema.replaceAll('_', '')}`;
    registerDriver(scheme, () => {
      const wrapped = Object.create(inner) as typeof inner;
      wrapped.putMany = async (collection, batch, options) => {
        if (++inFlight > 1) overlapped++;
        try {
          const result = await inner.putMany(collection, batch, options);
          // Every other batch is reported 150 ms after it committed: the next one, already streaming on
          // its own connection, must still wait for the engine to record this one before it commits.
          if (options?.pipeline && Number(batch[0]!.key.slice(1)) % 20 === 0) await new Promise((r) => setTimeout(r, 150));
          committed.push(batch[0]!.key);
          return result;
        } finally {
          inFlight--;
        }
      };
      return wrapped;
    });
    const result = await migrate({ from: `memory:order-${fx.schema}`, to: `${scheme}:x`, state: join(dir, 'state.db'), batchSize: 10 });
    expect(result.status).toBe('completed');
    expect(overlapped).toBeGreaterThan(0);
    expect(committed).toEqual(records.filter((_, i) => i % 10 === 0).map((r) => r.key));
    const n = (await fx.db.query(`SELECT count(*)::int AS n FROM ${fx.table('ordered')}`)).rows[0] as { n: number };
    expect(n.n).toBe(80);
  });

  it('streams batches at once while the keys come in order, and one at a time once a key breaks the order', async () => {
    const dir = tempDir();
    // Batches of 10: six in key order, then k005 again, which ends the proof that keys are distinct.
    const key = (i: number) => `k${String(i).padStart(3, '0')}`;
    let log = '';
    for (let i = 0; i < 60; i++) log += `{"key":"${key(i)}","value":{"v":${i}}}\n`;
    log += `{"key":"k005","value":{"v":"again"}}\n`;
    for (let i = 60; i < 100; i++) log += `{"key":"${key(i)}","value":{"v":${i}}}\n`;
    writeFileSync(join(dir, 'mixed.jsonl'), log);
    const inner = await openStore(storeUrl(fx.schema));
    const events: string[] = [];
    const scheme = `tracepg${fx.schema.replaceAll('_', '')}`;
    let batches = 0;
    registerDriver(scheme, () => {
      const wrapped = Object.create(inner) as typeof inner;
      const batchOf = new Map<string, number>();
      wrapped.putMany = async (collection, records, options) => {
        const p = options?.pipeline;
        if (!p) {
          const result = await inner.putMany(collection, records, options);
          if (records.length > 0) events.push(`committed ${batchOf.get(records[0]!.key)}`);
          return result;
        }
        const n = batches++;
        batchOf.set(records[0]!.key, n);
        // Staging is reported late, so a batch that waits for it visibly begins after it.
        let reported: Promise<void> = Promise.resolve();
        const pipeline = {
          ...p,
          onBegun: () => (events.push(`begun ${n}`), p.onBegun()),
          onStaged: () => {
            reported = new Promise<void>((resolve) => setTimeout(() => (events.push(`staged ${n}`), p.onStaged(), resolve()), 60));
          },
        };
        const result = await inner.putMany(collection, records, { ...options, pipeline });
        await reported;
        return result;
      };
      return wrapped;
    });
    const result = await migrate({ from: `file:${dir}`, to: `${scheme}:x`, state: join(dir, 'state.db'), batchSize: 10 });
    expect(result.status).toBe('completed');
    // Eleven batches, each pipelined: the one that fails on the repeated key is written again after
    // the batch before it, and the batches after it wait for that instead of giving way too.
    expect(batches).toBe(11);
    const at = (e: string) => {
      const i = events.indexOf(e);
      expect(i, e).toBeGreaterThanOrEqual(0);
      return i;
    };
    // In order: some batch begins while the one before it is still staging.
    expect([1, 2, 3, 4, 5].some((n) => at(`begun ${n}`) < at(`staged ${n - 1}`))).toBe(true);
    // From the batch that repeats a key on, each begins only once the one before has staged its rows
    // (batch 6 fails on the key before staging, so batch 7 begins once 6 is written again).
    for (let n = 6; n < 11; n++) expect(at(`begun ${n}`), `batch ${n}`).toBeGreaterThan(at(n === 7 ? 'committed 6' : `staged ${n - 1}`));
    const rows = (await fx.db.query(`SELECT key, value::text AS value FROM ${fx.table('mixed')} ORDER BY key`)).rows as { key: string; value: string }[];
    expect(rows.map((r) => r.key)).toEqual(Array.from({ length: 100 }, (_, i) => key(i)));
    for (const r of rows) expect(JSON.parse(r.value), r.key).toEqual({ v: r.key === 'k005' ? 'again' : Number(r.key.slice(1)) });
  });

  it('splits automatically into fewer ranges for PostgreSQL, which streams several batches per range already', async () => {
    const dir = tempDir();
    const sqlite = await openStore(`sqlite:${join(dir, 'big.db')}`);
    await sqlite.putMany('big', Array.from({ length: 2500 }, (_, i) => ({ key: `b${String(i).padStart(4, '0')}`, value: `{"i":${i}}` })));
    await sqlite.close();
    const plan = async (to: string, concurrency: number) => {
      const dry = await migrate({ from: `sqlite:${join(dir, 'big.db')}`, to, state: join(dir, 'state.db'), autoSplitRecords: 1000, concurrency, dryRun: true });
      return dry.plan!.map((p) => p.ranges);
    };
    // Two ranges' worth of records: a target without pipelining gets both, PostgreSQL one per three slots.
    expect(await plan(`memory:split-${fx.schema}`, 4)).toEqual([2]);
    expect(await plan(storeUrl(fx.schema), 4)).toEqual([1]);
    expect(await plan(storeUrl(fx.schema), 6)).toEqual([2]);
  });

  it('hands JSON text to PostgreSQL unparsed: a malformed value is rejected with its file and line, the rest lands', async () => {
    const dir = tempDir();
    const lines = [
      '{"key":"a","value":{"ok":1}}',
      '{"key":"b","value":{"broken":}}',
      '{"key":"c","value":[1,2,{"x":"]}"}]}',
      '{"key":"d","value":{"v":1},"version":7}', // a member after the value: read in full, kept
      '{"key":"e","value":{"v":1}, "extra":{"y":2}}', // likewise
      '{"key":"f","value":"just a string"}',
      '{"key":"g","value":tru}',
      '{"key":"h","value":{"s":"\\"}"}}',
      '{"key":"i","value":{"v":2},"extra":{"y":2}}', // taken on its shape, refused by PostgreSQL, read in full, kept
    ];
    writeFileSync(join(dir, 'shapes.jsonl'), lines.join('\n') + '\n');
    const result = await migrate({ from: `file:${dir}`, to: storeUrl(fx.schema), state: join(dir, 'state.db'), batchSize: 100 });
    expect(result.status).toBe('completed');
    const rejects = readFileSync(result.rejectsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; location: string; reason: string });
    const at = (line: number) => `${join(dir, 'shapes.jsonl')}:line ${line}`;
    expect(rejects.map((r) => [r.key, r.location, r.reason.split(':')[0]])).toEqual([
      // Not a JSON value by its shape: the reader parses the whole line and says so itself.
      [null, at(7), 'malformed JSON line'],
      // Shaped like one: PostgreSQL's jsonb input refuses it, and the reader, reading the line in
      // full, says why, pinned on the source line (the reader's reason, not put down to PostgreSQL).
      ['b', at(2), 'malformed JSON line'],
    ]);
    const rows = (await fx.db.query(`SELECT key, value::text AS value FROM ${fx.table('shapes')} ORDER BY key`)).rows as { key: string; value: string }[];
    expect(Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value)]))).toEqual({
      a: { ok: 1 }, c: [1, 2, { x: ']}' }], d: { v: 1 }, e: { v: 1 }, f: 'just a string', h: { s: '"}' }, i: { v: 2 },
    });
  });
});
