/**
 * Holds a tenant's warehouse open (DuckDB's per-file write lock) for a while, then exits:
 * another process trying to open it must wait, not fail.
 * Usage: hold-child.ts <warehouseDir> <tenantId> <holdMs>
 */
import { openWarehouse } from '../../analytics/warehouse.js';

const [dir, tenantId, holdMs] = process.argv.slice(2);
const wh = await openWarehouse({ dir: dir!, tenantId: tenantId! });
process.stdout.write('holding\n');
await new Promise((r) => setTimeout(r, Number(holdMs)));
await wh.close();
