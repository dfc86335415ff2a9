import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, isNull, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { ATTENDANCE_STATUSES } from '../../../db/schema/attendance.js';
import { rowsOf } from '../../../db/connection.js';
import type { AppEnv } from '../../app-env.js';
import { upsertRecords } from '../../attendance/upsert-records.js';
import { audit } from '../../audit.js';
import { orgReach } from '../../auth/scope.js';
import { ApiError, type InvalidParam } from '../../problems.js';
import { guarded, type Ctx } from '../../resources/crud.js';
import { problemResponses } from '../openapi.js';
import { todayIn } from '../../../db/dates.js';
import { permissions } from '../../attendance/scope.js';
import { dayKind, loadClass, period } from './shared.js';

const optionalText = (max: number) => z.string().trim().min(1).max(max).nullable().optional();

const RecordInput = z.strictObject({
  student_id: z.uuid(),
  status: z.enum(ATTENDANCE_STATUSES),
  reason: optionalText(200).openapi({ description: 'Omitted = kept as it is; null = cleared.' }),
  note: optionalText(1000).openapi({ description: 'Omitted = kept as it is; null = cleared.' }),
});

const Upsert = z
  .strictObject({
    date: z.iso.date().openapi({ description: 'The school day, in the school’s time zone.' }),
    class_id: z.uuid().optional().openapi({ description: 'Attendance taken for a class.' }),
    school_id: z.uuid().optional().openapi({ description: 'Attendance taken for a school day.' }),
    period: period.nullable().optional(),
    override: z.boolean().optional().openapi({
      description:
        'A class roster replaces records entered otherwise (see the precedence above); for the school’s staff only, audited.',
    }),
    records: z.array(RecordInput).min(1).max(1000),
  })
  .refine((b) => (b.class_id === undefined) !== (b.school_id === undefined), {
    message: 'give exactly one of class_id and school_id',
    path: ['class_id'],
  })
  .openapi('AttendanceUpsert');
type UpsertBody = z.infer<typeof Upsert>;

const Counts = z
  .object({
    date: z.string(),
    school_id: z.uuid(),
    class_id: z.uuid().nullable(),
    period: z.string().nullable(),
    inserted: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
    conflicts: z
      .array(
        z.object({
          student_id: z.uuid(),
          date: z.string(),
          period: z.string().nullable(),
          status: z.enum(ATTENDANCE_STATUSES).describe('The status this request asked for'),
          existing_status: z.enum(ATTENDANCE_STATUSES),
          existing_class_id: z.uuid().nullable().describe('Null: entered for the school day'),
          existing_marked_by: z.uuid().nullable(),
          existing_marked_at: z.string(),
        }),
      )
      .describe('Records this class roster did not replace: kept as they were'),
  })
  .openapi('AttendanceUpsertResult');

/** Ids as PostgreSQL prints them, so that one student is one key however it was written. */
const lowerIds = (b: UpsertBody): UpsertBody => ({
  ...b,
  class_id: b.class_id?.toLowerCase(),
  school_id: b.school_id?.toLowerCase(),
  records: b.records.map((r) => ({ ...r, student_id: r.student_id.toLowerCase() })),
});

/** The school the attendance is for, after checking the caller may write for it. */
async function target(
  c: Ctx,
  body: UpsertBody,
): Promise<{ schoolId: string; classId: string | null; timezone: string }> {
  const tx = c.get('tx');
  // School days are an office's and a principal's to take; teachers take their classes'.
  const reach = await orgReach(tx, c.get('principal'), permissions.write);
  const schoolId = body.class_id
    ? (await loadClass(c, body.class_id, 'write')).schoolId
    : body.school_id!;
  const [school] = await tx
    .select({ timezone: t.orgUnits.timezone })
    .from(t.orgUnits)
    .where(and(eq(t.orgUnits.id, schoolId), isNull(t.orgUnits.deletedAt)));
  const schoolStaff = reach.all || reach.orgUnitIds.includes(schoolId);
  if (!school || (!body.class_id && !schoolStaff)) throw new ApiError('not_found');
  if (body.class_id && body.override && !schoolStaff)
    throw new ApiError(
      'forbidden',
      'Only the school’s staff may replace records entered for the school day or another class.',
    );
  return {
    schoolId,
    classId: body.class_id ?? null,
    timezone: school.timezone ?? c.get('tenant').timezone,
  };
}

/** Every reason the records cannot be written as one batch; empty when they can. */
async function recordProblems(
  c: Ctx,
  body: UpsertBody,
  schoolId: string,
  classId: string | null,
): Promise<InvalidParam[]> {
  const problems: InvalidParam[] = [];
  const firstAt = new Map<string, number>();
  body.records.forEach((r, i) => {
    const first = firstAt.get(r.student_id);
    if (first === undefined) firstAt.set(r.student_id, i);
    else
      problems.push({
        name: `json.records.${i}.student_id`,
        reason: `listed more than once (also records.${first})`,
      });
  });
  const studentIds = [...firstAt.keys()];
  const inClass = classId
    ? sql`exists (select 1 from class_enrollments ce
                   where ce.deleted_at is null and ce.student_id = s.id
                     and ce.class_id = ${classId}::uuid and ce.entry_date <= ${body.date}::date
                     and (ce.exit_date is null or ce.exit_date >= ${body.date}::date))`
    : sql`true`;
  const enrolled = rowsOf<{ id: string; in_school: boolean; in_class: boolean }>(
    await c.get('tx').execute(sql`
      select s.id::text as id,
        exists (select 1 from school_enrollments se
                 where se.deleted_at is null and se.student_id = s.id
                   and se.school_id = ${schoolId}::uuid and se.entry_date <= ${body.date}::date
                   and (se.exit_date is null or se.exit_date >= ${body.date}::date)) as in_school,
        ${inClass} as in_class
      from students s
      where s.deleted_at is null and s.id in (${sql.join(
        studentIds.map((id) => sql`${id}::uuid`),
        sql`, `,
      )})`),
  );
  const byId = new Map(enrolled.map((e) => [e.id, e]));
  for (const [id, i] of firstAt) {
    const e = byId.get(id);
    if (!e?.in_school)
      problems.push({
        name: `json.records.${i}.student_id`,
        reason: `not enrolled at the school on ${body.date}`,
      });
    else if (!e.in_class)
      problems.push({
        name: `json.records.${i}.student_id`,
        reason: `not enrolled in the class on ${body.date}`,
      });
  }
  const index = (p: InvalidParam) => Number(p.name.split('.')[2]);
  return problems.sort((a, b) => index(a) - index(b));
}

export function registerUpsert(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'upsertAttendance',
      method: 'post',
      path: '/v1/attendance',
      tags: ['Attendance'],
      summary: 'Take attendance for a class or a school day',
      description:
        'Creates or changes one record per listed student for the date (and period; none = the whole-day record), for a class (`class_id`: its teachers and the school’s staff) or a whole school (`school_id`: the school’s staff). Repeating a request changes nothing; a changed status replaces the old one, and a record filed at another school moves to this one (a record belongs to the school the student is enrolled at that day). The date must be an instructional day of the school’s calendar, not after today in the school’s time zone, and each student enrolled at the school — and, for a class, in the class — on that date. One invalid record refuses the whole request (422, `invalid_params` naming each) and nothing is written.\n\nPrecedence: a whole-day record and a period record are separate records (only the whole-day record decides the day’s outcome), and each write touches only the records of its own period. A school-day write (`school_id`) replaces any record. A class roster fills records not yet taken and replaces its own class’s earlier marks, but a record entered at this school for the school day or through another class, with another status, is kept as it is and listed under `conflicts`; the rest of the roster is written. With `override: true` the school’s staff (not a class’s teachers alone, 403) replace those records too, audited.',
      middleware: guarded(permissions.write),
      request: {
        body: {
          content: {
            'application/json': {
              schema: Upsert,
              example: {
                date: '2026-09-08',
                class_id: '6f1c2b7e-2d4a-4e8b-9a51-3c0d7e9f1a22',
                records: [
                  { student_id: '0b8e4d2a-7c61-4f3e-8a9d-5e2f1c7b6a40', status: 'present' },
                  {
                    student_id: '9d3a7f15-1e2b-4c8d-b6a0-4f7e2c9d8b13',
                    status: 'tardy',
                    reason: 'bus late',
                  },
                ],
              },
            },
          },
          required: true,
        },
      },
      responses: {
        200: {
          description: 'How many records were created, changed and left as they were',
          content: { 'application/json': { schema: Counts } },
        },
        ...problemResponses(400, 401, 403, 404, 413, 422),
      },
    }),
    async (c) => {
      const body = lowerIds(c.req.valid('json'));
      const tx = c.get('tx');
      const { schoolId, classId, timezone } = await target(c, body);
      const periodKey = body.period ?? null;
      if (body.date > todayIn(timezone))
        throw new ApiError('unprocessable', 'Attendance is not taken ahead of the day.', {
          invalidParams: [{ name: 'json.date', reason: 'after today in the school’s time zone' }],
        });

      const kind = await dayKind(c, schoolId, body.date);
      if (kind !== 'instructional')
        throw new ApiError('unprocessable', 'Attendance is taken on instructional days only.', {
          invalidParams: [
            {
              name: 'json.date',
              reason: kind
                ? `a ${kind} day at the school, not an instructional day`
                : 'not a day of the school’s calendar',
            },
          ],
        });
      const problems = await recordProblems(c, body, schoolId, classId);
      if (problems.length > 0)
        throw new ApiError(
          'unprocessable',
          `${problems.length} record(s) cannot be written; nothing was written.`,
          { invalidParams: problems },
        );

      const { result, statusesBefore, statusesAfter } = await upsertRecords(tx, {
        tenantId: c.get('tenant').id,
        markedBy: c.get('principal').userId,
        schoolId,
        classId,
        date: body.date,
        period: periodKey,
        override: body.override ?? false,
        records: body.records,
      });
      // Ids and statuses only: reasons and notes are personal and stay out of the log.
      await audit(c, {
        action: 'attendance.upsert',
        entityType: classId ? 'class' : 'org_unit',
        entityId: classId ?? schoolId,
        before: { ...(body.override ? { override: true } : {}), statuses: statusesBefore },
        after: { ...result, statuses: statusesAfter },
      });
      return c.json(result, 200);
    },
  );
}
