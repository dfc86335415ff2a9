/**
 * One refresh in its own process, so the benchmark can read the worker's peak RSS: the
 * same code the BullMQ processor runs (control-plane lookup, refresh, publish).
 * Usage: refresh-child.ts <controlPlaneUrl> <tenantId> <warehouseDir> <full|incremental>
 * Prints one line: `RESULT {"result": RefreshJobResult, "maxRssKiB": number}`.
 */
import { parseDbEnv } from '../db/env.js';
import { ControlPlane } from '../workers/control.js';
import { localLocks } from '../workers/locks.js';
import { createLogger } from '../workers/log.js';
import { runRefresh } from '../workers/processors/refresh.js';

const [controlUrl, tenantId, warehouseDir, mode] = process.argv.slice(2);
const directory = new ControlPlane(parseDbEnv({ DATABASE_URL: controlUrl }), { branchPoolMax: 1 });
try {
  const result = await runRefresh(
    { directory, locks: localLocks(), warehouseDir: warehouseDir!, log: createLogger('warn') },
    { tenantId, mode },
  );
  const maxRssKiB = process.resourceUsage().maxRSS;
  process.stdout.write(`RESULT ${JSON.stringify({ result, maxRssKiB })}\n`);
} finally {
  await directory.close();
}
