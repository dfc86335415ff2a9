/**
 * A worker process for the kill test: runs a refresh that parks after one table (inside the
 * warehouse transaction) and says so on stdout, so the parent can SIGKILL it there.
 * Usage: refresh-child.ts <tenantId> <branchUrl> <warehouseDir> <asOf> <stopAfterTable>
 */
import { refreshTenant } from '../../analytics/refresh.js';

const [tenantId, branchUrl, warehouseDir, asOf, stopAfter] = process.argv.slice(2);
await refreshTenant({
  tenantId: tenantId!,
  branchUrl: branchUrl!,
  warehouseDir: warehouseDir!,
  mode: 'incremental',
  asOf: asOf!,
  afterTable: async (table) => {
    if (table !== stopAfter) return;
    process.stdout.write(`stopped after ${table}\n`);
    await new Promise(() => undefined);
  },
});
