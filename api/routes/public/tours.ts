import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { recordLeadTouch } from '../../admissions/leads.js';
import { bookSeat, findSlot } from '../../admissions/tour-slots.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { isFormPost } from '../../middleware/forms.js';
import { idempotency, skipIdempotencyStore } from '../../middleware/idempotency.js';
import { formBody, formPosts } from './form-posts.js';
import { ApiError, type InvalidParam } from '../../problems.js';
import { problemResponses, replayedHeader } from '../openapi.js';
import {
  attributionOf,
  caughtByHoneypot,
  contactOf,
  decoyLeadId,
  IdempotencyHeaders,
  leadFields,
  FORM_NOTE,
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
    slot_id: z
      .union([z.literal(''), z.uuid()])
      .nullish()
      .openapi({
        description:
          'A published tour slot (GET /v1/public/tours/slots) to book a seat on; a full or past one answers 409.',
      }),
  })
  .openapi('PublicTourRequest');

// A form names one preferred time as `preferred_date` (+ `preferred_time`).
const TourForm = formBody(TourBody, ({ preferred_date, preferred_time, ...rest }) =>
  preferred_date === undefined && preferred_time === undefined
    ? rest
    : { ...rest, preferred_times: [{ date: preferred_date, time: preferred_time }] },
);

const route = createRoute({
  operationId: 'createTourRequest',
  method: 'post',
  path: '/v1/public/tours',
  tags: ['Public'],
  summary: 'Tour request from a public website',
  description: `Records a tour request on the family's lead (created if the email is new) and moves the lead to \`${TOUR_STAGE}\` when it is at an earlier stage; a lost lead is reopened. Limited per client IP.`,
  security: [],
  middleware: [formPosts('tour'), idempotency({ scope: 'public:tours' })] as const,
  request: {
    headers: IdempotencyHeaders,
    body: {
      // Required in fact (formPosts refuses an empty request); see inquiries.ts.
      required: false,
      description: `${FORM_NOTE} A form gives one preferred time as \`preferred_date\` and \`preferred_time\`.`,
      content: {
        'application/json': { schema: TourBody },
        'application/x-www-form-urlencoded': { schema: TourForm },
        'multipart/form-data': { schema: TourForm },
      },
    },
  },
  responses: {
    201: {
      description: 'Recorded (or replayed for a repeated Idempotency-Key)',
      headers: replayedHeader,
      content: { 'application/json': { schema: LeadReceipt } },
    },
    303: { description: 'A form post with `redirect`: recorded; on to the site’s thank-you page' },
    ...problemResponses(400, 403, 404, 409, 413, 415, 422, 429),
  },
});

export function registerTours(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    // One code path: the form was coerced into the JSON shape and validated by its schema.
    const body = isFormPost(c) ? c.req.valid('form') : c.req.valid('json');
    const tenant = c.get('tenant');
    const tx = c.get('tx');
    const slot = body.slot_id ? await findSlot(tx, body.slot_id) : null;
    if (body.slot_id && !slot) throw noSuchSlot();
    // A slot names its school; an explicit school_id (or the site's school) must agree.
    const resolved = await resolveSchool(c, {
      ...body,
      school_id: body.school_id || (tenant.siteOrgUnitId ? null : slot?.schoolId),
    });
    if (slot && resolved.school?.id !== slot.schoolId) throw noSuchSlot();
    const times = body.preferred_times ?? [];
    checkDates(times, todayIn(resolved.school?.timezone ?? tenant.timezone));
    if (caughtByHoneypot(body)) {
      skipIdempotencyStore(c);
      c.get('services').log.count('honeypot');
      return c.json({ lead_id: await decoyLeadId(tenant.id, body.email) }, 201);
    }
    const result = await recordLeadTouch(tx, {
      tenantId: tenant.id,
      contact: contactOf(body, resolved),
      attribution: attributionOf(body),
      kind: 'tour_request',
      channel: 'web',
      advanceTo: TOUR_STAGE,
      details: {
        preferred_times: times.map((t) => ({ date: t.date, time: t.time ?? null })),
        ...(slot ? { slot_id: slot.id, slot_starts_at: slot.startsAt.toISOString() } : {}),
      },
      note: slot ? 'public tour booking' : 'public tour request',
    });
    const seat = slot
      ? await bookSeat(tx, {
          tenantId: tenant.id,
          slotId: slot.id,
          leadId: result.leadId,
          touchpointId: result.touchpointId,
        })
      : null;
    // Full (or started meanwhile): the error rolls back the lead's touch as well.
    if (seat && !seat.booked) {
      throw new ApiError(
        'conflict',
        'This tour is full or has started; please choose another time.',
        {
          invalidParams: [{ name: 'slot_id', reason: 'has no seats left' }],
        },
      );
    }
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
        ...(seat?.booked ? { slot_id: slot!.id, booking_id: seat.bookingId } : {}),
      },
    });
    return c.json({ lead_id: result.leadId }, 201);
  });
}

const noSuchSlot = () =>
  new ApiError('unprocessable', 'No such tour.', {
    invalidParams: [{ name: 'slot_id', reason: 'not a tour of this school that can be booked' }],
  });

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
