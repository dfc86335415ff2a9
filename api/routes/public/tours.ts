import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { recordLeadTouch } from '../../admissions/leads.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { idempotency, skipIdempotencyStore } from '../../middleware/idempotency.js';
import { ApiError, type InvalidParam } from '../../problems.js';
import { problemResponses, replayedHeader } from '../openapi.js';
import {
  attributionOf,
  caughtByHoneypot,
  contactOf,
  decoyLeadId,
  IdempotencyHeaders,
  leadFields,
  LeadReceipt,
  resolveSchool,
} from './shared.js';
import { todayIn } from '../../../db/dates.js';

/** The stage a tour request moves a lead to (forward only). */
export const TOUR_STAGE = 'tour_scheduled';
/** How far ahead a family may ask for a tour. */
const HORIZON_DAYS = 365;

const PreferredTime = z
  .strictObject({
    date: z.iso.date().openapi({ example: '2026-09-14' }),
    time: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'must be HH:MM (24-hour)' })
      .nullish()
      .openapi({ description: 'Local time at the school; omit for any time.', example: '09:30' }),
  })
  .openapi('PublicTourTime');

const TourBody = z
  .strictObject({
    ...leadFields,
    preferred_times: z
      .array(PreferredTime)
      .max(5)
      .nullish()
      .openapi({ description: 'Up to five preferred dates (school time), today or later.' }),
  })
  .openapi('PublicTourRequest');

const route = createRoute({
  operationId: 'createTourRequest',
  method: 'post',
  path: '/v1/public/tours',
  tags: ['Public'],
  summary: 'Tour request from a public website',
  description: `Records a tour request on the family's lead (created if the email is new) and moves the lead to \`${TOUR_STAGE}\` when it is at an earlier stage; a lost lead is reopened. Limited per client IP.`,
  security: [],
  middleware: [idempotency({ scope: 'public:tours' })] as const,
  request: {
    headers: IdempotencyHeaders,
    body: { required: true, content: { 'application/json': { schema: TourBody } } },
  },
  responses: {
    201: {
      description: 'Recorded (or replayed for a repeated Idempotency-Key)',
      headers: replayedHeader,
      content: { 'application/json': { schema: LeadReceipt } },
    },
    ...problemResponses(400, 403, 404, 413, 415, 422, 429),
  },
});

export function registerTours(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const body = c.req.valid('json');
    const tenant = c.get('tenant');
    const resolved = await resolveSchool(c, body);
    const times = body.preferred_times ?? [];
    checkDates(times, todayIn(resolved.school?.timezone ?? tenant.timezone));
    if (caughtByHoneypot(body)) {
      skipIdempotencyStore(c);
      c.get('services').log.count('honeypot');
      return c.json({ lead_id: await decoyLeadId(tenant.id, body.email) }, 201);
    }
    const result = await recordLeadTouch(c.get('tx'), {
      tenantId: tenant.id,
      contact: contactOf(body, resolved),
      attribution: attributionOf(body),
      kind: 'tour_request',
      channel: 'web',
      advanceTo: TOUR_STAGE,
      details: { preferred_times: times.map((t) => ({ date: t.date, time: t.time ?? null })) },
      note: 'public tour request',
    });
    await audit(c, {
      action: 'lead.tour_request',
      entityType: 'lead',
      entityId: result.leadId,
      before: result.created ? null : { stage: result.stageBefore },
      after: {
        stage: result.stage,
        created: result.created,
        touchpoint_id: result.touchpointId,
        school_id: resolved.school?.id ?? null,
      },
    });
    return c.json({ lead_id: result.leadId }, 201);
  });
}

/** Preferred dates must lie between today (at the school) and the booking horizon. */
function checkDates(times: readonly { date: string }[], today: string): void {
  const [y, m, d] = today.split('-').map(Number) as [number, number, number];
  const last = new Date(Date.UTC(y, m - 1, d + HORIZON_DAYS)).toISOString().slice(0, 10);
  const invalid: InvalidParam[] = [];
  times.forEach((t, i) => {
    if (t.date < today)
      invalid.push({ name: `json.preferred_times.${i}.date`, reason: 'is in the past' });
    else if (t.date > last)
      invalid.push({
        name: `json.preferred_times.${i}.date`,
        reason: `must be within ${HORIZON_DAYS} days`,
      });
  });
  if (invalid.length) {
    throw new ApiError('validation_failed', 'See invalid_params for what to fix.', {
      invalidParams: invalid,
    });
  }
}
