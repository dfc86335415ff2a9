import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { eq, gte, lte } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { CALENDAR_DAY_KINDS } from '../../../db/schema/org.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { orgReach, rowScope, withinReach } from '../../auth/scope.js';
import { upsertCalendarDays } from '../../org/calendar-days.js';
import { ApiError } from '../../problems.js';
import { guarded, registerResource, type Ctx, type ResourceDef } from '../../resources/crud.js';
import { problemResponses } from '../openapi.js';

const Day = z
  .object({
    id: z.uuid(),
    school_id: z.uuid(),
    session_id: z.uuid(),
    date: z.string(),
    kind: z.enum(CALENDAR_DAY_KINDS),
    note: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('CalendarDay');

const DayUpdate = z
  .object({
    kind: z.enum(CALENDAR_DAY_KINDS).optional(),
    note: z.string().trim().max(200).nullable().optional(),
  })
  .openapi('CalendarDayUpdate');

const DayFilters = z.object({
  school_id: z.uuid().optional(),
  from: z.iso.date().optional().openapi({ description: 'First date, inclusive.' }),
  to: z.iso.date().optional().openapi({ description: 'Last date, inclusive.' }),
  kind: z.enum(CALENDAR_DAY_KINDS).optional(),
});

const Upsert = z
  .object({
    school_id: z.uuid(),
    session_id: z.uuid(),
    days: z
      .array(
        z.object({
          date: z.iso.date(),
          kind: z.enum(CALENDAR_DAY_KINDS).default('instructional'),
          note: z.string().trim().max(200).nullable().optional(),
        }),
      )
      .min(1)
      .max(400)
      .refine((ds) => new Set(ds.map((d) => d.date)).size === ds.length, 'dates must be unique'),
  })
  .openapi('CalendarUpsert');

const permissions = { read: 'calendars.read', write: 'calendars.write' };

const scope = (c: Ctx, mode: 'read' | 'write') =>
  mode === 'read'
    ? Promise.resolve(undefined)
    : rowScope(c.get('tx'), c.get('principal'), permissions.write, {
        org: (reach) => withinReach(reach, t.calendarDays.schoolId),
      });

export const calendarResource: ResourceDef<typeof DayUpdate, typeof DayUpdate, typeof DayFilters> =
  {
    entity: 'calendar_day',
    path: '/v1/calendars',
    tag: 'Calendars',
    plural: 'calendar days',
    table: t.calendarDays,
    permissions,
    schemas: { out: Day, create: DayUpdate, update: DayUpdate, filters: DayFilters },
    scope,
    order: { column: t.calendarDays.date, direction: 'asc' },
    operations: ['list', 'read', 'update', 'delete'],
    filters: (q) => [
      q.school_id ? eq(t.calendarDays.schoolId, q.school_id) : undefined,
      q.from ? gte(t.calendarDays.date, q.from) : undefined,
      q.to ? lte(t.calendarDays.date, q.to) : undefined,
      q.kind ? eq(t.calendarDays.kind, q.kind) : undefined,
    ],
    descriptions: { list: 'Calendar days of schools; filter by `school_id` and a date range.' },
  };

/** Calendar days: list by school and dates, and a bulk upsert of a school's days. */
export function registerCalendars(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'upsertCalendarDays',
      method: 'put',
      path: '/v1/calendars/days',
      tags: ['Calendars'],
      summary: 'Set a school’s calendar days',
      description:
        'Creates or replaces the kind and note of each listed date of the school (one transaction). Dates not listed are left as they are.',
      middleware: guarded(permissions.write),
      request: { body: { content: { 'application/json': { schema: Upsert } }, required: true } },
      responses: {
        200: {
          description: 'The days as stored',
          content: { 'application/json': { schema: z.object({ data: z.array(Day) }) } },
        },
        ...problemResponses(400, 401, 403, 413, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const tx = c.get('tx');
      const reach = await orgReach(tx, c.get('principal'), permissions.write);
      if (!reach.all && !reach.orgUnitIds.includes(body.school_id))
        throw new ApiError('unprocessable', 'No such school within your reach.', {
          invalidParams: [{ name: 'json.school_id', reason: 'no such school within your reach' }],
        });
      const rows = await upsertCalendarDays(tx, {
        tenantId: c.get('tenant').id,
        schoolId: body.school_id,
        sessionId: body.session_id,
        days: body.days,
      });
      const dates = body.days.map((d) => d.date).sort();
      await audit(c, {
        action: 'calendar_day.upsert',
        entityType: 'org_unit',
        entityId: body.school_id,
        after: {
          session_id: body.session_id,
          days: body.days.length,
          from: dates[0],
          to: dates.at(-1),
        },
      });
      return c.json({ data: rows.map(dayJson) }, 200);
    },
  );
  registerResource(app, calendarResource);
}

/** A calendar day as the API shows it (the `CalendarDay` schema). */
function dayJson(d: typeof t.calendarDays.$inferSelect): z.infer<typeof Day> {
  return {
    id: d.id,
    school_id: d.schoolId,
    session_id: d.sessionId,
    date: d.date,
    kind: d.kind,
    note: d.note,
    created_at: d.createdAt.toISOString(),
    updated_at: d.updatedAt.toISOString(),
  };
}
