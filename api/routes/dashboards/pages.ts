import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Context, MiddlewareHandler } from 'hono';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { authenticate, requirePermission } from '../../auth/middleware.js';
import { orgReach, withinReach } from '../../auth/scope.js';
import { ApiError, invalidParamsOf } from '../../problems.js';
import { publicationScope, scopeConditions } from '../metrics/scope.js';
import { bearerOrBrowserSession, problemResponses } from '../openapi.js';
import { renderForbiddenPage, signedIn } from '../auth/home-page.js';
import { DASHBOARD_HEADERS } from './html.js';
import { renderIndex, type Page } from './index-page.js';
import { onlySchool, sessionBar, whoIsSignedIn, withSessionBar } from './session-bar.js';

const TITLES: Record<Page, string> = {
  overview: 'Overview',
  admissions: 'Admissions',
  attendance: 'Attendance',
  academics: 'Academics',
  finance: 'Finance & ESA',
};

const wantsHtml = (c: Context<AppEnv>) => (c.req.header('accept') ?? '').includes('text/html');

/**
 * Bearer or browser-cookie authentication. A browser (Accept: text/html) that is not signed
 * in is sent to /login with a way back, rather than shown a JSON problem.
 */
export function browserAuthenticate(): MiddlewareHandler<AppEnv> {
  const auth = authenticate({ cookie: true });
  return async (c, next) => {
    try {
      await auth(c, next);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'unauthenticated' && wantsHtml(c)) {
        const url = new URL(c.req.url);
        return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
      }
      throw err;
    }
  };
}

/** The permission check; a browser without it gets an HTML 403 page, not a JSON problem. */
function browserRequirePermission(permission: string): MiddlewareHandler<AppEnv> {
  const check = requirePermission(permission);
  return async (c, next) => {
    if (c.get('principal').permissions.has(permission) || !wantsHtml(c)) return check(c, next);
    const who = await signedIn(c.get('tx'), c.get('principal'), c.get('tenant').name);
    const { html, headers } = await renderForbiddenPage(
      who,
      'The dashboards are for school leadership (principals and network admins).',
    );
    return c.html(html, 403, headers);
  };
}

const guards = (): [MiddlewareHandler<AppEnv>, MiddlewareHandler<AppEnv>] => [
  browserAuthenticate(),
  browserRequirePermission('dashboards.read'),
];

const html = (description: string) => ({
  description,
  content: { 'text/html': { schema: z.string() } },
});

const Listing = z
  .object({
    data: z.array(
      z.object({
        page: z.enum(t.DASHBOARD_PAGES),
        title: z.string(),
        scope: z.object({
          kind: z.enum(['tenant', 'school']),
          school_id: z.uuid().nullable(),
          school_name: z.string().nullable(),
        }),
        as_of: z.string(),
        href: z.string(),
      }),
    ),
  })
  .openapi('DashboardListing');

const indexRoute = createRoute({
  operationId: 'listDashboards',
  method: 'get',
  path: '/dashboards',
  tags: ['Dashboards'],
  summary: 'The dashboards the caller may open',
  description:
    'HTML for browsers (bearer token or the /login session cookie); JSON when the client asks for `application/json` only. Unauthenticated browsers are redirected (303) to /login.',
  security: bearerOrBrowserSession,
  middleware: guards(),
  responses: {
    200: {
      description: 'Published pages by scope',
      content: {
        'text/html': { schema: z.string() },
        'application/json': { schema: Listing },
      },
    },
    303: { description: 'Not signed in (browsers): to /login?next=…' },
    ...problemResponses(401, 403),
  },
});

const pageRoute = createRoute({
  operationId: 'getDashboard',
  method: 'get',
  path: '/dashboards/{page}',
  tags: ['Dashboards'],
  summary: 'A leadership dashboard',
  description:
    'The page as rendered by the last metrics refresh: self-contained HTML with inline SVG (strict CSP, no scripts); a browser’s copy shows who is signed in, with a sign-out button. Leadership only; unauthenticated browsers are redirected (303) to /login.',
  security: bearerOrBrowserSession,
  middleware: guards(),
  request: {
    params: z.object({
      page: z.enum(t.DASHBOARD_PAGES).openapi({ param: { name: 'page', in: 'path' } }),
    }),
    query: z.object({
      school: z
        .uuid()
        .optional()
        .openapi({ description: 'A school’s org unit id; omit for all schools.' }),
    }),
  },
  responses: {
    200: html('The dashboard'),
    303: {
      description:
        'Not signed in (browsers): to /login?next=…; a one-school tenant without `?school=`: to its school’s page.',
    },
    ...problemResponses(400, 401, 403, 404),
  },
});

const NOTHING = 'This dashboard has not been published for this scope yet.';

export function registerDashboardPages(app: OpenAPIHono<AppEnv>): void {
  app.openapi(indexRoute, async (c) => {
    const tx = c.get('tx');
    const reach = await orgReach(tx, c.get('principal'), 'dashboards.read');
    const one = await onlySchool(c);
    const d = t.dashboardPages;
    const o = t.orgUnits;
    const rows = await tx
      .select({
        page: d.page,
        kind: d.scopeKind,
        schoolId: d.scopeId,
        asOf: d.asOf,
        school: o.name,
      })
      .from(d)
      .leftJoin(o, and(eq(o.tenantId, d.tenantId), eq(o.id, d.scopeId)))
      .where(
        and(
          isNull(d.deletedAt),
          withinReach(reach, d.scopeId),
          // A one-school tenant's network view is its school's: only the school's pages.
          one ? eq(d.scopeKind, 'school') : undefined,
        ),
      )
      .orderBy(asc(d.scopeKind), asc(o.name), asc(d.scopeId));
    const order = (p: string) => t.DASHBOARD_PAGES.indexOf(p as Page);
    // Tenant-wide pages first, then schools by name; pages in the product's order.
    const entries = rows
      .map((r) => ({
        page: r.page as Page,
        title: TITLES[r.page as Page] ?? r.page,
        scope: {
          kind: r.kind as 'tenant' | 'school',
          school_id: r.schoolId,
          school_name: r.school,
        },
        as_of: r.asOf.toISOString(),
        href: `/dashboards/${r.page}${r.schoolId ? `?school=${r.schoolId}` : ''}`,
      }))
      .sort(
        (a, b) =>
          Number(a.scope.kind === 'school') - Number(b.scope.kind === 'school') ||
          (a.scope.school_name ?? '').localeCompare(b.scope.school_name ?? '') ||
          (a.scope.school_id ?? '').localeCompare(b.scope.school_id ?? '') ||
          order(a.page) - order(b.page),
      );
    const accept = c.req.header('accept') ?? '';
    if (accept.includes('application/json') && !accept.includes('text/html')) {
      c.header('cache-control', 'private, no-store');
      return c.json({ data: entries }, 200);
    }
    const bar = sessionBar(await whoIsSignedIn(c));
    return c.body(renderIndex(c.get('tenant').name, entries, bar), 200, DASHBOARD_HEADERS);
  });

  app.openapi(
    pageRoute,
    async (c) => {
      const { page } = c.req.valid('param');
      const { school } = c.req.valid('query');
      if (!school) {
        // One school: its pages are the tenant's, without network wording.
        const one = await onlySchool(c);
        if (one) return c.redirect(`/dashboards/${page}?school=${one.id}`, 303);
      }
      const scope = await publicationScope(c, 'dashboards.read', school, NOTHING);
      const d = t.dashboardPages;
      const [row] = await c
        .get('tx')
        .select({ html: d.html })
        .from(d)
        .where(and(eq(d.page, page), ...scopeConditions(scope, d), isNull(d.deletedAt)))
        .limit(1);
      if (!row) throw new ApiError('not_found', NOTHING);
      const page_ = wantsHtml(c) ? withSessionBar(row.html, await whoIsSignedIn(c)) : row.html;
      return c.body(page_, 200, DASHBOARD_HEADERS);
    },
    (result) => {
      if (result.success) return undefined;
      if (result.target === 'param') throw new ApiError('not_found', NOTHING);
      throw new ApiError('validation_failed', 'See invalid_params for what to fix.', {
        invalidParams: invalidParamsOf(result.error.issues, result.target),
      });
    },
  );
}
