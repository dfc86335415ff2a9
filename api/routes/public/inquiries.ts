import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { recordLeadTouch } from '../../admissions/leads.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { isFormPost } from '../../middleware/forms.js';
import { idempotency, skipIdempotencyStore } from '../../middleware/idempotency.js';
import { formBody, formPosts } from './form-posts.js';
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

const InquiryBody = z.strictObject(leadFields).openapi('PublicInquiry');
const InquiryForm = formBody(InquiryBody);

const route = createRoute({
  operationId: 'createInquiry',
  method: 'post',
  path: '/v1/public/inquiries',
  tags: ['Public'],
  summary: 'Admissions inquiry from a public website',
  description:
    'Records an inquiry. The same email (case-insensitive) within the organisation is the same lead: a repeat adds a touchpoint and refreshes the contact details. Limited per client IP.',
  security: [],
  middleware: [formPosts('inquiry'), idempotency({ scope: 'public:inquiries' })] as const,
  request: {
    headers: IdempotencyHeaders,
    body: {
      // Required in fact (formPosts refuses an empty request); `false` here only because the
      // generated validators would otherwise check a form post against the JSON schema too.
      required: false,
      description: FORM_NOTE,
      content: {
        'application/json': {
          schema: InquiryBody,
          example: {
            guardian_name: 'Maria Lopez',
            email: 'maria@example.com',
            phone: '+1 555 010 0199',
            student_first_name: 'Sofia',
            grade_interest: 'K',
            message: 'We are moving to the area in June.',
            consent: true,
            utm_source: 'google',
            utm_medium: 'cpc',
            utm_campaign: 'fall-enrollment',
            landing_page: 'https://www.sunrise.example.org/admissions',
          },
        },
        'application/x-www-form-urlencoded': { schema: InquiryForm },
        'multipart/form-data': { schema: InquiryForm },
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
    ...problemResponses(400, 403, 404, 413, 415, 422, 429),
  },
});

export function registerInquiries(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    // One code path: the form was coerced into the JSON shape and validated by its schema.
    const body = isFormPost(c) ? c.req.valid('form') : c.req.valid('json');
    const tenant = c.get('tenant');
    const resolved = await resolveSchool(c, body);
    if (caughtByHoneypot(body)) {
      // Same status and shape as a real answer, and nothing written anywhere.
      skipIdempotencyStore(c);
      c.get('services').log.count('honeypot');
      return c.json({ lead_id: await decoyLeadId(tenant.id, body.email) }, 201);
    }
    const result = await recordLeadTouch(c.get('tx'), {
      tenantId: tenant.id,
      contact: contactOf(body, resolved),
      attribution: attributionOf(body),
      kind: 'inquiry',
      channel: 'web',
      note: 'public inquiry',
    });
    // Ids and stages only: the append-only audit log must not become a copy of contact data.
    await audit(c, {
      action: 'lead.inquiry',
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
