/**
 * The file backend against files written by hand: layout detection, bad input that must become
 * rejects (with the file named) while every good record is read, JSONL later-lines-win and
 * tombstones, exact value text, and the root that no key can escape.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredRecord } from '../../src/core/record.js';
import type { ScanBatch, Store } from '../../src/core/store.js';
import { createFileStore } from '../../src/drivers/file.js';
import { HOSTILE_KEYS } from '../conformance/ugly-data.js';

let base = '';
let n = 0;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'cutover-file-layouts-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function freshRoot(): Promise<string> {
  const root = join(base, `r${++n}`);
  await mkdir(root, { recursive: true });
  return root;
}

function open(root: string, query = '', extra = {}): Store {
  return createFileStore(`${pathToFileURL(root).href}${query}`, extra);
}

async function scan(store: Store, c: string, batchSize = 1000, after: string | null = null) {
  const batches: ScanBatch[] = [];
  for await (const b of store.scan(c, { batchSize, after })) batches.push(b);
  return {
    batches,
    records: batches.flatMap((b) => b.records),
    rejects: batches.flatMap((b) => b.rejects),
    locations: batches.flatMap((b) => (b.locationOf ? b.records.map((_, i) => b.locationOf!(i)) : [])),
  };
}

const lastValue = (records: StoredRecord[]) => new Map(records.map((r) => [r.key, r.value]));

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...(await walk(p)));
  }
  return out;
}

describe('file store: URLs and roots', () => {
  it('file:relative paths resolve against the working directory and the root is created', async () => {
    const root = await freshRoot();
    const cwd = process.cwd();
    process.chdir(root);
    try {
      for (const url of ['file:./data-a', 'file:data-b']) {
        const store = createFileStore(url, {});
        await store.putMany('c', [{ key: 'k', value: '1' }]);
        expect(await readFile(join(root, url.replace(/^file:(\.\/)?/, ''), 'c', 'k.json'), 'utf8')).toBe('1');
      }
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses a missing root when create is false, and an unknown layout', async () => {
    const root = join(await freshRoot(), 'missing');
    await expect(open(root, '', { create: false }).open()).rejects.toThrow(/does not exist/);
    expect(() => open(root, '?layout=csv')).toThrow(/layout/);
  });
});

describe('file store: layout detection from files written by hand', () => {
  it('reads a folder, a JSONL log and a one-object map, with exact value text', async () => {
    const root = await freshRoot();
    await mkdir(join(root, 'users'));
    await writeFile(join(root, 'users', 'user-42.json'), '{"id": 42, "big": 12345678901234567890123}\n');
    await writeFile(join(root, 'users', 'Alice Smith.json'), '{"name":"Alice","n":-0}');
    await writeFile(join(root, 'users', 'pic.bin'), Buffer.from([0, 1, 2, 255]));
    await writeFile(join(root, 'events.jsonl'), '{"key":"e1","value":{"x":1.50}}\n{"key":"e2","value":  [1, 2.0e5]  ,"version":3}\n');
    await writeFile(join(root, 'settings.json'), '{\n  "theme": "dark",\n  "limit": 9007199254740993,\n  "nested": {"a": [1, 2]}\n}\n');
    const store = open(root);
    expect(await store.listCollections()).toEqual(['events', 'settings', 'users']);
    const users = await scan(store, 'users');
    expect(users.rejects).toEqual([]);
    expect(users.records.map((r) => r.key)).toEqual(['Alice Smith', 'pic', 'user-42']);
    expect(users.records[0]!.value).toBe('{"name":"Alice","n":-0}');
    expect(users.records[2]!.value).toBe('{"id": 42, "big": 12345678901234567890123}');
    expect(Buffer.from(users.records[1]!.value as Uint8Array)).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(users.locations[0]).toBe(join(root, 'users', 'Alice Smith.json'));
    expect((await store.getMany('users', ['Alice Smith', 'user-42']))[0]?.value).toBe('{"name":"Alice","n":-0}');
    const events = await scan(store, 'events');
    expect(events.records.map((r) => [r.key, r.value, r.version ?? null])).toEqual([['e1', '{"x":1.50}', null], ['e2', '[1, 2.0e5]', 3]]);
    expect(events.locations).toEqual([`${join(root, 'events.jsonl')}:line 1`, `${join(root, 'events.jsonl')}:line 2`]);
    expect(await store.isOrdered('events')).toBe(false);
    expect(await store.isOrdered('users')).toBe(true);
    const settings = await scan(store, 'settings');
    expect(settings.records).toEqual([
      { key: 'limit', value: '9007199254740993' },
      { key: 'nested', value: '{"a": [1, 2]}' },
      { key: 'theme', value: '"dark"' },
    ]);
  });

  it('two layouts for one name is a configuration error naming both paths', async () => {
    const root = await freshRoot();
    await mkdir(join(root, 'twice'));
    await writeFile(join(root, 'twice.jsonl'), '');
    const store = open(root);
    await expect(store.count('twice')).rejects.toThrow(new RegExp(`${join(root, 'twice').replace(/[/\\]/g, '.')} and .*twice\\.jsonl`));
  });

  it('overwriting a hand-named record replaces it instead of adding a second file', async () => {
    const root = await freshRoot();
    await mkdir(join(root, 'people'));
    await writeFile(join(root, 'people', 'Alice Smith.json'), '1');
    const store = open(root);
    await store.putMany('people', [{ key: 'Alice Smith', value: '2' }]);
    const { records, rejects } = await scan(store, 'people');
    expect(rejects).toEqual([]);
    expect(records).toEqual([{ key: 'Alice Smith', value: '2' }]);
    expect(await store.deleteMany('people', ['Alice Smith'])).toBe(1);
    expect(await readdir(join(root, 'people'))).toEqual([]);
  });
});

describe('file store: bad input becomes rejects, good records are all read', () => {
  it('folder layout', async () => {
    const root = await freshRoot();
    const dir = join(root, 'c');
    await mkdir(dir);
    const good = ['g1', 'g2', 'g3'];
    for (const g of good) await writeFile(join(dir, `${g}.json`), `{"g":"${g}"}`);
    await writeFile(join(dir, 'malformed.json'), '{"a":');
    await writeFile(join(dir, 'badutf8.json'), Buffer.from([0x22, 0xc3, 0x28, 0x22]));
    await writeFile(join(dir, 'empty.json'), '');
    await mkdir(join(dir, 'folder.json')); // unreadable as a file (tests run as root, so no chmod)
    await symlink(join(dir, 'nowhere'), join(dir, 'dangling.json'));
    await writeFile(join(dir, 'huge.json'), JSON.stringify('x'.repeat(2000)));
    await writeFile(join(dir, 'notes.txt'), 'hello');
    await writeFile(join(dir, 'nul%00byte.json'), '1'); // decodes to a key with NUL: invalid
    await writeFile(join(dir, 'x'.repeat(250) + '.json'), '1'); // a plain name near the 255-byte limit
    await writeFile(join(dir, '.hidden-temp.json.tmp-1234'), 'junk');
    const store = open(root, '?maxValueBytes=1000');
    const { records, rejects } = await scan(store, 'c', 2);
    expect(records.map((r) => r.key)).toEqual([...good, 'x'.repeat(250)]);
    const byFile = new Map(rejects.map((r) => [r.location.slice(dir.length + 1), r]));
    expect([...byFile.keys()].sort()).toEqual(['badutf8.json', 'dangling.json', 'empty.json', 'folder.json', 'huge.json', 'malformed.json', 'notes.txt', 'nul%00byte.json']);
    expect(byFile.get('nul%00byte.json')!.reason).toMatch(/NUL/);
    expect(byFile.get('nul%00byte.json')!.key).toBe('nul\u0000byte');
    expect(byFile.get('malformed.json')!.reason).toMatch(/malformed JSON/);
    expect(byFile.get('malformed.json')!.key).toBe('malformed');
    expect(byFile.get('badutf8.json')!.reason).toMatch(/UTF-8/);
    expect(byFile.get('empty.json')!.reason).toMatch(/empty/);
    expect(byFile.get('huge.json')!.reason).toMatch(/maxValueBytes/);
    expect(byFile.get('notes.txt')!.reason).toMatch(/not a record file/);
    for (const r of rejects) expect(r.collection).toBe('c');
  });

  it('an unreadable file (no permission) is a reject when permissions apply', async () => {
    const root = await freshRoot();
    await mkdir(join(root, 'c'));
    await writeFile(join(root, 'c', 'locked.json'), '1');
    await writeFile(join(root, 'c', 'open.json'), '2');
    await chmod(join(root, 'c', 'locked.json'), 0);
    const { records, rejects } = await scan(open(root), 'c');
    if (process.getuid?.() === 0) {
      expect(records.length).toBe(2); // root reads anything: the symlink/folder cases above cover unreadable files
    } else {
      expect(records.map((r) => r.key)).toEqual(['open']);
      expect(rejects[0]!.reason).toMatch(/EACCES|permission/);
    }
  });

  it('JSONL layout: a tombstone appended after the log was surveyed still hides its key, and the estimate counts the new lines', async () => {
    const root = await freshRoot();
    const path = join(root, 'grow.jsonl');
    await writeFile(path, '{"key":"a","value":1}\n{"key":"b","value":2}\n');
    const store = open(root);
    expect(await store.estimateCount!('grow')).toBe(2);
    expect((await scan(store, 'grow')).records.map((r) => r.key)).toEqual(['a', 'b']);
    await writeFile(path, '{"key":"a","value":1}\n{"key":"b","value":2}\n{"key":"a","deleted":true}\n');
    expect(await store.estimateCount!('grow')).toBe(3);
    expect((await scan(store, 'grow')).records.map((r) => r.key)).toEqual(['b']);
  });

  it('JSONL layout: a log rewritten at the same size with its old mtime restored is surveyed again', async () => {
    const root = await freshRoot();
    const path = join(root, 'same.jsonl');
    const v1 = '{"key":"a","value":1}\n{"key":"b","value":2}\n{"key":"b","deleted":true}\n';
    const v2 = '{"key":"a","value":1}\n{"key":"b","value":2}\n{"key":"c","value":"0123"}\n';
    expect(Buffer.byteLength(v2)).toBe(Buffer.byteLength(v1));
    // A whole-second mtime, as a coarse clock (or cp -p, rsync -t) would leave it on both versions.
    const mtime = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    await writeFile(path, v1);
    await utimes(path, mtime, mtime);
    // Still for longer than a coarse clock's tick, so that its survey is kept.
    await new Promise((r) => setTimeout(r, 2100));
    const store = open(root);
    expect((await scan(store, 'same')).records.map((r) => r.key)).toEqual(['a']);
    await writeFile(path, v2);
    await utimes(path, mtime, mtime);
    expect((await scan(store, 'same')).records.map((r) => r.key)).toEqual(['a', 'b', 'c']);
  });

  it('JSONL layout: each bad line is a reject with its line number, later lines win, tombstones hide', async () => {
    const root = await freshRoot();
    const path = join(root, 'log.jsonl');
    const lines = [
      '{"key":"a","value":1}',
      'not json at all',
      '{"key":"b","value":{"deep":[1,2,{"x":"}"}]}}',
      '["key","value"]',
      '{"key":42,"value":1}',
      '{"key":"c"}',
      '',
      '{"key":"a","value":"second"}',
      '{"key":"","value":1}',
      '{"key":"d","value":"gone"}',
      '{"key":"d","deleted":true}',
      '{"key":"bin","bytes":"AAEC/w=="}',
      '{"key":"big","value":"' + 'y'.repeat(3000) + '"}',
      '{"key":"e","value":12345678901234567890.10}',
      '{"key":"f","val',
    ];
    await writeFile(path, Buffer.concat([Buffer.from(lines.join('\n').replace('"b"', '"b"')), Buffer.alloc(0)]));
    // a line with invalid UTF-8 spliced in before the truncated last line
    const withBad = Buffer.concat([Buffer.from(lines.slice(0, -1).join('\n') + '\n'), Buffer.from([0x7b, 0xff, 0x7d, 0x0a]), Buffer.from(lines.at(-1)!)]);
    await writeFile(path, withBad);
    const store = open(root, '?maxValueBytes=1000');
    const { records, rejects } = await scan(store, 'log', 3);
    expect(records.map((r) => r.key)).toEqual(['a', 'b', 'a', 'bin', 'e']);
    const values = lastValue(records);
    expect(values.get('a')).toBe('"second"');
    expect(values.get('b')).toBe('{"deep":[1,2,{"x":"}"}]}');
    expect(values.get('e')).toBe('12345678901234567890.10');
    expect(Buffer.from(values.get('bin') as Uint8Array)).toEqual(Buffer.from([0, 1, 2, 255]));
    const at = (line: number) => `${path}:line ${line}`;
    expect(rejects.map((r) => [r.location, r.key])).toEqual([
      [at(2), null], [at(4), null], [at(5), null], [at(6), 'c'], [at(9), ''], [at(13), 'big'], [at(15), null], [at(16), null],
    ]);
    expect(rejects.at(-1)!.reason).toMatch(/truncated last line/);
    expect(rejects.at(-2)!.reason).toMatch(/UTF-8/);
    expect(await store.count('log')).toBe(4); // a, b, bin, e
    expect((await store.getMany('log', ['a', 'd']))[1]).toBeUndefined();
  });

  it('JSONL: a resumed scan starts at the byte offset and keeps counting lines', async () => {
    const root = await freshRoot();
    const store = open(root, '?layout=jsonl');
    await store.putMany('c', Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: String(i) })));
    await writeFile(join(root, 'c.jsonl'), 'oops\n', { flag: 'a' });
    const first = await scan(store, 'c', 4);
    const cursor = first.batches[0]!.cursor;
    const rest = await scan(store, 'c', 4, cursor);
    expect(rest.records.map((r) => r.key)).toEqual(['k4', 'k5', 'k6', 'k7', 'k8', 'k9']);
    expect(rest.locations[0]).toBe(`${join(root, 'c.jsonl')}:line 5`);
    expect(rest.rejects.map((r) => r.location)).toEqual([`${join(root, 'c.jsonl')}:line 11`]);
  });

  it('JSONL: appending after a truncated last line never glues lines together', async () => {
    const root = await freshRoot();
    await writeFile(join(root, 'c.jsonl'), '{"key":"a","value":1}\n{"key":"b","va');
    const store = open(root);
    await store.putMany('c', [{ key: 'z', value: '26' }]);
    const { records, rejects } = await scan(store, 'c');
    expect(records.map((r) => r.key)).toEqual(['a', 'z']);
    expect(rejects.length).toBe(1);
  });

  it('JSONL count stays exact when it has to partition through temp files', async () => {
    const root = await freshRoot();
    const store = open(root, '?layout=jsonl&countMemoryKeys=50');
    const recs = Array.from({ length: 400 }, (_, i) => ({ key: `k${i % 300}`, value: String(i) }));
    await store.putMany('c', recs);
    expect(await store.deleteMany('c', ['k1', 'k2', 'nope'])).toBe(2);
    expect(await store.count('c')).toBe(298);
    const live = lastValue((await scan(store, 'c')).records);
    expect(live.size).toBe(298);
    expect(live.get('k5')).toBe('305');
    expect((await store.stats!('c')).count).toBe(298);
  });

  it('map layout: a malformed file is one reject, a file over maxMapBytes a configuration error', async () => {
    const root = await freshRoot();
    await writeFile(join(root, 'broken.json'), '{"a": 1,');
    await writeFile(join(root, 'list.json'), '[1,2]');
    await writeFile(join(root, 'ok.json'), '{"a": 1, "": 2, "a": 3, "b": "' + 'z'.repeat(2000) + '"}');
    await writeFile(join(root, 'large.json'), '{"a":"' + 'q'.repeat(5000) + '"}');
    const store = open(root, '?maxValueBytes=1000&maxMapBytes=4096');
    for (const c of ['broken', 'list']) {
      const { records, rejects } = await scan(store, c);
      expect(records).toEqual([]);
      expect(rejects.map((r) => r.location)).toEqual([join(root, `${c}.json`)]);
    }
    await expect(store.putMany('broken', [{ key: 'x', value: '1' }])).rejects.toThrow(/cannot be updated/);
    expect(await readFile(join(root, 'broken.json'), 'utf8')).toBe('{"a": 1,');
    const ok = await scan(store, 'ok');
    expect(ok.records).toEqual([{ key: 'a', value: '3' }]);
    expect(ok.rejects.map((r) => r.key).sort()).toEqual(['', 'b']);
    await expect(scan(store, 'large')).rejects.toThrow(/maxMapBytes/);
  });

  it('putMany rejects what the layout cannot hold and writes the rest', async () => {
    const root = await freshRoot();
    const store = open(root, '?layout=json&maxValueBytes=100');
    const res = await store.putMany('c', [
      { key: 'ok', value: '1' },
      { key: 'bytes', value: Buffer.from([1]) },
      { key: 'notjson', value: '{oops' },
      { key: 'big', value: JSON.stringify('x'.repeat(200)) },
    ]);
    expect(res.rejected.map((r) => r.key)).toEqual(['bytes', 'notjson', 'big']);
    expect(JSON.parse(await readFile(join(root, 'c.json'), 'utf8'))).toEqual({ ok: 1 });
  });
});

describe('file store: no key escapes the root', () => {
  for (const layout of ['dir', 'jsonl', 'json']) {
    it(`layout=${layout}: hostile keys stay inside, the parent folder is unchanged`, async () => {
      const parent = await freshRoot();
      const root = join(parent, 'root');
      await writeFile(join(parent, 'sentinel'), 'x');
      const before = (await readdir(parent)).sort();
      const store = open(root, `?layout=${layout}`);
      const recs = [...HOSTILE_KEYS, 'C:\\x', 'nul.json', 'a/../../b'].map((key, i) => ({ key, value: String(i) }));
      expect((await store.putMany('c', recs)).rejected).toEqual([]);
      expect((await readdir(parent)).sort()).toEqual([...before, 'root'].sort());
      expect(await readFile(join(parent, 'sentinel'), 'utf8')).toBe('x');
      for (const p of await walk(root)) {
        const rel = relative(root, p);
        expect(rel.startsWith('..') || rel.startsWith(sep)).toBe(false);
        for (const piece of rel.split(sep)) expect(Buffer.byteLength(piece)).toBeLessThanOrEqual(255);
      }
      expect(lastValue((await scan(store, 'c')).records)).toEqual(new Map(recs.map((r) => [r.key, r.value])));
      expect(await store.deleteMany('c', recs.map((r) => r.key))).toBe(recs.length);
      expect(await store.count('c')).toBe(0);
      if (layout === 'dir') expect(await readdir(join(root, 'c'))).toEqual([]);
      await expect(store.dropCollection!('../root')).rejects.toThrow(/collection name/);
      expect((await stat(root)).isDirectory()).toBe(true);
    });
  }
});
