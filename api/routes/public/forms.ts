import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import type { AppEnv } from '../../app-env.js';
import { tenantSiteHosts } from '../../middleware/cors.js';
import { IDEMPOTENCY_FIELD } from '../../middleware/forms.js';
import { ApiError } from '../../problems.js';
import { normaliseHost } from '../../../db/control-plane.js';
import { problemResponses } from '../openapi.js';
import { allowedRedirect } from './form-posts.js';
import { layout, newNonce, pageHeaders } from './pages.js';
import { publicSchools, type PublicSchool } from './profile.js';

/**
 * The inquiry form, served from the edge for a school's site to embed (iframe) or copy:
 * self-contained HTML in the tenant's colour, the schools and grades of the public profile,
 * the consent text, the spam trap and the attribution fields. Its CSP lets nothing run but
 * its own nonce'd style and script, lets it post only here (and be sent on to the site's
 * own thank-you page), and lets only the tenant's verified sites frame it.
 */

const ATTRIBUTION = [
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'referrer',
  'landing_page',
] as const;

const param = (max: number) => z.string().max(max).optional();

const Query = z.object({
  utm_source: param(200),
  utm_medium: param(200),
  utm_campaign: param(200),
  utm_term: param(200),
  utm_content: param(200),
  referrer: param(2048),
  landing_page: param(2048),
  school_id: z.uuid().optional().openapi({ description: 'Preselects a school.' }),
  redirect: param(2048).openapi({
    description:
      'The site’s own thank-you page (a verified site domain): the family is sent there, in the whole window, after sending.',
  }),
  accent: z
    .string()
    .regex(/^[0-9a-fA-F]{6}$/)
    .optional()
    .openapi({ description: 'Button and focus colour as six hex digits (default: branding).' }),
});

const route = createRoute({
  method: 'get',
  path: '/v1/public/forms/inquiry',
  operationId: 'getInquiryForm',
  tags: ['Public'],
  summary: 'An inquiry form to embed in a school’s website',
  description:
    'Self-contained, accessible HTML: put it in an iframe (`<iframe src=".../v1/public/forms/inquiry?utm_source=...">`) or copy its `<form>`. Query parameters become hidden attribution fields; a tiny inline script also fills them from the page’s own query string. Only the tenant’s verified sites may frame it.',
  security: [],
  request: { query: Query },
  responses: {
    200: { description: 'The form', content: { 'text/html': { schema: z.string() } } },
    ...problemResponses(400, 403, 404, 429),
  },
});

/** Fills the attribution fields from the page's query string, and a fresh idempotency key. */
const SCRIPT = `(function(){var f=document.getElementById('hr-inquiry');if(!f)return;var q=new URLSearchParams(location.search),own=location.pathname==='/v1/public/forms/inquiry';
${JSON.stringify(ATTRIBUTION.slice(0, 5))}.forEach(function(k){var v=q.get(k),e=f.elements[k];if(v&&e&&!e.value)e.value=v.slice(0,200);});
var l=f.elements.landing_page;if(l&&!l.value&&!own)l.value=location.href.slice(0,2048);
var r=f.elements.referrer;if(r&&!r.value&&document.referrer&&!own)r.value=document.referrer.slice(0,2048);
var k=f.elements.${IDEMPOTENCY_FIELD};if(k&&window.crypto&&crypto.randomUUID)k.value=crypto.randomUUID();})();`;

const FORM_CSS = `
.hr-form fieldset{border:0;margin:0;padding:0}
.hr-form .row{display:grid;grid-template-columns:1fr 1fr;gap:0 1rem}
@media (max-width:30rem){.hr-form .row{grid-template-columns:1fr}}
.hr-form .req{color:#c62828}
`;

/**
 * The request's own origin as the family's browser sees it (the form's action): the Host,
 * or behind a trusted proxy its forwarded host and scheme.
 */
function ownOrigin(c: Context<AppEnv>): string {
  const url = new URL(c.req.url);
  const trusted = c.get('services').config.TRUST_FORWARDED_HEADERS;
  const host =
    (trusted ? c.req.header('x-forwarded-host')?.split(',')[0]?.trim() : undefined) ??
    c.req.header('host') ??
    url.host;
  const proto = trusted ? c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() : undefined;
  const scheme = proto === 'https' || proto === 'http' ? `${proto}:` : url.protocol;
  return normaliseHost(host) ? `${scheme}//${host}` : url.origin;
}

function gradesOf(schools: readonly PublicSchool[]): string[] {
  return [...new Set(schools.flatMap((s) => s.grade_levels))];
}

export function registerForms(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const q = c.req.valid('query');
    const tenant = c.get('tenant');
    const redirect = await allowedRedirect(c, q.redirect, 'query');
    const { school, schools } = await publicSchools(c);
    if (q.school_id && !schools.some((s) => s.id === q.school_id)) {
      throw new ApiError('unprocessable', 'No such school on this site.', {
        invalidParams: [{ name: 'query.school_id', reason: 'not a school of this site' }],
      });
    }
    const open = schools.filter((s) => s.enrollment_open);
    const choices = school ? [] : open.length ? open : schools;
    const nonce = newNonce();
    const body = inquiryForm({
      title: school?.name ?? tenant.name,
      tenantName: tenant.name,
      action: `${ownOrigin(c)}/v1/public/inquiries`,
      redirect,
      query: q,
      choices,
      grades: gradesOf(school ? [school] : choices),
      nonce,
    });
    const accent = q.accent ? `#${q.accent}` : null;
    const page = await layout(
      accent ? { ...tenant, branding: { ...tenant.branding, primaryColor: accent } } : tenant,
      nonce,
      'Inquiry',
      body,
      FORM_CSS,
    );
    return c.body(
      String(page),
      200,
      pageHeaders(nonce, await tenantSiteHosts(c), { script: true }),
    );
  });
}

/** The form page's body: heading, the form and its nonce'd script. */
function inquiryForm(f: {
  title: string;
  tenantName: string;
  action: string;
  redirect: URL | null;
  query: z.infer<typeof Query>;
  choices: readonly PublicSchool[];
  grades: readonly string[];
  nonce: string;
}) {
  const hidden = ATTRIBUTION.map(
    (k) => html`<input type="hidden" name="${k}" value="${f.query[k] ?? ''}" />`,
  );
  return html`<h1>${f.title}</h1>
    <p>Tell us about your family and we will be in touch.</p>
    <form
      id="hr-inquiry"
      class="hr-form"
      method="post"
      action="${f.action}"
      ${f.redirect ? raw(' target="_top"') : ''}
    >
      ${f.redirect ? html`<input type="hidden" name="redirect" value="${f.redirect.href}" />` : ''}
      <input type="hidden" name="${IDEMPOTENCY_FIELD}" value="" />
      ${hidden} ${CONTACT_FIELDS}
      <div class="row">
        ${schoolSelect(f.choices, f.query.school_id)} ${gradeSelect(f.grades)}
      </div>
      <label for="hr-message">Message <span class="hint">(optional)</span></label>
      <textarea id="hr-message" name="message" rows="4" maxlength="2000"></textarea>
      <div class="trap" aria-hidden="true">
        <label for="hr-website">Leave this empty</label>
        <input id="hr-website" name="website" tabindex="-1" autocomplete="off" />
      </div>
      <label class="consent"
        ><input type="checkbox" name="consent" value="on" required />
        <span
          >${f.tenantName} may contact me by email or phone about admissions.
          <span class="req" aria-hidden="true">*</span></span
        ></label
      >
      <button type="submit">Send inquiry</button>
    </form>
    <script nonce="${f.nonce}">
      ${raw(SCRIPT)};
    </script>`;
}

/** Name, email, phone and the student's first name. */
const CONTACT_FIELDS = html`<div class="row">
    <div>
      <label for="hr-guardian">Your name <span class="req" aria-hidden="true">*</span></label>
      <input id="hr-guardian" name="guardian_name" required maxlength="200" autocomplete="name" />
    </div>
    <div>
      <label for="hr-email">Email <span class="req" aria-hidden="true">*</span></label>
      <input id="hr-email" name="email" type="email" required maxlength="254" autocomplete="email" />
    </div>
  </div>
  <div class="row">
    <div>
      <label for="hr-phone">Phone <span class="hint">(optional)</span></label>
      <input id="hr-phone" name="phone" type="tel" maxlength="32" autocomplete="tel" />
    </div>
    <div>
      <label for="hr-student">Student’s first name <span class="hint">(optional)</span></label>
      <input id="hr-student" name="student_first_name" maxlength="100" />
    </div>
  </div>`;

/** The schools to choose from (none: no field), `selected` preselected. */
function schoolSelect(choices: readonly PublicSchool[], selected: string | undefined) {
  if (!choices.length) return '';
  return html`<div>
    <label for="hr-school">School</label>
    <select id="hr-school" name="school_id">
      <option value="">Not sure yet</option>
      ${choices.map(
        (s) =>
          html`<option value="${s.id}" ${selected === s.id ? raw(' selected') : ''}>
            ${s.name}
          </option>`,
      )}
    </select>
  </div>`;
}

/** The grades to choose from (none: no field). */
function gradeSelect(grades: readonly string[]) {
  if (!grades.length) return '';
  return html`<div>
    <label for="hr-grade">Grade of interest</label>
    <select id="hr-grade" name="grade_interest">
      <option value="">Not sure yet</option>
      ${grades.map(
        (g) =>
          html`<option value="${g}">
            ${g === 'K' ? 'Kindergarten' : g === 'PK' ? 'Pre-K' : `Grade ${g}`}
          </option>`,
      )}
    </select>
  </div>`;
}
