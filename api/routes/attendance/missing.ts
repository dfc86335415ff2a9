import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, gte, isNull, lte, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { orgReach, rowScope, withinReach } from '../../auth/scope.js';
import { guarded, mount, valid } from '../../resources/crud.js';
import { problemResponses } from '../openapi.js';
import { todayIn } from '../../../db/dates.js';
import { permissions, staffClassRules } from './shared.js';

const Query = z.object({
  date: z.iso
    .date()
    .optional()
    .openapi({ description: 'The school day; default today in the organisation’s time zone.' }),
});

const Missing = z
  .object({
    date: z.string(),
    schools: z.array(z.object({ school_id: z.uuid(), name: z.string() })),
    classes: z.array(
      z.object({ class_id: z.uuid(), name: z.string(), section: z.string(), school_id: z.uuid() }),
    ),
  })
  .openapi('AttendanceMissing');

/** Someone is enrolled on the day (no roster, nothing to take). */
const enrolledOn = (date: string, enrollments: 'school' | 'class', owner: unknown) =>
  enrollments === 'school'
    ? sql`exists (select 1 from school_enrollments se
                   where se.deleted_at is null and se.school_id = ${owner}
                     and se.entry_date <= ${date}::date
                     and (se.exit_date is null or se.exit_date >= ${date}::date))`
    : sql`exists (select 1 from class_enrollments ce
                   where ce.deleted_at is null and ce.class_id = ${owner}
                     and ce.entry_date <= ${date}::date
                     and (ce.exit_date is null or ce.exit_date >= ${date}::date))`;

export function registerMissing(app: OpenAPIHono<AppEnv>): void {
  mount(
    app,
    createRoute({
      operationId: 'listMissingAttendance',
      method: 'get',
      path: '/v1/attendance/missing',
      tags: ['Attendance'],
      summary: 'Schools and classes that have not taken attendance on a day',
      description:
        'Within the caller’s reach, for an instructional day: schools with students enrolled and no attendance record of any kind that day, and active classes of a current term with students enrolled and no record for the class that day. Teachers see their own classes; the school’s staff its schools and classes; families nothing.',
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
      const q = valid<z.infer<typeof Query>>(c, 'query');
      const date = q.date ?? todayIn(c.get('tenant').timezone);
      const tx = c.get('tx');
      const principal = c.get('principal');
      const cd = t.calendarDays;
      const instructional = (schoolId: typeof cd.schoolId | typeof t.classes.schoolId) =>
        and(
          eq(cd.schoolId, schoolId),
          eq(cd.date, date),
          eq(cd.kind, 'instructional'),
          isNull(cd.deletedAt),
        );

      const reach = await orgReach(tx, principal, permissions.read);
      const schools = await tx
        .select({ school_id: t.orgUnits.id, name: t.orgUnits.name })
        .from(cd)
        .innerJoin(t.orgUnits, and(eq(t.orgUnits.id, cd.schoolId), isNull(t.orgUnits.deletedAt)))
        .where(
          and(
            instructional(cd.schoolId),
            withinReach(reach, cd.schoolId),
            enrolledOn(date, 'school', cd.schoolId),
            sql`not exists (select 1 from attendance_records r
                             where r.deleted_at is null and r.school_id = ${cd.schoolId}
                               and r.date = ${date}::date)`,
          ),
        )
        .orderBy(asc(t.orgUnits.name), asc(t.orgUnits.id));

      const k = t.classes;
      const classes = await tx
        .select({ class_id: k.id, name: k.name, section: k.section, school_id: k.schoolId })
        .from(k)
        .innerJoin(cd, instructional(k.schoolId))
        .innerJoin(
          t.academicSessions,
          and(
            eq(t.academicSessions.id, k.sessionId),
            lte(t.academicSessions.startDate, date),
            gte(t.academicSessions.endDate, date),
          ),
        )
        .where(
          and(
            isNull(k.deletedAt),
            eq(k.status, 'active'),
            await rowScope(tx, principal, permissions.read, staffClassRules()),
            enrolledOn(date, 'class', k.id),
            sql`not exists (select 1 from attendance_records r
                             where r.deleted_at is null and r.class_id = ${k.id}
                               and r.date = ${date}::date)`,
          ),
        )
        .orderBy(asc(k.name), asc(k.section), asc(k.id));

      return c.json({ date, schools, classes }, 200);
    },
  );
}
