/**
 * The signed-in browser's own page (`GET /home`): who is signed in, with which roles, what
 * they may do (dashboards for leadership, the API reference and the API endpoints their
 * permissions open) and a sign-out button. It is where /login lands anyone without the
 * dashboards, and what a browser refused a dashboard is pointed to. Server-rendered, no
 * scripts, everything escaped, under the sign-in page's CSP (its one stylesheet by hash).
 */

import { and, asc, eq, isNull } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { PERMISSIONS } from '../../../db/tenant-defaults.js';
import type { Tx } from '../../../db/connection.js';
import type { Principal } from '../../auth/principal.js';
import type { TenantSchema } from '../../../db/schema/types.js';
import { BASE_STYLE, html, join, raw, type Html } from '../../../dashboards/html.js';
import { pageHeaders, sha256Base64 } from './login-page.js';

/** The API collections each permission area opens (see /docs for every operation). */
const ENDPOINTS: Record<string, string[]> = {
  org_units: ['/v1/org-units'],
  sessions: ['/v1/sessions'],
  calendars: ['/v1/calendars'],
  users: ['/v1/users'],
  roles: ['/v1/roles'],
  students: ['/v1/students'],
  guardians: ['/v1/guardians'],
  staff: ['/v1/staff'],
  courses: ['/v1/courses'],
  classes: ['/v1/classes'],
  enrollments: ['/v1/enrollments', '/v1/school-enrollments'],
  attendance: ['/v1/attendance'],
  grades: ['/v1/assignments', '/v1/scores'],
  leads: ['/v1/leads'],
  finance: ['/v1/accounts', '/v1/invoices', '/v1/payments'],
  esa: ['/v1/esa/applications'],
  metrics: ['/v1/metrics/{metric}'],
};

const STYLE = `${BASE_STYLE}
table{border-collapse:collapse;margin:.5rem 0}th,td{text-align:left;padding:.3rem .75rem .3rem 0;vertical-align:top}
code{font-size:.9em}
form{margin:1.5rem 0}button{font:inherit;padding:.45rem 1rem;border:1px solid #57606a;border-radius:.4rem;background:#f6f8fa;cursor:pointer}`;

export interface SignedIn {
  tenantName: string;
  name: string;
  email: string;
  roles: { name: string; description: string | null; orgUnit: string | null }[];
  permissions: ReadonlySet<string>;
}

/** The signed-in user's name, email and roles (with the org unit each is scoped to). */
export async function signedIn(
  tx: Tx<TenantSchema>,
  principal: Principal,
  tenantName: string,
): Promise<SignedIn> {
  const [user] = await tx
    .select({ email: t.users.email, first: t.users.firstName, last: t.users.lastName })
    .from(t.users)
    .where(eq(t.users.id, principal.userId));
  const roles = await tx
    .select({ name: t.roles.name, description: t.roles.description, orgUnit: t.orgUnits.name })
    .from(t.userRoles)
    .innerJoin(
      t.roles,
      and(eq(t.roles.tenantId, t.userRoles.tenantId), eq(t.roles.id, t.userRoles.roleId)),
    )
    .leftJoin(
      t.orgUnits,
      and(eq(t.orgUnits.tenantId, t.userRoles.tenantId), eq(t.orgUnits.id, t.userRoles.orgUnitId)),
    )
    .where(
      and(
        eq(t.userRoles.userId, principal.userId),
        isNull(t.userRoles.deletedAt),
        isNull(t.roles.deletedAt),
      ),
    )
    .orderBy(asc(t.roles.name), asc(t.orgUnits.name));
  const name = [user?.first, user?.last].filter(Boolean).join(' ');
  return {
    tenantName,
    name: name || (user?.email ?? ''),
    email: user?.email ?? '',
    roles,
    permissions: principal.permissions,
  };
}

const SIGN_OUT = html`<form method="post" action="/logout"><button type="submit">Sign out</button></form>`;

async function page(title: string, tenantName: string, body: Html) {
  const doc = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title} · ${tenantName}</title>
<style>${raw(STYLE)}</style>
</head>
<body><main>
${body}
</main></body>
</html>
`;
  return { html: doc.value, headers: pageHeaders(`'sha256-${await sha256Base64(STYLE)}'`) };
}

function whoLine(who: SignedIn): Html {
  const roles = join(
    who.roles.map((r) => (r.orgUnit ? `${r.name} · ${r.orgUnit}` : r.name)),
    ', ',
  );
  return html`<p>Signed in as <strong>${who.name}</strong> (${who.email})${
    roles.value ? html` — ${roles}` : ''
  }.</p>`;
}

/** The landing page. */
export function renderHomePage(who: SignedIn) {
  const body = html`<h1>Homeroom <span class="muted">· ${who.tenantName}</span></h1>
${accessOf(who)}
${SIGN_OUT}`;
  return page('Your Homeroom', who.tenantName, body);
}

/**
 * Who is signed in, their roles and what they open (the dashboards, the API reference, the
 * API endpoints): the plain landing's body, and the last part of a role's own page.
 */
export function accessOf(who: SignedIn): Html {
  const can = (p: string) => who.permissions.has(p);
  const rows = Object.entries(ENDPOINTS)
    .filter(([area]) => can(`${area}.read`))
    .map(([area, paths]) => {
      const label = (PERMISSIONS[`${area}.read`] ?? area).replace(/^Read: /, '');
      const access = can(`${area}.write`) ? 'read and change' : 'read';
      const list = join(
        paths.map((p) => html`<code>${p}</code>`),
        ', ',
      );
      return html`<tr><td>${label}</td><td>${access}</td><td>${list}</td></tr>`;
    });
  const roles = who.roles
    .filter((r) => r.description)
    .map((r) => html`<li><strong>${r.name}</strong>: ${r.description ?? ''}</li>`);
  return html`${whoLine(who)}
${roles.length ? html`<ul>${roles}</ul>` : ''}
<h2>What you can do</h2>
<ul>
${can('dashboards.read') ? html`<li><a href="/dashboards">Leadership dashboards</a></li>\n` : ''}<li><a href="/docs">API reference</a>: every endpoint, with what it needs and answers. The API takes a bearer token from <code>POST /v1/auth/login</code>.</li>
</ul>
${
  rows.length
    ? html`<h2>API endpoints your roles open</h2>
<p class="muted">Each answers only the records your roles reach (for example your own classes or your own children).</p>
<table><thead><tr><th>Area</th><th>Access</th><th>Endpoints</th></tr></thead><tbody>
${join(rows, '\n')}
</tbody></table>`
    : html`<p>Your roles open no API endpoints yet.</p>`
}`;
}

/** A 403 page for a signed-in browser refused a page (e.g. the dashboards). */
export function renderForbiddenPage(who: SignedIn, message: string) {
  const body = html`<h1>Not available to you</h1>
<p>${message}</p>
${whoLine(who)}
<p><a href="/home">Your Homeroom page</a></p>
${SIGN_OUT}`;
  return page('Not available to you', who.tenantName, body);
}
