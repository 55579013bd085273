import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createFileStore } from '../../src/drivers/file.js';
import { runConformance } from './suite.js';

for (const layout of ['dir', 'jsonl', 'json'] as const) {
  let dir = '';
  runConformance(`file (layout=${layout})`, {
    factory: async () => {
      dir = await mkdtemp(join(tmpdir(), `cutover-file-${layout}-`));
      return createFileStore(`${pathToFileURL(join(dir, 'store')).href}?layout=${layout}`, {});
    },
    teardown: async () => {
      await rm(dir, { recursive: true, force: true });
    },
  });
}
