// One vitest configuration for every package: each package's vitest.config.ts re-exports
// this, so `pnpm --filter ./packages/NAME test` and the root `pnpm test` behave the same.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Tests start real worker threads that busy-poll; on a 2-core machine, running test
    // files in parallel would only measure the scheduler. One file at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
    passWithNoTests: false,
  },
});
