import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import * as t from '../../../db/schema/tenant.js';
import { CLASS_ENROLLMENT_STATUSES } from '../../../db/schema/academic.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { completeEnrollment, type ClassEnrollmentRow } from '../../grades/complete.js';
import { guarded, idParam, loadScoped } from '../../resources/crud.js';
import { changedFields } from '../../resources/json.js';
import { problemResponses } from '../openapi.js';
import { enrollmentScope } from './shared.js';

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
      const row = await completeEnrollment(c.get('tx'), {
        enrollment: before,
        ...(body.exit_date ? { exitDate: body.exit_date } : {}),
        tenantTimezone: c.get('tenant').timezone,
      });
      const json = completedJson(row);
      const diff = changedFields(completedJson(before), json);
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

/** A class enrollment as the API shows it (the `CompletedEnrollment` schema). */
function completedJson(e: ClassEnrollmentRow): z.infer<typeof Completed> {
  return {
    id: e.id,
    class_id: e.classId,
    student_id: e.studentId,
    status: e.status,
    entry_date: e.entryDate,
    exit_date: e.exitDate,
    final_percent: e.finalPercent,
    final_grade: e.finalGrade,
    grade_points: e.gradePoints,
    credits_attempted: e.creditsAttempted,
    credits_earned: e.creditsEarned,
    created_at: e.createdAt.toISOString(),
    updated_at: e.updatedAt.toISOString(),
  };
}
