import { sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import { SCHOOL_KINDS } from '../../db/schema/org.js';
import type { TenantSchema } from '../../db/schema/types.js';

/** The kinds of org unit a family can apply to, as SQL. */
const SCHOOL_KIND_LIST = sql.raw(SCHOOL_KINDS.map((k) => `'${k}'`).join(', '));

export interface AdmissionsSchool {
  id: string;
  name: string;
  gradeLevels: string[];
  timezone: string | null;
}

/**
 * An active school of the current tenant (row-level security scopes the lookup, so another
 * tenant's id is simply not found), or null.
 */
export async function findActiveSchool(
  tx: Tx<TenantSchema>,
  id: string,
): Promise<AdmissionsSchool | null> {
  // Plain SQL: every public inquiry and tour runs this.
  const [row] = rowsOf<{
    id: string;
    name: string;
    grade_levels: string[];
    timezone: string | null;
  }>(
    await tx.execute(sql`
      select id, name, grade_levels, timezone from org_units
       where id = ${id} and kind in (${SCHOOL_KIND_LIST}) and status = 'active'
         and deleted_at is null`),
  );
  return row
    ? { id: row.id, name: row.name, gradeLevels: row.grade_levels, timezone: row.timezone }
    : null;
}

/**
 * The school's own spelling of a grade (`k` → `K`) when it offers that grade; null when it
 * lists grades and this is not one of them. A school that lists none accepts any grade.
 */
export function offeredGrade(school: AdmissionsSchool, grade: string): string | null {
  if (school.gradeLevels.length === 0) return grade;
  const wanted = grade.trim().toLowerCase();
  return school.gradeLevels.find((g) => g.toLowerCase() === wanted) ?? null;
}
