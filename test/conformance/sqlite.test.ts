import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createSqliteStore } from '../../src/drivers/sqlite.js';
import { runConformance } from './suite.js';

const dir = mkdtempSync(join(tmpdir(), 'cutover-sqlite-conf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runConformance('sqlite (file)', { factory: async () => createSqliteStore(`sqlite:${join(dir, 'nested', 'conformance.db')}`, {}) });
runConformance('sqlite (:memory:)', { factory: async () => createSqliteStore('sqlite::memory:', {}) });
