import { parse } from 'csv-parse/sync';
import { JSDOM } from 'jsdom';
import { describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.js';
import type { ApiResponse } from '../support/api.js';
import { buildListWorld } from '../dashboards/list-fixtures.js';
import { expectProblem, sessionCookie } from './staff-fixtures.js';

/**
 * The lists behind the dashboards' figures, their CSV and the records they link to: who
 * is on each list, for whom (scope), the record-access log, and the signed-in bar.
 */

const RUNTIMES = ['node', 'workerd'] as const;
const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const h = await Harness.init('dashboard_lists');
const { staff } = h;

const w = await h.setup(async () => {
  const world = await buildListWorld(staff, h.tenants.alpha.id);
  // Beta has one school, its pages published for it and for the tenant.
  const beta = h.tenants.beta.id;
  const betaSchool = await staff.school(beta, 'Only School');
  const db = await staff.db();
  for (const [scope, title] of [
    [null, 'Beta network'],
    [betaSchool, 'Beta school'],
  ] as const) {
    await db.query(
      `insert into dashboard_pages (tenant_id, page, scope_kind, scope_id, html, as_of)
       values ($1, 'overview', $2, $3, $4, now())`,
      [
        beta,
        scope ? 'school' : 'tenant',
        scope,
        `<!doctype html><html lang="en"><head><title>${title}</title></head><body><main><h1>${title}</h1></main></body></html>`,
      ],
    );
  }
  await db.query(
    `insert into dashboard_pages (tenant_id, page, scope_kind, scope_id, html, as_of)
     values ($1, 'overview', 'tenant', null, $2, now())`,
    [
      h.tenants.alpha.id,
      '<!doctype html><html lang="en"><head><title>Alpha</title></head><body><main><h1>Alpha</h1></main></body></html>',
    ],
  );
  return { ...world, betaSchool, admin: await h.admin('alpha'), betaAdmin: await h.admin('beta') };
});

/** The first cell of each row of the page's list table (the person's name). */
const names = (r: ApiResponse): string[] => tableOf(r).map((row) => row[0]!);
const tableOf = (r: ApiResponse): string[][] => {
  expect(r.status, r.text).toBe(200);
  const doc = new JSDOM(r.text).window.document;
  return [...doc.querySelectorAll('table.list tbody tr')].map((tr) =>
    [...tr.querySelectorAll('th,td')].map((c) => c.textContent ?? ''),
  );
};

for (const runtime of RUNTIMES) {
  describe(`dashboard lists on ${runtime}`, () => {
    const alpha = h.api(runtime, 'alpha');
    const list = (path: string, token: string) => alpha.get(`/dashboards/lists/${path}`, token);

    it('lists the people behind each figure, by the metric definitions, for a tenant-wide role', async () => {
      const r = await list('chronic-absence', w.admin);
      expect(r.headers['content-security-policy']).toBe(CSP);
      expect(names(r)).toEqual(['Absent, Ada', 'South, Sam']);
      expect(tableOf(r)[0]).toEqual([
        'Absent, Ada',
        'ABSENT-Ada',
        '5',
        'North Campus',
        '5',
        '0',
        '20',
        '25.0%',
      ]);
      expect(names(await list('at-risk', w.admin))).toEqual(['Risk, Rita']);
      expect(names(await list('failing', w.admin))).toEqual([
        'Risk, Rita',
        'South, Sam',
        'Absent, Ada',
      ]);
      expect(names(await list('missing-work', w.admin))).toEqual(['Risk, Rita']);
      expect(names(await list('overdue?bucket=31-60', w.admin))).toEqual(['Absent family']);
      expect(names(await list('overdue?bucket=90%2B', w.admin))).toEqual(['South family']);
      expect(names(await list('overdue?bucket=61-90', w.admin))).toEqual([]);
      expect(names(await list('stale-leads', w.admin))).toEqual(['Quiet South', 'Quiet North']);
      expect(names(await list('stale-leads?days=25', w.admin))).toEqual(['Quiet South']);
      expect(names(await list('esa-pending', w.admin))).toEqual(['South, Sam', 'Absent, Ada']);
      // Filters: school, grade level, dates.
      expect(names(await list(`chronic-absence?school=${w.south}`, w.admin))).toEqual([
        'South, Sam',
      ]);
      expect(names(await list('failing?grade=6', w.admin))).toEqual(['Risk, Rita']);
      const before = new Date(Date.now() - 40 * 86_400_000).toISOString().slice(0, 10);
      const earlier = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
      expect(names(await list(`chronic-absence?from=${before}&to=${earlier}`, w.admin))).toEqual(
        [],
      );
      // Each name links to the record.
      const doc = new JSDOM((await list('chronic-absence', w.admin)).text).window.document;
      expect(doc.querySelector('table.list tbody a')?.getAttribute('href')).toBe(
        `/dashboards/students/${w.ada}`,
      );
      expect(doc.scripts.length).toBe(0);
    });

    it('keeps each list to the viewer’s scope: a principal their school, a teacher their classes, families and other tenants nothing', async () => {
      const pn = w.principalNorth.token;
      expect(names(await list('chronic-absence', pn))).toEqual(['Absent, Ada']);
      expect(names(await list('failing', pn))).toEqual(['Risk, Rita', 'Absent, Ada']);
      expect(names(await list('overdue?bucket=31-60', pn))).toEqual(['Absent family']);
      expect(names(await list('overdue?bucket=90%2B', pn))).toEqual([]);
      expect(names(await list('stale-leads', pn))).toEqual(['Quiet North']);
      expect(names(await list('esa-pending', pn))).toEqual(['Absent, Ada']);
      // Another school, asked for by id: nothing.
      expect(names(await list(`chronic-absence?school=${w.south}`, pn))).toEqual([]);
      expect(names(await list(`esa-pending?school=${w.south}`, pn))).toEqual([]);
      const ps = w.principalSouth.token;
      expect(names(await list('chronic-absence', ps))).toEqual(['South, Sam']);
      expect(names(await list('failing', ps))).toEqual(['South, Sam']);
      expect(names(await list('missing-work', ps))).toEqual([]);

      const tn = w.teacherNorth.token;
      expect(names(await list('chronic-absence', tn))).toEqual(['Absent, Ada']);
      expect(names(await list('at-risk', tn))).toEqual(['Risk, Rita']);
      expect(names(await list('failing', tn))).toEqual(['Risk, Rita', 'Absent, Ada']);
      expect(names(await list('failing', w.teacherSouth.token))).toEqual(['South, Sam']);
      expect(names(await list('chronic-absence', w.teacherSouth.token))).toEqual(['South, Sam']);
      // Teachers hold no finance, leads or ESA permission.
      expectProblem(await list('overdue', tn), 403, 'forbidden');
      expectProblem(await list('stale-leads', tn), 403, 'forbidden');

      // A family sees no list, not even one their child is on.
      const parent = w.parentAda.token;
      expect(names(await list('chronic-absence', parent))).toEqual([]);
      expect(names(await list('failing', parent))).toEqual([]);
      expect(names(await list('esa-pending', parent))).toEqual([]);
      expect(names(await list('overdue?bucket=31-60', parent))).toEqual([]);

      // Another tenant: its admin's token is refused here, and its own lists are empty.
      expectProblem(await list('chronic-absence', w.betaAdmin), 401, 'unauthenticated');
      const beta = h.api(runtime, 'beta');
      for (const key of ['chronic-absence', 'failing', 'esa-pending', 'stale-leads']) {
        expect(names(await beta.get(`/dashboards/lists/${key}`, w.betaAdmin))).toEqual([]);
      }
      expect(names(await beta.get('/dashboards/lists/overdue?bucket=90%2B', w.betaAdmin))).toEqual(
        [],
      );
    });

    it('downloads every list as CSV with the rows and columns of its page, scoped alike', async () => {
      for (const path of [
        'chronic-absence',
        'at-risk',
        'failing',
        'missing-work',
        'overdue?bucket=31-60',
        'stale-leads',
        'esa-pending',
      ]) {
        for (const token of [w.admin, w.principalNorth.token]) {
          const page = await list(path, token);
          const [key, query = ''] = path.split('?');
          const csv = await alpha.get(
            `/dashboards/lists/${key}/csv${query ? `?${query}` : ''}`,
            token,
          );
          expect(csv.status, csv.text).toBe(200);
          expect(csv.headers['content-type']).toMatch(/^text\/csv; charset=utf-8/);
          expect(csv.headers['content-disposition']).toMatch(/^attachment; filename="/);
          expect(csv.text).toMatch(/\r\n$/);
          const records: string[][] = parse(csv.text, { bom: true });
          const doc = new JSDOM(page.text).window.document;
          const heads = [...doc.querySelectorAll('table.list thead th')].map((c) => c.textContent);
          if (heads.length) expect(records[0]).toEqual(heads);
          expect(records.slice(1), path).toEqual(tableOf(page));
        }
      }
      const parentCsv = await alpha.get('/dashboards/lists/chronic-absence/csv', w.parentAda.token);
      expect(parse(parentCsv.text)).toHaveLength(1);
      const otherSchool = await alpha.get(
        `/dashboards/lists/failing/csv?school=${w.south}`,
        w.principalNorth.token,
      );
      expect(parse(otherSchool.text)).toHaveLength(1);
    });

    it('writes the record-access log for every student shown, listed or exported', async () => {
      const before = (await staff.accessLog(w.sam)).length;
      const r = await list('esa-pending', w.admin);
      expect(r.status).toBe(200);
      const csv = await alpha.get('/dashboards/lists/esa-pending/csv', w.admin);
      expect(csv.status).toBe(200);
      const log = (await staff.accessLog(w.sam)).slice(before);
      expect(log.map((l) => [l.access, l.route])).toEqual([
        ['list', 'GET /dashboards/lists/:list'],
        ['export', 'GET /dashboards/lists/:list/csv'],
      ]);
      // A principal of the other school reads no South record, so logs none.
      const pat = (await staff.accessLog(w.pat)).length;
      await list('chronic-absence', w.principalNorth.token);
      expect(await staff.accessLog(w.pat)).toHaveLength(pat);
    });

    it('opens the records a list links to, within scope, logged', async () => {
      const r = await alpha.get(`/dashboards/students/${w.ada}`, w.principalNorth.token);
      expect(r.status, r.text).toBe(200);
      expect(r.text).toContain('Ada Absent');
      expect(r.text).toContain('ABSENT-Ada');
      expect(r.text).toMatch(/40\.0%/);
      const log = await staff.accessLog(w.ada);
      expect(log.at(-1)).toMatchObject({ access: 'read', route: 'GET /dashboards/students/:id' });
      // Another school's principal, another class's teacher, another family: not found.
      expectProblem(
        await alpha.get(`/dashboards/students/${w.ada}`, w.principalSouth.token),
        404,
        'not_found',
      );
      expectProblem(
        await alpha.get(`/dashboards/students/${w.ada}`, w.teacherSouth.token),
        404,
        'not_found',
      );
      expect((await alpha.get(`/dashboards/students/${w.ada}`, w.parentAda.token)).status).toBe(
        200,
      );
      expectProblem(
        await alpha.get(`/dashboards/students/${w.sam}`, w.parentAda.token),
        404,
        'not_found',
      );
      const account = await alpha.get(
        `/dashboards/accounts/${w.accountNorth}`,
        w.principalNorth.token,
      );
      expect(account.status, account.text).toBe(200);
      expect(account.text).toContain('INV-N1');
      expectProblem(
        await alpha.get(`/dashboards/accounts/${w.accountSouth}`, w.principalNorth.token),
        404,
        'not_found',
      );
      const beta = h.api(runtime, 'beta');
      expectProblem(await beta.get(`/dashboards/students/${w.ada}`, w.betaAdmin), 404, 'not_found');
    });

    it('answers bad filters with a problem, and unknown lists with 404', async () => {
      expectProblem(
        await list('chronic-absence?from=2026-13-01', w.admin),
        400,
        'validation_failed',
      );
      expectProblem(await list('overdue?bucket=7', w.admin), 400, 'validation_failed');
      expectProblem(await list('stale-leads?days=0', w.admin), 400, 'validation_failed');
      expectProblem(await list('everyone', w.admin), 404, 'not_found');
      expectProblem(await alpha.get('/dashboards/students/nope', w.admin), 404, 'not_found');
    });

    it('lands each role on its own day: a teacher’s classes, the office’s school, a family’s children, a student’s record', async () => {
      const home = async (token: string) => {
        const userId = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub;
        const cookie = await staff.token(h.tenants.alpha.id, userId, { browser: true });
        const r = await alpha.get('/home', null, { ...sessionCookie(cookie), accept: 'text/html' });
        expect(r.status, r.text).toBe(200);
        // One stylesheet, allowed by its hash; no chart, so no inline style of Plot's.
        expect(r.headers['content-security-policy']).toMatch(
          /style-src 'sha256-[^']+'; form-action 'self'/,
        );
        const doc = new JSDOM(r.text).window.document;
        expect(doc.querySelector('.session form')?.getAttribute('action')).toBe('/logout');
        return { text: r.text, doc };
      };
      const rowsOf = (doc: Document) =>
        [...doc.querySelectorAll('table.list tbody tr')].map((tr) =>
          [...tr.querySelectorAll('th,td')].map((c) => c.textContent ?? ''),
        );

      const teacher = await home(w.teacherNorth.token);
      expect(rowsOf(teacher.doc)).toEqual([
        [expect.stringMatching(/^Math /), 'North Campus', 'not taken yet', '1', '2'],
      ]);
      const south = await home(w.teacherSouth.token);
      expect(rowsOf(south.doc)).toEqual([
        [expect.stringMatching(/^Math /), 'South Campus', 'no school today', '0', '1'],
      ]);

      const office = await home(w.officeNorth.token);
      expect(office.text).toContain('Your school today');
      expect(
        [...office.doc.querySelectorAll('a[href^="/dashboards/students/"]')].map(
          (a) => a.textContent,
        ),
      ).toEqual(['Present, Pat']);
      expect(office.text).toContain('1 past due ($100.00)');
      expect(office.text).not.toContain('Sam');

      const parent = await home(w.parentAda.token);
      expect(parent.text).toContain('Your children');
      expect(parent.text).toContain('Ada Absent');
      expect(parent.text).not.toContain('Sam South');
      expect(parent.text).not.toContain('Rita');
      expect(rowsOf(parent.doc)).toEqual([[expect.stringMatching(/^Math /), '40.0%', '0']]);
      expect(parent.text).toContain('Absent family</a>: $100.00');
      expect((await staff.accessLog(w.ada)).at(-1)).toMatchObject({
        access: 'read',
        route: 'GET /home',
      });

      const student = await home(w.studentSam.token);
      expect(student.text).toContain('Your record');
      expect(student.text).toContain('Sam South');
      expect(student.text).not.toContain('Ada');
      expect(rowsOf(student.doc)).toEqual([[expect.stringMatching(/^Math /), '30.0%', '0']]);

      // Leadership keeps its own landing (the dashboards), a plain /home.
      const cookie = await staff.token(h.tenants.alpha.id, h.tenants.alpha.adminUserId, {
        browser: true,
      });
      const admin = await alpha.get('/home', null, {
        ...sessionCookie(cookie),
        accept: 'text/html',
      });
      expect(admin.text).toContain('Leadership dashboards');
    });

    it('shows who is signed in with a sign-out form on every page; a one-school tenant is sent to its school', async () => {
      const cookie = await staff.token(h.tenants.alpha.id, h.tenants.alpha.adminUserId, {
        browser: true,
      });
      const browser = { ...sessionCookie(cookie), accept: 'text/html' };
      for (const path of [
        '/dashboards',
        '/dashboards/overview',
        '/dashboards/lists/failing',
        `/dashboards/students/${w.ada}`,
        `/dashboards/accounts/${w.accountNorth}`,
      ]) {
        const r = await alpha.get(path, null, browser);
        expect(r.status, path).toBe(200);
        const doc = new JSDOM(r.text).window.document;
        expect(doc.querySelector('.session')?.textContent, path).toContain('Signed in as');
        const form = doc.querySelector('.session form');
        expect(form?.getAttribute('method'), path).toBe('post');
        expect(form?.getAttribute('action'), path).toBe('/logout');
      }
      const beta = h.api(runtime, 'beta');
      const betaCookie = await staff.token(h.tenants.beta.id, h.tenants.beta.adminUserId, {
        browser: true,
      });
      const betaBrowser = { ...sessionCookie(betaCookie), accept: 'text/html' };
      const r = await beta.get('/dashboards/overview', null, betaBrowser);
      expect(r.status).toBe(303);
      expect(r.headers.location).toBe(`/dashboards/overview?school=${w.betaSchool}`);
      const index = await beta.get('/dashboards', null, betaBrowser);
      expect(index.text).not.toContain('All schools');
      expect(index.text).toContain('Only School');
      const school = await beta.get(
        `/dashboards/overview?school=${w.betaSchool}`,
        null,
        betaBrowser,
      );
      expect(school.text).toContain('Beta school');
    });
  });
}
