import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { localDateTime, openSlots } from '../../admissions/tour-slots.js';
import type { AppEnv } from '../../app-env.js';
import { ApiError } from '../../problems.js';
import { problemResponses } from '../openapi.js';

const PublicTourSlot = z
  .object({
    id: z.uuid().describe('Send as `slot_id` to POST /v1/public/tours to book a seat.'),
    school_id: z.uuid(),
    school_name: z.string(),
    starts_at: z.string().describe('UTC, ISO-8601.'),
    local_date: z.string().describe('The date at the school (YYYY-MM-DD).'),
    local_time: z.string().describe('The time at the school (HH:MM, 24-hour).'),
    time_zone: z.string().describe('The school’s IANA time zone.'),
    duration_minutes: z.number().int(),
    seats_left: z.number().int(),
    note: z.string().nullable(),
  })
  .openapi('PublicTourSlot');

const Query = z.object({
  school_id: z.uuid().optional().openapi({
    description: 'Only this school’s tours (on a school’s own site, always that school).',
  }),
});

const route = createRoute({
  method: 'get',
  path: '/v1/public/tours/slots',
  operationId: 'listOpenTourSlots',
  tags: ['Public'],
  summary: 'Tours a family can book on this site',
  description:
    'Published tour slots that start in the future and have seats left, nearest first (at most 200), with the date and time at the school.',
  security: [],
  request: { query: Query },
  responses: {
    200: {
      description: 'Open slots',
      content: { 'application/json': { schema: z.object({ data: z.array(PublicTourSlot) }) } },
    },
    ...problemResponses(400, 403, 404, 429),
  },
});

export function registerTourSlots(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { school_id: requested } = c.req.valid('query');
    const tenant = c.get('tenant');
    const site = tenant.siteOrgUnitId;
    if (site && requested && requested !== site) {
      throw new ApiError('unprocessable', 'This site lists its own school’s tours only.', {
        invalidParams: [
          { name: 'query.school_id', reason: 'must be this site’s school, or omitted' },
        ],
      });
    }
    const only = requested ?? site;
    const slots = await openSlots(c.get('tx'), {
      schoolIds: only ? [only] : null,
      tenantTimeZone: tenant.timezone,
    });
    return c.json(
      {
        data: slots.map((s) => {
          const local = localDateTime(s.startsAt, s.timeZone);
          return {
            id: s.id,
            school_id: s.schoolId,
            school_name: s.schoolName,
            starts_at: s.startsAt.toISOString(),
            local_date: local.date,
            local_time: local.time,
            time_zone: s.timeZone,
            duration_minutes: s.durationMinutes,
            seats_left: s.seatsLeft,
            note: s.note,
          };
        }),
      },
      200,
    );
  });
}
