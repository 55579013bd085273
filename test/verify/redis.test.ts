import { openStore } from '../../src/drivers/index.js';
import { redisUrlWithPrefix, runId, unlinkRedisPrefix } from '../helpers/services.js';
import { verifyMatrix } from './matrix.js';

// Redis scans in no order: verify must hash-partition, against a real SCAN.
const prefix = `${runId('verify')}:`;
verifyMatrix(
  'memory ↔ redis',
  async () => {
    const source = await openStore('memory:');
    const target = await openStore(redisUrlWithPrefix(prefix));
    return { source, target, bytes: target.capabilities.bytesValues };
  },
  async (pair) => {
    await pair.target.close();
    await unlinkRedisPrefix(prefix);
  },
);
