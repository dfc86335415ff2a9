import { z } from '@hono/zod-openapi';
import { sql, type SQL } from 'drizzle-orm';
import { rowsOf } from '../../../db/connection.js';
import * as t from '../../../db/schema/tenant.js';
import { classRules, rowScope, studentRules, type ScopeRules } from '../../auth/scope.js';
import { bandsOf, type GradeBand } from '../../grades/compute.js';
import type { ScoreRow } from '../../grades/score-lines.js';
import type { Ctx } from '../../resources/crud.js';
import { todayIn } from '../../../db/dates.js';
import { uuidList } from '../../resources/sql.js';

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

/**
 * Each class's grading scale: its own, else the tenant's default, else the A–F default
 * (bands highest minimum first).
 */
export async function scalesOf(
  c: Ctx,
  classIds: readonly string[],
): Promise<Map<string, GradeBand[]>> {
  const out = new Map<string, GradeBand[]>();
  if (classIds.length === 0) return out;
  const rows = rowsOf<{ id: string; bands: unknown }>(
    await c.get('tx').execute(sql`
      select c.id::text as id, coalesce(own.bands, dflt.bands) as bands
      from classes c
      left join grading_scales own
        on own.id = c.grading_scale_id and own.deleted_at is null
      left join lateral (
        select g.bands from grading_scales g
        where g.is_default and g.deleted_at is null order by g.id limit 1) dflt on true
      where c.id in ${uuidList(classIds)}`),
  );
  for (const r of rows) out.set(r.id, bandsOf(r.bands));
  return out;
}

/** Live scores on live assignments, filtered by `where` (on `s` scores, `a` assignments). */
export async function scoreRows(c: Ctx, where: SQL): Promise<ScoreRow[]> {
  return rowsOf<ScoreRow>(
    await c.get('tx').execute(sql`
      select s.student_id::text as student_id, a.class_id::text as class_id,
             s.assignment_id::text as assignment_id, s.points::float8 as points,
             a.points_possible::float8 as points_possible, a.weight::float8 as weight,
             a.due_date::text as due_date, s.is_late, s.is_missing, s.is_excused, s.comment
      from scores s
      join assignments a on a.id = s.assignment_id and a.deleted_at is null
      where s.deleted_at is null and ${where}`),
  );
}

/** Today in the school's time zone, else the tenant's. */
export async function schoolToday(c: Ctx, schoolId: string): Promise<string> {
  const [row] = rowsOf<{ timezone: string | null }>(
    await c.get('tx').execute(sql`select timezone from org_units where id = ${schoolId}::uuid`),
  );
  return todayIn(row?.timezone ?? c.get('tenant').timezone);
}

export const AsOfQuery = z.object({
  as_of: z.iso.date().optional().openapi({
    description:
      'Count assignments due on or before this date (YYYY-MM-DD); default today in the school’s time zone.',
  }),
});

export const Band = z
  .object({ letter: z.string(), min_percent: z.number(), points: z.number().nullable() })
  .openapi('GradeBand');
