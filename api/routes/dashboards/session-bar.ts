/**
 * Who is signed in, and a sign-out button, on every dashboard page. The stored pages are
 * rendered once per publication for everyone, so the bar is placed into them as they are
 * served; pages rendered per request (lists, records) include it directly. Sign-out is the
 * same POST form to /logout as on /home (refused when it comes from another site).
 */
import { and, inArray, isNull } from 'drizzle-orm';
import { SCHOOL_KINDS } from '../../../db/schema/org.js';
import type { Context } from 'hono';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { signedIn, type SignedIn } from '../auth/home-page.js';
import { html, type Html } from './html.js';

export const SESSION_STYLE = `.session{display:flex;flex-wrap:wrap;align-items:center;justify-content:flex-end;gap:.25rem .75rem;padding:.4rem 1.25rem;border-bottom:1px solid #d0d7de;font-size:.9rem;color:#57606a}
.session form{margin:0}.session button{font:inherit;padding:.2rem .75rem;border:1px solid #57606a;border-radius:.4rem;background:#f6f8fa;color:#1b1f24;cursor:pointer}
@media print{.session{display:none}}`;

/** The bar: the user's name and roles, their own page, the sign-out button. */
export function sessionBar(who: SignedIn): Html {
  const roles = [...new Set(who.roles.map((r) => r.name))].join(', ');
  return html`<div class="session" role="region" aria-label="Signed in"><span>Signed in as <strong>${who.name}</strong>${
    roles ? html` <span>(${roles})</span>` : ''
  }</span><a href="/home">Your page</a><form method="post" action="/logout"><button type="submit">Sign out</button></form></div>`;
}

/** The signed-in user of the request. */
export const whoIsSignedIn = (c: Context<AppEnv>): Promise<SignedIn> =>
  signedIn(c.get('tx'), c.get('principal'), c.get('tenant').name);

/** A stored page with the bar placed at the top of its body (and its style in the head). */
export function withSessionBar(page: string, who: SignedIn): string {
  const head = page.indexOf('</head>');
  const body = page.indexOf('<body>');
  if (head < 0 || body < head) return page;
  const bar = sessionBar(who).value;
  return (
    page.slice(0, head) +
    `<style>${SESSION_STYLE}</style>` +
    page.slice(head, body + 6) +
    bar +
    page.slice(body + 6)
  );
}

/**
 * The tenant's one school when it has exactly one (live) school: such a tenant sees that
 * school's pages, never network wording ("All schools", one-bar comparisons).
 */
export async function onlySchool(c: Context<AppEnv>): Promise<{ id: string; name: string } | null> {
  const o = t.orgUnits;
  const rows = await c
    .get('tx')
    .select({ id: o.id, name: o.name })
    .from(o)
    .where(and(inArray(o.kind, [...SCHOOL_KINDS]), isNull(o.deletedAt)))
    .limit(2);
  return rows.length === 1 ? { id: rows[0]!.id, name: rows[0]!.name } : null;
}
