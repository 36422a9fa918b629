import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/stress/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start real worker threads; 2 test files at a time keeps a 2-core machine sane.
    maxWorkers: 2,
    pool: 'forks',
  },
});
