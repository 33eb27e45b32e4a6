import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    // Native modules (Temporal's core bridge) need real processes, not worker threads.
    pool: 'forks',
    // Two cores: each workflow test file runs its own Temporal server.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    env: { LOG_LEVEL: 'warn' },
  },
});
