import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // Tests spawn processes and load native addons (better-sqlite3): child processes, not worker threads.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    // File parallelism stays on (default: one worker per available core).
    // Two projects, one `npm test`: unit tests need no database, so `npx vitest run test/unit` starts no server.
    projects: [
      // tmp-leftovers gives the run a private TMPDIR and fails it, naming them, if tests leave files there.
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], globalSetup: ['test/helpers/tmp-leftovers.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'database',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          // Makes sure a PostgreSQL server answers (starting a throwaway cluster if needed) and provides its URL.
          globalSetup: ['test/helpers/tmp-leftovers.ts', 'test/helpers/global-setup.ts'],
        },
      },
    ],
  },
})
