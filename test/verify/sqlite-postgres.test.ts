import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore } from '../../src/drivers/index.js';
import { POSTGRES_URL, runId } from '../helpers/services.js';
import { verifyMatrix } from './matrix.js';

const schema = runId('verify');
let dir = '';
verifyMatrix(
  'sqlite ↔ postgres',
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'cutover-verify-sqlite-pg-'));
    const source = await openStore(`sqlite:${join(dir, 'source.db')}`);
    const target = await openStore(`${POSTGRES_URL}?schema=${schema}&pool=3`);
    return { source, target, bytes: source.capabilities.bytesValues && target.capabilities.bytesValues };
  },
  async (pair) => {
    await pair.source.close();
    await pair.target.close();
    await rm(dir, { recursive: true, force: true });
    const client = new pg.Client(POSTGRES_URL);
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    } finally {
      await client.end();
    }
  },
);
