/**
 * A refresh worker in its own process, so the benchmark can read its peak RSS: the same code
 * the BullMQ processor runs (control-plane lookup, refresh, publish), with the worker's
 * DuckDB settings (`DUCKDB_MEMORY_LIMIT`, `DUCKDB_THREADS`) from the environment.
 *
 * Like a worker, the process lives across refreshes: each line on stdin (`full` or
 * `incremental`) runs one refresh of the tenant, answered by one line on stdout,
 * `RESULT {"result": RefreshJobResult, "maxRssKiB": number}` (peak RSS so far). It exits when
 * stdin closes.
 * Usage: refresh-child.ts <controlPlaneUrl> <tenantId> <warehouseDir>
 */
import { createInterface } from 'node:readline';
import { ControlPlane } from '../workers/control.js';
import { parseWorkerConfig } from '../workers/env.js';
import { localLocks } from '../workers/locks.js';
import { createLogger } from '../db/log.js';
import { runRefresh } from '../workers/processors/refresh.js';

const [controlUrl, tenantId, warehouseDir] = process.argv.slice(2);
const config = parseWorkerConfig(
  { ...process.env, NODE_ENV: 'development', DATABASE_URL: controlUrl },
  { requireRedis: false },
);
const directory = new ControlPlane(config.db, { branchPoolMax: 1 });
const deps = {
  directory,
  locks: localLocks(),
  warehouseDir: warehouseDir!,
  log: createLogger('warn'),
  duckdb: {
    ...(config.DUCKDB_MEMORY_LIMIT ? { memoryLimit: config.DUCKDB_MEMORY_LIMIT } : {}),
    ...(config.DUCKDB_THREADS ? { threads: config.DUCKDB_THREADS } : {}),
  },
};
try {
  for await (const line of createInterface({ input: process.stdin })) {
    const mode = line.trim();
    if (mode !== 'full' && mode !== 'incremental') continue;
    const result = await runRefresh(deps, { tenantId, mode });
    const maxRssKiB = process.resourceUsage().maxRSS;
    process.stdout.write(`RESULT ${JSON.stringify({ result, maxRssKiB })}\n`);
  }
} finally {
  await directory.close();
}
