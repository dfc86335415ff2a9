import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { CALENDAR_DAY_KINDS } from '../../../db/schema/org.js';
import type { AppEnv } from '../../app-env.js';
import { classRoster } from '../../attendance/roster.js';
import { guarded } from '../../resources/crud.js';
import { logRecordAccess } from '../../resources/record-access.js';
import { problemResponses } from '../openapi.js';
import { schoolToday } from '../../org/school-today.js';
import {
  AttendanceRecord,
  dayKind,
  loadClass,
  period,
  presentRecord,
  readableStudents,
} from './shared.js';
import { permissions } from '../../attendance/scope.js';

const Query = z.object({
  class_id: z.uuid().openapi({ description: 'The class.' }),
  date: z.iso
    .date()
    .optional()
    .openapi({ description: 'The school day; default today in the school’s time zone.' }),
  period: period.optional(),
});

const Roster = z
  .object({
    class_id: z.uuid(),
    school_id: z.uuid(),
    date: z.string(),
    period: z.string().nullable(),
    day_kind: z
      .enum(CALENDAR_DAY_KINDS)
      .nullable()
      .describe('The school calendar’s kind of day; null when the calendar has no such day.'),
    data: z.array(
      z.object({
        student_id: z.uuid(),
        student_number: z.string(),
        first_name: z.string(),
        last_name: z.string(),
        preferred_name: z.string().nullable(),
        grade_level: z.string(),
        record: AttendanceRecord.nullable(),
      }),
    ),
  })
  .openapi('AttendanceRoster');

export function registerRoster(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'listAttendance',
      method: 'get',
      path: '/v1/attendance',
      tags: ['Attendance'],
      summary: 'A class’s roster with each student’s record for a day',
      description:
        'The students enrolled in the class on the date, each with their record for that date and period (null when none is taken). Teachers see their own classes, the school’s staff its classes, a family only their own students in their classes. Each student shown is recorded in the record-access log.',
      middleware: guarded(permissions.read),
      request: { query: Query },
      responses: {
        200: { description: 'The roster', content: { 'application/json': { schema: Roster } } },
        ...problemResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const tx = c.get('tx');
      const cls = await loadClass(c, q.class_id, 'read');
      const date = q.date ?? (await schoolToday(tx, cls.schoolId, c.get('tenant').timezone));
      const periodKey = q.period ?? null;
      const rows = await classRoster(tx, {
        classId: cls.id,
        date,
        period: periodKey,
        studentScope: await readableStudents(c),
      });
      await logRecordAccess(
        c,
        rows.map((r) => r.id),
        'list',
      );
      return c.json(
        {
          class_id: cls.id,
          school_id: cls.schoolId,
          date,
          period: periodKey,
          day_kind: await dayKind(c, cls.schoolId, date),
          data: rows.map((r) => ({
            student_id: r.id,
            student_number: r.studentNumber,
            first_name: r.firstName,
            last_name: r.lastName,
            preferred_name: r.preferredName,
            grade_level: r.gradeLevel,
            record: r.record ? presentRecord(r.record) : null,
          })),
        },
        200,
      );
    },
  );
}
