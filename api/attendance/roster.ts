import { and, asc, eq, gte, isNull, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { TenantSchema } from '../../db/schema/types.js';

/**
 * The students enrolled in a class on a day, within `studentScope`, by name, each with
 * their record for the day and period (none = the whole-day record), if taken.
 */
export async function classRoster(
  tx: Tx<TenantSchema>,
  input: { classId: string; date: string; period: string | null; studentScope: SQL | undefined },
) {
  const { classId, date, period } = input;
  const s = t.students;
  const ce = t.classEnrollments;
  const ar = t.attendanceRecords;
  return tx
    .select({
      id: s.id,
      studentNumber: s.studentNumber,
      firstName: s.firstName,
      lastName: s.lastName,
      preferredName: s.preferredName,
      gradeLevel: s.gradeLevel,
      record: ar,
    })
    .from(s)
    .innerJoin(
      ce,
      and(
        eq(ce.studentId, s.id),
        eq(ce.classId, classId),
        isNull(ce.deletedAt),
        lte(ce.entryDate, date),
        or(isNull(ce.exitDate), gte(ce.exitDate, date)),
      ),
    )
    .leftJoin(
      ar,
      and(
        eq(ar.studentId, s.id),
        eq(ar.date, date),
        sql`coalesce(${ar.period}, '') = ${period ?? ''}`,
        isNull(ar.deletedAt),
      ),
    )
    .where(and(isNull(s.deletedAt), input.studentScope))
    .orderBy(asc(s.lastName), asc(s.firstName), asc(s.id));
}
