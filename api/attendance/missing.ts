import { and, asc, eq, gte, isNull, lte, sql } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { Principal } from '../auth/principal.js';
import { orgReach, rowScope, withinReach } from '../auth/scope.js';
import { permissions, staffClassRules } from './scope.js';
import type { TenantSchema } from '../../db/schema/types.js';

/** Someone is enrolled on the day (no roster, nothing to take). */
const enrolledOn = (date: string, enrollments: 'school' | 'class', owner: unknown) =>
  enrollments === 'school'
    ? sql`exists (select 1 from school_enrollments se
                   where se.deleted_at is null and se.school_id = ${owner}
                     and se.entry_date <= ${date}::date
                     and (se.exit_date is null or se.exit_date >= ${date}::date))`
    : sql`exists (select 1 from class_enrollments ce
                   where ce.deleted_at is null and ce.class_id = ${owner}
                     and ce.entry_date <= ${date}::date
                     and (ce.exit_date is null or ce.exit_date >= ${date}::date))`;

/**
 * Within the principal's reach, on an instructional day: the schools with students enrolled
 * and no attendance record of any kind that day, and the active classes of a current term
 * with students enrolled and no record for the class that day.
 */
export async function missingAttendance(
  tx: Tx<TenantSchema>,
  input: { principal: Principal; date: string },
) {
  const { principal, date } = input;
  const cd = t.calendarDays;
  const instructional = (schoolId: typeof cd.schoolId | typeof t.classes.schoolId) =>
    and(
      eq(cd.schoolId, schoolId),
      eq(cd.date, date),
      eq(cd.kind, 'instructional'),
      isNull(cd.deletedAt),
    );

  const reach = await orgReach(tx, principal, permissions.read);
  const schools = await tx
    .select({ school_id: t.orgUnits.id, name: t.orgUnits.name })
    .from(cd)
    .innerJoin(t.orgUnits, and(eq(t.orgUnits.id, cd.schoolId), isNull(t.orgUnits.deletedAt)))
    .where(
      and(
        instructional(cd.schoolId),
        withinReach(reach, cd.schoolId),
        enrolledOn(date, 'school', cd.schoolId),
        sql`not exists (select 1 from attendance_records r
                         where r.deleted_at is null and r.school_id = ${cd.schoolId}
                           and r.date = ${date}::date)`,
      ),
    )
    .orderBy(asc(t.orgUnits.name), asc(t.orgUnits.id));

  const k = t.classes;
  const classes = await tx
    .select({ class_id: k.id, name: k.name, section: k.section, school_id: k.schoolId })
    .from(k)
    .innerJoin(cd, instructional(k.schoolId))
    .innerJoin(
      t.academicSessions,
      and(
        eq(t.academicSessions.id, k.sessionId),
        lte(t.academicSessions.startDate, date),
        gte(t.academicSessions.endDate, date),
      ),
    )
    .where(
      and(
        isNull(k.deletedAt),
        eq(k.status, 'active'),
        await rowScope(tx, principal, permissions.read, staffClassRules()),
        enrolledOn(date, 'class', k.id),
        sql`not exists (select 1 from attendance_records r
                         where r.deleted_at is null and r.class_id = ${k.id}
                           and r.date = ${date}::date)`,
      ),
    )
    .orderBy(asc(k.name), asc(k.section), asc(k.id));

  return { schools, classes };
}
