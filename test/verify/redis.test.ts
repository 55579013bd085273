import { Redis } from 'ioredis';
import { openStore } from '../../src/drivers/index.js';
import { REDIS_URL, runId } from '../helpers/services.js';
import { verifyMatrix } from './matrix.js';

// Redis scans in no order: verify must hash-partition, against a real SCAN.
const prefix = `${runId('verify')}:`;
verifyMatrix(
  'memory ↔ redis',
  async () => {
    const source = await openStore('memory:');
    const target = await openStore(`${REDIS_URL}${REDIS_URL.includes('?') ? '&' : '?'}prefix=${encodeURIComponent(prefix)}`);
    return { source, target, bytes: target.capabilities.bytesValues };
  },
  async (pair) => {
    await pair.target.close();
    const client = new Redis(REDIS_URL);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length) await client.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
  },
);
