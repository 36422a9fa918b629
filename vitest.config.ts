import { defineConfig } from 'vitest/config';

// `npm run stress` (COHERENT_STRESS=1) runs the soaks under test/stress; the default run skips them.
const stress = Boolean(process.env.COHERENT_STRESS);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: stress ? ['node_modules/**'] : ['test/stress/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start real worker threads; 2 test files at a time keeps a 2-core machine sane.
    maxWorkers: 2,
    pool: 'forks',
  },
});
