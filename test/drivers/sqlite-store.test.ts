/**
 * SQLite backend behaviour beyond the conformance suite. Everything written through the driver is
 * read back by a second, independent better-sqlite3 connection, never through the driver itself.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError, StoreError } from '../../src/core/errors.js';
import { openStore } from '../../src/drivers/index.js';
import { createSqliteStore, sqlitePath } from '../../src/drivers/sqlite.js';
import { HOSTILE_KEYS, TRICKY_JSON } from '../conformance/ugly-data.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshFile = () => join(dir, `t${++n}.db`);

/** An independent connection to the same file. */
function peek<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

describe('sqlite: durability and exact storage', () => {
  it('data survives close and is byte-identical in the table (JSON text as TEXT, bytes as BLOB)', async () => {
    const file = freshFile();
    const store = createSqliteStore(`sqlite:${file}`, {});
    const json = TRICKY_JSON.map((value, i) => ({ key: `v${i}`, value }));
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const hostile = HOSTILE_KEYS.map((key) => ({ key, value: '{"h":1}' }));
    const res = await store.putMany('things', [
      ...json,
      { key: 'bin', value: bytes },
      { key: 'u8', value: new Uint8Array([0, 255, 1]) },
      { key: 'meta', value: '1.0', updatedAt: '2024-01-02T03:04:05.000Z', version: 7 },
      ...hostile,
    ]);
    expect(res.rejected).toEqual([]);
    await store.close();

    const rows = peek(file, (db) => db.prepare('SELECT key, typeof(value) AS type, hex(value) AS hex, updated_at, version FROM things').all()) as
      { key: string; type: string; hex: string; updated_at: string | null; version: number | null }[];
    const byKey = new Map(rows.map((r) => [r.key, r]));
    expect(rows.length).toBe(json.length + 3 + hostile.length);
    for (const { key, value } of json) {
      expect(byKey.get(key)?.type, key).toBe('text');
      expect(byKey.get(key)?.hex, key).toBe(Buffer.from(value, 'utf8').toString('hex').toUpperCase());
    }
    expect(byKey.get('bin')).toMatchObject({ type: 'blob', hex: bytes.toString('hex').toUpperCase() });
    expect(byKey.get('u8')).toMatchObject({ type: 'blob', hex: '00FF01' });
    // '1.0' must stay the text "1.0", not become the number 1.
    expect(byKey.get('meta')).toMatchObject({ type: 'text', hex: '312E30', updated_at: '2024-01-02T03:04:05.000Z', version: 7 });
    for (const { key } of hostile) expect(byKey.has(key), key).toBe(true);
  });

  it('a reopened store reads back what an earlier one wrote, values in their own type', async () => {
    const file = freshFile();
    const first = createSqliteStore(`sqlite:${file}`, {});
    await first.putMany('c', [{ key: 'j', value: '{"a":[1,2]}' }, { key: 'b', value: Buffer.from('hi') }]);
    await first.close();
    const second = createSqliteStore(`sqlite:${file}`, { create: false });
    const [j, b] = await second.getMany('c', ['j', 'b']);
    expect(j?.value).toBe('{"a":[1,2]}');
    expect(Buffer.isBuffer(b?.value)).toBe(true);
    expect(Buffer.from(b!.value as Uint8Array).toString()).toBe('hi');
    await second.close();
  });

  it('uses the WAL journal, and a second connection reads while the writer is open', async () => {
    const file = freshFile();
    const store = createSqliteStore(`sqlite:${file}`, {});
    await store.putMany('c', [{ key: 'a', value: '1' }]);
    // While the writer is open, committed pages sit in the -wal file.
    expect(existsSync(`${file}-wal`)).toBe(true);
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
    expect(peek(file, (db) => db.pragma('journal_mode', { simple: true }))).toBe('wal');
    // A reader sees the committed row while the writer is still open.
    expect(peek(file, (db) => db.prepare('SELECT value FROM c WHERE key = ?').pluck().get('a'))).toBe('1');
    await store.close();
  });

  it('stats counts UTF-8 bytes of text and bytes of blobs', async () => {
    const store = createSqliteStore('sqlite::memory:', {});
    await store.putMany('c', [{ key: 'a', value: '"é中😀"' }, { key: 'b', value: Buffer.alloc(10) }]);
    expect(await store.stats!('c')).toEqual({ count: 2, bytes: Buffer.byteLength('"é中😀"') + 10 });
    expect(await store.stats!('missing')).toEqual({ count: 0, bytes: 0 });
    await store.close();
  });

  it('a key repeated inside and across multi-row statements keeps its last value', async () => {
    const file = freshFile();
    const store = createSqliteStore(`sqlite:${file}`, {});
    const batch = Array.from({ length: 100 }, (_, i) => ({ key: `k${i % 7}`, value: String(i) }));
    await store.putMany('c', batch);
    await store.close();
    const expected = Array.from({ length: 7 }, (_, k) => [`k${k}`, String(Math.max(...batch.map((_, i) => i).filter((i) => i % 7 === k)))]);
    expect(peek(file, (db) => db.prepare('SELECT key, value FROM c ORDER BY key').raw().all())).toEqual(expected);
  });

  it("'load' mode keeps the last value of a key repeated in the batch", async () => {
    const file = freshFile();
    const store = createSqliteStore(`sqlite:${file}`, {});
    await store.putMany('c', [{ key: 'k', value: '1' }, { key: 'x', value: '2' }, { key: 'k', value: '3' }], { mode: 'load' });
    await store.close();
    expect(peek(file, (db) => db.prepare('SELECT key, value FROM c ORDER BY key').raw().all())).toEqual([['k', '3'], ['x', '2']]);
  });
});

describe('sqlite: collection names', () => {
  it('hostile collection names never reach SQL and leave the schema untouched', async () => {
    const file = freshFile();
    const store = createSqliteStore(`sqlite:${file}`, {});
    await store.putMany('victim', [{ key: 'a', value: '1' }]);
    const hostile = ['x"; DROP TABLE victim; --', 'victim" (key) --', "a'); DROP TABLE victim; --", 'a b', 'sqlite_master',
      'SQLITE_x', '_cutover_checkpoints', '', 'x'.repeat(64)];
    for (const name of hostile) {
      await expect(store.ensureCollection(name), name).rejects.toBeInstanceOf(ConfigurationError);
      await expect(store.putMany(name, [{ key: 'k', value: '1' }]), name).rejects.toBeInstanceOf(ConfigurationError);
      await expect(store.dropCollection!(name), name).rejects.toBeInstanceOf(ConfigurationError);
    }
    await store.close();
    expect(peek(file, (db) => db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table'`).pluck().all())).toEqual(['victim']);
    expect(peek(file, (db) => db.prepare('SELECT count(*) FROM victim').pluck().get())).toBe(1);
  });

  it('a name that differs only in case from an existing table is not merged into it', async () => {
    const file = freshFile();
    const store = createSqliteStore(`sqlite:${file}`, {});
    await store.putMany('Users', [{ key: 'a', value: '1' }]);
    await expect(store.putMany('users', [{ key: 'b', value: '2' }])).rejects.toThrow(/ignore case/);
    expect(await store.count('users')).toBe(0);
    await store.dropCollection!('users');
    await store.close();
    expect(peek(file, (db) => db.prepare('SELECT key FROM Users').pluck().all())).toEqual(['a']);
  });

  it('lists user tables only, and reading never creates bookkeeping tables', async () => {
    const file = freshFile();
    const store = createSqliteStore(`sqlite:${file}`, {});
    await store.ensureCollection('b-one');
    await store.ensureCollection('a.two');
    expect(await store.readCheckpoint!('m/u')).toBeNull();
    await store.clearCheckpoints!('m/');
    expect(peek(file, (db) => db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).pluck().all())).toEqual(['a.two', 'b-one']);
    await store.putMany('b-one', [{ key: 'k', value: '1' }], { checkpoint: { id: 'm/u', cursor: 'k' } });
    expect(await store.listCollections()).toEqual(['a.two', 'b-one']);
    await store.close();
  });
});

describe('sqlite: tables written by something else', () => {
  it('rows that are not text keys with text/blob values come back as rejects with a reason', async () => {
    const file = freshFile();
    const db = new Database(file);
    db.exec(`CREATE TABLE mixed (key TEXT PRIMARY KEY, value, updated_at TEXT, version INTEGER);
      INSERT INTO mixed VALUES ('a', '{"ok":1}', NULL, NULL), ('b', NULL, NULL, NULL), ('c', 42, NULL, NULL), ('d', x'00', NULL, NULL);`);
    db.close();
    const store = createSqliteStore(`sqlite:${file}`, { create: false });
    const batches = [];
    for await (const batch of store.scan('mixed', { batchSize: 2 })) batches.push(batch);
    expect(batches.flatMap((b) => b.records.map((r) => r.key))).toEqual(['a', 'd']);
    expect(batches.flatMap((b) => b.rejects.map((r) => r.key))).toEqual(['b', 'c']);
    expect(batches.flatMap((b) => b.rejects.map((r) => r.reason)).join(' ')).toMatch(/NULL.*number/);
    await store.close();
  });

  it('a table of another shape fails loudly, naming the columns it needs', async () => {
    const file = freshFile();
    const db = new Database(file);
    db.exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('x');`);
    db.close();
    const store = createSqliteStore(`sqlite:${file}`, {});
    expect(await store.listCollections()).toEqual(['notes']);
    const scan = async () => {
      for await (const _ of store.scan('notes')) void _;
    };
    await expect(scan()).rejects.toThrow(/key\/value/);
    await store.close();
  });
});

describe('sqlite: URLs and lifecycle', () => {
  it('maps sqlite: URLs to paths', () => {
    expect(sqlitePath('sqlite:./app.db')).toBe(resolve('app.db'));
    expect(sqlitePath('sqlite:app.db')).toBe(resolve('app.db'));
    expect(sqlitePath('sqlite:/abs/app.db')).toBe('/abs/app.db');
    expect(sqlitePath('sqlite:///abs/app.db')).toBe('/abs/app.db');
    expect(sqlitePath('sqlite:/abs/my%20app.db')).toBe('/abs/my app.db');
    expect(sqlitePath('sqlite::memory:')).toBe(':memory:');
    expect(() => sqlitePath('sqlite:')).toThrow(ConfigurationError);
  });

  it('openStore finds the backend by its scheme', async () => {
    const file = freshFile();
    const store = await openStore(`sqlite:${file}`);
    expect(store.driver).toBe('sqlite');
    await store.putMany('c', [{ key: 'a', value: '1' }]);
    await store.close();
    expect(peek(file, (db) => db.prepare('SELECT value FROM c').pluck().get())).toBe('1');
  });

  it('a relative path is relative to the working directory', async () => {
    const work = mkdtempSync(join(dir, 'cwd-'));
    const before = process.cwd();
    process.chdir(work);
    try {
      const store = createSqliteStore('sqlite:./sub/rel.db', {});
      await store.putMany('c', [{ key: 'a', value: '1' }]);
      await store.close();
    } finally {
      process.chdir(before);
    }
    expect(peek(join(work, 'sub', 'rel.db'), (db) => db.prepare('SELECT value FROM c').pluck().get())).toBe('1');
  });

  it('creates missing folders and the file, or with create: false says the file does not exist', async () => {
    const file = join(dir, 'deep', 'er', 'x.db');
    const missing = createSqliteStore(`sqlite://${file}`, { create: false });
    await expect(missing.open()).rejects.toThrow(/does not exist/);
    await expect(missing.count('c')).rejects.toBeInstanceOf(ConfigurationError);
    expect(existsSync(file)).toBe(false);
    const store = createSqliteStore(`sqlite://${file}`, {});
    await store.open();
    await store.open();
    expect(existsSync(file)).toBe(true);
    await store.close();
  });

  it('a file that is not a database is a configuration error', async () => {
    const file = freshFile();
    writeFileSync(file, 'this is not sqlite, just text that is long enough to fill a header block'.repeat(20));
    const store = createSqliteStore(`sqlite:${file}`, {});
    await expect(store.open()).rejects.toThrow(ConfigurationError);
    await expect(store.open()).rejects.toThrow(/not a database/);
  });

  it('refuses every call after close, clearly', async () => {
    const store = createSqliteStore(`sqlite:${freshFile()}`, {});
    await store.putMany('c', [{ key: 'a', value: '1' }]);
    await store.close();
    await store.close();
    await expect(store.count('c')).rejects.toBeInstanceOf(StoreError);
    await expect(store.getMany('c', ['a'])).rejects.toThrow(/closed/);
    await expect(store.putMany('c', [{ key: 'b', value: '1' }])).rejects.toThrow(/closed/);
    await expect(store.open()).rejects.toThrow(/closed/);
  });
});

describe('sqlite: ?cacheMiB=', () => {
  it('accepts a cache size and refuses nonsense with a clear error', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'cutover-cache-'));
    const ok = createSqliteStore(`sqlite:${join(dir, 'a.db')}?cacheMiB=64`, {});
    await ok.putMany('c', [{ key: 'k', value: '1' }]);
    expect(await ok.count('c')).toBe(1);
    await ok.close();
    expect(() => createSqliteStore(`sqlite:${join(dir, 'b.db')}?cacheMiB=lots`, {})).toThrow(/cacheMiB=lots must be a number/);
  });
});
