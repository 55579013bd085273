import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/drivers/index.js';
import { verifyMatrix } from './matrix.js';

let dir = '';
verifyMatrix(
  'sqlite ↔ sqlite',
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'cutover-verify-sqlite-'));
    const source = await openStore(`sqlite:${join(dir, 'source.db')}`);
    const target = await openStore(`sqlite:${join(dir, 'target.db')}`);
    return { source, target, bytes: source.capabilities.bytesValues && target.capabilities.bytesValues };
  },
  async (pair) => {
    await pair.source.close();
    await pair.target.close();
    await rm(dir, { recursive: true, force: true });
  },
);
