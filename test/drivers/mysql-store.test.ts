/**
 * The MySQL/MariaDB backend against the real server, checked through an independent mysql2
 * connection: what is in the tables, not what the store says about them.
 */
import { createHash, randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.js';
import { compareKeys } from '../../src/core/key-order.js';
import type { Store } from '../../src/core/store.js';
import { createMysqlStore } from '../../src/drivers/mysql.js';
import { planUpsert } from '../../src/drivers/mysql-sql.js';
import { ORDER_KEYS, TRICKY_JSON, records } from '../conformance/ugly-data.js';
import { MYSQL_URL, runId } from '../helpers/services.js';

const database = runId('my');
const url = MYSQL_URL.replace(/\/[^/?]*(\?|$)/, `/${database}$1`);
let store: Store;
let admin: mysql.Connection;

beforeAll(async () => {
  store = createMysqlStore(url, {});
  await store.open();
  admin = await mysql.createConnection({ uri: url, charset: 'UTF8MB4_BIN', dateStrings: true });
});

afterAll(async () => {
  await store?.close();
  await admin?.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin?.end();
});

async function rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  const [r] = await admin.query(sql, params);
  return r as T[];
}

describe('mysql table layout', () => {
  it('orders keys in the table exactly as compareKeys (UTF-8 bytes), astral after U+FFxx', async () => {
    await store.putMany('order', records([...ORDER_KEYS].reverse()));
    const got = (await rows<{ k: Buffer }>('SELECT k FROM `order` ORDER BY k')).map((r) => r.k.toString('utf8'));
    expect(got).toEqual([...ORDER_KEYS].sort(compareKeys));
    // The case the UTF-16 order gets wrong: U+FFEF sorts before an astral character.
    expect(got.indexOf('\uffef')).toBeLessThan(got.indexOf('😀'));
    // 'a' and 'a ' are different keys (a PAD SPACE collation would make them collide).
    await store.putMany('order', [{ key: 'pad', value: '1' }, { key: 'pad ', value: '2' }]);
    expect((await rows<{ n: number }>("SELECT COUNT(*) AS n FROM `order` WHERE k IN ('pad', 'pad ')"))[0]!.n).toBe(2);
  });

  it('stores JSON text character for character and bytes byte for byte', async () => {
    const bytes = randomBytes(4096);
    const batch = [...TRICKY_JSON.map((value, i) => ({ key: `j${i}`, value })), { key: 'bin', value: bytes }, { key: 'looks-json', value: Buffer.from('{"a":1}') }];
    expect((await store.putMany('exact', batch)).rejected).toEqual([]);
    const stored = new Map((await rows<{ k: Buffer; v: string | null; b: Buffer | null }>('SELECT k, v, b FROM exact')).map((r) => [r.k.toString(), r]));
    TRICKY_JSON.forEach((value, i) => {
      expect(stored.get(`j${i}`)!.v).toBe(value);
      expect(stored.get(`j${i}`)!.b).toBeNull();
    });
    expect(Buffer.compare(stored.get('bin')!.b!, bytes)).toBe(0);
    expect(stored.get('bin')!.v).toBeNull();
    // Bytes that happen to be JSON stay bytes.
    const [back] = await store.getMany('exact', ['looks-json']);
    expect(back!.value).toBeInstanceOf(Uint8Array);
  });

  it('hostile collection names are refused by every method and cannot reach SQL', async () => {
    await admin.query('CREATE TABLE canary (id INT PRIMARY KEY)');
    const hostile = ['x`; DROP TABLE canary; --', "t' OR '1'='1", 'a`b', 'canary; DROP TABLE canary', '`', 'a b', '_cutover_checkpoints'];
    for (const name of hostile) {
      await expect(store.ensureCollection(name), name).rejects.toBeInstanceOf(ConfigurationError);
      await expect(store.putMany(name, records(['k'])), name).rejects.toBeInstanceOf(ConfigurationError);
      await expect(store.count(name), name).rejects.toBeInstanceOf(ConfigurationError);
      await expect(store.getMany(name, ['k']), name).rejects.toBeInstanceOf(ConfigurationError);
      await expect(store.deleteMany(name, ['k']), name).rejects.toBeInstanceOf(ConfigurationError);
      await expect(store.dropCollection!(name), name).rejects.toBeInstanceOf(ConfigurationError);
    }
    expect(await rows('SHOW TABLES LIKE ?', ['canary'])).toHaveLength(1);
    // Names with "." and "-" are legal and become exactly that table, not a schema-qualified one.
    await store.putMany('odd.name-1', records(['k']));
    expect(await rows('SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [database, 'odd.name-1'])).toHaveLength(1);
    expect(await store.listCollections()).toContain('odd.name-1');
    expect(await store.listCollections()).not.toContain('canary'); // not a cutover table
  });
});

describe('mysql writes', () => {
  it('rejects a value bigger than max_allowed_packet with the reason, and the rest lands', async () => {
    const maxPacket = Number((await rows<{ m: string }>('SELECT @@max_allowed_packet AS m'))[0]!.m);
    const huge = JSON.stringify('x'.repeat(maxPacket));
    // Bytes at 60% of the packet: hex-escaped they would not fit, sent raw they do.
    const nearly = randomBytes(Math.floor(maxPacket * 0.6));
    const res = await store.putMany('packet', [
      { key: 'before', value: '1' }, { key: 'huge', value: huge }, { key: 'nearly', value: nearly }, { key: 'after', value: '2' },
    ]);
    expect(res.rejected.map((r) => r.key)).toEqual(['huge']);
    expect(res.rejected[0]!.reason).toMatch(/max_allowed_packet/);
    const got = await rows<{ k: Buffer; h: string }>('SELECT k, SHA2(COALESCE(v, b), 256) AS h FROM packet ORDER BY k');
    expect(got.map((r) => r.k.toString())).toEqual(['after', 'before', 'nearly']);
    expect(got[2]!.h).toBe(createHash('sha256').update(nearly).digest('hex'));
  });

  it('splits a batch into statements that each fit the packet', async () => {
    const batch = records(Array.from({ length: 300 }, (_, i) => `p${i}`), () => JSON.stringify('y'.repeat(200)));
    const plan = planUpsert('t', batch, 16 * 1024, 'here');
    expect(plan.statements.length).toBeGreaterThan(3);
    for (const s of plan.statements) expect(Buffer.byteLength(s.sql)).toBeLessThanOrEqual(16 * 1024);
    // A real batch spanning several statements: 24,000 records of ~1 KiB is more than one 16 MiB packet.
    const big = records(Array.from({ length: 24_000 }, (_, i) => `b${i}`), (k) => JSON.stringify({ k, pad: 'z'.repeat(1000) }));
    expect((await store.putMany('multi', big)).written).toBe(24_000);
    expect((await rows<{ n: number }>('SELECT COUNT(*) AS n FROM multi'))[0]!.n).toBe(24_000);
  });

  it('a checkpoint is invisible until its batch commits, and lost with it when the connection dies', async () => {
    const id = 'mig/atomic';
    await store.putMany('atomic', records(['a']), { checkpoint: { id, cursor: 'a' } });
    // Hold the checkpoint row so the next putMany stops after its rows, inside its transaction.
    const blocker = await mysql.createConnection({ uri: url });
    await blocker.query('SET SESSION innodb_lock_wait_timeout = 50');
    await blocker.beginTransaction();
    await blocker.query('SELECT * FROM _cutover_checkpoints WHERE id = ? FOR UPDATE', [Buffer.from(id)]);
    const pending = store.putMany('atomic', records(['b', 'c']), { checkpoint: { id, cursor: 'c' } });
    const outcome = pending.then(() => 'committed', (e: unknown) => e);
    let waiting: { id: number }[] = [];
    for (let i = 0; i < 200 && waiting.length === 0; i++) {
      waiting = await rows<{ id: number }>("SELECT id FROM information_schema.processlist WHERE info LIKE 'INSERT INTO `_cutover_checkpoints`%'");
      if (waiting.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(waiting).toHaveLength(1);
    // Rows b and c are written but not committed: nobody else sees them, nor the new cursor.
    expect((await rows<{ k: Buffer }>('SELECT k FROM atomic ORDER BY k')).map((r) => r.k.toString())).toEqual(['a']);
    expect((await rows<{ c: string }>('SELECT cursor_value AS c FROM _cutover_checkpoints WHERE id = ?', [Buffer.from(id)]))[0]!.c).toBe('a');
    // Kill the writer mid-transaction, as a crash would.
    await admin.query(`KILL ${waiting[0]!.id}`);
    await blocker.rollback();
    await blocker.end();
    expect(await outcome).toBeInstanceOf(Error);
    expect((await rows<{ k: Buffer }>('SELECT k FROM atomic ORDER BY k')).map((r) => r.k.toString())).toEqual(['a']);
    expect((await store.readCheckpoint!(id))?.cursor).toBe('a');
    // The retry commits both together.
    await store.putMany('atomic', records(['b', 'c']), { checkpoint: { id, cursor: 'c' } });
    expect((await rows<{ k: Buffer }>('SELECT k FROM atomic ORDER BY k')).map((r) => r.k.toString())).toEqual(['a', 'b', 'c']);
    expect((await rows<{ c: string }>('SELECT cursor_value AS c FROM _cutover_checkpoints WHERE id = ?', [Buffer.from(id)]))[0]!.c).toBe('c');
  });
});

describe('mysql connection', () => {
  it('opens mariadb: URLs, and refuses a missing database when creation is off', async () => {
    const other = createMysqlStore(url.replace(/^mysql:/, 'mariadb:'), {});
    expect(await other.count('order')).toBeGreaterThan(0);
    await other.close();
    const missing = createMysqlStore(MYSQL_URL.replace(/\/[^/?]*(\?|$)/, `/${database}_absent$1`), { create: false });
    await expect(missing.open()).rejects.toBeInstanceOf(ConfigurationError);
    await missing.close();
    expect(() => createMysqlStore('mysql://root@127.0.0.1:3306/', {})).toThrow(ConfigurationError);
  });
});
