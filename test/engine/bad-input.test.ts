/**
 * Bad input end to end: a file store with every kind of damage is migrated; each bad record is named
 * in the rejects file with its file and a reason, and every good record lands with its exact value.
 */
import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameValue } from '../../src/core/canonical.js';
import { openStore } from '../../src/drivers/index.js';
import { migrate, type MigrationResult } from '../../src/engine/migrate.js';
import { HOSTILE_KEYS } from '../conformance/ugly-data.js';

interface Reject { collection: string; key: string | null; location: string; reason: string }

let dir: string;
let src: string;
let result: MigrationResult;
let rejects: Reject[];
const good: Record<string, Map<string, string>> = { docs: new Map(), log: new Map() };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cutover-bad-'));
  src = join(dir, 'source');
  mkdirSync(join(src, 'docs'), { recursive: true });
  for (let i = 0; i < 50; i++) {
    const text = `{"n":${i},"big":12345678901234567890${i},"s":"ok ✓ ${i}"}`;
    writeFileSync(join(src, 'docs', `doc-${i}.json`), text);
    good.docs!.set(`doc-${i}`, text);
  }
  writeFileSync(join(src, 'docs', 'malformed.json'), '{"n": 1,,}');
  writeFileSync(join(src, 'docs', 'latin1.json'), Buffer.from([0x22, 0x63, 0x61, 0x66, 0xe9, 0x22]));
  writeFileSync(join(src, 'docs', 'empty.json'), '');
  writeFileSync(join(src, 'docs', 'huge.json'), JSON.stringify({ blob: 'x'.repeat(5000) }));
  symlinkSync(join(dir, 'does-not-exist.json'), join(src, 'docs', 'dangling.json'));

  let log = '';
  for (let i = 0; i < 60; i++) {
    log += `{"key":"k${i}","value":{"v":${i},"exact":0.1000000000000000055511151231257827}}\n`;
    good.log!.set(`k${i}`, `{"v":${i},"exact":0.1000000000000000055511151231257827}`);
  }
  log += `{"key":"k5","value":{"v":"five, corrected later"}}\n`;
  good.log!.set('k5', '{"v":"five, corrected later"}');
  HOSTILE_KEYS.forEach((key, i) => {
    log += JSON.stringify({ key, value: { hostile: i } }) + '\n';
    good.log!.set(key, `{"hostile":${i}}`);
  });
  log += `{"key":"broken","value":{]}\n`;
  log += `{"key":"nul\\u0000","value":1}\n`;
  log += `{"key":"huge","value":"${'y'.repeat(5000)}"}\n`;
  writeFileSync(join(src, 'log.jsonl'), Buffer.concat([
    Buffer.from(log),
    Buffer.from('{"key":"latin1","value":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n'),
    Buffer.from('{"key":"cut-off","value":{"v":'),
  ]));
  writeFileSync(join(src, 'nothing.jsonl'), '');

  result = await migrate({
    from: `file:${src}?maxValueBytes=4096`,
    to: `sqlite:${join(dir, 'target.db')}`,
    state: join(dir, 'state.db'),
    batchSize: 16,
  });
  rejects = readFileSync(result.rejectsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Reject);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bad input', () => {
  it('finishes the job and says rejects happened', () => {
    expect(result.status).toBe('completed');
    expect(result.rejectsTotal).toBe(rejects.length);
  });

  it('names each damaged record with its file and a reason', () => {
    const find = (collection: string, where: RegExp, reason: RegExp) =>
      rejects.filter((r) => r.collection === collection && where.test(r.location) && reason.test(r.reason));
    expect(find('docs', /malformed\.json$/, /JSON/i)).toHaveLength(1);
    expect(find('docs', /latin1\.json$/, /UTF-8/)).toHaveLength(1);
    expect(find('docs', /empty\.json$/, /empty/i)).toHaveLength(1);
    expect(find('docs', /huge\.json$/, /4096|too (big|large)|over|exceeds/i)).toHaveLength(1);
    expect(find('docs', /dangling\.json$/, /./)).toHaveLength(1);
    // A line that does not parse may not yield its key; its line number names it.
    expect(find('log', /log\.jsonl:line \d+/, /JSON/i)).toHaveLength(1);
    expect(find('log', /log\.jsonl/, /NUL/)).toHaveLength(1);
    expect(find('log', /log\.jsonl/, /4096|too (big|large)|over|exceeds/i)).toHaveLength(1);
    expect(find('log', /log\.jsonl/, /UTF-8/)).toHaveLength(1);
    expect(find('log', /log\.jsonl/, /truncat|incomplete|end of (file|input)|unterminated|newline/i)).toHaveLength(1);
    expect(rejects).toHaveLength(10);
  });

  it('lands every good record with its exact value, later JSONL lines winning', async () => {
    const db = new Database(join(dir, 'target.db'), { readonly: true });
    try {
      for (const [collection, expected] of Object.entries(good)) {
        const rows = db.prepare(`SELECT key, value FROM "${collection}"`).all() as { key: string; value: string }[];
        expect(rows.length, collection).toBe(expected.size);
        for (const row of rows) expect(sameValue(row.value, expected.get(row.key)!), `${collection}/${row.key}`).toBe(true);
      }
      expect(db.prepare(`SELECT count(*) AS n FROM "nothing"`).get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('hostile keys written to a file store stay inside its root', async () => {
    const out = join(dir, 'out');
    const again = await migrate({ from: `sqlite:${join(dir, 'target.db')}`, to: `file:${out}`, state: join(dir, 'state.db'), only: ['log'] });
    expect(again.status).toBe('completed');
    const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
    const files = walk(out);
    expect(files.length).toBeGreaterThanOrEqual(good.log!.size);
    for (const f of files) expect(relative(out, f).startsWith('..')).toBe(false);
    // Nothing was written beside the root either.
    for (const entry of readdirSync(dir)) expect(entry).toMatch(/^(out|source|state\.db(-wal|-shm)?|target\.db(-wal|-shm)?|m-[0-9a-f]+)$/);
    const back = await openStore(`file:${out}`);
    const got = await back.getMany('log', HOSTILE_KEYS);
    expect(got.every((r, i) => r?.key === HOSTILE_KEYS[i])).toBe(true);
    await back.close();
  });
});
