import pg from 'pg';
import { createPostgresStore } from '../../src/drivers/postgres.js';
import { POSTGRES_URL, runId } from '../helpers/services.js';
import { runConformance } from './suite.js';

const schema = runId('pg');

runConformance('postgres', {
  factory: async () => createPostgresStore(`${POSTGRES_URL}?schema=${schema}&pool=3`, {}),
  teardown: async () => {
    const client = new pg.Client(POSTGRES_URL);
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    } finally {
      await client.end();
    }
  },
});
