import type { Staff } from '../support/staff.js';

/**
 * Calendars and enrollments for the attendance tests, written as superuser straight into
 * the pool branch (classes and their teachers come from `Staff.classTaughtBy`).
 */

/** Dates from `from` to `to` inclusive, as YYYY-MM-DD. */
export function datesBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = Date.parse(`${from}T00:00:00Z`); d <= Date.parse(`${to}T00:00:00Z`); d += 86_400_000)
    out.push(new Date(d).toISOString().slice(0, 10));
  return out;
}

/**
 * A school's calendar for the dates: weekdays instructional, weekends stored as `break`,
 * and the listed exceptions (e.g. holidays).
 */
export async function calendar(
  staff: Staff,
  tenantId: string,
  schoolId: string,
  sessionId: string,
  from: string,
  to: string,
  exceptions: Record<string, string> = {},
): Promise<void> {
  const db = await staff.db();
  for (const date of datesBetween(from, to)) {
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
    const kind = exceptions[date] ?? (weekday === 0 || weekday === 6 ? 'break' : 'instructional');
    await db.query(
      `insert into calendar_days (tenant_id, school_id, session_id, date, kind)
       values ($1, $2, $3, $4, $5)`,
      [tenantId, schoolId, sessionId, date, kind],
    );
  }
}

/** A school enrollment (membership) of a student. */
export async function enrollAtSchool(
  staff: Staff,
  tenantId: string,
  studentId: string,
  schoolId: string,
  sessionId: string,
  entryDate: string,
  exitDate: string | null = null,
): Promise<void> {
  const db = await staff.db();
  await db.query(
    `insert into school_enrollments (tenant_id, student_id, school_id, session_id, grade_level,
                                     entry_date, exit_date, status)
     values ($1, $2, $3, $4, '5', $5, $6, $7)`,
    [
      tenantId,
      studentId,
      schoolId,
      sessionId,
      entryDate,
      exitDate,
      exitDate ? 'withdrawn' : 'active',
    ],
  );
}

/** Moves a student's class enrollment dates. */
export async function classEnrollmentDates(
  staff: Staff,
  classId: string,
  studentId: string,
  entryDate: string,
  exitDate: string | null,
): Promise<void> {
  const db = await staff.db();
  const r = await db.query(
    `update class_enrollments set entry_date = $3, exit_date = $4
     where class_id = $1 and student_id = $2 and deleted_at is null`,
    [classId, studentId, entryDate, exitDate],
  );
  if (r.rowCount !== 1) throw new Error('no such class enrollment');
}

/** A tenant role that holds no permission at all. */
export async function emptyRole(staff: Staff, tenantId: string, key: string): Promise<void> {
  const db = await staff.db();
  await db.query(`insert into roles (tenant_id, key, name) values ($1, $2, 'No access')`, [
    tenantId,
    key,
  ]);
}

/** Live attendance rows of students on a date, in student order of the list. */
export async function recordsOn(
  staff: Staff,
  studentIds: string[],
  date: string,
): Promise<
  { student_id: string; status: string; period: string | null; class_id: string | null }[]
> {
  const db = await staff.db();
  const r = await db.query(
    `select student_id::text, status, period, class_id::text from attendance_records
     where student_id = any($1) and date = $2 and deleted_at is null
     order by array_position($1::uuid[], student_id), period nulls first`,
    [studentIds, date],
  );
  return r.rows;
}
