/**
 * compareMany (src/drivers/postgres-compare.ts) on a real server: PostgreSQL judges with jsonb
 * equality only what jsonb holds exactly, and everything else comes back as getMany finds it, for
 * cutover to judge. Each answer is checked against sameValue, the comparison it stands in for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameValue } from '../../src/core/canonical.js';
import type { StoredRecord } from '../../src/core/record.js';
import type { ValueComparer } from '../../src/verify/lookup-diff.js';
import { createPostgresStore } from '../../src/drivers/postgres.js';
import { pgFixture, storeUrl, type PgFixture } from './postgres-helpers.js';

let f: PgFixture;
let store: PgFixture['store'] & ValueComparer;
beforeAll(async () => {
  f = await pgFixture('pgcompare');
  store = f.store as PgFixture['store'] & ValueComparer;
});
afterAll(async () => {
  await f?.close();
});

const rec = (key: string, value: string | Uint8Array): StoredRecord => ({ key, value });

describe('postgres compareMany', () => {
  it('judges in the database what jsonb holds exactly, and hands back the rest as stored', async () => {
    const stored = [
      rec('spelling', '{"b": [1.0, 2], "a": {"y": "é", "x": null}}'),
      rec('changed', '{"name": "Alicia"}'),
      rec('big', '{"n": 9007199254740992}'),
      rec('exact', '{"n": 123456789012345678901234567890.5}'),
      rec('zero', '{"z": 0}'),
      rec('bytes', Buffer.from([0, 1, 255])),
      rec('json-for-bytes', '"AAH/"'),
      rec('dup', '"second"'),
    ];
    expect((await f.store.putMany('c', stored)).rejected).toEqual([]);
    const source = [
      rec('spelling', '{"a":{"x":null,"y":"\\u00e9"},"b":[1,2.00]}'), // equal, spelt otherwise
      rec('changed', '{"name":"Alice"}'),
      rec('big', '{"n":9007199254740993}'), // one more than stored: a double could not tell
      rec('exact', '{"n":1.234567890123456789012345678905e29}'),
      rec('zero', '{"z":-0}'), // jsonb would make it 0: cutover judges it
      rec('nul', '{"s":"a\\u0000b"}'), // jsonb cannot hold it: looked up (absent)
      rec('bytes', Buffer.from([0, 1, 255])),
      rec('json-for-bytes', Buffer.from([0, 1, 255])),
      rec('absent', '1'),
      rec('dup', '"first"'),
      rec('dup', '"second"'),
    ];
    const found = await store.compareMany('c', source);
    const byKey = (i: number) => found[i];
    // Judged equal by PostgreSQL: null.
    expect(byKey(0)).toBeNull();
    expect(byKey(3)).toBeNull();
    expect(byKey(10)).toBeNull();
    // Differs: the stored record, which sameValue also finds different.
    expect(byKey(1)?.value).toBe('{"name": "Alicia"}');
    expect(byKey(2)?.value).toBe('{"n": 9007199254740992}');
    // Not sent: as getMany finds them, for the caller to judge.
    expect(byKey(4)?.value).toBe('{"z": 0}');
    expect(byKey(5)).toBeUndefined();
    expect(Buffer.compare(Buffer.from(byKey(6)!.value as Uint8Array), Buffer.from([0, 1, 255]))).toBe(0);
    expect(byKey(7)?.value).toBe('"AAH/"');
    expect(byKey(8)).toBeUndefined();
    expect(byKey(9)?.value).toBe('"second"');
    // Every answer agrees with sameValue on what is stored.
    const all = await f.store.getMany('c', source.map((r) => r.key));
    source.forEach((r, i) => {
      const t = all[i];
      const same = t !== undefined && sameValue(r.value, t.value);
      if (found[i] === null) expect(same, r.key).toBe(true);
      else expect(found[i] !== undefined && sameValue(r.value, found[i]!.value), r.key).toBe(same);
    });
  });

  it('a value PostgreSQL refuses hands the whole batch back as stored', async () => {
    await f.store.putMany('m', [rec('a', '1'), rec('b', '{"x": 2}')]);
    const found = await store.compareMany('m', [rec('a', '1'), rec('bad', '{"x":}'), rec('b', '{"x":3}'), rec('deep', '['.repeat(20_000) + ']'.repeat(20_000))]);
    expect(found.map((t) => (t === null ? null : t?.value))).toEqual(['1', undefined, '{"x": 2}', undefined]);
  });

  it('a read-only session (a standby, default_transaction_read_only) gets every record back to judge', async () => {
    await f.store.putMany('ro', [rec('a', '{"x": 1}'), rec('b', '2')]);
    const readOnly = createPostgresStore(storeUrl(f.schema, '&options=-c%20default_transaction_read_only%3Don'), {});
    try {
      for (let round = 0; round < 2; round++) {
        const found = await readOnly.compareMany('ro', [rec('a', '{"x":1}'), rec('b', '3'), rec('c', '1')]);
        expect(found.map((t) => (t === null ? null : t?.value))).toEqual(['{"x": 1}', '2', undefined]);
      }
    } finally {
      await readOnly.close();
    }
  });

  it('a collection that does not exist holds none of the keys', async () => {
    expect(await store.compareMany('nowhere', [rec('a', '1'), rec('b', Buffer.from('x'))])).toEqual([undefined, undefined]);
  });
});
