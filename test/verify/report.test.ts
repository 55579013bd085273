import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import verifyCommand from '../../src/cli/verify.js';
import { registerDriver } from '../../src/drivers/index.js';
import { createMemoryStore } from '../../src/drivers/memory.js';
import { diffValues, formatChanges } from '../../src/verify/diff-json.js';
import { checkReferences, parseReference, referencedKeys } from '../../src/verify/refs.js';
import { KeySpill } from '../../src/verify/repair.js';
import { ReadMeter } from '../../src/verify/tally.js';
import { verify } from '../../src/verify/verify.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempFile(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-verify-test-'));
  dirs.push(dir);
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

describe('structural JSON diff', () => {
  it('lists changed, added and removed paths with exact numbers', () => {
    const changes = diffValues(
      '{"a":{"x":1.0000000000000002,"keep":1.0},"big":12345678901234567890,"list":[1,2,3],"gone":true,"odd key":"s"}',
      '{"list":[1,5],"a":{"keep":1,"x":1},"big":12345678901234567891,"new":null,"odd key":"t"}',
    );
    expect(changes).toEqual([
      { path: '$.a.x', op: 'changed', old: '1.0000000000000002', new: '1' },
      { path: '$.big', op: 'changed', old: '12345678901234567890', new: '12345678901234567891' },
      { path: '$.gone', op: 'removed', old: 'true' },
      { path: '$.list[1]', op: 'changed', old: '2', new: '5' },
      { path: '$.list[2]', op: 'removed', old: '3' },
      { path: '$.new', op: 'added', new: 'null' },
      { path: '$["odd key"]', op: 'changed', old: '"s"', new: '"t"' },
    ]);
    expect(formatChanges(changes.slice(0, 1), '')).toBe('~ $.a.x: 1.0000000000000002 → 1');
  });

  it('finds nothing between spellings of the same data, but sees Unicode forms as different', () => {
    expect(diffValues('{"b":[1.0,"\\u00e9"],"a":1e2}', '{"a":100,"b":[1,"é"]}')).toEqual([]);
    expect(diffValues('"\u00e9"', '"e\u0301"')).toHaveLength(1);
  });

  it('handles bytes and invalid JSON', () => {
    expect(diffValues(new Uint8Array([1, 2]), new Uint8Array([1, 3]))[0]!.new).toMatch(/first difference at byte 1/);
    expect(diffValues('{bad', '{"ok":1}')).toEqual([{ path: '$', op: 'changed', old: '{bad', new: '{"ok":1}' }]);
  });
});

describe('difference key spill', () => {
  it('keeps keys in memory up to the threshold, then on disk, and gives all back in order', async () => {
    const spill = new KeySpill(5);
    const keys = Array.from({ length: 23 }, (_, i) => `k${i}\n😀"`);
    for (const k of keys) await spill.add(k);
    expect(spill.spilled).toBe(true);
    const back: string[] = [];
    for await (const batch of spill.batches(4)) {
      expect(batch.length).toBeLessThanOrEqual(4);
      back.push(...batch);
    }
    expect(back).toEqual(keys);
    await spill.dispose();
  });
});

describe('references', () => {
  it('parses the arrow form, array paths and the object form', () => {
    expect(parseReference('characters.value.campaignId -> campaigns')).toMatchObject({ collection: 'characters', path: ['campaignId'], refCollection: 'campaigns' });
    expect(parseReference('app.chars.value.items[*].id -> items')).toMatchObject({ collection: 'app.chars', path: ['items', '*', 'id'] });
    expect(parseReference({ from: 'notes.value.author', to: 'users' })).toMatchObject({ collection: 'notes', path: ['author'] });
    expect(() => parseReference('characters.campaignId -> campaigns')).toThrow(/path in the value/);
    expect(referencedKeys('{"items":[{"id":"a"},{"id":7},{"id":null}],"x":1}', ['items', '*', 'id'])).toEqual(['a', '7']);
    expect(referencedKeys('{"n":12345678901234567890}', ['n'])).toEqual(['12345678901234567890']);
  });

  it('reports dangling references in the target with the referring keys', async () => {
    const target = createMemoryStore();
    await target.putMany('campaigns', [{ key: 'c1', value: '{}' }, { key: 'c2', value: '{}' }]);
    const chars = Array.from({ length: 1200 }, (_, i) => ({ key: `ch${i}`, value: JSON.stringify({ campaignId: i === 700 ? 'gone' : i === 900 ? null : `c${(i % 2) + 1}` }) }));
    await target.putMany('characters', chars);
    const result = await checkReferences(target, [parseReference('characters.value.campaignId -> campaigns')], {
      examples: 10,
      batchSize: 100,
      meter: (c) => new ReadMeter(c),
    });
    expect(result.checked).toBe(1199);
    expect(result.dangling).toBe(1);
    expect(result.examples).toEqual([{ collection: 'characters', key: 'ch700', path: 'campaignId', ref: 'gone', refCollection: 'campaigns' }]);
  });

  it('verify --refs reads a YAML file and fails on dangling references', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    for (const s of [a, b]) {
      await s.putMany('campaigns', [{ key: 'c1', value: '{}' }]);
      await s.putMany('characters', [{ key: 'x', value: '{"campaignId":"c1"}' }, { key: 'y', value: '{"campaignId":"c9"}' }]);
    }
    const file = await tempFile('refs.yaml', 'references:\n  - characters.value.campaignId -> campaigns\n');
    const result = await verify({ from: a, to: b, mode: 'full', refs: file });
    expect(result.collections.every((c) => c.missing + c.different + c.extra === 0)).toBe(true);
    expect(result.danglingRefs!.examples.map((e) => e.key)).toEqual(['y']);
    expect(result.ok).toBe(false);
    const json = await tempFile('refs.json', JSON.stringify({ references: ['characters.value.campaignId -> campaigns'] }));
    await b.putMany('campaigns', [{ key: 'c9', value: '{}' }]);
    await a.putMany('campaigns', [{ key: 'c9', value: '{}' }]);
    expect((await verify({ from: a, to: b, mode: 'full', refs: json })).ok).toBe(true);
    await expect(verify({ from: a, to: b, refs: join(dirs[0]!, 'nope.yaml') })).rejects.toThrow(/cannot read the references file/);
  });
});

function context() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { ctx: { stdout, stderr, signal: new AbortController().signal }, out: () => out, err: () => err };
}

describe('cutover verify (CLI command)', () => {
  let n = 0;
  async function pair(differ: boolean) {
    const name = `cli${process.pid}_${++n}`;
    const a = createMemoryStore(`memory:${name}_a`);
    const b = createMemoryStore(`memory:${name}_b`);
    await a.putMany('users', [{ key: 'u1', value: '{"name":"Ann","age":30}' }, { key: 'u2', value: '{"n":1.0}' }]);
    await b.putMany('users', [{ key: 'u1', value: differ ? '{"name":"Ann","age":31}' : '{"age":30,"name":"Ann"}' }, { key: 'u2', value: '{"n":1}' }]);
    return { from: `memory:${name}_a`, to: `memory:${name}_b`, a, b };
  }

  it('exits 0 and prints the table when the stores are equal', async () => {
    const p = await pair(false);
    const c = context();
    const code = await verifyCommand.run({ from: p.from, to: p.to, mode: 'full' }, [], c.ctx);
    expect(code).toBe(0);
    expect(c.out()).toMatch(/EQUAL/);
    expect(c.out()).toMatch(/users\s+2\s+2\s+2\s+0\s+0\s+0/);
  });

  it('exits 1 and shows the diff when they differ; --json prints the result object', async () => {
    const p = await pair(true);
    const c = context();
    expect(await verifyCommand.run({ from: p.from, to: p.to, mode: 'checksum' }, [], c.ctx)).toBe(1);
    expect(c.out()).toMatch(/users: different \(1\)/);
    expect(c.out()).toContain('~ $.age: 30 → 31');
    const j = context();
    expect(await verifyCommand.run({ from: p.from, to: p.to, mode: 'full', json: true }, [], j.ctx)).toBe(1);
    const parsed = JSON.parse(j.out()) as { ok: boolean; collections: { different: number; examples: { key: string }[] }[] };
    expect(parsed.ok).toBe(false);
    expect(parsed.collections[0]!.different).toBe(1);
    expect(parsed.collections[0]!.examples[0]!.key).toBe('u1');
  });

  it('--repair fixes the target and exits 0; the data reads back equal', async () => {
    const p = await pair(true);
    const c = context();
    expect(await verifyCommand.run({ from: p.from, to: p.to, mode: 'full', repair: true, maxRate: '100000' }, [], c.ctx)).toBe(0);
    expect(c.out()).toMatch(/before repair/);
    expect(c.out()).toMatch(/copied 1/);
    const [u1] = await p.b.getMany('users', ['u1']);
    expect(JSON.parse(u1!.value as string)).toEqual({ name: 'Ann', age: 30 });
  });

  it('exits 2 with one sentence on stderr for bad input', async () => {
    const c = context();
    expect(await verifyCommand.run({ from: 'nope', to: 'memory:x', mode: 'full' }, [], c.ctx)).toBe(2);
    expect(c.err()).toMatch(/is not a store URL/);
    const d = context();
    expect(await verifyCommand.run({ from: 'memory:x', to: 'memory:y', mode: 'bogus' }, [], d.ctx)).toBe(2);
    expect(d.err()).toMatch(/unknown verify mode "bogus"/);
    const e = context();
    expect(await verifyCommand.run({ from: 'memory:x', to: 'memory:y', maxRate: '-3' }, [], e.ctx)).toBe(2);
    expect(e.err()).toMatch(/--max-rate/);
  });

  it('exits 2 when a collection fails to compare, and still prints the report', async () => {
    const p = await pair(false);
    registerDriver('brokenverify', () => ({
      ...p.b,
      location: 'brokenverify:',
      count: async () => {
        throw new Error('disk on fire');
      },
      // A full merge counts from its scans and calls no count(), so the scan fails too.
      // eslint-disable-next-line require-yield
      scan: async function* () {
        throw new Error('disk on fire');
      },
    }));
    const c = context();
    expect(await verifyCommand.run({ from: p.from, to: 'brokenverify:x', mode: 'full' }, [], c.ctx)).toBe(2);
    expect(c.out()).toMatch(/errors:\n  users: disk on fire/);
});
});

describe('cutover verify through the CLI entry (commander parsing)', () => {
  it('parses --mode, --only, --repair, --delete-extra, --max-rate and --json', async () => {
    const { main } = await import('../../src/cli/main.js');
    const name = `main${process.pid}`;
    const a = createMemoryStore(`memory:${name}_a`);
    const b = createMemoryStore(`memory:${name}_b`);
    await a.putMany('users', [{ key: 'u1', value: '{"a":1}' }]);
    await b.putMany('users', [{ key: 'u1', value: '{"a":2}' }, { key: 'stray', value: '0' }]);
    await b.putMany('other', [{ key: 'o', value: '0' }]);
    const c = context();
    const argv = ['node', 'cutover', 'verify', '--from', `memory:${name}_a`, '--to', `memory:${name}_b`, '--only', 'users', '--mode', 'full', '--repair', '--delete-extra', '--max-rate', '100000', '--json'];
    expect(await main(argv, c.ctx)).toBe(0);
    const parsed = JSON.parse(c.out()) as { ok: boolean; collections: { collection: string }[]; repair: { copied: number; deleted: number } };
    expect(parsed.collections.map((x) => x.collection)).toEqual(['users']);
    expect(parsed.repair).toMatchObject({ copied: 1, deleted: 1 });
    expect(await b.getMany('users', ['u1', 'stray'])).toEqual([expect.objectContaining({ value: '{"a":1}' }), undefined]);
    expect(await b.count('other')).toBe(1); // not in --only: untouched
    const d = context();
    expect(await main(['node', 'cutover', 'verify', '--from', `memory:${name}_a`, '--to', `memory:${name}_b`, '--mode', 'count'], d.ctx)).toBe(1);
    expect(d.out()).toMatch(/other\s+0\s+1/);
  });
});
