import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { studentAttendance } from '../../attendance/student-attendance.js';
import { ApiError } from '../../problems.js';
import { guarded, loadScoped } from '../../resources/crud.js';
import { logRecordAccess } from '../../resources/record-access.js';
import { problemResponses } from '../openapi.js';
import { schoolToday } from '../../org/school-today.js';
import { permissions } from '../../attendance/scope.js';
import { AttendanceRecord, presentRecord, readableStudents } from './shared.js';

const MAX_DAYS = 366;

const Params = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, description: 'Student id.' }),
});

const Query = z.object({
  from: z.iso
    .date()
    .optional()
    .openapi({ description: 'First date, inclusive; default 365 days before `to`.' }),
  to: z.iso.date().optional().openapi({
    description: 'Last date, inclusive; default today in the organisation’s time zone.',
  }),
});

const Summary = z
  .object({
    membership_days: z
      .number()
      .int()
      .describe('Instructional days (up to today) on which the student was enrolled at a school'),
    present_days: z.number().int().describe('Present, tardy or early departure'),
    absent_days: z.number().int().describe('Absent, excused or not'),
    excused_absence_days: z.number().int(),
    unmarked_days: z.number().int().describe('Membership days with no whole-day record'),
    marked_days: z.number().int().describe('Membership days with a whole-day record'),
    ada_percent: z
      .number()
      .nullable()
      .describe(
        'present_days ÷ marked_days × 100, unrounded; null without a marked day (unmarked days are not absences)',
      ),
    completeness_percent: z
      .number()
      .nullable()
      .describe('marked_days ÷ membership_days × 100, unrounded; null without membership'),
  })
  .openapi('AttendanceSummary');

const StudentAttendance = z
  .object({
    student_id: z.uuid(),
    from: z.string(),
    to: z.string(),
    summary: Summary,
    data: z.array(AttendanceRecord),
  })
  .openapi('StudentAttendance');

const addDays = (date: string, days: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

export function registerStudentAttendance(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'getStudentAttendance',
      method: 'get',
      path: '/v1/students/{id}/attendance',
      tags: ['Attendance'],
      summary: 'A student’s attendance records and summary',
      description: `Records (whole-day and per period) between two dates, at most ${MAX_DAYS} days apart, and a summary as the attendance metric counts it: membership days are the schools’ instructional days up to today on which the student was enrolled; a day’s outcome is its whole-day record (whichever school filed it) — present, tardy and early departure count as present, absent and excused absence as absent, no record leaves the day unmarked; the attendance rate counts marked days only. Recorded in the record-access log.`,
      middleware: guarded(permissions.read),
      request: { params: Params, query: Query },
      responses: {
        200: {
          description: 'The records and summary',
          content: { 'application/json': { schema: StudentAttendance } },
        },
        ...problemResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const tenantZone = c.get('tenant').timezone;
      const student = await loadScoped(
        c,
        { table: t.students, scope: readableStudents },
        id,
        'read',
      );
      const to = q.to ?? (await schoolToday(c.get('tx'), student.schoolId, tenantZone));
      const from = q.from ?? addDays(to, -(MAX_DAYS - 1));
      if (from > to || addDays(from, MAX_DAYS - 1) < to)
        throw new ApiError('validation_failed', undefined, {
          invalidParams: [
            {
              name: 'query.from',
              reason: `must be on or before \`to\`, at most ${MAX_DAYS} days before it`,
            },
          ],
        });
      const { records, summary } = await studentAttendance(c.get('tx'), {
        studentId: id,
        from,
        to,
        tenantZone,
      });
      await logRecordAccess(c, [id], 'read');
      return c.json(
        {
          student_id: id,
          from,
          to,
          summary,
          data: records.map((r) => presentRecord(r)),
        },
        200,
      );
    },
  );
}
