import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests against the shared PostgreSQL/MariaDB/Redis each use their own schema/database/prefix,
    // so files may run in parallel; the machine has 2 cores.
    maxWorkers: 2,
    globalSetup: ['test/global-setup.ts'],
  },
});
