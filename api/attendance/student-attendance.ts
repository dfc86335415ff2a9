import { and, asc, between, eq, isNull, sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { TenantSchema } from '../../db/schema/types.js';

export interface StudentAttendanceInput {
  studentId: string;
  /** First and last day, inclusive (YYYY-MM-DD). */
  from: string;
  to: string;
  /** The zone of "today" for a school without its own. */
  tenantZone: string;
}

/**
 * A student's attendance records between two days, and the summary the attendance metric
 * counts (docs/metrics.md#attendance): membership days are the schools' instructional days up to today, in each
 * school's zone, on which the student was enrolled; a day's outcome is its whole-day record;
 * the attendance rate counts marked days only.
 */
export async function studentAttendance(tx: Tx<TenantSchema>, input: StudentAttendanceInput) {
  const { studentId: id, from, to, tenantZone } = input;
  const ar = t.attendanceRecords;
  const records = await tx
    .select()
    .from(ar)
    .where(and(eq(ar.studentId, id), between(ar.date, from, to), isNull(ar.deletedAt)))
    .orderBy(asc(ar.date), sql`${ar.period} asc nulls first`);
  const [sum] = rowsOf<{
    membership_days: number;
    present_days: number;
    absent_days: number;
    excused_absence_days: number;
    unmarked_days: number;
  }>(
    await tx.execute(sql`
      with member as (
        select distinct cd.school_id, cd.date
        from calendar_days cd
        join org_units o on o.id = cd.school_id
        where cd.deleted_at is null and cd.kind = 'instructional'
          and cd.date between ${from}::date and ${to}::date
          and cd.date <= (now() at time zone coalesce(o.timezone, ${tenantZone}))::date
          and exists (select 1 from school_enrollments se
                       where se.deleted_at is null and se.student_id = ${id}::uuid
                         and se.school_id = cd.school_id and se.entry_date <= cd.date
                         and (se.exit_date is null or se.exit_date >= cd.date)))
      select count(*)::int as membership_days,
        count(*) filter (where r.status in ('present', 'tardy', 'early_departure'))::int
          as present_days,
        count(*) filter (where r.status in ('absent', 'excused_absence'))::int as absent_days,
        count(*) filter (where r.status = 'excused_absence')::int as excused_absence_days,
        count(*) filter (where r.status is null)::int as unmarked_days
      from member m
      left join attendance_records r
        on r.student_id = ${id}::uuid and r.date = m.date
       and r.period is null and r.deleted_at is null`),
  );
  const membership = Number(sum?.membership_days ?? 0);
  const present = Number(sum?.present_days ?? 0);
  const marked = membership - Number(sum?.unmarked_days ?? 0);
  return {
    records,
    summary: {
      membership_days: membership,
      present_days: present,
      absent_days: Number(sum?.absent_days ?? 0),
      excused_absence_days: Number(sum?.excused_absence_days ?? 0),
      unmarked_days: Number(sum?.unmarked_days ?? 0),
      marked_days: marked,
      ada_percent: marked ? (present * 100) / marked : null,
      completeness_percent: membership ? (marked * 100) / membership : null,
    },
  };
}
