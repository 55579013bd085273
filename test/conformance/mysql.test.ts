import mysql from 'mysql2/promise';
import { createMysqlStore } from '../../src/drivers/mysql.js';
import { MYSQL_URL, runId } from '../helpers/services.js';
import { runConformance } from './suite.js';

// A database of its own, created by the store (OpenOptions.create) and dropped afterwards.
const database = runId('my');
const url = MYSQL_URL.replace(/\/[^/?]*(\?|$)/, `/${database}$1`);

runConformance('mysql', {
  factory: async () => createMysqlStore(url, {}),
  // The server's max_allowed_packet is 16 MiB by default; a 16 MiB value is rejected by design
  // (test/drivers/mysql-packet.test.ts), so the suite's big value stays just under it.
  bigValueBytes: 15 * 1024 * 1024,
  teardown: async () => {
    const admin = await mysql.createConnection(MYSQL_URL);
    try {
      await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
    } finally {
      await admin.end();
    }
  },
});
