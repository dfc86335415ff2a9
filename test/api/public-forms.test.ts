import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDomain } from '../../db/platform.js';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { createApiWorld, type ApiWorld } from '../support/api-world.js';

/**
 * Plain HTML form posts to the public lead endpoints (no script on the school's site):
 * urlencoded and multipart bodies go through the JSON schema and handler; `redirect` sends
 * the browser to the site's own thank-you page and nowhere else; browsers without one get
 * small HTML pages, API clients JSON. On Node and in workerd.
 */

let world: ApiWorld;
let db: pg.Client;
let north = '';

beforeAll(async () => {
  world = await createApiWorld('pubform', {
    vars: { PUBLIC_RATE_LIMIT: '100000', METRICS_QUEUE: `test-${randomUUID()}` },
  });
  db = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await db.connect();
  const r = await db.query<{ id: string }>(
    `insert into org_units (tenant_id, parent_id, kind, name, code, grade_levels, status, enrollment_open, timezone)
     values ($1, $2, 'school', 'Alpha North', 'AN', '{K,1,2}', 'active', true, 'America/Chicago') returning id`,
    [world.alpha.id, world.alpha.rootOrgUnitId],
  );
  north = r.rows[0]!.id;
  await addDomain(world.t.env, {
    slug: 'alpha',
    hostname: 'www.alpha-schools.test',
    purpose: 'site',
    actor: 'test',
    verified: true,
  });
});

afterAll(async () => {
  await db?.end();
  await world?.close();
});

const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

const fields = (overrides: Record<string, string> = {}): Record<string, string> => ({
  guardian_name: 'Rosa Díaz',
  email: `form.${randomUUID().slice(0, 8)}@example.org`,
  phone: '',
  student_first_name: 'Ines',
  grade_interest: 'K',
  school_id: north,
  message: '',
  consent: 'on',
  utm_source: 'newsletter',
  website: '',
  ...overrides,
});

function urlencoded(f: Record<string, string>) {
  return new URLSearchParams(f).toString();
}

function multipart(f: Record<string, string>): { body: Buffer; type: string } {
  const boundary = `----homeroom${randomUUID().replace(/-/g, '')}`;
  const parts = Object.entries(f).map(
    ([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`,
  );
  return {
    body: Buffer.from(`${parts.join('')}--${boundary}--\r\n`, 'utf8'),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

function postForm(
  target: ApiTarget,
  path: string,
  f: Record<string, string>,
  options: {
    host?: string;
    headers?: Record<string, string>;
    as?: 'urlencoded' | 'multipart';
  } = {},
): Promise<ApiResponse> {
  const { body, type } =
    options.as === 'multipart'
      ? multipart(f)
      : { body: urlencoded(f), type: 'application/x-www-form-urlencoded' };
  return call(target, 'POST', path, {
    host: options.host ?? 'alpha.test',
    rawBody: body,
    headers: { 'content-type': type, ...options.headers },
  });
}

async function leadsOf(email: string) {
  const r = await db.query(
    `select l.*, (select count(*)::int from lead_touchpoints t where t.lead_id = l.id) touches
       from leads l where lower(email) = lower($1)`,
    [email],
  );
  return r.rows;
}

async function writes(): Promise<string> {
  const r = await db.query(
    `select (select count(*) from leads) l, (select count(*) from lead_touchpoints) t,
            (select count(*) from audit_log) a, (select count(*) from idempotency_keys) k`,
  );
  return JSON.stringify(r.rows[0]);
}

const cspOf = (r: ApiResponse) => String(r.headers['content-security-policy'] ?? '');

for (const runtime of ['node', 'workerd'] as const) {
  describe(`plain form posts on ${runtime}`, () => {
    const target = () => world.targets.find((t) => t.runtime === runtime)!;

    it('records an urlencoded inquiry like JSON: empty fields absent, a ticked box is consent', async () => {
      const f = fields();
      const r = await postForm(target(), '/v1/public/inquiries', f);
      expect(r.status, r.text).toBe(201);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      const [lead] = await leadsOf(f.email!);
      expect(lead).toMatchObject({
        id: r.json.lead_id,
        guardian_name: 'Rosa Díaz',
        phone: null,
        message: null,
        consent: true,
        grade_interest: 'K',
        school_id: north,
        stage: 'inquiry',
        source: 'newsletter',
      });
      const audit = await db.query(`select action from audit_log where entity_id = $1`, [lead.id]);
      expect(audit.rows).toEqual([{ action: 'lead.inquiry' }]);
    });

    it('records a multipart tour request with one preferred date', async () => {
      const date = new Date(Date.now() + 9 * 86_400_000).toISOString().slice(0, 10);
      const f = fields({ preferred_date: date, preferred_time: '10:15' });
      const r = await postForm(target(), '/v1/public/tours', f, { as: 'multipart' });
      expect(r.status, r.text).toBe(201);
      const [lead] = await leadsOf(f.email!);
      expect(lead.stage).toBe('tour_scheduled');
      const tp = await db.query(`select kind, details from lead_touchpoints where lead_id = $1`, [
        lead.id,
      ]);
      expect(tp.rows[0]).toMatchObject({ kind: 'tour_request' });
      expect(tp.rows[0].details.preferred_times).toEqual([{ date, time: '10:15' }]);
    });

    it('refuses a form the JSON schema refuses, with the same field errors', async () => {
      const before = await writes();
      for (const [f, field] of [
        [fields({ consent: '' }), 'form.consent'],
        [fields({ consent: 'off' }), 'form.consent'],
        [fields({ email: 'not-an-email' }), 'form.email'],
        [fields({ nickname: 'x' }), 'form'],
        [fields({ school_id: 'abc' }), 'form.school_id'],
      ] as const) {
        for (const as of ['urlencoded', 'multipart'] as const) {
          const r = await postForm(target(), '/v1/public/inquiries', f, { as });
          expect(r.status, r.text).toBe(400);
          expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
          expect(r.json.invalid_params.map((p: { name: string }) => p.name)).toContain(field);
        }
      }
      // A repeated field is not a string either.
      const twice = `${urlencoded(fields())}&email=other%40example.org`;
      const r = await call(target(), 'POST', '/v1/public/inquiries', {
        host: 'alpha.test',
        rawBody: twice,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(r.status, r.text).toBe(400);
      expect(await writes()).toBe(before);
    });

    it('answers a browser with an HTML thank-you page, and a wrong form with what to fix', async () => {
      const ok = await postForm(target(), '/v1/public/inquiries', fields(), { headers: BROWSER });
      expect(ok.status, ok.text).toBe(201);
      expect(ok.headers['content-type']).toMatch(/^text\/html/);
      expect(ok.text).toContain('Thank you');
      expect(cspOf(ok)).toContain("default-src 'none'");
      expect(cspOf(ok)).toMatch(/frame-ancestors [^;]*https:\/\/www\.alpha-schools\.test/);

      const before = await writes();
      const bad = await postForm(
        target(),
        '/v1/public/inquiries',
        fields({ consent: '', guardian_name: '<script>alert(1)</script>' }),
        { headers: { ...BROWSER, referer: 'https://www.alpha-schools.test/admissions' } },
      );
      expect(bad.status, bad.text).toBe(400);
      expect(bad.headers['content-type']).toMatch(/^text\/html/);
      expect(bad.text).toContain('Consent');
      expect(bad.text).toContain('href="https://www.alpha-schools.test/admissions"');
      expect(bad.text).not.toContain('<script>');
      expect(await writes()).toBe(before);
    });

    it('sends the browser on to a thank-you page on the school’s own site with 303', async () => {
      for (const path of ['/v1/public/inquiries', '/v1/public/tours']) {
        const f = fields({ redirect: 'https://www.alpha-schools.test/thanks?from=form' });
        const r = await postForm(target(), path, f, { headers: BROWSER });
        expect(r.status, r.text).toBe(303);
        expect(r.headers.location).toBe('https://www.alpha-schools.test/thanks?from=form');
        expect(await leadsOf(f.email!)).toHaveLength(1);
        // The platform name of the tenant is its own site too.
        const g = fields({ redirect: 'http://alpha.localhost:8080/done' });
        const s = await postForm(target(), path, g);
        expect(s.status, s.text).toBe(303);
        expect(s.headers.location).toBe('http://alpha.localhost:8080/done');
      }
    });

    it('never redirects off the school’s own site: foreign, relative and disguised addresses are refused and nothing is written', async () => {
      const refused = [
        'https://evil.test/thanks',
        '//evil.test/thanks',
        '///evil.test',
        '/thanks',
        'javascript:alert(document.domain)',
        'data:text/html,hi',
        'https://www.alpha-schools.test@evil.test/',
        'https://user:pw@www.alpha-schools.test/',
        'https://www.alpha-schools.test\\@evil.test/',
        'https:\\\\evil.test/',
        'https:/\\evil.test/',
        'https:evil.test',
        '\thttps://www.alpha-schools.test/',
        'https://www.alpha-schools.test.evil.test/',
        'https://www.alpha-schools.test:8443/',
        'https://beta.test/thanks',
        'ftp://www.alpha-schools.test/',
      ];
      const before = await writes();
      for (const redirect of refused) {
        for (const headers of [BROWSER, {}]) {
          const r = await postForm(target(), '/v1/public/inquiries', fields({ redirect }), {
            headers,
          });
          expect(r.status, `${redirect}: ${r.text}`).toBe(400);
          expect(r.headers.location, redirect).toBeUndefined();
          if (headers === BROWSER) expect(r.headers['content-type']).toMatch(/^text\/html/);
          else expect(r.json.invalid_params[0].name).toBe('form.redirect');
        }
      }
      expect(await writes()).toBe(before);
    });

    it('keeps tenants apart: another tenant’s site is no thank-you page, nor its school a school', async () => {
      const toAlpha = await postForm(
        target(),
        '/v1/public/inquiries',
        fields({ school_id: '', redirect: 'https://www.alpha-schools.test/thanks' }),
        { host: 'beta.test' },
      );
      expect(toAlpha.status, toAlpha.text).toBe(400);
      expect(toAlpha.headers.location).toBeUndefined();
      const school = await postForm(target(), '/v1/public/inquiries', fields(), {
        host: 'beta.test',
      });
      expect(school.status, school.text).toBe(422);
    });

    it('answers a filled honeypot like a real post and stores nothing', async () => {
      const before = await writes();
      const r = await postForm(
        target(),
        '/v1/public/inquiries',
        fields({ website: 'http://spam.test', redirect: 'https://www.alpha-schools.test/t' }),
        { as: 'multipart' },
      );
      expect(r.status).toBe(303);
      expect(await writes()).toBe(before);
    });

    it('replays a form carrying the same idempotency_key, across multipart boundaries', async () => {
      const key = randomUUID();
      const f = fields({ idempotency_key: key, redirect: 'https://www.alpha-schools.test/t' });
      const first = await postForm(target(), '/v1/public/inquiries', f, { as: 'multipart' });
      const again = await postForm(target(), '/v1/public/inquiries', f, { as: 'multipart' });
      expect(first.status, first.text).toBe(303);
      expect(again.status, again.text).toBe(303);
      expect(again.headers['idempotency-replayed']).toBe('true');
      const [lead] = await leadsOf(f.email!);
      expect(lead.touches).toBe(1);
      const other = await postForm(target(), '/v1/public/inquiries', {
        ...f,
        guardian_name: 'Someone Else',
      });
      expect(other.status, other.text).toBe(422);
      expect(other.json.type).toMatch(/idempotency_key_reused$/);
    });
  });
}
