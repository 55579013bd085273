/**
 * Behaviour of the dual store per mode, with faults injected around real (memory) stores. Every
 * assertion about data reads the old and new stores directly, not through the dual store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/store.js';
import { createMemoryStore } from '../../src/drivers/memory.js';
import { createDualStore, type DualStore, type DualStoreOptions } from '../../src/dual/dual-store.js';
import { staticFlags } from '../../src/dual/flags.js';
import { keyBucket } from '../../src/dual/router.js';
import { gate, withFaults, type FaultyStore } from './fault-injector.js';

const opened: DualStore[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.close()));
});

function setup(flags: DualStoreOptions['flags'], extra: Partial<DualStoreOptions> = {}) {
  const rawOld = createMemoryStore();
  const rawNew = createMemoryStore();
  const old = withFaults(rawOld, 'old');
  const neu = withFaults(rawNew, 'new');
  const errors: Error[] = [];
  const dual = createDualStore({ old, new: neu, flags, onError: (e) => errors.push(e), ...extra });
  opened.push(dual);
  return { dual, old, neu, rawOld, rawNew, errors };
}

async function raw(store: Store, collection: string, key: string): Promise<string | undefined> {
  const [r] = await store.getMany(collection, [key]);
  return r === undefined ? undefined : (r.value as string);
}

describe('write-through', () => {
  it('writes to both stores and reads from old', async () => {
    const { dual, rawOld, rawNew } = setup({ mode: 'write-through' });
    await dual.put('users', 'u1', { name: 'Ada' });
    expect(await raw(rawOld, 'users', 'u1')).toBe('{"name":"Ada"}');
    expect(await raw(rawNew, 'users', 'u1')).toBe('{"name":"Ada"}');
    await rawNew.putMany('users', [{ key: 'u1', value: '{"name":"changed in new only"}' }]);
    expect(await dual.get('users', 'u1')).toEqual({ name: 'Ada' });
    expect(await dual.delete('users', 'u1')).toBe(true);
    expect(await raw(rawOld, 'users', 'u1')).toBeUndefined();
    expect(await raw(rawNew, 'users', 'u1')).toBeUndefined();
  });

  it('new store down: the caller succeeds, the divergence is queued, repair converges', async () => {
    const { dual, neu, rawOld, rawNew, errors } = setup({ mode: 'write-through' });
    neu.faults.failing.add('*');
    await dual.put('users', 'u1', { v: 1 });
    await dual.put('users', 'u2', { v: 2 });
    await dual.delete('users', 'u2');
    expect(await dual.get('users', 'u1')).toEqual({ v: 1 });
    expect(await raw(rawOld, 'users', 'u1')).toBe('{"v":1}');
    expect(await raw(rawNew, 'users', 'u1')).toBeUndefined();
    expect(errors.length).toBeGreaterThan(0);
    expect(dual.pendingDivergences().map((d) => d.key).sort()).toEqual(['u1', 'u2']);
    // Still down: repair fails and keeps the divergence.
    expect((await dual.repairDivergences()).remaining).toBe(2);
    neu.faults.failing.clear();
    await rawNew.putMany('users', [{ key: 'u2', value: '"stale"' }]);
    const res = await dual.repairDivergences();
    expect(res.remaining).toBe(0);
    expect(await raw(rawNew, 'users', 'u1')).toBe('{"v":1}');
    expect(await raw(rawNew, 'users', 'u2')).toBeUndefined();
    const report = dual.discrepancyReport();
    expect(report.byKind['write-failed']).toBeGreaterThanOrEqual(2);
  });

  it('old store down: the error surfaces and the new store is not written', async () => {
    const { dual, old, rawNew } = setup({ mode: 'write-through' });
    old.faults.failing.add('putMany');
    await expect(dual.put('users', 'u1', { v: 1 })).rejects.toThrow(/injected fault/);
    expect(await raw(rawNew, 'users', 'u1')).toBeUndefined();
    old.faults.failing.add('getMany');
    await expect(dual.get('users', 'u1')).rejects.toThrow(/injected fault/);
  });

  it('a hung new store does not hold the caller past the secondary timeout, and repair converges', async () => {
    const { dual, neu, rawOld, rawNew } = setup({ mode: 'write-through' }, { secondaryTimeoutMs: 30 });
    const g = gate();
    neu.faults.hold = g.promise;
    neu.faults.holdOps.add('putMany');
    await dual.put('c', 'k', 1);
    await dual.put('c', 'k', 2);
    expect(await raw(rawOld, 'c', 'k')).toBe('2');
    expect(dual.pendingDivergences().map((d) => d.key)).toEqual(['k']);
    neu.faults.hold = null;
    g.open();
    await dual.repairDivergences();
    expect(await raw(rawNew, 'c', 'k')).toBe('2');
  });

  it('values the new store rejects are recorded as discrepancies; the primary keeps them', async () => {
    const { dual, neu, rawOld } = setup({ mode: 'write-through' });
    // A new store that cannot hold one particular value, as a backend with narrower types would.
    const inner = neu.putMany;
    neu.putMany = async (c, records, o) => {
      const res = await inner(c, records.filter((r) => r.key !== 'odd'), o);
      return { ...res, rejected: records.filter((r) => r.key === 'odd').map((r) => ({ collection: c, key: r.key, location: 'new', reason: 'cannot hold it' })) };
    };
    await dual.put('c', 'odd', { x: 1 });
    expect(await raw(rawOld, 'c', 'odd')).toBe('{"x":1}');
    expect(dual.discrepancyReport().examples.some((e) => e.kind === 'write-rejected' && e.key === 'odd')).toBe(true);
  });
});

describe('shadow', () => {
  it('returns the old value, compares in the background, records a structural diff', async () => {
    const { dual, rawOld, rawNew } = setup({ mode: 'shadow' });
    await rawOld.putMany('orders', [{ key: 'o1', value: '{"total":10,"items":[1,2]}' }, { key: 'o2', value: '{"a":1,"b":2.0}' }]);
    await rawNew.putMany('orders', [{ key: 'o1', value: '{"total":11,"items":[1,2]}' }, { key: 'o2', value: '{"b":2,"a":1}' }]);
    expect(await dual.get('orders', 'o1')).toEqual({ total: 10, items: [1, 2] });
    expect(await dual.get('orders', 'o2')).toEqual({ a: 1, b: 2 });
    expect(await dual.get('orders', 'missing')).toBeUndefined();
    await rawOld.putMany('orders', [{ key: 'only-old', value: '1' }]);
    await dual.get('orders', 'only-old');
    await dual.close();
    const report = dual.discrepancyReport();
    // o2 differs only in key order and number spelling: not a discrepancy.
    expect(report.examples.map((e) => [e.key, e.kind])).toEqual([['o1', 'value-differs'], ['only-old', 'missing-in-new']]);
    expect(report.examples[0]!.diff).toEqual([{ path: '$.total', old: '10', new: '11' }]);
    expect(report.byCollection.orders).toBe(2);
  });

  it('starts the shadow read only after the caller has its answer', async () => {
    const { dual, neu, rawOld } = setup({ mode: 'shadow' });
    await rawOld.putMany('c', [{ key: 'k', value: '1' }]);
    const events: string[] = [];
    const inner = neu.getMany;
    neu.getMany = (c, keys) => {
      events.push('shadow read');
      return inner(c, keys);
    };
    const [record] = await dual.getMany('c', ['k']);
    events.push('caller resumed');
    await dual.close();
    expect(record?.value).toBe('1');
    expect(events).toEqual(['caller resumed', 'shadow read']);
    expect(dual.discrepancyReport().examples.map((e) => [e.key, e.kind])).toEqual([['k', 'missing-in-new']]);
  });

  it('does not wait for a slow shadow read', async () => {
    const { dual, neu, rawOld } = setup({ mode: 'shadow' });
    await rawOld.putMany('c', [{ key: 'k', value: '"old"' }]);
    const g = gate();
    neu.faults.hold = g.promise;
    neu.faults.holdOps.add('getMany');
    // The shadow read is held open; the caller gets its answer anyway.
    expect(await dual.get('c', 'k')).toBe('old');
    g.open();
  });

  it('abandons a shadow read past its timeout: close() returns, and a late answer is not compared', async () => {
    const { dual, neu, rawOld } = setup({ mode: 'shadow', shadow: { timeoutMs: 20 } });
    await rawOld.putMany('c', [{ key: 'k', value: '"old"' }]);
    const g = gate();
    neu.faults.hold = g.promise;
    neu.faults.holdOps.add('getMany');
    expect(await dual.get('c', 'k')).toBe('old');
    await dual.close();
    g.open();
    await new Promise((r) => setTimeout(r, 10));
    // k is missing in new: compared, it would be a discrepancy.
    expect(dual.discrepancyReport().total).toBe(0);
  });

  it('sampling rate 0 compares nothing; read-repair copies old to new', async () => {
    const none = setup({ mode: 'shadow', shadow: { sampleRate: 0 } });
    await none.rawOld.putMany('c', [{ key: 'k', value: '1' }]);
    await none.dual.get('c', 'k');
    await none.dual.close();
    expect(none.dual.discrepancyReport().total).toBe(0);

    const repair = setup({ mode: 'shadow', readRepair: true });
    await repair.rawOld.putMany('c', [{ key: 'k', value: '{"fixed":true}' }]);
    await repair.dual.get('c', 'k');
    await repair.dual.close();
    expect(await raw(repair.rawNew, 'c', 'k')).toBe('{"fixed":true}');
  });

  it('a new store that is down never affects the caller', async () => {
    const { dual, neu, rawOld } = setup({ mode: 'shadow' });
    neu.faults.failing.add('*');
    await dual.put('c', 'k', { ok: 1 });
    expect(await dual.get('c', 'k')).toEqual({ ok: 1 });
    expect(await raw(rawOld, 'c', 'k')).toBe('{"ok":1}');
  });
});

describe('no false discrepancies', () => {
  it('comparisons racing with writes to the same keys are skipped, not reported', async () => {
    const { dual, old, neu, rawOld, rawNew } = setup({ mode: 'shadow' });
    // Operations overtake each other; both stores stay healthy, so every real state agrees.
    old.faults.jitterMs = 2;
    neu.faults.jitterMs = 2;
    const keys = ['a', 'b', 'c'];
    const writers = keys.map(async (k) => {
      for (let i = 0; i < 60; i++) await dual.put('race', k, { k, i });
    });
    const readers = Array.from({ length: 3 }, async () => {
      for (let i = 0; i < 80; i++) await dual.getMany('race', keys);
    });
    await Promise.all([...writers, ...readers]);
    await dual.close();
    expect(dual.discrepancyReport()).toMatchObject({ total: 0 });
    for (const k of keys) expect(await raw(rawNew, 'race', k)).toBe(await raw(rawOld, 'race', k));
    // And the comparisons did run: a real difference made now is caught.
    const again = setup({ mode: 'shadow' });
    await again.rawOld.putMany('race', [{ key: 'a', value: '1' }]);
    await again.dual.getMany('race', keys);
    await again.dual.close();
    expect(again.dual.discrepancyReport().total).toBe(1);
  });

  it('a write enqueued after the caller read but before the shadow read starts is not reported', async () => {
    const { dual, rawOld, rawNew } = setup({ mode: 'shadow' });
    await rawOld.putMany('c', [{ key: 'k', value: '1' }, { key: 'other', value: '1' }]);
    await rawNew.putMany('c', [{ key: 'k', value: '1' }, { key: 'other', value: '1' }]);
    // Same turn of the event loop: the shadow read of k starts only after the write has landed in
    // both stores, so it sees 2 where the caller saw 1.
    const read = dual.getMany('c', ['k']);
    const write = dual.put('c', 'k', 2);
    const [record] = await read;
    await write;
    expect(record?.value).toBe('1');
    expect(await raw(rawNew, 'c', 'k')).toBe('2');
    // A write to another key in the same window does not suppress a real difference.
    await rawNew.putMany('c', [{ key: 'other', value: '"differs"' }]);
    const read2 = dual.getMany('c', ['other']);
    const write2 = dual.put('c', 'unrelated', 3);
    await Promise.all([read2, write2]);
    await dual.close();
    expect(dual.discrepancyReport().examples.map((e) => e.key)).toEqual(['other']);
  });

  // Two ways the shadow reader notices such a write: from its record of writes while the record that
  // began with the read is current, and from a watch once a later batch of shadow reads has taken it.
  it.each([
    ['in the record the read began in', false, false],
    ['after a later batch handed the read a watch', true, false],
    ['before a later batch took the record', true, true],
  ])('a write enqueued while the shadow read is in flight is not reported (%s)', async (_label, laterBatch, writeFirst) => {
    const { dual, neu, rawOld, rawNew } = setup({ mode: 'shadow' });
    await rawOld.putMany('c', [{ key: 'k', value: '1' }, { key: 'j', value: '1' }, { key: 'x', value: '1' }]);
    await rawNew.putMany('c', [{ key: 'k', value: '1' }, { key: 'j', value: '"differs"' }, { key: 'x', value: '1' }]);
    const g = gate();
    neu.faults.hold = g.promise;
    neu.faults.holdOps.add('getMany');
    expect((await dual.getMany('c', ['k']))[0]?.value).toBe('1');
    expect((await dual.getMany('c', ['j']))[0]?.value).toBe('1');
    // Let the queued shadow reads start (they wait at the gate).
    await new Promise((r) => setImmediate(r));
    // Write k through the dual store while its shadow read is in flight.
    if (writeFirst) await dual.put('c', 'k', 2);
    if (laterBatch) {
      await dual.getMany('c', ['x']);
      await new Promise((r) => setImmediate(r));
    }
    if (!writeFirst) await dual.put('c', 'k', 2);
    expect(await raw(rawNew, 'c', 'k')).toBe('2');
    neu.faults.hold = null;
    g.open();
    await dual.close();
    // k's held read now sees 2 against the caller's 1: skipped. j's real difference is reported.
    expect(dual.discrepancyReport().examples.map((e) => e.key)).toEqual(['j']);
  });
});

describe('read-validation', () => {
  it('reads both, returns old, and the difference is recorded when the read returns', async () => {
    const { dual, rawOld, rawNew } = setup({ mode: 'read-validation' });
    await rawOld.putMany('c', [{ key: 'k', value: '[1,2,3]' }]);
    await rawNew.putMany('c', [{ key: 'k', value: '[1,2]' }]);
    expect(await dual.get('c', 'k')).toEqual([1, 2, 3]);
    const [example] = dual.discrepancyReport().examples;
    expect(example).toMatchObject({ key: 'k', kind: 'value-differs', old: '[1,2,3]', new: '[1,2]', operation: 'read' });
    expect(example!.diff).toEqual([{ path: '$[2]', old: '3', new: '(absent)' }]);
  });
});

describe('progressive', () => {
  it('reads each key from the store its bucket says, and writes go to both', async () => {
    const { dual, rawOld, rawNew } = setup({ mode: 'progressive', readPercent: 40 });
    const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`);
    await rawOld.putMany('p', keys.map((k) => ({ key: k, value: '"old"' })));
    await rawNew.putMany('p', keys.map((k) => ({ key: k, value: '"new"' })));
    const got = await dual.getValues('p', keys);
    keys.forEach((k, i) => expect(got[i], k).toBe(keyBucket('p', k) < 4000 ? 'new' : 'old'));
    const toNew = got.filter((v) => v === 'new').length;
    expect(toNew).toBeGreaterThan(50);
    expect(toNew).toBeLessThan(110);
    await dual.put('p', 'key-1', 'both');
    expect(await raw(rawOld, 'p', 'key-1')).toBe('"both"');
    expect(await raw(rawNew, 'p', 'key-1')).toBe('"both"');
  });

  it('a key whose new write failed is read from old until repaired', async () => {
    const { dual, neu, rawNew } = setup({ mode: 'progressive', readPercent: 100 });
    await dual.put('p', 'k', 'v1');
    neu.faults.failing.add('putMany');
    await dual.put('p', 'k', 'v2');
    expect(await raw(rawNew, 'p', 'k')).toBe('"v1"');
    expect(await dual.get('p', 'k')).toBe('v2');
    neu.faults.failing.clear();
    await dual.repairDivergences();
    expect(await raw(rawNew, 'p', 'k')).toBe('"v2"');
  });

  it('a failing new store falls back to old for reads while old is primary', async () => {
    const { dual, neu } = setup({ mode: 'progressive', readPercent: 100 });
    await dual.put('p', 'k', 'v');
    neu.faults.failing.add('getMany');
    expect(await dual.get('p', 'k')).toBe('v');
  });
});

describe('canary', () => {
  it('routes listed collections and key globs to the new store', async () => {
    const { dual, rawOld, rawNew } = setup({ mode: 'canary', canary: ['users', 'orders:vip-*'] });
    for (const [c, k] of [['users', 'u1'], ['orders', 'vip-1'], ['orders', 'o1']] as const) {
      await rawOld.putMany(c, [{ key: k, value: '"old"' }]);
      await rawNew.putMany(c, [{ key: k, value: '"new"' }]);
    }
    expect(await dual.get('users', 'u1')).toBe('new');
    expect(await dual.get('orders', 'vip-1')).toBe('new');
    expect(await dual.get('orders', 'o1')).toBe('old');
    expect(await dual.count('users')).toBe(1);
  });

  it('canary keys have new as primary: its failure surfaces; others are unaffected', async () => {
    const { dual, neu, rawOld } = setup({ mode: 'canary', canary: ['orders:vip-*'] });
    neu.faults.failing.add('putMany');
    await expect(dual.put('orders', 'vip-9', 1)).rejects.toThrow(/injected fault/);
    expect(await raw(rawOld, 'orders', 'vip-9')).toBeUndefined();
    await dual.put('orders', 'plain', 1);
    expect(await raw(rawOld, 'orders', 'plain')).toBe('1');
  });
});

describe('new-primary', () => {
  it('reads new, writes new then old; an old failure is repaired from new', async () => {
    const { dual, old, rawOld, rawNew } = setup({ mode: 'new-primary' });
    await rawOld.putMany('c', [{ key: 'x', value: '"old"' }]);
    await rawNew.putMany('c', [{ key: 'x', value: '"new"' }]);
    expect(await dual.get('c', 'x')).toBe('new');
    old.faults.failing.add('putMany');
    await dual.put('c', 'k', 'v');
    expect(await raw(rawNew, 'c', 'k')).toBe('"v"');
    expect(await raw(rawOld, 'c', 'k')).toBeUndefined();
    expect(dual.pendingDivergences()).toMatchObject([{ key: 'k', source: 'new', target: 'old' }]);
    old.faults.failing.clear();
    await dual.repairDivergences();
    expect(await raw(rawOld, 'c', 'k')).toBe('"v"');
  });
});

describe('single-store modes and switching', () => {
  it('old-only and new-only touch one store; a flag change takes effect on the next call', async () => {
    const flags = staticFlags({ mode: 'old-only' });
    const { dual, rawOld, rawNew } = setup(flags);
    await dual.put('c', 'a', 1);
    expect(await raw(rawNew, 'c', 'a')).toBeUndefined();
    flags.set({ mode: 'new-only' });
    expect(dual.mode).toBe('new-only');
    await dual.put('c', 'b', 2);
    expect(await raw(rawOld, 'c', 'b')).toBeUndefined();
    expect(await raw(rawNew, 'c', 'b')).toBe('2');
    expect(await dual.get('c', 'a')).toBeUndefined();
    expect(() => flags.set({ mode: 'warp-speed' as never })).toThrow(/invalid dual-store flags/);
    expect(dual.mode).toBe('new-only');
  });

  it('ackAfterPrimary: a later read of the key waits for its queued write; close() drains', async () => {
    const { dual, neu, rawNew } = setup({ mode: 'progressive', readPercent: 100 }, { ackAfterPrimary: true });
    const g = gate();
    neu.faults.hold = g.promise;
    neu.faults.holdOps.add('putMany');
    await dual.put('c', 'k', 'v');
    expect(await raw(rawNew, 'c', 'k')).toBeUndefined();
    const read = dual.get('c', 'k');
    neu.faults.hold = null;
    g.open();
    expect(await read).toBe('v');
    await dual.put('c', 'k2', 'v2');
    await dual.close();
    expect(await raw(rawNew, 'c', 'k2')).toBe('"v2"');
  });

  it('ackAfterPrimary in write-through: a read issued while a write to the key is in flight waits for it', async () => {
    const { dual, old, rawOld } = setup({ mode: 'write-through' }, { ackAfterPrimary: true });
    await dual.put('c', 'other', 1);
    const g = gate();
    old.faults.hold = g.promise;
    old.faults.holdOps.add('putMany');
    const write = dual.put('c', 'k', 'v');
    const read = dual.get('c', 'k');
    // A read of a key with nothing queued does not wait.
    expect(await dual.get('c', 'other')).toBe(1);
    expect(await raw(rawOld, 'c', 'k')).toBeUndefined();
    old.faults.hold = null;
    g.open();
    expect(await read).toBe('v');
    await write;
  });
});

describe('metrics', () => {
  it('exposes latency, errors, discrepancies and routing in Prometheus text', async () => {
    const { dual, neu, rawOld } = setup({ mode: 'shadow' });
    await rawOld.putMany('m', [{ key: 'k', value: '1' }]);
    await dual.get('m', 'k');
    neu.faults.failing.add('putMany');
    await dual.put('m', 'k2', 1);
    await dual.close();
    const text = await dual.metricsText();
    expect(text).toMatch(/cutover_dual_operation_duration_seconds_count\{backend="old",op="get"\} 1/);
    expect(text).toMatch(/cutover_dual_backend_errors_total\{backend="new",op="put"\} 1/);
    expect(text).toMatch(/cutover_dual_discrepancies_total\{op="shadow-read",collection="m",kind="missing-in-new"\} 1/);
    expect(text).toMatch(/cutover_dual_routing_decisions_total\{op="get",target="old"\} 1/);
    expect(text).toMatch(/cutover_dual_divergences_pending 1/);
  });
});
