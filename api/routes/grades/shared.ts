import { z } from '@hono/zod-openapi';
import type { SQL } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { classRules, rowScope, studentRules, type ScopeRules } from '../../auth/scope.js';
import type { Ctx } from '../../resources/crud.js';

export const GRADE_PERMISSIONS = { read: 'grades.read', write: 'grades.write' } as const;
type Mode = keyof typeof GRADE_PERMISSIONS;

/** Classes whose grades the caller reaches: org roles by school, teachers their own classes. */
export const classScope = (c: Ctx, mode: Mode): Promise<SQL | undefined> =>
  rowScope(
    c.get('tx'),
    c.get('principal'),
    GRADE_PERMISSIONS[mode],
    classRules(t.classes.id, t.classes.schoolId),
  );

/**
 * Class enrollments whose grades the caller reaches: org roles those of classes within
 * their reach, teachers those of their own classes (every student in them), parents their
 * own children's, a student their own. A parent reaching a class through a child sees that
 * child's row of it and no other.
 */
export function enrollmentGradeRules(): ScopeRules {
  const ce = t.classEnrollments;
  const byClass = classRules(ce.classId);
  const byStudent = studentRules(ce.studentId);
  return {
    org: byClass.org,
    teacher: byClass.teacher,
    parent: byStudent.parent,
    student: byStudent.student,
  };
}

export const enrollmentScope = (c: Ctx, mode: Mode): Promise<SQL | undefined> =>
  rowScope(c.get('tx'), c.get('principal'), GRADE_PERMISSIONS[mode], enrollmentGradeRules());

/** Students whose grades the caller reaches (the relationship rules of student records). */
export const studentScope = (c: Ctx, mode: Mode): Promise<SQL | undefined> =>
  rowScope(
    c.get('tx'),
    c.get('principal'),
    GRADE_PERMISSIONS[mode],
    studentRules(t.students.id, t.students.schoolId),
  );

export const AsOfQuery = z.object({
  as_of: z.iso.date().optional().openapi({
    description:
      'Count assignments due on or before this date (YYYY-MM-DD); default today in the school’s time zone.',
  }),
});

export const Band = z
  .object({ letter: z.string(), min_percent: z.number(), points: z.number().nullable() })
  .openapi('GradeBand');
