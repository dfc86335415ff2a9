/**
 * One refresh in its own process, so the benchmark can read the worker's peak RSS: the
 * same code the BullMQ processor runs (control-plane lookup, refresh, publish), with the
 * worker's DuckDB settings (`DUCKDB_MEMORY_LIMIT`, `DUCKDB_THREADS`) from the environment.
 * Usage: refresh-child.ts <controlPlaneUrl> <tenantId> <warehouseDir> <full|incremental>
 * Prints one line: `RESULT {"result": RefreshJobResult, "maxRssKiB": number}`.
 */
import { ControlPlane } from '../workers/control.js';
import { parseWorkerConfig } from '../workers/env.js';
import { localLocks } from '../workers/locks.js';
import { createLogger } from '../workers/log.js';
import { runRefresh } from '../workers/processors/refresh.js';

const [controlUrl, tenantId, warehouseDir, mode] = process.argv.slice(2);
const config = parseWorkerConfig(
  { ...process.env, NODE_ENV: 'development', DATABASE_URL: controlUrl },
  { requireRedis: false },
);
const directory = new ControlPlane(config.db, { branchPoolMax: 1 });
try {
  const result = await runRefresh(
    {
      directory,
      locks: localLocks(),
      warehouseDir: warehouseDir!,
      log: createLogger('warn'),
      duckdb: {
        ...(config.DUCKDB_MEMORY_LIMIT ? { memoryLimit: config.DUCKDB_MEMORY_LIMIT } : {}),
        ...(config.DUCKDB_THREADS ? { threads: config.DUCKDB_THREADS } : {}),
      },
    },
    { tenantId, mode },
  );
  const maxRssKiB = process.resourceUsage().maxRSS;
  process.stdout.write(`RESULT ${JSON.stringify({ result, maxRssKiB })}\n`);
} finally {
  await directory.close();
}
