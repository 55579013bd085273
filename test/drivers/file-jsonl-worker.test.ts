/**
 * The JSONL parse worker (built code only; logs over 4 MiB) must read exactly what the in-thread
 * reader reads: the same records, tombstones, rejects with the same lines, bytes values as bytes, and
 * the same JSON text for a target that validates it (PostgreSQL) as for one that does not (SQLite).
 * Each log is copied twice through the real CLI, once with the worker and once with
 * CUTOVER_JSONL_WORKER=0, and the targets and rejects files are compared.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/store.js';
import { openStore } from '../../src/drivers/index.js';
import { scanAll } from '../conformance/suite.js';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { pgFixture, storeUrl, type PgFixture } from './postgres-helpers.js';

let dir: string;
let fx: PgFixture;
const LINES = 30_000;
let malformedValues = 0;
let notJson = 0;

beforeAll(async () => {
  assertBuilt();
  fx = await pgFixture('worker');
  dir = mkdtempSync(join(tmpdir(), 'cutover-worker-'));
  let log = '';
  for (let i = 0; i < LINES; i++) {
    const key = `w${String(i).padStart(6, '0')}`;
    if (i % 997 === 5) {
      log += `{"key":"${key}","value":{"broken":}}\n`; // malformed value
      malformedValues++;
    } else if (i % 1009 === 7) {
      log += 'not json at all\n';
      notJson++;
    }
    else if (i % 1013 === 9) log += `{"key":"${key}","bytes":"${Buffer.from([0, 1, 2, 255, i % 256]).toString('base64')}"}\n`;
    else if (i % 1019 === 11 && i < LINES / 2) log += `{"key":"${key}","value":{"v":${i}},"updatedAt":"2025-01-02T03:04:05.000Z","version":3}\r\n`;
    else if (i % 1021 === 13) log += '\n';
    // A member after the value that ends in a bracket: taken on its shape, refused, read again.
    else if (i % 1031 === 15) log += `{"key":"${key}","value":{"v":${i}},"x":{"y":[1]}}\n`;
    // The same after metadata, in batches (2,000 lines) where no other line carries metadata, so their
    // COPY has no columns for it: kept all the same.
    else if (i % 1033 === 17 && i > LINES / 2 + 4000) log += `{"key":"${key}","value":{"v":${i}},"updatedAt":"2025-02-03T04:05:06.000Z","version":7,"x":{"y":[1]}}\n`;
    // Odd lines are plain (the bytes path into PostgreSQL); even ones carry escapes (the checked path).
    else if (i % 2 === 1) log += `{"key":"${key}","value":{"i":${i},"note":"${i % 3 === 0 ? 'Grüße 🚀' : 'plain'}","pad":"${'x'.repeat(120)}","n":-0.5}}\n`;
    else log += `{"key":"${key}","value":{"i":${i},"note":"${i % 3 === 0 ? 'Grüße 🚀' : 'plain'}","pad":"${'x'.repeat(120)}","esc":"a\\"b\\\\c"}}\n`;
  }
  // Tombstones and a later value for an earlier key: the later line wins.
  log += '{"key":"w000100","deleted":true}\n{"key":"w000200","value":{"again":true}}\n';
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'events.jsonl'), log);
  expect(Buffer.byteLength(log)).toBeGreaterThan(4 * 1024 * 1024);
});
afterAll(async () => {
  for (const side of ['a', 'b']) await fx?.db.query(`DROP SCHEMA IF EXISTS "${fx.schema}_${side}" CASCADE`);
  await fx?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function copy(to: string, worker: boolean, name: string): Promise<{ rejects: unknown[] }> {
  const run = await runCli(['migrate', '--from', `file:${join(dir, 'src')}`, '--to', to, '--no-verify', '--state', join(dir, `${name}.db`), '--json'], dir, worker ? {} : { CUTOVER_JSONL_WORKER: '0' });
  expect(run.code, run.stderr).toBe(1); // rejected records make exit status 1
  const result = JSON.parse(run.stdout) as { rejectsFile: string; status: string };
  expect(result.status).toBe('completed');
  const rejects = readFileSync(result.rejectsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string | null; location: string; reason: string });
  // In line order: the reader's rejects are written as it reads, the target's as its batches land, and
  // with batches in flight the two streams interleave differently from run to run.
  const line = (r: { location: string }) => Number(/:line (\d+)$/.exec(r.location)?.[1]);
  expect(rejects.every((r) => Number.isInteger(line(r)))).toBe(true);
  rejects.sort((a, b) => line(a) - line(b));
  return { rejects: rejects.map((r) => [r.key, r.location, r.reason.replace(/postgres\S*/g, 'postgres')]) };
}

/** The metadata of the lines that carry it before a member ending in a bracket. */
async function lateMembersMeta(store: Store): Promise<unknown[]> {
  const keys = Array.from({ length: LINES }, (_, i) => i)
    .filter((i) => i % 1033 === 17 && i > LINES / 2 + 4000 && i % 997 !== 5 && i % 1009 !== 7 && i % 1013 !== 9 && i % 1021 !== 13 && i % 1031 !== 15)
    .map((i) => `w${String(i).padStart(6, '0')}`);
  expect(keys.length).toBeGreaterThan(5);
  const got = await store.getMany('events', keys);
  return got.map((r, i) => [keys[i], r?.version, r?.updatedAt?.slice(0, 19)]);
}

const keptMeta = (rows: unknown[]) => rows.every((r) => (r as unknown[])[1] === 7 && (r as unknown[])[2] === '2025-02-03T04:05:06');

async function contents(store: Store): Promise<unknown[]> {
  const { records } = await scanAll(store, 'events');
  return records.map((r) => [r.key, typeof r.value === 'string' ? r.value : `bytes:${Buffer.from(r.value).toString('hex')}`]);
}

describe('JSONL parse worker', () => {
  it('reads into SQLite exactly what the in-thread reader reads', async () => {
    const a = await copy(`sqlite:${join(dir, 'a.sqlite')}`, true, 'sa');
    const b = await copy(`sqlite:${join(dir, 'b.sqlite')}`, false, 'sb');
    expect(a.rejects).toEqual(b.rejects);
    // SQLite does not check JSON, so the reader does: a malformed value fails its whole line.
    expect(a.rejects.length).toBe(malformedValues + notJson);
    const [sa, sb] = [await openStore(`sqlite:${join(dir, 'a.sqlite')}`), await openStore(`sqlite:${join(dir, 'b.sqlite')}`)];
    const [ca, cb] = [await contents(sa), await contents(sb)];
    expect(keptMeta(await lateMembersMeta(sa)), JSON.stringify(await lateMembersMeta(sa))).toBe(true);
    await sa.close();
    await sb.close();
    expect(ca).toEqual(cb);
    expect(ca.find((r) => (r as string[])[0] === 'w000100')).toBeUndefined();
    expect(ca).toContainEqual(['w000200', '{"again":true}']);
    expect(ca).toContainEqual(['w000009', 'bytes:000102ff09']);
  });

  it('hands PostgreSQL the same JSON text, unparsed, and the same rejects', async () => {
    const a = await copy(`${storeUrl(fx.schema)}_a`, true, 'pa');
    const b = await copy(`${storeUrl(fx.schema)}_b`, false, 'pb');
    expect(a.rejects).toEqual(b.rejects);
    // A value PostgreSQL refuses is read again in full, so the reader names what is wrong with the line.
    const malformed = (a.rejects as [string | null, string, string][]).filter((r) => /malformed JSON line/.test(r[2]) && r[0] !== null);
    expect(malformed.length).toBe(malformedValues);
    expect(a.rejects.length).toBe(malformedValues + notJson);
    for (const [key, location, reason] of malformed) {
      expect(location).toBe(`${join(dir, 'src', 'events.jsonl')}:line ${Number(key!.slice(1)) + 1}`);
      // The source's reading, not PostgreSQL's: no "postgres" in front.
      expect(reason).toMatch(/^malformed JSON line/);
    }
    const [pa, pb] = [await openStore(`${storeUrl(fx.schema)}_a`), await openStore(`${storeUrl(fx.schema)}_b`)];
    const [ca, cb] = [await contents(pa), await contents(pb)];
    // Taken on its shape, refused, read again: the record keeps its metadata in both readers' copies.
    for (const store of [pa, pb]) expect(keptMeta(await lateMembersMeta(store)), JSON.stringify(await lateMembersMeta(store))).toBe(true);
    await pa.close();
    await pb.close();
    expect(ca).toEqual(cb);
    expect(ca.length).toBeGreaterThan(LINES - 200);
    expect(ca).toContainEqual(['w000015', '{"v": 15}']);
  });
});
