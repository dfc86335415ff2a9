import { eq, sql } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { schoolToday } from '../org/school-today.js';
import { ApiError } from '../problems.js';
import { mapDbErrors } from '../resources/db-errors.js';
import { finalGradeOf, percentOf } from './compute.js';
import { scalesOf, scoreRows } from './gradebook-reads.js';
import { lineOf } from './score-lines.js';

export type ClassEnrollmentRow = typeof t.classEnrollments.$inferSelect;

/**
 * Completes an active class enrollment (loaded within the caller's write scope and locked
 * by the caller) with its final grade: the percentage from the scores on assignments due
 * by the exit date (as the gradebook counts them), the letter and grade points from the
 * class's scale, the course's credits as attempted (earned unless the grade carries 0
 * points); status `completed`. Exit date default: today in the school's time zone, else
 * the tenant's. Refuses (ApiError) an enrollment that is not active (conflict), an exit
 * date before the entry date or no graded score due by it (unprocessable).
 */
export async function completeEnrollment(
  tx: Tx<TenantSchema>,
  args: { enrollment: ClassEnrollmentRow; exitDate?: string; tenantTimezone: string },
): Promise<ClassEnrollmentRow> {
  const before = args.enrollment;
  if (before.status !== 'active')
    throw new ApiError(
      'conflict',
      before.status === 'completed'
        ? 'The enrollment is already completed.'
        : `The enrollment is ${before.status}, not active.`,
    );
  const [cls] = await tx
    .select({ schoolId: t.classes.schoolId, credits: t.courses.credits })
    .from(t.classes)
    .innerJoin(t.courses, eq(t.courses.id, t.classes.courseId))
    .where(eq(t.classes.id, before.classId));
  if (!cls) throw new ApiError('not_found');
  const exitDate = args.exitDate ?? (await schoolToday(tx, cls.schoolId, args.tenantTimezone));
  if (exitDate < before.entryDate)
    throw new ApiError('unprocessable', 'The exit date is before the entry date.', {
      invalidParams: [{ name: 'exit_date', reason: 'Before the entry date.' }],
    });

  const scores = await scoreRows(
    tx,
    sql`s.student_id = ${before.studentId}::uuid and a.class_id = ${before.classId}::uuid`,
    args.tenantTimezone,
  );
  const percent = percentOf(scores.map(lineOf), exitDate);
  if (percent === null)
    throw new ApiError(
      'unprocessable',
      'No graded score is due by the exit date: there is no final grade to give.',
    );
  const bands = (await scalesOf(tx, [before.classId])).get(before.classId)!;
  const final = finalGradeOf(percent, bands, cls.credits);

  const [row] = await mapDbErrors(() =>
    tx
      .update(t.classEnrollments)
      .set({ status: 'completed', exitDate, ...final })
      .where(eq(t.classEnrollments.id, before.id))
      .returning(),
  );
  return row!;
}
