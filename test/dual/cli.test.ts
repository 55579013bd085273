/**
 * `cutover route` and `cutover discrepancies`, run through the real CLI entry with captured output.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createMemoryStore } from '../../src/drivers/memory.js';
import { createDualStore } from '../../src/dual/dual-store.js';
import { readSqliteFlags } from '../../src/dual/flags-sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-dual-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await main(['node', 'cutover', ...argv], { stdout, stderr, signal: new AbortController().signal });
  return { code, out, err };
}

describe('cutover route', () => {
  it('sets, changes and shows flags in the state database', async () => {
    const state = join(dir, 'state.db');
    expect((await cli('route', '--state', state, '--read', '10')).code).toBe(2);
    let r = await cli('route', '--state', state, '--mode', 'progressive', '--read', '25', '--write-primary', 'new', '--canary', 'users,orders:vip-*');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/reads from new: 25% of keys/);
    expect(readSqliteFlags(state)?.flags).toMatchObject({ mode: 'progressive', readPercent: 25, writePrimary: 'new', canary: ['users', 'orders:vip-*'] });
    r = await cli('route', '--state', state, '--read', '50');
    expect(readSqliteFlags(state)?.flags).toMatchObject({ mode: 'progressive', readPercent: 50, writePrimary: 'new' });
    r = await cli('route', '--state', state, '--show', '--json');
    expect(JSON.parse(r.out)).toMatchObject({ changed: false, version: 2, flags: { mode: 'progressive', readPercent: 50 } });
    r = await cli('route', '--state', state, '--show');
    expect(r.out).toMatch(/flags in force .*version 2/);
    r = await cli('route', '--state', state, '--mode', 'teleport');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/invalid dual-store flags .*mode/);
    expect(readSqliteFlags(state)?.version).toBe(2);
  });

  it('writes a flags file (YAML) when --flags is given', async () => {
    const file = join(dir, 'flags.yaml');
    const r = await cli('route', '--flags', file, '--mode', 'canary', '--canary', 'users');
    expect(r.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/mode: canary/);
    const shown = await cli('route', '--flags', file, '--show', '--json');
    expect(JSON.parse(shown.out).flags).toMatchObject({ mode: 'canary', canary: ['users'] });
  });
});

describe('cutover discrepancies', () => {
  it('shows what a dual store persisted, with totals beyond the cap', async () => {
    const state = join(dir, 'disc.db');
    const old = createMemoryStore();
    const neu = createMemoryStore();
    const dual = createDualStore({ old, new: neu, flags: { mode: 'read-validation' }, discrepancies: { statePath: state, persistCap: 3 } });
    await old.putMany('users', ['a', 'b', 'c', 'd', 'e'].map((k) => ({ key: k, value: `{"name":"${k}","n":1}` })));
    await neu.putMany('users', [{ key: 'a', value: '{"name":"a","n":2}' }]);
    await dual.getMany('users', ['a', 'b', 'c', 'd', 'e']);
    await dual.close();

    const human = await cli('discrepancies', '--state', state);
    expect(human.code).toBe(1);
    expect(human.out).toMatch(/5 discrepancies recorded/);
    expect(human.out).toMatch(/missing-in-new 4/);
    const json = JSON.parse((await cli('discrepancies', '--state', state, '--json')).out);
    expect(json.total).toBe(5);
    expect(json.examples).toHaveLength(3);
    expect(json.examples.map((e: { key: string }) => e.key)).toEqual(['c', 'd', 'e']);
    expect((await cli('discrepancies', '--state', join(dir, 'missing.db'))).code).toBe(2);
  });
});
