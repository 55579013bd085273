/**
 * The PostgreSQL scan maps rows itself (array rows, a faster timestamp conversion), so it must give
 * exactly what the server holds: timestamps in every offset shape PostgreSQL prints, read back here
 * with plain SQL, and the same records `getMany` gives.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/store.js';
import { openStore } from '../../src/drivers/index.js';
import { POSTGRES_URL, runId } from '../helpers/services.js';

const schema = runId('verify_scan');
let store: Store;
let client: pg.Client;

beforeAll(async () => {
  store = await openStore(`${POSTGRES_URL}?schema=${schema}`);
  client = new pg.Client(POSTGRES_URL);
  await client.connect();
});
afterAll(async () => {
  await store?.close();
  await client?.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  await client?.end();
});

describe('postgres scan', () => {
  it('returns updatedAt, version, JSON and bytes exactly as stored, in every time zone shape', async () => {
    await store.putMany('t', [
      { key: 'a', value: '{"x":1}', updatedAt: '2024-05-01T10:00:00.123456Z', version: 7 },
      { key: 'b', value: '[1,2]', updatedAt: '2024-05-01T10:00:00Z', version: 9007199254740991 },
      { key: 'c', value: new Uint8Array([0, 1, 255]) },
      { key: 'd', value: '"s"', updatedAt: '0044-03-15T12:00:00Z', version: 1 },
    ]);
    const table = `${pg.escapeIdentifier(schema)}.t`;
    for (const zone of ['UTC', 'Asia/Kolkata', 'America/St_Johns', 'Europe/Berlin']) {
      // The store's own connections use the server default; set it for them through the role-less way: the URL.
      const zoned = await openStore(`${POSTGRES_URL}?schema=${schema}&options=${encodeURIComponent(`-c TimeZone=${zone}`)}`);
      try {
        const scanned = [];
        for await (const b of zoned.scan('t', { batchSize: 2 })) scanned.push(...b.records);
        const looked = await zoned.getMany('t', ['a', 'b', 'c', 'd']);
        expect(scanned, zone).toEqual(looked);
        await client.query(`SET TimeZone = '${zone}'`);
        const rows = (await client.query(`SELECT key, to_json(updated_at)#>>'{}' AS at, version::text AS v, value::text AS value FROM ${table} ORDER BY key`)).rows as {
          key: string; at: string; v: string; value: string | null;
        }[];
        expect(scanned.map((r) => r.key)).toEqual(rows.map((r) => r.key));
        for (const [i, r] of scanned.entries()) {
          const row = rows[i]!;
          // to_json prints ISO-8601 with the offset as +HH:MM; the store's text must mean the same instant.
          expect(Date.parse(r.updatedAt!), `${zone} ${r.key}`).toBe(Date.parse(row.at));
          expect(String(r.version)).toBe(row.v);
          if (row.value !== null) expect(r.value).toBe(row.value);
        }
        expect(Buffer.from(scanned[2]!.value as Uint8Array)).toEqual(Buffer.from([0, 1, 255]));
        // skipMetadata (what verify asks for): the same keys and values, in the same batches.
        const bare = [];
        for await (const b of zoned.scan('t', { batchSize: 2, skipMetadata: true })) bare.push(b.records.map((r) => [r.key, r.value]));
        expect(bare).toEqual([scanned.slice(0, 2).map((r) => [r.key, r.value]), scanned.slice(2).map((r) => [r.key, r.value])]);
      } finally {
        await zoned.close();
      }
    }
  });
});
