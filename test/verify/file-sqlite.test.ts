import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openStore } from '../../src/drivers/index.js';
import { verifyMatrix } from './matrix.js';

// The dir layout scans in key order with ranges; the jsonl layout does not, which sends verify to hash partitions.
for (const layout of ['dir', 'jsonl'] as const) {
  let dir = '';
  verifyMatrix(
    `file (layout=${layout}) ↔ sqlite`,
    async () => {
      dir = await mkdtemp(join(tmpdir(), `cutover-verify-file-${layout}-`));
      const source = await openStore(`${pathToFileURL(join(dir, 'files')).href}?layout=${layout}`);
      const target = await openStore(`sqlite:${join(dir, 'target.db')}`);
      return { source, target, bytes: source.capabilities.bytesValues && target.capabilities.bytesValues };
    },
    async (pair) => {
      await pair.source.close();
      await pair.target.close();
      await rm(dir, { recursive: true, force: true });
    },
  );
}
