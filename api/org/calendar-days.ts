import { isNull, sql } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import type { CALENDAR_DAY_KINDS } from '../../db/schema/org.js';
import * as t from '../../db/schema/tenant.js';
import { mapDbErrors } from '../resources/db-errors.js';
import type { TenantSchema } from '../../db/schema/types.js';

/**
 * Creates or replaces the kind and note of each listed day of a school's calendar; days not
 * listed are left as they are. Returns the days as stored, in date order.
 */
export async function upsertCalendarDays(
  tx: Tx<TenantSchema>,
  input: {
    tenantId: string;
    schoolId: string;
    sessionId: string;
    days: readonly {
      date: string;
      kind?: (typeof CALENDAR_DAY_KINDS)[number] | undefined;
      note?: string | null | undefined;
    }[];
  },
) {
  const rows = await mapDbErrors(() =>
    tx
      .insert(t.calendarDays)
      .values(
        input.days.map((d) => ({
          tenantId: input.tenantId,
          schoolId: input.schoolId,
          sessionId: input.sessionId,
          date: d.date,
          kind: d.kind,
          note: d.note ?? null,
        })),
      )
      .onConflictDoUpdate({
        target: [t.calendarDays.tenantId, t.calendarDays.schoolId, t.calendarDays.date],
        targetWhere: isNull(t.calendarDays.deletedAt),
        set: {
          kind: sql`excluded.kind`,
          note: sql`excluded.note`,
          sessionId: sql`excluded.session_id`,
        },
      })
      .returning(),
  );
  return rows.sort((a, b) => (a.date < b.date ? -1 : 1));
}
