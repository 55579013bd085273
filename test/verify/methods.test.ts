import { describe, expect, it } from 'vitest';
import type { StoredRecord } from '../../src/core/record.js';
import type { ScanOptions } from '../../src/core/store.js';
import { createMemoryStore } from '../../src/drivers/memory.js';
import { formatBytes } from '../../src/observe/numbers.js';
import { formatReport, showKey } from '../../src/verify/report.js';
import { hasRangeDigest, rangeDigestOf } from '../../src/verify/checksum-diff.js';
import { verify } from '../../src/verify/verify.js';
import { expectPlanted } from './matrix.js';
import { plant } from './planted.js';
import { unordered, withPushdown } from './wrappers.js';

describe('verify on unordered sides (hash partitions on disk)', () => {
  for (const partitions of [1, 5]) {
    for (const side of ['source', 'target', 'both'] as const) {
      it(`finds exactly the planted differences with ${partitions} partition(s), ${side} unordered`, async () => {
        const a = createMemoryStore();
        const b = createMemoryStore();
        const planted = await plant(a, b, 'things', { bytes: true });
        const source = side === 'target' ? a : unordered(a, 3);
        const target = side === 'source' ? b : unordered(b, 4);
        for (const mode of ['full', 'checksum'] as const) {
          // lookupPending 0: hash partitions even where the lookup method would apply (source unordered only).
          const result = await verify({ from: source, to: target, mode, examples: 100, tuning: { partitions, lookupPending: 0 } });
          expectPlanted(result, planted, 'things');
          expect(result.collections[0]!.method).toBe('hash-partition');
          expect(result.collections[0]!.note).toMatch(/partition/);
        }
      });
    }
  }

  it('picks the partition count from the counts', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    const planted = await plant(a, b, 'things', { n: 300 });
    const result = await verify({ from: unordered(a), to: b, mode: 'full', examples: 100, tuning: { partitionRecords: 50, lookupPending: 0 } });
    expectPlanted(result, planted, 'things');
    expect(result.collections[0]!.note).toMatch(/into 7 partitions/);
  });
});

describe('verify checksum without range scans', () => {
  it('streams and merges both sides instead, and says so', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    const planted = await plant(a, b, 'things');
    const noRanges = { ...b, capabilities: { ...b.capabilities, rangeScan: false } };
    const result = await verify({ from: a, to: noRanges, mode: 'checksum', examples: 100 });
    expectPlanted(result, planted, 'things');
    expect(result.collections[0]!.method).toBe('merge');
    expect(result.collections[0]!.note).toMatch(/cannot scan key ranges/);
  });
});

describe('verify checksum with digests computed by the backend', () => {
  it('detects the optional driver methods with a type guard', () => {
    expect(hasRangeDigest(createMemoryStore())).toBe(false);
    expect(hasRangeDigest(withPushdown(createMemoryStore()))).toBe(true);
  });

  it('the reference digest ignores order and spelling but not data', () => {
    const d = (list: [string, string][]) => Buffer.from(rangeDigestOf(list.map(([key, value]) => ({ key, value }))).digest).toString('hex');
    expect(d([['a', '{"x":1,"y":2}'], ['b', '1']])).toBe(d([['b', '1.0'], ['a', '{"y":2,"x":1}']]));
    expect(d([['a', '1']])).not.toBe(d([['a', '1.0000000000000002']]));
    expect(d([['a', '1']])).not.toBe(d([['b', '1']]));
  });

  for (const tuning of [{}, { leafSize: 2, fanout: 3 }]) {
    it(`finds exactly the planted differences (tuning ${JSON.stringify(tuning)})`, async () => {
      const a = withPushdown(createMemoryStore());
      const b = withPushdown(createMemoryStore());
      const planted = await plant(a, b, 'things', { bytes: true });
      const result = await verify({ from: a, to: b, mode: 'checksum', examples: 100, tuning });
      expectPlanted(result, planted, 'things');
      expect(result.collections[0]!.method).toBe('sql-pushdown');
      expect(a.digestCalls).toBeGreaterThan(0);
    });
  }

  it('moves far fewer bytes than a full comparison when little differs', async () => {
    const a = withPushdown(createMemoryStore());
    const b = withPushdown(createMemoryStore());
    const records = Array.from({ length: 5000 }, (_, i) => ({ key: `r${String(i).padStart(5, '0')}`, value: JSON.stringify({ i, pad: 'x'.repeat(100) }) }));
    await a.putMany('big', records);
    await b.putMany('big', records);
    await b.putMany('big', [{ key: 'r02500', value: '{"changed":true}' }]);
    const checksum = await verify({ from: a, to: b, mode: 'checksum', examples: 10, tuning: { leafSize: 50, fanout: 8 } });
    const full = await verify({ from: a, to: b, mode: 'full', examples: 10 });
    expect(checksum.collections[0]!.examples.map((e) => e.key)).toEqual(['r02500']);
    expect(full.collections[0]!.examples.map((e) => e.key)).toEqual(['r02500']);
    expect(checksum.collections[0]!.matching).toBe(4999);
    expect(checksum.collections[0]!.bytesTransferred * 20).toBeLessThan(full.collections[0]!.bytesTransferred);
    // The human report says how much each comparison read, in the row's "read" column.
    const readColumn = (report: string) => {
      const lines = report.split('\n');
      const head = lines.find((l) => l.startsWith('collection'))!.split(/\s{2,}/);
      return lines.find((l) => l.startsWith('big'))!.split(/\s{2,}/)[head.indexOf('read')];
    };
    expect(readColumn(formatReport(checksum))).toBe(formatBytes(checksum.collections[0]!.bytesTransferred));
    expect(readColumn(formatReport(full))).toBe(formatBytes(full.collections[0]!.bytesTransferred));
    expect(formatBytes(checksum.collections[0]!.bytesTransferred)).toMatch(/^\d+\.\d KB$/);
  });
});

describe('verify collections and errors', () => {
  it('checks collections of either side and reports a target-only collection as extra', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    await a.putMany('both', [{ key: 'k', value: '1' }]);
    await b.putMany('both', [{ key: 'k', value: '1' }]);
    await b.putMany('stray', [{ key: 's', value: '2' }]);
    const result = await verify({ from: a, to: b, mode: 'full' });
    expect(result.collections.map((c) => c.collection)).toEqual(['both', 'stray']);
    expect(result.collections[1]!.extra).toBe(1);
    expect(result.ok).toBe(false);
    expect((await verify({ from: a, to: b, mode: 'full', only: ['both'] })).ok).toBe(true);
  });

  it('a side whose "ordered" scan is out of order is an error, not a list of differences', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    await a.putMany('c', [{ key: 'a', value: '1' }, { key: 'b', value: '1' }]);
    await b.putMany('c', [{ key: 'a', value: '1' }, { key: 'b', value: '1' }]);
    const broken = { ...unordered(b), isOrdered: async () => true, capabilities: b.capabilities };
    const result = await verify({ from: a, to: broken, mode: 'full' });
    expect(result.ok).toBe(false);
    expect(result.errors[0]!.message).toMatch(/not ascending UTF-8 byte order/);
  });

  it('unreadable source records are reported as errors', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    await a.putMany('c', [{ key: 'a', value: '1' }]);
    await b.putMany('c', [{ key: 'a', value: '1' }]);
    const rejecting = {
      ...a,
      async *scan(collection: string) {
        for await (const batch of a.scan(collection)) yield { ...batch, rejects: [{ collection, key: 'bad', location: 'line 3', reason: 'malformed JSON' }] };
      },
    };
    const result = await verify({ from: rejecting, to: b, mode: 'full' });
    expect(result.ok).toBe(false);
    expect(result.errors[0]!.message).toMatch(/1 record in the source could not be read.*"bad" at line 3: malformed JSON/);
  });

  it('rejects bad options with a ConfigurationError', async () => {
    const a = createMemoryStore();
    await expect(verify({ from: a, to: a, mode: 'nope' as never })).rejects.toThrow(/unknown verify mode/);
    await expect(verify({ from: a, to: a, mode: 'sample', confidence: 1 })).rejects.toThrow(/confidence must be between/);
    await expect(verify({ from: a, to: a, mode: 'sample', sample: '0%' })).rejects.toThrow(/percentage/);
    await expect(verify({ from: a, to: a, deleteExtra: true })).rejects.toThrow(/--repair/);
    await expect(verify({ from: a, to: a, mode: 'full', sample: '5' })).rejects.toThrow('--sample only applies to --mode sample');
    await expect(verify({ from: a, to: a, confidence: 0.95 })).rejects.toThrow('--confidence only applies to --mode sample');
    await expect(verify({ from: a, to: a, mode: 'sample', sample: '5', confidence: 0.95 })).resolves.toMatchObject({ ok: true });
  });

  it('stops when the signal aborts', async () => {
    const a = createMemoryStore();
    await a.putMany('c', [{ key: 'a', value: '1' }]);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(verify({ from: a, to: createMemoryStore(), mode: 'full', signal: controller.signal })).rejects.toThrow('stop');
  });
});

describe('verify repair', () => {
  it('reports records the target rejects instead of dropping them, and retries transient write failures', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    await a.putMany('c', [{ key: 'ok1', value: '1' }, { key: 'bad', value: '2' }, { key: 'ok2', value: '3' }]);
    let failures = 1;
    const picky = {
      ...b,
      async putMany(collection: string, records: StoredRecord[]) {
        if (failures-- > 0) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        const keep = records.filter((r) => r.key !== 'bad');
        await b.putMany(collection, keep);
        return {
          written: keep.length,
          rejected: records.filter((r) => r.key === 'bad').map((r) => ({ collection, key: r.key, location: 'picky', reason: 'too ugly' })),
        };
      },
    };
    const result = await verify({ from: a, to: picky, mode: 'full', repair: true });
    expect(result.repair!.rejected).toEqual([{ collection: 'c', key: 'bad', location: 'picky', reason: 'too ugly' }]);
    expect(result.ok).toBe(false);
    expect(result.collections[0]!.examples.map((e) => `${e.kind}:${e.key}`)).toEqual(['missing:bad']);
    expect((await b.getMany('c', ['ok1', 'bad', 'ok2'])).map((r) => r?.value)).toEqual(['1', undefined, '3']);
    expect(failures).toBe(-1); // one failed attempt, then the retry that landed
    expect(formatReport(result)).toMatch(/rejected "bad" in "c": too ugly/);
  });

  it('does not delete a target record that appeared in the source after the comparison', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    await a.putMany('c', [{ key: 'k', value: '1' }]);
    await b.putMany('c', [{ key: 'k', value: '1' }, { key: 'late', value: '5' }]);
    // The source gains "late" between the comparison and the deletes.
    let scans = 0;
    const racing = {
      ...a,
      async *scan(collection: string, options?: ScanOptions) {
        scans++;
        yield* a.scan(collection, options);
        if (scans === 1) await a.putMany('c', [{ key: 'late', value: '5' }]);
      },
    };
    const result = await verify({ from: racing, to: b, mode: 'full', repair: true, deleteExtra: true });
    expect(result.repair!.before[0]!.extra).toBe(1);
    expect(result.repair!.deleted).toBe(0);
    expect(await b.getMany('c', ['late'])).toEqual([expect.objectContaining({ value: '5' })]);
    expect(result.ok).toBe(true);
  });

  it('spills many difference keys to disk and still repairs all of them', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    await a.putMany('c', Array.from({ length: 2500 }, (_, i) => ({ key: `k${i}`, value: `{"i":${i}}` })));
    const result = await verify({ from: a, to: b, mode: 'checksum', repair: true, tuning: { spillThreshold: 100 } });
    expect(result.repair!.copied).toBe(2500);
    expect(await b.count('c')).toBe(2500);
    const back = await b.getMany('c', ['k0', 'k1234', 'k2499']);
    expect(back.map((r) => r?.value)).toEqual(['{"i":0}', '{"i":1234}', '{"i":2499}']);
    expect(result.ok).toBe(true);
  });

  it('shows invisible characters in keys escaped', () => {
    expect(showKey('\ue000-x')).toBe('"\\u{e000}-x"');
    expect(showKey('😀')).toBe('"😀"');
  });
});

describe('checksum ranges bounded by astral-plane keys', () => {
  it('splits at astral and high-BMP keys and still finds each planted difference exactly', async () => {
    const keys = ['\ue000', '\uff5e', '\uffef', '\uffff', '😀', '😀a', '𐀀', '𝄞', '\u{10ffff}', 'z', 'z\uffff', 'z😀', '中', 'é'];
    const bounds: string[] = [];
    for (const [i, k] of keys.entries()) {
      const a = createMemoryStore();
      const b = createMemoryStore();
      await a.putMany('c', keys.map((key) => ({ key, value: JSON.stringify({ key }) })));
      await b.putMany('c', keys.filter((key) => key !== k).map((key) => ({ key, value: JSON.stringify({ key }) })));
      const changed = keys[(i + 3) % keys.length]!;
      await b.putMany('c', [{ key: changed, value: '{"changed":true}' }]);
      const spying = {
        ...a,
        scan(collection: string, options?: ScanOptions) {
          if (options?.after) bounds.push(options.after);
          if (options?.until) bounds.push(options.until);
          return a.scan(collection, options);
        },
      };
      const result = await verify({ from: spying, to: b, mode: 'checksum', examples: 100, tuning: { leafSize: 1, fanout: 2, batchSize: 2, clientDigests: true } });
      expect(result.errors).toEqual([]);
      expect(result.collections[0]!.examples.map((e) => `${e.kind}:${e.key}`).sort()).toEqual([`different:${changed}`, `missing:${k}`].sort());
      expect(result.collections[0]!.matching).toBe(keys.length - 2);
    }
    for (const astral of ['😀', '😀a', '𐀀', '𝄞', '\u{10ffff}']) expect(bounds, `${astral} was a range bound`).toContain(astral);
  });
});

describe('verify repair in count mode', () => {
  it('repairs contents even when the counts already agree', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    await a.putMany('c', [{ key: 'x', value: '{"v":1}' }]);
    await b.putMany('c', [{ key: 'x', value: '{"v":2}' }]);
    const result = await verify({ from: a, to: b, mode: 'count', repair: true });
    expect(result.repair!.before[0]!.method).toBe('count');
    expect(result.repair!.copied).toBe(1);
    expect((await b.getMany('c', ['x']))[0]!.value).toBe('{"v":1}');
  });
});
