import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { eq, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { CLASS_ENROLLMENT_STATUSES } from '../../../db/schema/academic.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { finalGradeOf, percentOf } from '../../grades/compute.js';
import { ApiError } from '../../problems.js';
import { guarded, idParam, loadScoped, present, presentAs } from '../../resources/crud.js';
import { mapDbErrors } from '../../resources/db-errors.js';
import { changedFields } from '../../resources/json.js';
import { problemResponses } from '../openapi.js';
import { enrollmentScope, scalesOf, schoolToday, scoreRows } from './shared.js';
import { lineOf } from '../../grades/score-lines.js';

const CompleteBody = z
  .object({
    exit_date: z.iso.date().optional().openapi({
      description:
        'The last day (YYYY-MM-DD); default today in the school’s time zone. Assignments due by it count.',
    }),
  })
  .openapi('EnrollmentComplete');

const Completed = z
  .object({
    id: z.uuid(),
    class_id: z.uuid(),
    student_id: z.uuid(),
    status: z.enum(CLASS_ENROLLMENT_STATUSES),
    entry_date: z.string(),
    exit_date: z.string().nullable(),
    final_percent: z.number().nullable(),
    final_grade: z.string().nullable(),
    grade_points: z.number().nullable(),
    credits_attempted: z.number().nullable(),
    credits_earned: z.number().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('CompletedEnrollment');

const enrollments = { table: t.classEnrollments, scope: enrollmentScope };

export function registerCompleteEnrollment(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'completeEnrollment',
      method: 'post',
      path: '/v1/enrollments/{id}/complete',
      tags: ['Grades'],
      summary: 'Complete a class enrollment with its final grade',
      description:
        'Computes the final percentage from the scores on assignments due by the exit date (as the gradebook does), the letter and grade points from the class’s grading scale (else the tenant default), and the course’s credits as attempted (earned unless the grade carries 0 points); sets status `completed` and the exit date. An enrollment that is not active answers 409; one with no graded score 422. Audited.',
      middleware: guarded('grades.write'),
      request: {
        params: idParam('Class enrollment'),
        body: { content: { 'application/json': { schema: CompleteBody } }, required: false },
      },
      responses: {
        200: {
          description: 'The completed enrollment',
          content: { 'application/json': { schema: Completed } },
        },
        ...problemResponses(400, 401, 403, 404, 409, 422),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json') ?? {};
      const before = await loadScoped(c, enrollments, id, 'write', { lock: true });
      if (before.status !== 'active')
        throw new ApiError(
          'conflict',
          before.status === 'completed'
            ? 'The enrollment is already completed.'
            : `The enrollment is ${String(before.status)}, not active.`,
        );
      const tx = c.get('tx');
      const classId = String(before.classId);
      const [cls] = await tx
        .select({ schoolId: t.classes.schoolId, credits: t.courses.credits })
        .from(t.classes)
        .innerJoin(t.courses, eq(t.courses.id, t.classes.courseId))
        .where(eq(t.classes.id, classId));
      if (!cls) throw new ApiError('not_found');
      const exitDate = body.exit_date ?? (await schoolToday(c, cls.schoolId));
      if (exitDate < String(before.entryDate))
        throw new ApiError('unprocessable', 'The exit date is before the entry date.', {
          invalidParams: [{ name: 'exit_date', reason: 'Before the entry date.' }],
        });

      const scores = await scoreRows(
        c,
        sql`s.student_id = ${String(before.studentId)}::uuid and a.class_id = ${classId}::uuid`,
      );
      const percent = percentOf(scores.map(lineOf), exitDate);
      if (percent === null)
        throw new ApiError(
          'unprocessable',
          'No graded score is due by the exit date: there is no final grade to give.',
        );
      const bands = (await scalesOf(c, [classId])).get(classId)!;
      const final = finalGradeOf(percent, bands, cls.credits);

      const [row] = await mapDbErrors(() =>
        tx
          .update(t.classEnrollments)
          .set({ status: 'completed', exitDate, ...final })
          .where(eq(t.classEnrollments.id, id))
          .returning(),
      );
      const json = presentAs(Completed, { table: t.classEnrollments }, row!);
      const diff = changedFields(present({ table: t.classEnrollments }, before), json);
      await audit(c, {
        action: 'class_enrollment.complete',
        entityType: 'class_enrollment',
        entityId: id,
        before: diff.before,
        after: diff.after,
      });
      return c.json(json, 200);
    },
  );
}
