import { z } from '@hono/zod-openapi';
import { and, eq, isNull, type SQL } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { ATTENDANCE_STATUSES } from '../../../db/schema/attendance.js';
import { classRules, rowScope, studentRules } from '../../auth/scope.js';
import { permissions, staffClassRules } from '../../attendance/scope.js';
import { ApiError } from '../../problems.js';
import type { Ctx } from '../../resources/crud.js';

export const period = z
  .string()
  .trim()
  .min(1)
  .max(32)
  .openapi({ description: 'A period of the day (e.g. `3`); omitted = the whole-day record.' });

export const AttendanceRecord = z
  .object({
    id: z.uuid(),
    student_id: z.uuid(),
    school_id: z.uuid(),
    class_id: z.uuid().nullable(),
    date: z.string().describe('YYYY-MM-DD in the school’s time zone'),
    period: z.string().nullable(),
    status: z.enum(ATTENDANCE_STATUSES),
    reason: z.string().nullable(),
    note: z.string().nullable(),
    marked_by: z.uuid().nullable(),
    marked_at: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('AttendanceRecord');

/** An attendance row as the API shows it. */
export function presentRecord(
  r: typeof t.attendanceRecords.$inferSelect,
): z.infer<typeof AttendanceRecord> {
  return {
    id: r.id,
    student_id: r.studentId,
    school_id: r.schoolId,
    class_id: r.classId,
    date: r.date,
    period: r.period,
    status: r.status,
    reason: r.reason,
    note: r.note,
    marked_by: r.markedBy,
    marked_at: r.markedAt.toISOString(),
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}

/**
 * The class with this id within the caller's reach for `permission`, or a 404. Reading,
 * families reach the classes of their students too (they then see only their own).
 */
export async function loadClass(
  c: Ctx,
  classId: string,
  mode: 'read' | 'write',
): Promise<{ id: string; schoolId: string; name: string; section: string }> {
  const tx = c.get('tx');
  const rules = mode === 'read' ? classRules(t.classes.id, t.classes.schoolId) : staffClassRules();
  const scope = await rowScope(tx, c.get('principal'), permissions[mode], rules);
  const [row] = await tx
    .select({
      id: t.classes.id,
      schoolId: t.classes.schoolId,
      name: t.classes.name,
      section: t.classes.section,
    })
    .from(t.classes)
    .where(and(eq(t.classes.id, classId), isNull(t.classes.deletedAt), scope))
    .limit(1);
  if (!row) throw new ApiError('not_found');
  return row;
}

/** Students whose attendance the caller may read: the relationship scope of students. */
export const readableStudents = (c: Ctx): Promise<SQL | undefined> =>
  rowScope(
    c.get('tx'),
    c.get('principal'),
    permissions.read,
    studentRules(t.students.id, t.students.schoolId),
  );

/** The kind of a school's calendar day, or null when its calendar has no such day. */
export async function dayKind(c: Ctx, schoolId: string, date: string) {
  const [row] = await c
    .get('tx')
    .select({ kind: t.calendarDays.kind })
    .from(t.calendarDays)
    .where(
      and(
        eq(t.calendarDays.schoolId, schoolId),
        eq(t.calendarDays.date, date),
        isNull(t.calendarDays.deletedAt),
      ),
    )
    .limit(1);
  return row?.kind ?? null;
}
