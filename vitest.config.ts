import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests run against real PostgreSQL, Redis, DuckDB and workerd; startup can be slow.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Forks, not threads: native modules (DuckDB, pg) and process-wide driver state stay isolated.
    pool: 'forks',
  },
});
