import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { TenantSchema } from '../services.js';

/** Org-unit kinds a family can apply to. */
export const SCHOOL_KINDS = ['school', 'microschool', 'campus'] as const;

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
  const [row] = await tx
    .select({
      id: t.orgUnits.id,
      name: t.orgUnits.name,
      gradeLevels: t.orgUnits.gradeLevels,
      timezone: t.orgUnits.timezone,
    })
    .from(t.orgUnits)
    .where(
      and(
        eq(t.orgUnits.id, id),
        inArray(t.orgUnits.kind, [...SCHOOL_KINDS]),
        eq(t.orgUnits.status, 'active'),
        isNull(t.orgUnits.deletedAt),
      ),
    );
  return row ?? null;
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
