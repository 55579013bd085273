import { Redis } from 'ioredis';
import { createRedisStore } from '../../src/drivers/redis.js';
import { REDIS_URL, runId } from '../helpers/services.js';
import { runConformance } from './suite.js';

// A key prefix of its own; every key under it is removed afterwards.
const prefix = `${runId('rd')}:`;

runConformance('redis', {
  factory: async () => createRedisStore(`${REDIS_URL}${REDIS_URL.includes('?') ? '&' : '?'}prefix=${encodeURIComponent(prefix)}`, {}),
  teardown: async () => {
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
});
