import { createRedisStore } from '../../src/drivers/redis.js';
import { redisUrlWithPrefix, runId, unlinkRedisPrefix } from '../helpers/services.js';
import { runConformance } from './suite.js';

// A key prefix of its own; every key under it is removed afterwards.
const prefix = `${runId('rd')}:`;

runConformance('redis', {
  factory: async () => createRedisStore(redisUrlWithPrefix(prefix), {}),
  teardown: async () => {
    await unlinkRedisPrefix(prefix);
  },
});
