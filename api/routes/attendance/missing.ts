import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { missingAttendance } from '../../attendance/missing.js';
import { guarded } from '../../resources/crud.js';
import { problemResponses } from '../openapi.js';
import { permissions } from '../../attendance/scope.js';

const Query = z.object({
  date: z.iso.date().optional().openapi({
    description:
      'The school day; default each school’s own today in its time zone (the organisation’s for a school without one).',
  }),
});

const Missing = z
  .object({
    date: z
      .string()
      .nullable()
      .describe('The day asked for; null when none was: each row then carries its school’s today.'),
    schools: z.array(
      z.object({
        school_id: z.uuid(),
        name: z.string(),
        date: z.string().describe('The day, YYYY-MM-DD.'),
      }),
    ),
    classes: z.array(
      z.object({
        class_id: z.uuid(),
        name: z.string(),
        section: z.string(),
        school_id: z.uuid(),
        date: z.string().describe('The day at the class’s school, YYYY-MM-DD.'),
      }),
    ),
  })
  .openapi('AttendanceMissing');

export function registerMissing(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'listMissingAttendance',
      method: 'get',
      path: '/v1/attendance/missing',
      tags: ['Attendance'],
      summary: 'Schools and classes that have not taken attendance on a day',
      description:
        'Within the caller’s reach, for an instructional day: schools with students enrolled and no attendance record of any kind that day, and active classes of a current term with students enrolled and no record for the class that day. Without `date`, the day is each school’s own today in the school’s time zone (the organisation’s for a school without one), so schools in different zones may be asked about different dates; each row names its day. Teachers see their own classes; the school’s staff its schools and classes; families nothing.',
      middleware: guarded(permissions.read),
      request: { query: Query },
      responses: {
        200: {
          description: 'What is missing',
          content: { 'application/json': { schema: Missing } },
        },
        ...problemResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const date = q.date ?? null;
      const { schools, classes } = await missingAttendance(c.get('tx'), {
        principal: c.get('principal'),
        date,
        tenantZone: c.get('tenant').timezone,
      });
      return c.json({ date, schools, classes }, 200);
    },
  );
}
