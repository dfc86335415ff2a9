import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { CLASS_ENROLLMENT_STATUSES } from '../../../db/schema/academic.js';
import { ASSIGNMENT_CATEGORIES } from '../../../db/schema/grades.js';
import type { AppEnv } from '../../app-env.js';
import { gradebookOf } from '../../grades/reports.js';
import { guarded, loadScoped, idParam } from '../../resources/crud.js';
import { logRecordAccess } from '../../resources/record-access.js';
import { problemResponses } from '../openapi.js';
import { AsOfQuery, Band, classScope, enrollmentScope } from './shared.js';
import { scalesOf, scoreRows } from '../../grades/gradebook-reads.js';
import { schoolToday } from '../../org/school-today.js';
import { SCORE_STATUSES } from '../../grades/score-lines.js';

const Cell = z
  .object({
    points: z.number().nullable(),
    status: z.enum(SCORE_STATUSES),
    comment: z.string().nullable(),
  })
  .nullable()
  .openapi('GradebookCell');

const Gradebook = z
  .object({
    class_id: z.uuid(),
    as_of: z.string(),
    scale: z.array(Band),
    assignments: z.array(
      z.object({
        id: z.uuid(),
        title: z.string(),
        category: z.enum(ASSIGNMENT_CATEGORIES),
        points_possible: z.number(),
        weight: z.number(),
        due_date: z.string(),
      }),
    ),
    students: z.array(
      z.object({
        student_id: z.uuid(),
        first_name: z.string(),
        last_name: z.string(),
        enrollment_status: z.enum(CLASS_ENROLLMENT_STATUSES),
        scores: z
          .array(Cell)
          .describe('One cell per assignment, in the order of `assignments`; null = no score.'),
        current_percent: z.number().nullable(),
        letter: z.string().nullable(),
      }),
    ),
  })
  .openapi('Gradebook');

export function registerGradebook(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'getClassGradebook',
      method: 'get',
      path: '/v1/classes/{id}/gradebook',
      tags: ['Grades'],
      summary: 'A class’s gradebook',
      description:
        'Students × assignments, with each student’s current percentage (weighted points over assignments due by `as_of`; excused and ungraded scores, and scores graded after `as_of` in the school’s time zone, left out; missing ones count 0) and its letter on the class’s grading scale (else the tenant default). Teachers see their own classes, staff their schools’, a parent or student only their own row. Each student shown is recorded in the record-access log.',
      middleware: guarded('grades.read'),
      request: { params: idParam('Class'), query: AsOfQuery },
      responses: {
        200: {
          description: 'The gradebook',
          content: { 'application/json': { schema: Gradebook } },
        },
        ...problemResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const cls = await loadScoped(c, { table: t.classes, scope: classScope }, id, 'read');
      const asOf =
        q.as_of ?? (await schoolToday(c.get('tx'), String(cls.schoolId), c.get('tenant').timezone));
      const tx = c.get('tx');
      const ce = t.classEnrollments;
      const students = await tx
        .select({
          studentId: ce.studentId,
          status: ce.status,
          exitDate: ce.exitDate,
          firstName: t.students.firstName,
          lastName: t.students.lastName,
        })
        .from(ce)
        .innerJoin(t.students, and(eq(t.students.id, ce.studentId), isNull(t.students.deletedAt)))
        .where(and(eq(ce.classId, id), isNull(ce.deletedAt), await enrollmentScope(c, 'read')))
        .orderBy(asc(t.students.lastName), asc(t.students.firstName), asc(ce.studentId));
      const assignments = await tx
        .select()
        .from(t.assignments)
        .where(and(eq(t.assignments.classId, id), isNull(t.assignments.deletedAt)))
        .orderBy(asc(t.assignments.dueDate), asc(t.assignments.createdAt), asc(t.assignments.id));
      const scores = await scoreRows(
        c.get('tx'),
        sql`a.class_id = ${id}::uuid`,
        c.get('tenant').timezone,
      );
      const bands = (await scalesOf(c.get('tx'), [id])).get(id)!;

      const body = gradebookOf({ classId: id, asOf, bands, assignments, students, scores });
      await logRecordAccess(
        c,
        students.map((s) => s.studentId),
        'list',
      );
      return c.json(body, 200);
    },
  );
}
