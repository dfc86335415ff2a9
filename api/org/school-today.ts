import { eq } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import { todayIn } from '../../db/dates.js';
import * as t from '../../db/schema/tenant.js';
import type { TenantSchema } from '../../db/schema/types.js';

/**
 * Today in the school's time zone, else the tenant's (also for no school at all); see
 * docs/metrics.md#rules-for-every-figure.
 */
export async function schoolToday(
  tx: Tx<TenantSchema>,
  schoolId: string | null,
  tenantZone: string,
): Promise<string> {
  if (!schoolId) return todayIn(tenantZone);
  const [row] = await tx
    .select({ tz: t.orgUnits.timezone })
    .from(t.orgUnits)
    .where(eq(t.orgUnits.id, schoolId));
  return todayIn(row?.tz ?? tenantZone);
}
