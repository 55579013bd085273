/**
 * Live flags: a dual store watching a JSON/YAML file or the SQLite state database switches mode
 * within 2 s of a change (that bound is the feature, so it is asserted as a deadline to wait for);
 * invalid flags are refused through onError and the previous flags stay in force.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createMemoryStore } from '../../src/drivers/memory.js';
import { createDualStore } from '../../src/dual/dual-store.js';
import { watchFlagsFile, writeFlagsFile } from '../../src/dual/flags-file.js';
import { readSqliteFlags, watchSqliteFlags, writeSqliteFlags } from '../../src/dual/flags-sqlite.js';
import { parseFlags } from '../../src/dual/modes.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-dual-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const waitFor = (fn: () => void) => vi.waitFor(fn, { timeout: 2000, interval: 20 });

describe('flag validation', () => {
  it('fills defaults and refuses bad flags with every problem named', () => {
    expect(parseFlags({ mode: 'progressive', readPercent: 25 })).toMatchObject({ readPercent: 25, writePrimary: 'old', shadow: { sampleRate: 1 } });
    expect(() => parseFlags({ mode: 'progressive', readPercent: 120, extra: 1 }, 'f.json')).toThrow(
      /invalid dual-store flags in f\.json \(readPercent: .*; \(root\): .*extra/,
    );
    expect(() => parseFlags({ mode: 'canary' })).toThrow(/canary mode needs at least one canary entry/);
    expect(() => parseFlags({ mode: 'shadow', shadow: { sampleRate: 2 } })).toThrow(/shadow\.sampleRate/);
  });
});

for (const ext of ['json', 'yaml']) {
  describe(`flags file (${ext})`, () => {
    it('switches mode within 2 s, refuses invalid flags and keeps the previous ones', async () => {
      const path = join(dir, `flags.${ext}`);
      writeFlagsFile(path, { mode: 'old-only' });
      const errors: Error[] = [];
      const source = watchFlagsFile(path, { onError: (e) => errors.push(e) });
      const old = createMemoryStore();
      const neu = createMemoryStore();
      const dual = createDualStore({ old, new: neu, flags: source, closeFlags: true });
      try {
        await dual.put('c', 'a', 1);
        expect((await neu.getMany('c', ['a']))[0]).toBeUndefined();

        writeFlagsFile(path, { mode: 'write-through' });
        await waitFor(() => expect(dual.mode).toBe('write-through'));
        await dual.put('c', 'b', 2);
        expect((await neu.getMany('c', ['b']))[0]?.value).toBe('2');

        writeFileSync(path, ext === 'json' ? '{"mode": "progressive", "readPercent": 250}' : 'mode: progressive\nreadPercent: 250\n');
        await waitFor(() => expect(errors.map((e) => e.message).join()).toMatch(/readPercent/));
        expect(dual.mode).toBe('write-through');

        writeFileSync(path, ext === 'json' ? '{"mode": ' : 'mode: [unclosed\n');
        await waitFor(() => expect(errors.map((e) => e.message).join()).toMatch(/not valid (JSON|YAML)/));
        expect(dual.mode).toBe('write-through');

        writeFileSync(path, ext === 'json' ? '{"mode":"progressive","readPercent":25}' : 'mode: progressive\nreadPercent: 25\n');
        await waitFor(() => expect(dual.flags).toMatchObject({ mode: 'progressive', readPercent: 25 }));
      } finally {
        await dual.close();
      }
    });
  });
}

describe('flags in the SQLite state database', () => {
  it('switches mode within 2 s, and a bad row keeps the previous flags', async () => {
    const path = join(dir, 'state.db');
    expect(readSqliteFlags(path)).toBeNull();
    const errors: Error[] = [];
    const source = watchSqliteFlags(path, { onError: (e) => errors.push(e) });
    const dual = createDualStore({ old: createMemoryStore(), new: createMemoryStore(), flags: source, closeFlags: true });
    try {
      expect(dual.mode).toBe('old-only');
      expect(writeSqliteFlags(path, { mode: 'shadow' }).version).toBe(1);
      await waitFor(() => expect(dual.mode).toBe('shadow'));
      expect(writeSqliteFlags(path, { mode: 'canary', canary: ['users'] }).version).toBe(2);
      await waitFor(() => expect(dual.mode).toBe('canary'));

      // Someone writes the table by hand, badly.
      const db = new Database(path);
      db.prepare(`UPDATE dual_flags SET version = version + 1, flags = '{"mode":"sideways"}' WHERE id = 1`).run();
      await waitFor(() => expect(errors.map((e) => e.message).join()).toMatch(/invalid dual-store flags .*mode/));
      expect(dual.mode).toBe('canary');
      db.prepare(`UPDATE dual_flags SET version = version + 1, flags = 'not json' WHERE id = 1`).run();
      await waitFor(() => expect(errors.map((e) => e.message).join()).toMatch(/not JSON/));
      db.close();
      expect(dual.mode).toBe('canary');

      // The engine's tables in the same file are left alone; ours are created beside them.
      expect(() => writeSqliteFlags(path, { mode: 'new-primary' })).not.toThrow();
      await waitFor(() => expect(dual.mode).toBe('new-primary'));
    } finally {
      await dual.close();
    }
  });
});
