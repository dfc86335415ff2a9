import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { Attribution, LeadContact } from '../../admissions/leads.js';
import { findActiveSchool, offeredGrade, type AdmissionsSchool } from '../../admissions/schools.js';
import type { AppEnv } from '../../app-env.js';
import { IDEMPOTENCY_KEY } from '../../middleware/idempotency.js';
import { ApiError } from '../../problems.js';

/**
 * What the public lead-capture endpoints (inquiries, tour requests) share: the body
 * fields, the school a request is about, the spam trap and the rate limits.
 */

// Single-line fields refuse every control character; free text allows tab and newlines.
// Lone surrogates are refused too: PostgreSQL would reject them inside jsonb (a 500).
const LINE_CONTROL = /[\u0000-\u001F\u007F]/;
const TEXT_CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NO_CONTROL = { error: 'must not contain control characters' };
const clean = (control: RegExp) => (v: string) => !control.test(v) && !LONE_SURROGATE.test(v);

const line = (max: number) =>
  z.string().trim().min(1).max(max).refine(clean(LINE_CONTROL), NO_CONTROL);

/** Optional: absent, null and "" (an empty form field) all mean "not given". */
const optionalLine = (max: number, refine?: { test: (v: string) => boolean; error: string }) =>
  z
    .string()
    .trim()
    .max(max)
    .refine(clean(LINE_CONTROL), NO_CONTROL)
    .refine((v) => v === '' || !refine || refine.test(v), { error: refine?.error ?? 'invalid' })
    .nullish();

const PHONE = /^\+?[0-9][0-9 ().-]*[0-9]$/;
const GRADE = /^[A-Za-z0-9][A-Za-z0-9 .-]*$/;
const isHttpUrl = (v: string) => {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
};
const phoneDigits = (v: string) => v.replace(/\D/g, '').length;

/** The family and attribution fields every lead-capture body has. */
export const leadFields = {
  guardian_name: line(200).openapi({ example: 'Maria Lopez' }),
  email: z.email().max(254).openapi({ example: 'maria@example.com' }),
  phone: optionalLine(32, {
    test: (v) => PHONE.test(v) && phoneDigits(v) >= 7 && phoneDigits(v) <= 15,
    error: 'must be a phone number: 7–15 digits, optionally with +, spaces, dots, dashes, ()',
  }).openapi({ example: '+1 555 010 0199' }),
  student_first_name: optionalLine(100).openapi({ example: 'Sofia' }),
  grade_interest: optionalLine(16, {
    test: (v) => GRADE.test(v),
    error: 'must be a grade such as K, 1 … 12 or PK',
  }).openapi({ example: 'K' }),
  school_id: z
    .union([z.literal(''), z.uuid()])
    .nullish()
    .openapi({
      description: 'Defaults to the site’s school; on a school’s own site only that school.',
    }),
  message: z
    .string()
    .trim()
    .max(2000)
    .refine(clean(TEXT_CONTROL), NO_CONTROL)
    .nullish()
    .openapi({ example: 'We are moving to the area in June.' }),
  consent: z
    .literal(true, { error: 'consent must be given (true)' })
    .openapi({ description: 'The family agrees to be contacted.' }),
  utm_source: optionalLine(200),
  utm_medium: optionalLine(200),
  utm_campaign: optionalLine(200),
  utm_term: optionalLine(200),
  utm_content: optionalLine(200),
  referrer: optionalLine(2048, { test: isHttpUrl, error: 'must be an http(s) URL' }),
  landing_page: optionalLine(2048, { test: isHttpUrl, error: 'must be an http(s) URL' }),
  website: z.string().max(2048).nullish().openapi({ description: 'Not used; leave empty.' }),
};

const LeadFieldsSchema = z.object(leadFields);
type LeadFields = z.infer<typeof LeadFieldsSchema>;

/** What the OpenAPI document says about the body's forms. */
export const FORM_NOTE =
  'JSON, or a plain HTML form (urlencoded or multipart) with the same fields: empty fields count as absent and a ticked `consent` box (`on`, `true`, `1`) as `true`. A form may add `redirect` (an absolute address on the school’s own verified site: 303 there after success) and `idempotency_key` (as the header). A browser form post without `redirect` gets a small HTML page.';

export const LeadReceipt = z
  .object({ lead_id: z.uuid() })
  .openapi('PublicLeadReceipt', { description: 'The lead this request was recorded on.' });

export const IdempotencyHeaders = z.object({
  'idempotency-key': z.string().regex(IDEMPOTENCY_KEY).optional().openapi({
    description:
      'Makes retries safe: the same key with the same body returns the stored response (with `Idempotency-Replayed: true`); with another body, 422. Keys live 24 hours.',
    example: '5f0c7c5e-8f0e-4f57-9d3b-0a0f0c4b7a51',
  }),
});

const orNull = (v: string | null | undefined) => (v ? v : null);

/**
 * The school a public request is about: the one it names, else the site's school. On a
 * school's own site a different school is refused. The school must be an active school of
 * this tenant (another tenant's id is indistinguishable from no school: RLS hides it), and
 * a grade of interest must be one it offers (returned in the school's spelling).
 */
export async function resolveSchool(
  c: Context<AppEnv>,
  body: Pick<LeadFields, 'school_id' | 'grade_interest'>,
): Promise<{ school: AdmissionsSchool | null; grade: string | null }> {
  const tenant = c.get('tenant');
  const requested = orNull(body.school_id);
  const grade = orNull(body.grade_interest);
  const site = tenant.siteOrgUnitId;
  if (site && requested && requested !== site) {
    throw new ApiError('unprocessable', 'This site takes requests for its own school only.', {
      invalidParams: [{ name: 'json.school_id', reason: 'must be this site’s school, or omitted' }],
    });
  }
  const id = requested ?? site;
  if (!id) return { school: null, grade };
  const school = await findActiveSchool(c.get('tx'), id);
  if (!school) {
    if (!requested) {
      c.get('services').log.warn('site bound to a school that is not active', {
        request_id: c.get('requestId'),
        tenant_id: tenant.id,
        org_unit_id: id,
      });
      throw new ApiError('unprocessable', 'This school is not taking requests right now.');
    }
    throw new ApiError('unprocessable', 'No such school.', {
      invalidParams: [{ name: 'json.school_id', reason: 'not a school that takes requests here' }],
    });
  }
  if (!grade) return { school, grade: null };
  const offered = offeredGrade(school, grade);
  if (!offered) {
    throw new ApiError('unprocessable', `${school.name} does not offer that grade.`, {
      invalidParams: [
        {
          name: 'json.grade_interest',
          reason: `must be one of ${school.gradeLevels.join(', ')}`,
        },
      ],
    });
  }
  return { school, grade: offered };
}

export function contactOf(
  body: LeadFields,
  resolved: { school: AdmissionsSchool | null; grade: string | null },
): LeadContact {
  return {
    guardianName: body.guardian_name,
    email: body.email,
    phone: orNull(body.phone),
    studentFirstName: orNull(body.student_first_name),
    gradeInterest: resolved.grade,
    schoolId: resolved.school?.id ?? null,
    message: orNull(body.message),
    consent: body.consent,
  };
}

export function attributionOf(body: LeadFields): Attribution {
  return {
    utmSource: orNull(body.utm_source),
    utmMedium: orNull(body.utm_medium),
    utmCampaign: orNull(body.utm_campaign),
    utmTerm: orNull(body.utm_term),
    utmContent: orNull(body.utm_content),
    referrer: orNull(body.referrer),
    landingPage: orNull(body.landing_page),
  };
}

/** Whether the hidden `website` field was filled: only bots see it. */
export function caughtByHoneypot(body: Pick<LeadFields, 'website'>): boolean {
  return Boolean(body.website?.trim());
}

/**
 * A lead id for a bot's answer that looks real and is stable per tenant and email (a real
 * lead's id is too), so repeating the request does not give the trap away. Nothing is
 * stored; the id exists nowhere.
 */
export async function decoyLeadId(tenantId: string, email: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      'SHA-256',
      new TextEncoder().encode(`decoy\n${tenantId}\n${email.toLowerCase()}`),
    ),
  );
  const b = digest.slice(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40; // version 4
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
