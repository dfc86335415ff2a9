import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { CLASS_ENROLLMENT_STATUSES } from '../../../db/schema/academic.js';
import type { AppEnv } from '../../app-env.js';
import { studentGradesOf } from '../../grades/reports.js';
import { guarded, loadScoped, idParam } from '../../resources/crud.js';
import { logRecordAccess } from '../../resources/record-access.js';
import { problemResponses } from '../openapi.js';
import { AsOfQuery, enrollmentScope, studentScope } from './shared.js';
import { scalesOf, scoreRows } from '../../grades/gradebook-reads.js';
import { schoolToday } from '../../org/school-today.js';
import { uuidList } from '../../resources/sql.js';

const Final = z
  .object({
    percent: z.number().nullable(),
    grade: z.string().nullable(),
    grade_points: z.number().nullable(),
    credits_attempted: z.number().nullable(),
    credits_earned: z.number().nullable(),
    exit_date: z.string().nullable(),
  })
  .openapi('FinalGrade');

const StudentGrades = z
  .object({
    student_id: z.uuid(),
    as_of: z.string(),
    gpa: z
      .number()
      .nullable()
      .describe(
        'Σ(grade points × credits attempted) ÷ Σ credits attempted over the completed classes listed whose exit date is not after as_of (4.0 scale); null when none counts.',
      ),
    credits_attempted: z.number(),
    credits_earned: z.number(),
    classes: z.array(
      z.object({
        enrollment_id: z.uuid(),
        class_id: z.uuid(),
        class_name: z.string(),
        course_id: z.uuid(),
        course_name: z.string(),
        subject: z.string(),
        session_id: z.uuid(),
        status: z.enum(CLASS_ENROLLMENT_STATUSES),
        current_percent: z
          .number()
          .nullable()
          .describe('Null when nothing is graded, or the class was dropped or withdrawn by as_of.'),
        letter: z.string().nullable(),
        final: Final.nullable().describe('Set once the enrollment is completed.'),
      }),
    ),
  })
  .openapi('StudentGrades');

export function registerStudentGrades(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'getStudentGrades',
      method: 'get',
      path: '/v1/students/{id}/grades',
      tags: ['Grades'],
      summary: 'A student’s grades',
      description:
        'Per class: the current percentage as of `as_of` (as in the gradebook: scores graded after it left out) and letter — none for a class dropped or withdrawn by as_of — and the final grade once the enrollment is completed; plus the GPA over the completed classes listed whose final grade is dated by as_of. Teachers see their own classes of the student, staff their schools’ classes, parents and the student every class. Recorded in the record-access log.',
      middleware: guarded('grades.read'),
      request: { params: idParam('Student'), query: AsOfQuery },
      responses: {
        200: {
          description: 'The student’s grades',
          content: { 'application/json': { schema: StudentGrades } },
        },
        ...problemResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const student = await loadScoped(c, { table: t.students, scope: studentScope }, id, 'read');
      const asOf =
        q.as_of ??
        (await schoolToday(c.get('tx'), String(student.schoolId), c.get('tenant').timezone));
      const ce = t.classEnrollments;
      const enrollments = await c
        .get('tx')
        .select({
          id: ce.id,
          classId: ce.classId,
          status: ce.status,
          exitDate: ce.exitDate,
          finalPercent: ce.finalPercent,
          finalGrade: ce.finalGrade,
          gradePoints: ce.gradePoints,
          creditsAttempted: ce.creditsAttempted,
          creditsEarned: ce.creditsEarned,
          className: t.classes.name,
          courseId: t.courses.id,
          courseName: t.courses.name,
          subject: t.courses.subject,
          courseCredits: t.courses.credits,
          sessionId: t.classes.sessionId,
        })
        .from(ce)
        .innerJoin(t.classes, eq(t.classes.id, ce.classId))
        .innerJoin(t.courses, eq(t.courses.id, t.classes.courseId))
        .innerJoin(t.academicSessions, eq(t.academicSessions.id, t.classes.sessionId))
        .where(
          and(
            eq(ce.studentId, id),
            isNull(ce.deletedAt),
            isNull(t.classes.deletedAt),
            await enrollmentScope(c, 'read'),
          ),
        )
        .orderBy(asc(t.academicSessions.startDate), asc(t.classes.name), asc(ce.id));
      const classIds = enrollments.map((e) => e.classId);
      const scales = await scalesOf(c.get('tx'), classIds);
      const scores =
        classIds.length === 0
          ? []
          : await scoreRows(
              c.get('tx'),
              sql`s.student_id = ${id}::uuid and a.class_id in ${uuidList(classIds)}`,
              c.get('tenant').timezone,
            );

      const body = studentGradesOf({ studentId: id, asOf, enrollments, scales, scores });
      await logRecordAccess(c, [id], 'read');
      return c.json(body, 200);
    },
  );
}
