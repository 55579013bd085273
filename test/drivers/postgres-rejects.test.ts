/**
 * Values jsonb cannot hold exactly are rejected one by one with a reason, and the rest of the batch
 * (and its checkpoint) lands. The JavaScript pre-check is compared against PostgreSQL itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical.js';
import type { StoredRecord } from '../../src/core/record.js';
import { pgJsonProblem } from '../../src/drivers/postgres-values.js';
import { pgFixture, tableRows, type PgFixture } from './postgres-helpers.js';

let f: PgFixture;
beforeAll(async () => {
  f = await pgFixture('pgrej');
});
afterAll(async () => {
  await f?.close();
});

/** Bad values: the pre-check catches the first group; PostgreSQL itself refuses the second. */
const PRECHECKED: Record<string, string> = {
  nulEscape: '{"s":"a\\u0000b"}',
  loneHigh: '"\\ud800"',
  loneLow: '["\\udc00"]',
  highThenText: '"\\ud83dx"',
  negZero: '-0',
  negZeroNested: '{"a":[1,-0.0]}',
  negZeroExp: '-0e5',
};
const REFUSED_BY_PG: Record<string, string> = {
  hugeExp: '1e999999',
  tinyExp: '1.5e-16383',
  longFraction: `0.${'1'.repeat(20_000)}`,
  tooDeep: '['.repeat(200_000) + ']'.repeat(200_000),
  notJson: '{"a":',
  rawControl: '"tab\there"',
};
const GOOD: Record<string, string> = {
  escapedBackslash: '"\\\\u0000 and \\\\ud800 are plain text"',
  pair: '"\\ud83d\\ude00 \\uD83D\\uDE00"',
  minusInString: '{"d":"2024-0-0 x-0 -0.0e1"}',
  bigButFine: '1e131071',
  smallButFine: '1e-16383',
  negative: '[-0.5,-0.01,-10,-1e-5]',
  exactDecimal: '0.1000000000000000055511151231257827021181583404541015625',
  bigInt: '123456789012345678901234567890',
};

function batchOf(groups: Record<string, string>[]): StoredRecord[] {
  const out: StoredRecord[] = [];
  for (let i = 0; i < 60; i++) out.push({ key: `good-${String(i).padStart(3, '0')}`, value: JSON.stringify({ i }) });
  let n = 0;
  // Scatter the special records through the batch so isolation has good records on both sides.
  for (const g of groups) for (const [key, value] of Object.entries(g)) out.splice((++n * 37) % out.length, 0, { key, value });
  return out;
}

describe('postgres rejects', () => {
  it('the pre-check agrees with PostgreSQL: what it passes PG keeps exactly or refuses, what it flags PG refuses or changes', async () => {
    for (const [name, text] of Object.entries(PRECHECKED)) expect(pgJsonProblem(text), name).not.toBeNull();
    const cases = [
      ...Object.values(PRECHECKED), ...Object.values(GOOD),
      '-0.0001', '0e200000', '0e-20000', '9.9e131071', '0.1e131073', '1.50e-16382', '0.1e-16382', '1E+1000', '-1e-1000',
      '{"k":"\\\\\\u0000"}', '"\\\\\\ud800"', '"e\\u0301"',
    ];
    for (const text of cases) {
      const problem = pgJsonProblem(text);
      let back: string | null = null;
      try {
        back = (await f.db.query('SELECT $1::jsonb::text AS t', [text])).rows[0].t;
      } catch {
        back = null;
      }
      if (problem === null) {
        // Refused is fine (COPY fails and the writer isolates the record); silently changed is not.
        if (back !== null) expect(canonicalJson(back), text.slice(0, 60)).toBe(canonicalJson(text));
      } else {
        const changed = back === null || canonicalJson(back) !== canonicalJson(text);
        expect(changed, `pre-check flagged ${text.slice(0, 60)} (${problem}) but PostgreSQL keeps it exactly`).toBe(true);
      }
    }
  });

  for (const mode of ['upsert', 'load'] as const) {
    it(`${mode}: each bad value is rejected with a reason and the rest of the batch and its checkpoint land`, async () => {
      const c = `bad_${mode}`;
      const batch = batchOf([PRECHECKED, REFUSED_BY_PG, GOOD]);
      const res = await f.store.putMany(c, batch, { mode, checkpoint: { id: `${c}/u`, cursor: 'z' } });
      const bad = [...Object.keys(PRECHECKED), ...Object.keys(REFUSED_BY_PG)].sort();
      expect(res.rejected.map((r) => r.key).sort()).toEqual(bad);
      for (const r of res.rejected) {
        expect(r.collection).toBe(c);
        expect(r.reason.length).toBeGreaterThan(10);
      }
      const reason = (k: string) => res.rejected.find((r) => r.key === k)!.reason;
      expect(reason('longFraction')).toMatch(/PostgreSQL refused the value: value overflows numeric format/);
      expect(reason('hugeExp')).toMatch(/PostgreSQL refused the value: .*numeric/);
      expect(reason('tooDeep')).toMatch(/stack depth/);
      expect(reason('nulEscape')).toMatch(/\\u0000/);
      expect(reason('negZero')).toMatch(/negative zero/);

      const rows = await tableRows(f, c);
      const expected = batch.filter((r) => !bad.includes(r.key));
      expect(rows.map((r) => r.key).sort()).toEqual(expected.map((r) => r.key).sort());
      const byKey = new Map(rows.map((r) => [r.key, r.value!]));
      for (const r of expected) expect(canonicalJson(byKey.get(r.key)!), r.key).toBe(canonicalJson(r.value as string));
      const cp = await f.db.query(`SELECT cursor FROM ${f.table('cutover_checkpoints')} WHERE id = $1`, [`${c}/u`]);
      expect(cp.rows).toEqual([{ cursor: 'z' }]);
    });
  }

  it('many refused values in one batch are all isolated', async () => {
    const batch: StoredRecord[] = [];
    for (let i = 0; i < 300; i++) {
      batch.push({ key: `r${String(i).padStart(3, '0')}`, value: i % 10 === 3 ? `{"x":${i},` : `{"x":${i}}` });
    }
    const res = await f.store.putMany('many_bad', batch);
    expect(res.rejected.map((r) => r.key)).toEqual(batch.filter((_, i) => i % 10 === 3).map((r) => r.key));
    const rows = await tableRows(f, 'many_bad');
    expect(rows.map((r) => r.key)).toEqual(batch.filter((_, i) => i % 10 !== 3).map((r) => r.key));
  });
});
