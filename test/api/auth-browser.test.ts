import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { ADMIN_PASSWORD, createApiWorld, type ApiWorld } from '../support/api-world.js';
import { Staff } from './staff-fixtures.js';

/** The browser session: GET/POST /login and POST /logout (HTML, cookie). */

const RUNTIMES = ['node', 'workerd'] as const;
const ALPHA = 'alpha.test';
const COOKIE = '__Host-homeroom_session';

let world: ApiWorld;
let db: pg.Client; // superuser on the pool branch
let staff: Staff;
/** Sign-in emails of a teacher and a parent (names with markup, to prove escaping), a principal. */
const people = {
  teacher: { email: 'teacher@alpha.test', first: 'Tess', last: '<b>O’Neil</b>', role: 'Teacher' },
  parent: { email: 'parent@alpha.test', first: 'Pat', last: 'Parent & Co', role: 'Parent' },
  principal: { email: 'principal@alpha.test', first: 'Prue', last: 'Principal', role: 'Principal' },
};
/** A teacher whose name, and whose school's name, carry a script tag and quotes. */
const scripted = {
  email: 'scripted@alpha.test',
  first: '<script>alert("x")</script>',
  last: `O'Brien`,
  school: 'West <script>"w"</script>',
};

beforeAll(async () => {
  world = await createApiWorld('auth_browser', { vars: { LOGIN_RATE_LIMIT: '10000' } });
  db = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await db.connect();
  staff = await Staff.open(world);
  const a = world.alpha.id;
  const north = await staff.school(a, 'North');
  for (const [role, p] of Object.entries(people)) {
    const userId = await staff.user(a, [{ role, orgUnitId: role === 'parent' ? null : north }]);
    // The admin's password hash: every one of them signs in with ADMIN_PASSWORD.
    await db.query(
      `update users set email = $2, first_name = $3, last_name = $4,
              password_hash = (select password_hash from users where id = $5)
        where id = $1`,
      [userId, p.email, p.first, p.last, world.alpha.adminUserId],
    );
  }
  const west = await staff.school(a, scripted.school);
  const userId = await staff.user(a, [{ role: 'teacher', orgUnitId: west }]);
  await db.query(
    `update users set email = $2, first_name = $3, last_name = $4,
            password_hash = (select password_hash from users where id = $5)
      where id = $1`,
    [userId, scripted.email, scripted.first, scripted.last, world.alpha.adminUserId],
  );
});

afterAll(async () => {
  await staff?.close();
  await db?.end();
  await world?.close();
});

const form = (fields: Record<string, string>) => ({
  rawBody: new URLSearchParams(fields).toString(),
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
});

const setCookies = (r: ApiResponse): string[] => r.headers['set-cookie'] ?? [];

const sessionCookie = (r: ApiResponse) => setCookies(r).find((c) => c.startsWith(`${COOKIE}=`));

/** The hidden `next` field of a rendered form. */
const nextField = (html: string) => /name="next" value="([^"]*)"/.exec(html)?.[1];

function expectSecureHtml(r: ApiResponse) {
  expect(String(r.headers['content-type'])).toMatch(/^text\/html; charset=utf-8/i);
  const csp = String(r.headers['content-security-policy']);
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("form-action 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toMatch(/script-src/);
  expect(r.headers['x-frame-options']).toBe('DENY');
  expect(r.headers['cache-control']).toBe('no-store');
  expect(r.text).not.toMatch(/<script/i);
  expect(r.text).not.toMatch(/\b(?:src|href)="https?:/i);
  // The one inline stylesheet is allowed by its hash, and by nothing else.
  const style = /<style>([\s\S]*?)<\/style>/.exec(r.text)?.[1];
  expect(style).toBeTruthy();
  const hash = createHash('sha256').update(style!).digest('base64');
  expect(csp).toContain(`style-src 'sha256-${hash}'`);
}

for (const runtime of RUNTIMES) {
  describe(`browser session on ${runtime}`, () => {
    const target = (): ApiTarget => world.targets.find((t) => t.runtime === runtime)!;
    const api = (
      method: string,
      path: string,
      options: { headers?: Record<string, string>; rawBody?: string; host?: string } = {},
    ) => call(target(), method, path, { host: ALPHA, ...options });

    describe('GET /login', () => {
      it('serves a self-contained form under a strict CSP, naming the tenant', async () => {
        const r = await api('GET', '/login');
        expect(r.status).toBe(200);
        expectSecureHtml(r);
        expect(r.text).toContain('<h1>Alpha Academy</h1>');
        expect(r.text).toMatch(/<form method="post" action="\/login">/);
        expect(r.text).toMatch(/type="password"/);
        expect(nextField(r.text)).toBe('/dashboards');
        expect(r.headers['x-request-id']).toBeTruthy();
      });

      it('keeps a safe next path and drops unsafe ones', async () => {
        const cases: [string, string][] = [
          ['/dashboards/admissions?school=north', '/dashboards/admissions?school=north'],
          ['/', '/'],
          ['/home', '/home'],
          ['/home/../v1/me', '/dashboards'],
          ['https://evil.example/dashboards', '/dashboards'],
          ['//evil.example/dashboards', '/dashboards'],
          ['/\\evil.example', '/dashboards'],
          ['/dashboards/../v1/me', '/dashboards'],
          ['javascript:alert(1)', '/dashboards'],
          ['/v1/me', '/dashboards'],
        ];
        for (const [given, kept] of cases) {
          const r = await api('GET', `/login?next=${encodeURIComponent(given)}`);
          expect(r.status).toBe(200);
          expect(nextField(r.text)?.replace(/&amp;/g, '&')).toBe(kept);
        }
      });

      it('escapes what it echoes', async () => {
        const r = await api('GET', `/login?next=${encodeURIComponent('/dashboards/"><b>x')}`);
        expect(r.text).not.toContain('"><b>x');
        expect(r.text).not.toContain('<b>');
        // The next path is percent-encoded by the URL parser; the email is echoed as typed.
        const typed = await api('POST', '/login', form({ email: '"><script>x</script>' }));
        expect(typed.status).toBe(400);
        expect(typed.text).not.toMatch(/<script/i);
        expect(typed.text).toContain('value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"');
      });
    });

    describe('POST /login', () => {
      it('sets a Secure, HttpOnly, SameSite=Lax session cookie and redirects with 303', async () => {
        const r = await api(
          'POST',
          '/login',
          form({ email: 'admin@alpha.test', password: ADMIN_PASSWORD }),
        );
        expect(r.status).toBe(303);
        expect(r.headers.location).toBe('/dashboards');
        const cookie = sessionCookie(r);
        expect(cookie).toBeTruthy();
        const attributes = cookie!.split(/;\s*/).slice(1);
        expect(attributes).toEqual(
          expect.arrayContaining(['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/', 'Max-Age=28800']),
        );
        expect(cookie).not.toMatch(/Domain=/i);

        const token = /^[^=]+=([^;]+)/.exec(cookie!)![1]!;
        const claims = decodeJwt(token);
        expect(claims).toMatchObject({
          aud: 'homeroom-api:browser',
          sub: world.alpha.adminUserId,
          tenant: world.alpha.id,
        });
        expect(claims.exp! - claims.iat!).toBe(28800);
        // The session is a revocable row of its own, not shared with any API session.
        const { rows } = await db.query(
          `select count(*)::int as n, bool_and(revoked_at is null) as live
           from refresh_tokens where family_id = $1`,
          [claims.sid],
        );
        expect(rows[0]).toEqual({ n: 1, live: true });
        const audit = await db.query(
          `select after from audit_log where action = 'auth.login' and after->>'session_id' = $1`,
          [claims.sid],
        );
        expect(audit.rows[0]?.after).toMatchObject({ via: 'browser' });
      });

      it('redirects to a safe next and ignores an unsafe one', async () => {
        const ok = await api(
          'POST',
          '/login',
          form({
            email: 'admin@alpha.test',
            password: ADMIN_PASSWORD,
            next: '/dashboards/finance',
          }),
        );
        expect(ok.status).toBe(303);
        expect(ok.headers.location).toBe('/dashboards/finance');
        for (const next of ['https://evil.example/', '//evil.example', '/\\evil.example']) {
          const r = await api(
            'POST',
            '/login',
            form({ email: 'admin@alpha.test', password: ADMIN_PASSWORD, next }),
          );
          expect(r.status).toBe(303);
          expect(r.headers.location).toBe('/dashboards');
        }
      });

      it('re-renders the form with the generic message on a wrong password, without a cookie', async () => {
        const r = await api(
          'POST',
          '/login',
          form({ email: 'admin@alpha.test', password: 'Wrong-Password-123', next: '/' }),
        );
        expect(r.status).toBe(401);
        expectSecureHtml(r);
        expect(r.text).toContain('role="alert"');
        expect(r.text).toContain('The email or password is incorrect');
        expect(r.text).toContain('value="admin@alpha.test"');
        expect(nextField(r.text)).toBe('/');
        expect(sessionCookie(r)).toBeUndefined();

        const unknown = await api(
          'POST',
          '/login',
          form({ email: 'nobody@alpha.test', password: 'Wrong-Password-123' }),
        );
        expect(unknown.status).toBe(401);
        const message = (html: string) => /role="alert">([^<]*)</.exec(html)?.[1];
        expect(message(unknown.text)).toBe(message(r.text));
      });

      it('answers missing fields and unparseable bodies with 400, never a stack trace', async () => {
        const missing = await api('POST', '/login', form({ email: 'admin@alpha.test' }));
        expect(missing.status).toBe(400);
        expectSecureHtml(missing);
        for (const body of [
          { rawBody: '--x\r\nbroken', headers: { 'content-type': 'multipart/form-data' } },
          { rawBody: '{"email":', headers: { 'content-type': 'application/json' } },
          {
            rawBody: '%%%&&&===',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          },
          { rawBody: 'x', headers: { 'content-type': 'text/plain' } },
        ]) {
          const r = await api('POST', '/login', body);
          expect(r.status).toBeGreaterThanOrEqual(400);
          expect(r.status).toBeLessThan(500);
          expect(r.text).not.toMatch(/\bat .+:\d+:\d+|Error:/);
          expect(sessionCookie(r)).toBeUndefined();
        }
      });

      it('refuses a cross-site form post (login CSRF) with 403', async () => {
        const fields = { email: 'admin@alpha.test', password: ADMIN_PASSWORD };
        const attacks: Record<string, string>[] = [
          { origin: 'https://evil.example' },
          { origin: 'null' },
          { 'sec-fetch-site': 'cross-site' },
          { origin: 'https://beta.test' },
        ];
        for (const headers of attacks) {
          const r = await api('POST', '/login', {
            ...form(fields),
            headers: { ...form(fields).headers, ...headers },
          });
          expect(r.status).toBe(403);
          expect(sessionCookie(r)).toBeUndefined();
        }
        const same = await api('POST', '/login', {
          ...form(fields),
          headers: {
            ...form(fields).headers,
            origin: 'https://alpha.test',
            'sec-fetch-site': 'same-origin',
          },
        });
        expect(same.status).toBe(303);
      });
    });

    describe('landing after sign-in', () => {
      /** Signs in through the form; the redirect's location and the cookie pair. */
      const signIn = async (email: string, next?: string) => {
        const r = await api(
          'POST',
          '/login',
          form({ email, password: ADMIN_PASSWORD, ...(next ? { next } : {}) }),
        );
        expect(r.status, r.text).toBe(303);
        return { location: r.headers.location as string, cookie: sessionCookie(r)!.split(';')[0]! };
      };
      const browse = (path: string, cookie: string, accept = 'text/html,*/*;q=0.8') =>
        api('GET', path, { headers: { cookie, accept } });

      it('lands a teacher and a parent on an HTML page naming them and their role, with a sign-out form', async () => {
        for (const who of [people.teacher, people.parent]) {
          for (const next of [undefined, '/dashboards/finance', '/']) {
            expect((await signIn(who.email, next)).location, who.email).toBe('/home');
          }
          const { location, cookie } = await signIn(who.email);
          const r = await browse(location, cookie);
          expect(r.status, r.text).toBe(200);
          expectSecureHtml(r);
          expect(r.text).toContain(
            `${who.first} ${who.last.replace('&', '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}`,
          );
          expect(r.text).not.toContain('<b>O’Neil</b>');
          expect(r.text).toContain(who.email);
          expect(r.text).toContain(`<strong>${who.role}</strong>`);
          expect(r.text).toMatch(/<form method="post" action="\/logout">/);
          expect(r.text).toContain('href="/docs"');
          expect(r.text).not.toContain('href="/dashboards"');
          if (who === people.teacher) {
            expect(r.text).toContain('/v1/attendance');
            expect(r.text).not.toContain('/v1/invoices');
          } else {
            expect(r.text).toContain('/v1/invoices');
            expect(r.text).not.toContain('/v1/leads');
          }
        }
      });

      it('answers a browser without the dashboards with an HTML 403 page, an API client with a problem', async () => {
        const { cookie } = await signIn(people.teacher.email);
        for (const path of ['/dashboards', '/dashboards/overview']) {
          const r = await browse(path, cookie);
          expect(r.status, path).toBe(403);
          expectSecureHtml(r);
          expect(r.text).toContain('school leadership');
          expect(r.text).toContain('href="/home"');
          expect(r.text).toMatch(/<form method="post" action="\/logout">/);
        }
        const json = await browse('/dashboards', cookie, 'application/json');
        expect(json.status).toBe(403);
        expect(String(json.headers['content-type'])).toMatch(/^application\/problem\+json/);
      });

      it('escapes a user name and a school name with a script tag and quotes on /home and the 403 page', async () => {
        const { location, cookie } = await signIn(scripted.email);
        const home = await browse(location, cookie);
        expect(home.status, home.text).toBe(200);
        const refused = await browse('/dashboards', cookie);
        expect(refused.status).toBe(403);
        for (const r of [home, refused]) {
          expectSecureHtml(r); // no <script anywhere
          expect(r.text).toContain(
            'Signed in as <strong>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#39;Brien</strong>',
          );
          expect(r.text).toContain('Teacher · West &lt;script&gt;&quot;w&quot;&lt;/script&gt;');
        }
      });

      it('still lands the admin and a principal on the dashboards', async () => {
        for (const email of ['admin@alpha.test', people.principal.email]) {
          const { location, cookie } = await signIn(email);
          expect(location, email).toBe('/dashboards');
          const r = await browse(location, cookie);
          expect(r.status, email).toBe(200);
          expect(r.text).toContain('Dashboards');
          const home = await browse('/home', cookie);
          expect(home.status).toBe(200);
          expect(home.text).toContain('href="/dashboards"');
        }
      });

      it('sends a browser that is not signed in from /home to /login', async () => {
        const r = await api('GET', '/home', { headers: { accept: 'text/html' } });
        expect(r.status).toBe(303);
        expect(r.headers.location).toBe('/login?next=%2Fhome');
      });
    });

    describe('POST /logout', () => {
      it('revokes the cookie session, clears the cookie and redirects to /login', async () => {
        const signedIn = await api(
          'POST',
          '/login',
          form({ email: 'admin@alpha.test', password: ADMIN_PASSWORD }),
        );
        const cookie = sessionCookie(signedIn)!;
        const pair = cookie.split(';')[0]!;
        const sid = decodeJwt(pair.slice(COOKIE.length + 1)).sid;

        const r = await api('POST', '/logout', { headers: { cookie: pair } });
        expect(r.status).toBe(303);
        expect(r.headers.location).toBe('/login');
        const cleared = sessionCookie(r);
        expect(cleared).toMatch(new RegExp(`^${COOKIE}=;`));
        expect(cleared).toMatch(/Max-Age=0/);
        expect(cleared).toMatch(/Secure/);
        expect(cleared).toMatch(/Path=\//);

        const { rows } = await db.query(
          `select bool_and(revoked_at is not null) as revoked from refresh_tokens
           where family_id = $1`,
          [sid],
        );
        expect(rows[0].revoked).toBe(true);
        const audit = await db.query(
          `select actor_user_id from audit_log where action = 'auth.logout' and entity_id = $1`,
          [sid],
        );
        expect(audit.rows).toEqual([{ actor_user_id: world.alpha.adminUserId }]);
      });

      it('clears the cookie even without a valid session', async () => {
        for (const headers of [{}, { cookie: `${COOKIE}=garbage` }] as Record<string, string>[]) {
          const r = await api('POST', '/logout', { headers });
          expect(r.status).toBe(303);
          expect(r.headers.location).toBe('/login');
          expect(sessionCookie(r)).toMatch(/Max-Age=0/);
        }
      });

      it('refuses a cross-site logout', async () => {
        const r = await api('POST', '/logout', { headers: { origin: 'https://evil.example' } });
        expect(r.status).toBe(403);
        expect(sessionCookie(r)).toBeUndefined();
      });
    });
  });
}
