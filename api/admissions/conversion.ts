import { and, asc, isNull, sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { TenantSchema } from '../../db/schema/types.js';

/**
 * The school year a student can be enrolled in at a school: a `school_year` session of
 * the school itself or of one of its ancestors (a network shares one calendar year).
 * Null when there is no such session in this tenant.
 */
export async function enrollmentSession(
  tx: Tx<TenantSchema>,
  schoolId: string,
  sessionId: string,
): Promise<{ id: string; startDate: string; endDate: string } | null> {
  const rows = rowsOf<{ id: string; start_date: string; end_date: string }>(
    await tx.execute(sql`
      with recursive up(id, parent_id) as (
        select id, parent_id from org_units where id = ${schoolId}::uuid and deleted_at is null
        union
        select o.id, o.parent_id from org_units o join up on o.id = up.parent_id
        where o.deleted_at is null
      )
      select s.id::text, s.start_date::text, s.end_date::text
      from academic_sessions s
      where s.id = ${sessionId}::uuid and s.deleted_at is null and s.kind = 'school_year'
        and s.org_unit_id in (select id from up)`),
  );
  const row = rows[0];
  return row ? { id: row.id, startDate: row.start_date, endDate: row.end_date } : null;
}

/** The tenant's oldest guardian with this email (any case), or null. */
export async function guardianByEmail(
  tx: Tx<TenantSchema>,
  email: string,
): Promise<{ id: string } | null> {
  const [row] = await tx
    .select({ id: t.guardians.id })
    .from(t.guardians)
    .where(and(sql`lower(${t.guardians.email}) = lower(${email})`, isNull(t.guardians.deletedAt)))
    .orderBy(asc(t.guardians.createdAt), asc(t.guardians.id))
    .limit(1);
  return row ?? null;
}

/**
 * A lead's single guardian name as first and last name: the last word is the last name.
 * Null when there is only one word (the caller must say which it is).
 */
export function splitName(full: string): { firstName: string; lastName: string } | null {
  const words = full.trim().split(/\s+/).filter(Boolean);
  if (words.length < 2) return null;
  return { firstName: words.slice(0, -1).join(' '), lastName: words.at(-1)! };
}
