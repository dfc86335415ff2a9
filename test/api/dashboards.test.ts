import { JSDOM } from 'jsdom';
import { describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { Harness } from '../support/harness.js';
import { bearer, expectProblem, sessionCookie } from '../support/staff.js';
import { renderIndex } from '../../api/routes/dashboards/index-page.js';
import { html } from '../../dashboards/html.js';

/** GET /dashboards and /dashboards/{page} on Node and in workerd: leadership HTML. */

const RUNTIMES = ['node', 'workerd'] as const;
const ALPHA = 'alpha.test';
const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const h = await Harness.init('dashboards_api');
const { staff } = h;

const page = (title: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body><h1>${title}</h1><svg role="img" aria-label="${title}"><rect width="4" height="4"/></svg>` +
  `<p>Data as of 2026-02-01</p></body></html>`;

async function publish(tenantId: string, name: string, scopeId: string | null, html: string) {
  await (
    await staff.db()
  ).query(
    `insert into dashboard_pages (tenant_id, page, scope_kind, scope_id, html, as_of)
     values ($1, $2, $3, $4, $5, '2026-02-01T06:00:00Z')`,
    [tenantId, name, scopeId ? 'school' : 'tenant', scopeId, html],
  );
}

const { north, south, adminToken } = await h.setup(async () => {
  const a = h.tenants.alpha.id;
  const north = await staff.school(a, 'North Campus');
  const south = await staff.school(a, 'South Campus');
  await publish(a, 'overview', null, page('Alpha network overview'));
  await publish(a, 'admissions', null, page('Alpha network admissions'));
  await publish(a, 'admissions', north, page('North admissions'));
  await publish(a, 'attendance', south, page('South attendance'));
  await publish(h.tenants.beta.id, 'overview', null, page('Beta overview'));
  const adminToken = await h.admin('alpha');
  return { north, south, adminToken };
});

for (const runtime of RUNTIMES) {
  describe(`dashboards on ${runtime}`, () => {
    const target = (): ApiTarget => h.target(runtime);
    const get = (
      path: string,
      headers: Record<string, string> = bearer(adminToken),
      host = ALPHA,
    ): Promise<ApiResponse> => call(target(), 'GET', path, { host, headers });
    const expectStrict = (r: ApiResponse) => {
      expect(r.headers['content-type']).toMatch(/^text\/html; charset=utf-8/i);
      expect(r.headers['content-security-policy']).toBe(CSP);
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['cache-control']).toBe('private, no-store');
    };

    it('serves a published page to leadership, as published, under a strict CSP', async () => {
      const r = await get('/dashboards/overview');
      expect(r.status, r.text).toBe(200);
      expect(r.text).toBe(page('Alpha network overview'));
      expectStrict(r);
      const school = await get(`/dashboards/admissions?school=${north}`);
      expect(school.text).toBe(page('North admissions'));
    });

    it('accepts the browser session cookie, never a bearer token in its place', async () => {
      const cookieToken = await staff.token(h.tenants.alpha.id, h.tenants.alpha.adminUserId, {
        browser: true,
      });
      const r = await get('/dashboards/overview', {
        ...sessionCookie(cookieToken),
        accept: 'text/html',
      });
      expect(r.status, r.text).toBe(200);
      expectStrict(r);
      // An API token in the cookie, or the cookie token as a bearer token, is refused.
      expectProblem(
        await get('/dashboards/overview', sessionCookie(adminToken)),
        401,
        'unauthenticated',
      );
      expectProblem(await get('/dashboards/overview', bearer(cookieToken)), 401, 'unauthenticated');
    });

    it('sends signed-out browsers to /login (303) and answers API clients 401', async () => {
      const r = await get(`/dashboards/admissions?school=${north}`, {
        accept: 'text/html,application/xhtml+xml',
      });
      expect(r.status).toBe(303);
      expect(r.headers.location).toBe(
        `/login?next=${encodeURIComponent(`/dashboards/admissions?school=${north}`)}`,
      );
      const index = await get('/dashboards', { accept: 'text/html' });
      expect(index.status).toBe(303);
      expect(index.headers.location).toBe('/login?next=%2Fdashboards');
      // A tenant's root leads there too.
      const root = await get('/', { accept: 'text/html' });
      expect(root.status).toBe(303);
      expect(root.headers.location).toBe('/dashboards');
      expectProblem(await get('/dashboards/overview', {}), 401, 'unauthenticated');
      expectProblem(
        await get('/dashboards/overview', { accept: 'application/json' }),
        401,
        'unauthenticated',
      );
    });

    it('refuses staff outside leadership (403), by bearer and by cookie', async () => {
      for (const role of ['teacher', 'office_admin', 'parent']) {
        const p = await staff.person(h.tenants.alpha.id, [{ role }]);
        expectProblem(await get('/dashboards/overview', bearer(p.token)), 403, 'forbidden');
        const cookie = await staff.token(h.tenants.alpha.id, p.userId, { browser: true });
        // A browser gets a page saying so; a client asking for JSON, the problem.
        const r = await get('/dashboards', { ...sessionCookie(cookie), accept: 'text/html' });
        expect(r.status).toBe(403);
        expect(String(r.headers['content-type'])).toMatch(/^text\/html/);
        expect(r.text).toContain('school leadership');
        const json = await get('/dashboards', {
          ...sessionCookie(cookie),
          accept: 'application/json',
        });
        expectProblem(json, 403, 'forbidden');
      }
      const betaAdmin = await h.admin('beta');
      expectProblem(await get('/dashboards/overview', bearer(betaAdmin)), 401, 'unauthenticated');
      const beta = await get('/dashboards/overview', bearer(betaAdmin), 'beta.test');
      expect(beta.text).toBe(page('Beta overview'));
    });

    it('keeps a school principal to their school', async () => {
      const principal = await staff.person(h.tenants.alpha.id, [
        { role: 'principal', orgUnitId: north },
      ]);
      const own = await get(`/dashboards/admissions?school=${north}`, bearer(principal.token));
      expect(own.status, own.text).toBe(200);
      expectProblem(
        await get(`/dashboards/attendance?school=${south}`, bearer(principal.token)),
        404,
        'not_found',
      );
      // A one-school principal opens their school's page without naming it.
      const implicit = await get('/dashboards/admissions', bearer(principal.token));
      expect(implicit.status, implicit.text).toBe(200);
      expect(implicit.text).toBe(own.text);
      const twoSchools = await staff.person(h.tenants.alpha.id, [
        { role: 'principal', orgUnitId: north },
        { role: 'principal', orgUnitId: south },
      ]);
      expectProblem(await get('/dashboards/overview', bearer(twoSchools.token)), 403, 'forbidden');
      const index = await get('/dashboards', {
        ...bearer(principal.token),
        accept: 'application/json',
      });
      expect(index.status, index.text).toBe(200);
      expect(index.json.data.map((d: { href: string }) => d.href)).toEqual([
        `/dashboards/admissions?school=${north}`,
      ]);
    });

    it('answers 404 when nothing is published yet, and for unknown pages', async () => {
      const r = await get('/dashboards/finance');
      expectProblem(r, 404, 'not_found');
      expect(r.json.detail).toMatch(/not been published/);
      expectProblem(await get(`/dashboards/overview?school=${north}`), 404, 'not_found');
      expectProblem(await get('/dashboards/weather'), 404, 'not_found');
      expectProblem(await get('/dashboards/overview?school=x'), 400, 'validation_failed');
    });

    it('lists the pages the caller may open, network-wide first, as HTML or JSON', async () => {
      const html = await get('/dashboards', { ...bearer(adminToken), accept: 'text/html' });
      expect(html.status, html.text).toBe(200);
      expectStrict(html);
      // The links of the page itself (the signed-in bar above it links to /home).
      const main = html.text.slice(html.text.indexOf('<main>'));
      const hrefs = [...main.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
      expect(hrefs).toEqual([
        '/dashboards/overview',
        '/dashboards/admissions',
        `/dashboards/admissions?school=${north}`,
        `/dashboards/attendance?school=${south}`,
      ]);
      expect(html.text).toContain('North Campus');
      expect(html.text).not.toMatch(/<script/i);
      const json = await get('/dashboards', { ...bearer(adminToken), accept: 'application/json' });
      expect(json.json.data[2]).toEqual({
        page: 'admissions',
        title: 'Admissions',
        scope: { kind: 'school', school_id: north, school_name: 'North Campus' },
        as_of: '2026-02-01T06:00:00.000Z',
        href: `/dashboards/admissions?school=${north}`,
      });
    });
  });
}

describe('the dashboards index page', () => {
  it('escapes a tenant and a school name with a script tag and quotes', () => {
    const hostile = `<script>alert("x")</script> & 'y'`;
    const school = '11111111-1111-4111-8111-111111111111';
    const page = renderIndex(
      `Tenant ${hostile}`,
      [
        {
          page: 'finance',
          title: 'Finance & ESA',
          scope: { kind: 'school', school_id: school, school_name: `North ${hostile}` },
          as_of: '2026-02-01T06:00:00.000Z',
          href: `/dashboards/finance?school=${school}`,
        },
      ],
      html``,
    );
    expect(page).not.toMatch(/<script/);
    expect(page).toContain(
      'North &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;',
    );
    const doc = new JSDOM(page).window.document;
    expect(doc.title).toBe(`Dashboards — Tenant ${hostile}`);
    expect(doc.querySelector('h2')?.textContent).toBe(`North ${hostile}`);
    expect(doc.querySelector('a')?.getAttribute('href')).toBe(
      `/dashboards/finance?school=${school}`,
    );
    expect(doc.querySelector('a')?.textContent).toBe('Finance & ESA');
  });
});
