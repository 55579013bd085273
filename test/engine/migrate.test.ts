import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sameValue } from '../../src/core/canonical.js';
import type { Store } from '../../src/core/store.js';
import { openStore, registerDriver } from '../../src/drivers/index.js';
import { createMemoryStore } from '../../src/drivers/memory.js';
import { migrate } from '../../src/engine/migrate.js';
import { StateStore } from '../../src/state/state-store.js';
import { pause } from '../../src/state/pause.js';
import { scanAll } from '../conformance/suite.js';
import { records } from '../conformance/ugly-data.js';
import { faulty, type Faults } from '../helpers/faulty-store.js';

let dir: string;
let name: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cutover-engine-'));
  name = randomBytes(4).toString('hex');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const src = () => `memory:src-${name}`;
const dst = () => `memory:dst-${name}`;
const statePath = () => join(dir, 'state.db');

async function seed(collections: Record<string, number>): Promise<Store> {
  const store = await openStore(src());
  for (const [c, n] of Object.entries(collections)) {
    await store.putMany(c, records(Array.from({ length: n }, (_, i) => `${c}-${String(i).padStart(6, '0')}`), (k, i) => `{"k":"${k}","i":${i},"big":900719925474099312345}`));
  }
  return store;
}

/** Record-by-record comparison, reading both sides through fresh scans. */
async function expectSameStores(a: Store, b: Store, collections: string[]): Promise<void> {
  for (const c of collections) {
    const left = (await scanAll(a, c)).records;
    const right = new Map((await scanAll(b, c)).records.map((r) => [r.key, r]));
    expect(right.size, `count of ${c}`).toBe(left.length);
    for (const r of left) {
      const t = right.get(r.key);
      expect(t, `${c}/${r.key}`).toBeDefined();
      expect(sameValue(t!.value, r.value), `${c}/${r.key}`).toBe(true);
    }
  }
}

function rejectsOf(file: string): { collection: string; key: string; reason: string; location: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('migrate', () => {
  it('copies every collection and every record exactly', async () => {
    const source = await seed({ users: 2500, orders: 1200, empty: 0 });
    await source.ensureCollection('empty');
    const result = await migrate({ from: src(), to: dst(), state: statePath(), batchSize: 300 });
    expect(result.status).toBe('completed');
    const target = await openStore(dst());
    expect(await target.listCollections()).toEqual(['empty', 'orders', 'users']);
    await expectSameStores(source, target, ['users', 'orders', 'empty']);
    expect(result.totals.written).toBe(3700);
    expect(result.rejectsTotal).toBe(0);
  });

  it('copies only the collections named, and refuses names the source lacks', async () => {
    await seed({ a: 10, b: 10 });
    const result = await migrate({ from: src(), to: dst(), state: statePath(), only: ['b'] });
    expect(result.status).toBe('completed');
    expect(await (await openStore(dst())).listCollections()).toEqual(['b']);
    await expect(migrate({ from: src(), to: dst(), state: statePath(), only: ['nope'] })).rejects.toThrow(/"nope".*does not have/);
  });

  it('pauses on the signal after the batch in flight, then resumes to the same result', async () => {
    const source = await seed({ big: 5000 });
    const ac = new AbortController();
    let batches = 0;
    const first = await migrate({
      from: src(), to: dst(), state: statePath(), batchSize: 250, signal: ac.signal,
      onEvent: (e) => { if (e.type === 'progress' && ++batches === 3) ac.abort(); },
    });
    expect(first.status).toBe('paused');
    const target = await openStore(dst());
    const partial = await target.count('big');
    expect(partial).toBeGreaterThanOrEqual(750);
    expect(partial).toBeLessThan(5000);
    const state = new StateStore(statePath());
    expect(state.getMigration(first.id)?.status).toBe('paused');
    state.close();
    const second = await migrate({ from: src(), to: dst(), state: statePath(), batchSize: 250 });
    expect(second.status).toBe('completed');
    expect(second.resumed).toBe(true);
    await expectSameStores(source, target, ['big']);
    // Nothing was read twice: the resumed run started after the checkpoint.
    expect(second.totals.read).toBe(5000);
  });

  it('a target that lost its data and checkpoints (a Redis restart without persistence) is copied again in full', async () => {
    const source = await seed({ lost: 3000 });
    const ac = new AbortController();
    let batches = 0;
    const first = await migrate({
      from: src(), to: dst(), state: statePath(), batchSize: 200, signal: ac.signal,
      onEvent: (e) => { if (e.type === 'progress' && ++batches === 4) ac.abort(); },
    });
    expect(first.status).toBe('paused');
    const target = await openStore(dst());
    expect(await target.count('lost')).toBeGreaterThan(0);
    await target.dropCollection!('lost');
    await target.clearCheckpoints!('');
    const second = await migrate({ from: src(), to: dst(), state: statePath(), batchSize: 200 });
    expect(second.status).toBe('completed');
    await expectSameStores(source, target, ['lost']);
  });

  it('pauses when "cutover pause" writes the request into the state store from another connection', async () => {
    await seed({ big: 4000 });
    const inner = createMemoryStore(`memory:inner-${name}`);
    // Each batch takes 30 ms, so the 40 batches outlast the engine's 200 ms poll of the state store.
    registerDriver(`slow${name}`, () => faulty(inner, { beforePut: () => new Promise((r) => setTimeout(r, 30)) }));
    let requested = false;
    const result = await migrate({
      from: src(), to: `slow${name}:x`, state: statePath(), batchSize: 100,
      onEvent: (e) => {
        if (e.type === 'progress' && !requested) {
          requested = true;
          // What `cutover pause ID` runs, from its own connection to the state database.
          void pause(e.migrationId, { state: statePath() }).then((r) => expect(r.requested).toBe(true));
        }
      },
    });
    expect(result.status).toBe('paused');
    const copied = await inner.count('big');
    expect(copied).toBeGreaterThan(0);
    expect(copied).toBeLessThan(4000);
    const s = new StateStore(statePath());
    const events = s.auditLog(result.id).map((a) => a.event);
    const unit = s.units(result.id)[0]!;
    s.close();
    expect(events).toEqual(expect.arrayContaining(['pause-requested', 'paused']));
    // The checkpoint matches what the target holds: the batch in flight finished and was recorded.
    expect(unit.written).toBe(copied);
  });

  it('retries transient write errors and counts them', async () => {
    const source = await seed({ t: 900 });
    const inner = createMemoryStore(`memory:inner-${name}`);
    registerDriver(`flaky${name}`, () => faulty(inner, { transientFailures: 3 }));
    const result = await migrate({ from: src(), to: `flaky${name}:x`, state: statePath(), batchSize: 100, retry: { initialDelayMs: 5, maxDelayMs: 20 } });
    expect(result.status).toBe('completed');
    expect(result.totals.retries).toBe(3);
    await expectSameStores(source, inner, ['t']);
  });

  it('bisects a batch that fails for good: the bad records go to the rejects file, the rest lands', async () => {
    const source = await seed({ p: 1000 });
    const poisoned = new Set(['p-000017', 'p-000018', 'p-000503', 'p-000999']);
    const inner = createMemoryStore(`memory:inner-${name}`);
    registerDriver(`poison${name}`, () => faulty(inner, { poison: (k) => poisoned.has(k) }));
    const result = await migrate({ from: src(), to: `poison${name}:x`, state: statePath(), batchSize: 128 });
    expect(result.status).toBe('completed');
    const rejects = rejectsOf(result.rejectsFile);
    expect(rejects.map((r) => r.key).sort()).toEqual([...poisoned].sort());
    for (const r of rejects) {
      expect(r.collection).toBe('p');
      expect(r.reason).toMatch(/violates a constraint/);
    }
    expect(await inner.count('p')).toBe(1000 - poisoned.size);
    const good = (await scanAll(source, 'p')).records.filter((r) => !poisoned.has(r.key));
    const got = await inner.getMany('p', good.map((r) => r.key));
    expect(got.every(Boolean)).toBe(true);
    expect(result.rejectsTotal).toBe(4);
  });

  it('--fail-fast stops at the first bad record instead', async () => {
    await seed({ p: 500 });
    const inner = createMemoryStore(`memory:inner-${name}`);
    registerDriver(`ff${name}`, () => faulty(inner, { poison: (k) => k === 'p-000300' }));
    const result = await migrate({ from: src(), to: `ff${name}:x`, state: statePath(), batchSize: 100, failFast: true });
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/violates a constraint/);
    expect(await inner.count('p')).toBe(300);
  });

  it('--dry-run writes nothing and reports the plan with an estimate', async () => {
    await seed({ a: 300, b: 40 });
    const target = join(dir, 'never.db');
    const result = await migrate({ from: src(), to: `sqlite:${target}`, state: statePath(), dryRun: true });
    expect(result.status).toBe('dry-run');
    expect(result.plan?.map((p) => [p.collection, p.records, p.targetExists])).toEqual([['a', 300, false], ['b', 40, false]]);
    expect(result.estimate?.sampleRecords).toBeGreaterThan(0);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(statePath())).toBe(false);
  });

  it('applies a transform module: map, drop, fan out, and reject what throws', async () => {
    await seed({ t: 20 });
    const mod = join(dir, 'transform.mjs');
    writeFileSync(
      mod,
      `export default (r) => {
        if (r.key.endsWith('01')) return null;
        if (r.key.endsWith('02')) throw new Error('no thanks');
        if (r.key.endsWith('03')) return [r, { key: r.key + '-copy', value: r.value }];
        return { ...r, value: JSON.stringify({ wrapped: JSON.parse(r.value) }) };
      };`,
    );
    const result = await migrate({ from: src(), to: dst(), state: statePath(), transform: mod });
    expect(result.status).toBe('completed');
    const target = await openStore(dst());
    expect(await target.count('t')).toBe(20 - 2 + 1);
    const [w] = await target.getMany('t', ['t-000000']);
    expect(JSON.parse(w!.value as string).wrapped.k).toBe('t-000000');
    expect(rejectsOf(result.rejectsFile).map((r) => [r.key, r.reason])).toEqual([['t-000002', 'transform failed: no thanks']]);
  });

  it('--split copies key ranges in parallel that cover every key exactly once', async () => {
    const source = await seed({ s: 3001 });
    let written = 0;
    const inner = createMemoryStore(`memory:inner-${name}`);
    registerDriver(`count${name}`, () => faulty(inner, { beforePut: (r) => void (written += r.length) }));
    const result = await migrate({ from: src(), to: `count${name}:x`, state: statePath(), split: 4, batchSize: 200 });
    expect(result.status).toBe('completed');
    expect(result.units.map((u) => u.unit)).toEqual(['s#000', 's#001', 's#002', 's#003']);
    expect(written).toBe(3001);
    await expectSameStores(source, inner, ['s']);
  });

  it('splits a big collection by itself where the source finds the boundaries, unless --split 1', async () => {
    const sqlite = await openStore(`sqlite:${join(dir, 'big.db')}`);
    const memory = await seed({ b: 2500 });
    await sqlite.putMany('b', (await scanAll(memory, 'b')).records);
    await sqlite.putMany('small', (await scanAll(memory, 'b')).records.slice(0, 999));
    await sqlite.close();
    const dry = await migrate({ from: `sqlite:${join(dir, 'big.db')}`, to: dst(), state: statePath(), autoSplitRecords: 1000, dryRun: true });
    expect(dry.plan!.map((p) => [p.collection, p.ranges])).toEqual([['b', 2], ['small', 1]]);
    const auto = await migrate({ from: `sqlite:${join(dir, 'big.db')}`, to: dst(), state: statePath(), autoSplitRecords: 1000, batchSize: 100 });
    expect(auto.status).toBe('completed');
    expect(auto.units.map((u) => u.unit).sort()).toEqual(['b#000', 'b#001', 'small']);
    await expectSameStores(memory, await openStore(dst()), ['b']);
    const off = await migrate({ from: `sqlite:${join(dir, 'big.db')}`, to: `memory:off-${name}`, state: join(dir, 'off.db'), autoSplitRecords: 1000, split: 1 });
    expect(off.units.map((u) => u.unit).sort()).toEqual(['b', 'small']);
    // A JSONL log has no key ranges: never split.
    const log = join(dir, 'log');
    await migrate({ from: `sqlite:${join(dir, 'big.db')}`, to: `file:${log}?layout=jsonl`, state: join(dir, 'log.db'), only: ['b'], split: 1 });
    const fromLog = await migrate({ from: `file:${log}`, to: `memory:log-${name}`, state: join(dir, 'from-log.db'), autoSplitRecords: 1000 });
    expect(fromLog.units.map((u) => u.unit)).toEqual(['b']);
  });

  it('running a completed migration again changes nothing unless --restart', async () => {
    await seed({ r: 50 });
    const first = await migrate({ from: src(), to: dst(), state: statePath() });
    const again = await migrate({ from: src(), to: dst(), state: statePath() });
    expect(again.status).toBe('already-completed');
    expect(again.id).toBe(first.id);
    const restarted = await migrate({ from: src(), to: dst(), state: statePath(), restart: true });
    expect(restarted.status).toBe('completed');
    expect(restarted.totals.read).toBe(50);
  });

  it('--max-rate holds the job to the cap', async () => {
    await seed({ m: 600 });
    const t0 = performance.now();
    const result = await migrate({ from: src(), to: dst(), state: statePath(), batchSize: 50, maxRate: 1000 });
    const seconds = (performance.now() - t0) / 1000;
    expect(result.status).toBe('completed');
    // The bucket starts empty: 600 records at 1000/s cannot take less than about 0.6 s.
    expect(seconds).toBeGreaterThanOrEqual(0.5);
    const slow = await migrate({ from: src(), to: `memory:slow-${name}`, state: statePath(), batchSize: 100, maxRate: 400 });
    expect(slow.status).toBe('completed');
    expect(slow.durationMs).toBeGreaterThanOrEqual((600 / 400) * 1000 * 0.9);
  });
});
