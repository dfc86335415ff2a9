import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, between, eq, isNull, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { rowsOf } from '../../../db/connection.js';
import type { AppEnv } from '../../app-env.js';
import { ApiError } from '../../problems.js';
import { guarded, loadScoped, mount, valid } from '../../resources/crud.js';
import { logRecordAccess } from '../../resources/record-access.js';
import { problemResponses } from '../openapi.js';
import { todayIn } from '../../../db/dates.js';
import { AttendanceRecord, permissions, presentRecord, readableStudents } from './shared.js';

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
  mount(
    app,
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
      const { id } = valid<{ id: string }>(c, 'param');
      const q = valid<z.infer<typeof Query>>(c, 'query');
      const tenantZone = c.get('tenant').timezone;
      const student = await loadScoped(
        c,
        { table: t.students, scope: readableStudents },
        id,
        'read',
      );
      // Today in the student's school's zone (the tenant's when it has none), SPEC §7.
      const [school] = await c
        .get('tx')
        .select({ timezone: t.orgUnits.timezone })
        .from(t.orgUnits)
        .where(eq(t.orgUnits.id, String(student.schoolId)));
      const to = q.to ?? todayIn(school?.timezone ?? tenantZone);
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
      const tx = c.get('tx');
      const ar = t.attendanceRecords;
      const records = await tx
        .select()
        .from(ar)
        .where(and(eq(ar.studentId, id), between(ar.date, from, to), isNull(ar.deletedAt)))
        .orderBy(asc(ar.date), sql`${ar.period} asc nulls first`);
      const [sum] = rowsOf<{
        membership_days: number;
        present_days: number;
        absent_days: number;
        excused_absence_days: number;
        unmarked_days: number;
      }>(
        await tx.execute(sql`
          with member as (
            select distinct cd.school_id, cd.date
            from calendar_days cd
            join org_units o on o.id = cd.school_id
            where cd.deleted_at is null and cd.kind = 'instructional'
              and cd.date between ${from}::date and ${to}::date
              and cd.date <= (now() at time zone coalesce(o.timezone, ${tenantZone}))::date
              and exists (select 1 from school_enrollments se
                           where se.deleted_at is null and se.student_id = ${id}::uuid
                             and se.school_id = cd.school_id and se.entry_date <= cd.date
                             and (se.exit_date is null or se.exit_date >= cd.date)))
          select count(*)::int as membership_days,
            count(*) filter (where r.status in ('present', 'tardy', 'early_departure'))::int
              as present_days,
            count(*) filter (where r.status in ('absent', 'excused_absence'))::int as absent_days,
            count(*) filter (where r.status = 'excused_absence')::int as excused_absence_days,
            count(*) filter (where r.status is null)::int as unmarked_days
          from member m
          left join attendance_records r
            on r.student_id = ${id}::uuid and r.date = m.date
           and r.period is null and r.deleted_at is null`),
      );
      const membership = Number(sum?.membership_days ?? 0);
      const present = Number(sum?.present_days ?? 0);
      const marked = membership - Number(sum?.unmarked_days ?? 0);
      await logRecordAccess(c, [id], 'read');
      return c.json(
        {
          student_id: id,
          from,
          to,
          summary: {
            membership_days: membership,
            present_days: present,
            absent_days: Number(sum?.absent_days ?? 0),
            excused_absence_days: Number(sum?.excused_absence_days ?? 0),
            unmarked_days: Number(sum?.unmarked_days ?? 0),
            marked_days: marked,
            ada_percent: marked ? (present * 100) / marked : null,
            completeness_percent: membership ? (marked * 100) / membership : null,
          },
          data: records.map((r) => presentRecord(r)),
        },
        200,
      );
    },
  );
}
