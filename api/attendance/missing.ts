import { and, asc, eq, isNull, sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { Principal } from '../auth/principal.js';
import { orgReach, rowScope, withinReach } from '../auth/scope.js';
import { permissions, staffClassRules } from './scope.js';
import type { TenantSchema } from '../../db/schema/types.js';

/** Someone is enrolled on the day (no roster, nothing to take). */
const enrolledOn = (day: SQL, enrollments: 'school' | 'class', owner: unknown) =>
  enrollments === 'school'
    ? sql`exists (select 1 from school_enrollments se
                   where se.deleted_at is null and se.school_id = ${owner}
                     and se.entry_date <= ${day}
                     and (se.exit_date is null or se.exit_date >= ${day}))`
    : sql`exists (select 1 from class_enrollments ce
                   where ce.deleted_at is null and ce.class_id = ${owner}
                     and ce.entry_date <= ${day}
                     and (ce.exit_date is null or ce.exit_date >= ${day}))`;

/**
 * The day asked about at a school: `date`, else today in the school's time zone (the
 * tenant's when it has none) — each school its own today (docs/metrics.md#rules-for-every-figure).
 */
function dayAt(date: string | null, tenantZone: string, school: unknown): SQL {
  if (date !== null) return sql`${date}::date`;
  return sql`(now() at time zone coalesce(
    (select z.timezone from org_units z where z.id = ${school}), ${tenantZone}::text))::date`;
}

/**
 * Within the principal's reach, on an instructional day: the schools with students enrolled
 * and no attendance record of any kind that day, and the active classes of a current term
 * with students enrolled and no record for the class that day. The day is `date`, else each
 * school's own today in its time zone; every row says which day it is about.
 */
export async function missingAttendance(
  tx: Tx<TenantSchema>,
  input: { principal: Principal; date: string | null; tenantZone: string },
) {
  const { principal, date, tenantZone } = input;
  const cd = t.calendarDays;
  const instructional = (schoolId: typeof cd.schoolId | typeof t.classes.schoolId, day: SQL) =>
    and(
      eq(cd.schoolId, schoolId),
      sql`${cd.date} = ${day}`,
      eq(cd.kind, 'instructional'),
      isNull(cd.deletedAt),
    );

  const reach = await orgReach(tx, principal, permissions.read);
  const schoolDay = dayAt(date, tenantZone, cd.schoolId);
  const schools = await tx
    .select({
      school_id: t.orgUnits.id,
      name: t.orgUnits.name,
      date: sql<string>`${cd.date}::text`,
    })
    .from(cd)
    .innerJoin(t.orgUnits, and(eq(t.orgUnits.id, cd.schoolId), isNull(t.orgUnits.deletedAt)))
    .where(
      and(
        instructional(cd.schoolId, schoolDay),
        withinReach(reach, cd.schoolId),
        enrolledOn(sql`${cd.date}`, 'school', cd.schoolId),
        sql`not exists (select 1 from attendance_records r
                         where r.deleted_at is null and r.school_id = ${cd.schoolId}
                           and r.date = ${cd.date})`,
      ),
    )
    .orderBy(asc(t.orgUnits.name), asc(t.orgUnits.id));

  const k = t.classes;
  const classDay = dayAt(date, tenantZone, k.schoolId);
  const classes = await tx
    .select({
      class_id: k.id,
      name: k.name,
      section: k.section,
      school_id: k.schoolId,
      date: sql<string>`${cd.date}::text`,
    })
    .from(k)
    .innerJoin(cd, instructional(k.schoolId, classDay))
    .innerJoin(
      t.academicSessions,
      and(
        eq(t.academicSessions.id, k.sessionId),
        sql`${t.academicSessions.startDate} <= ${cd.date}`,
        sql`${t.academicSessions.endDate} >= ${cd.date}`,
      ),
    )
    .where(
      and(
        isNull(k.deletedAt),
        eq(k.status, 'active'),
        await rowScope(tx, principal, permissions.read, staffClassRules()),
        enrolledOn(sql`${cd.date}`, 'class', k.id),
        sql`not exists (select 1 from attendance_records r
                         where r.deleted_at is null and r.class_id = ${k.id}
                           and r.date = ${cd.date})`,
      ),
    )
    .orderBy(asc(k.name), asc(k.section), asc(k.id));

  return { schools, classes };
}
