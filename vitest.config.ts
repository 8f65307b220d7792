import { defineConfig } from 'vitest/config';

/**
 * One project per test kind (STYLE principle 11). Only `integration` starts the
 * emulators (DynamoDB Local + fauxqs, once per run, see its globalSetup), so
 * `vitest run test/unit` never starts Java. A new test folder needs a project here.
 * `npm run coverage` adds v8 coverage of the product code, printed as a table.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at once even on 2 cores (vitest's default there is one): most suites wait on the
    // emulators, child processes and visibility timeouts, not on the CPU. 413 s instead of 742 s.
    maxWorkers: 2,
    coverage: {
      provider: 'v8',
      include: ['contracts/**', 'functions/**', 'lib/**', 'cli/**', 'common/**', 'agent/**', 'local/**'],
      reporter: ['text-summary', 'text'],
      reportsDirectory: 'coverage',
    },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'infra', include: ['test/infra/**/*.test.ts'] } },
      { extends: true, test: { name: 'agent', include: ['test/agent/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
        },
      },
    ],
  },
});
