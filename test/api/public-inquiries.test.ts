import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDomain } from '../../db/platform.js';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { createApiWorld, REDIS_URL, type ApiWorld } from '../support/api-world.js';

/**
 * POST /v1/public/inquiries: the lead upsert (same email → same lead), school binding,
 * honeypot, audit and the metrics refresh it triggers — on Node and in workerd.
 */

const QUEUE = `test-${randomUUID()}`;
let world: ApiWorld;
let db: pg.Client;
let redis: Redis;
let queue: Queue;
const schools: Record<'north' | 'south' | 'closed' | 'beta', string> = {
  north: '',
  south: '',
  closed: '',
  beta: '',
};

async function addSchool(
  tenantId: string,
  parentId: string,
  name: string,
  grades: string[],
  status = 'active',
): Promise<string> {
  const r = await db.query<{ id: string }>(
    `insert into org_units (tenant_id, parent_id, kind, name, code, grade_levels, status, enrollment_open, timezone)
     values ($1, $2, 'school', $3, $4, $5, $6, true, 'America/Chicago') returning id`,
    [tenantId, parentId, name, name.toUpperCase().replace(/\W/g, ''), grades, status],
  );
  return r.rows[0]!.id;
}

beforeAll(async () => {
  world = await createApiWorld('pubinq', {
    vars: { PUBLIC_RATE_LIMIT: '10000', METRICS_QUEUE: QUEUE },
  });
  db = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await db.connect();
  const { alpha, beta } = world;
  schools.north = await addSchool(alpha.id, alpha.rootOrgUnitId, 'Alpha North', ['K', '1', '2']);
  schools.south = await addSchool(alpha.id, alpha.rootOrgUnitId, 'Alpha South', ['6', '7', '8']);
  schools.closed = await addSchool(alpha.id, alpha.rootOrgUnitId, 'Alpha Old', ['K'], 'closed');
  schools.beta = await addSchool(beta.id, beta.rootOrgUnitId, 'Beta Prep', ['K', '1']);
  await addDomain(world.t.env, {
    slug: 'alpha',
    hostname: 'north.alpha-schools.test',
    orgUnitId: schools.north,
    purpose: 'site',
    actor: 'test',
    verified: true,
  });
  await addDomain(world.t.env, {
    slug: 'alpha',
    hostname: 'www.alpha-schools.test',
    purpose: 'site',
    actor: 'test',
    verified: true,
  });
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  queue = new Queue(QUEUE, { connection: redis });
});

afterAll(async () => {
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  redis?.disconnect();
  await db?.end();
  await world?.close();
});

const email = (tag = 'family') => `${tag}.${randomUUID().slice(0, 8)}@Example.org`;

function inquiry(overrides: Record<string, unknown> = {}) {
  return {
    guardian_name: 'Maria Lopez',
    email: email(),
    phone: '+1 (555) 010-0199',
    student_first_name: 'Sofia',
    grade_interest: 'K',
    message: 'We are moving in June.\nCan we visit?',
    consent: true,
    utm_source: 'Google',
    utm_medium: 'cpc',
    utm_campaign: 'fall-open-house',
    referrer: 'https://www.google.com/search?q=school',
    landing_page: 'https://www.alpha-schools.test/admissions',
    ...overrides,
  };
}

const post = (target: ApiTarget, host: string, body: unknown, headers = {}) =>
  call(target, 'POST', '/v1/public/inquiries', { host, body, headers });

async function leadsByEmail(tenantId: string, address: string) {
  const r = await db.query(
    `select * from leads where tenant_id = $1 and lower(email) = lower($2) and deleted_at is null`,
    [tenantId, address],
  );
  return r.rows;
}

async function rowsOf(table: string, tenantId: string, leadId: string) {
  const r = await db.query(
    `select * from ${table} where tenant_id = $1 and lead_id = $2 order by created_at, id`,
    [tenantId, leadId],
  );
  return r.rows;
}

function expectProblem(r: ApiResponse, status: number, type?: string) {
  expect(r.status, r.text).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(r.json.status).toBe(status);
  if (type) expect(r.json.type).toBe(`https://docs.homeroom.app/problems/${type}`);
  expect(r.text).not.toMatch(/\bat .+\.(ts|js):\d+/);
}

for (const runtime of ['node', 'workerd'] as const) {
  describe(`POST /v1/public/inquiries on ${runtime}`, () => {
    const target = () => world.targets.find((t) => t.runtime === runtime)!;

    it('creates a lead at the inquiry stage with history, touchpoint, source and audit', async () => {
      const body = inquiry({ school_id: schools.north });
      const r = await post(target(), 'alpha.test', body);
      expect(r.status, r.text).toBe(201);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(r.json)).toEqual(['lead_id']);
      const [lead, ...more] = await leadsByEmail(world.alpha.id, body.email);
      expect(more).toHaveLength(0);
      expect(lead).toMatchObject({
        id: r.json.lead_id,
        guardian_name: 'Maria Lopez',
        email: body.email,
        phone: '+1 (555) 010-0199',
        student_first_name: 'Sofia',
        grade_interest: 'K',
        school_id: schools.north,
        stage: 'inquiry',
        consent: true,
        source: 'google',
      });
      expect(lead.first_touch_at).toBeInstanceOf(Date);
      const history = await rowsOf('lead_stage_history', world.alpha.id, lead.id);
      expect(history.map((h) => [h.from_stage, h.to_stage])).toEqual([[null, 'inquiry']]);
      const touches = await rowsOf('lead_touchpoints', world.alpha.id, lead.id);
      expect(touches).toHaveLength(1);
      expect(touches[0]).toMatchObject({
        kind: 'inquiry',
        channel: 'web',
        utm_source: 'Google',
        utm_medium: 'cpc',
        utm_campaign: 'fall-open-house',
        referrer: 'https://www.google.com/search?q=school',
        landing_page: 'https://www.alpha-schools.test/admissions',
      });
      expect(touches[0].details.message).toBe('We are moving in June.\nCan we visit?');
      const audit = await db.query(
        `select * from audit_log where tenant_id = $1 and entity_id = $2`,
        [world.alpha.id, lead.id],
      );
      expect(audit.rows).toHaveLength(1);
      expect(audit.rows[0]).toMatchObject({ action: 'lead.inquiry', actor_kind: 'public' });
      // The append-only log holds ids and stages, not the family's contact details.
      expect(JSON.stringify(audit.rows[0])).not.toContain(body.email);
    });

    it('treats the same email in another case as the same lead: one lead, a new touchpoint, refreshed contact', async () => {
      const address = email('same');
      const first = await post(
        target(),
        'alpha.test',
        inquiry({ email: address, utm_source: 'facebook', phone: '555-010-0001' }),
      );
      expect(first.status, first.text).toBe(201);
      const second = await post(
        target(),
        'alpha.test',
        inquiry({
          email: address.toUpperCase(),
          guardian_name: 'Maria Lopez-Smith',
          phone: '555-010-0002',
          utm_source: 'newsletter',
          student_first_name: '',
        }),
      );
      expect(second.status, second.text).toBe(201);
      expect(second.json.lead_id).toBe(first.json.lead_id);
      const leads = await leadsByEmail(world.alpha.id, address);
      expect(leads).toHaveLength(1);
      expect(leads[0]).toMatchObject({
        guardian_name: 'Maria Lopez-Smith',
        phone: '555-010-0002',
        student_first_name: 'Sofia', // an empty field does not erase what we know
        email: address, // the address as first written
        source: 'facebook', // first touch wins
        stage: 'inquiry',
      });
      const touches = await rowsOf('lead_touchpoints', world.alpha.id, first.json.lead_id);
      expect(touches.map((t) => t.utm_source)).toEqual(['facebook', 'newsletter']);
      const history = await rowsOf('lead_stage_history', world.alpha.id, first.json.lead_id);
      expect(history).toHaveLength(1);
    });

    it('makes simultaneous first inquiries with one email one lead', async () => {
      const address = email('race');
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          post(target(), 'alpha.test', inquiry({ email: i % 2 ? address : address.toLowerCase() })),
        ),
      );
      for (const r of results) expect(r.status, r.text).toBe(201);
      expect(new Set(results.map((r) => r.json.lead_id)).size).toBe(1);
      const leads = await leadsByEmail(world.alpha.id, address);
      expect(leads).toHaveLength(1);
      expect(await rowsOf('lead_touchpoints', world.alpha.id, leads[0].id)).toHaveLength(6);
      expect(await rowsOf('lead_stage_history', world.alpha.id, leads[0].id)).toHaveLength(1);
    });

    it('derives the source from the referrer host, else direct', async () => {
      const a = inquiry({ utm_source: null, referrer: 'https://www.Bing.com/?q=x' });
      const b = inquiry({ utm_source: '', referrer: '' });
      expect((await post(target(), 'alpha.test', a)).status).toBe(201);
      expect((await post(target(), 'alpha.test', b)).status).toBe(201);
      expect((await leadsByEmail(world.alpha.id, a.email))[0].source).toBe('bing.com');
      expect((await leadsByEmail(world.alpha.id, b.email))[0].source).toBe('direct');
    });

    it("defaults the school to the site's school and refuses another school there", async () => {
      const body = inquiry();
      const r = await post(target(), 'north.alpha-schools.test', body);
      expect(r.status, r.text).toBe(201);
      expect((await leadsByEmail(world.alpha.id, body.email))[0].school_id).toBe(schools.north);

      const other = inquiry({ school_id: schools.south, grade_interest: '6' });
      const refused = await post(target(), 'north.alpha-schools.test', other);
      expectProblem(refused, 422, 'unprocessable');
      expect(refused.json.invalid_params[0].name).toBe('json.school_id');
      expect(await leadsByEmail(world.alpha.id, other.email)).toHaveLength(0);

      // Naming the site's own school is fine.
      const same = inquiry({ school_id: schools.north });
      expect((await post(target(), 'north.alpha-schools.test', same)).status).toBe(201);
    });

    it('leaves the school empty on a network site without school_id', async () => {
      const body = inquiry({ grade_interest: '11' });
      const r = await post(target(), 'www.alpha-schools.test', body);
      expect(r.status, r.text).toBe(201);
      expect((await leadsByEmail(world.alpha.id, body.email))[0]).toMatchObject({
        school_id: null,
        grade_interest: '11',
      });
    });

    it('normalises the grade to the school’s spelling and refuses grades it does not offer', async () => {
      const body = inquiry({ school_id: schools.north, grade_interest: 'k' });
      expect((await post(target(), 'alpha.test', body)).status).toBe(201);
      expect((await leadsByEmail(world.alpha.id, body.email))[0].grade_interest).toBe('K');
      const wrong = await post(
        target(),
        'alpha.test',
        inquiry({ school_id: schools.north, grade_interest: '9' }),
      );
      expectProblem(wrong, 422, 'unprocessable');
      expect(wrong.json.invalid_params[0].name).toBe('json.grade_interest');
    });

    it('refuses a closed school, an unknown school and another tenant’s school alike (422)', async () => {
      for (const id of [schools.closed, randomUUID(), schools.beta, world.beta.rootOrgUnitId]) {
        const body = inquiry({ school_id: id, grade_interest: null });
        const r = await post(target(), 'alpha.test', body);
        expectProblem(r, 422, 'unprocessable');
        expect(r.json.detail).toBe('No such school.');
        expect(await leadsByEmail(world.alpha.id, body.email)).toHaveLength(0);
      }
      // The org unit that is not a school (the network itself) is refused too.
      const r = await post(
        target(),
        'alpha.test',
        inquiry({ school_id: world.alpha.rootOrgUnitId, grade_interest: null }),
      );
      expectProblem(r, 422, 'unprocessable');
    });

    it('keeps tenants apart: the same email in two tenants is two leads', async () => {
      const address = email('two');
      const a = await post(target(), 'alpha.test', inquiry({ email: address }));
      const b = await post(target(), 'beta.test', inquiry({ email: address }));
      expect(a.status).toBe(201);
      expect(b.status).toBe(201);
      expect(a.json.lead_id).not.toBe(b.json.lead_id);
      expect(await leadsByEmail(world.alpha.id, address)).toHaveLength(1);
      expect(await leadsByEmail(world.beta.id, address)).toHaveLength(1);
    });

    it('answers a filled honeypot like a real inquiry and stores nothing', async () => {
      const before = await db.query(
        `select (select count(*) from leads) l, (select count(*) from lead_touchpoints) t,
                (select count(*) from audit_log) a, (select count(*) from idempotency_keys) k`,
      );
      const body = inquiry({ website: 'http://spam.example' });
      const r = await post(target(), 'alpha.test', body, { 'idempotency-key': randomUUID() });
      expect(r.status, r.text).toBe(201);
      expect(Object.keys(r.json)).toEqual(['lead_id']);
      expect(r.json.lead_id).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      // Asking again gives the same id, as a real lead would.
      const again = await post(target(), 'alpha.test', body);
      expect(again.json.lead_id).toBe(r.json.lead_id);
      const after = await db.query(
        `select (select count(*) from leads) l, (select count(*) from lead_touchpoints) t,
                (select count(*) from audit_log) a, (select count(*) from idempotency_keys) k`,
      );
      expect(after.rows[0]).toEqual(before.rows[0]);
      if (runtime === 'node') {
        expect(target().services!.log.counters.get('honeypot')).toBeGreaterThanOrEqual(2);
      }
    });

    it('refuses missing consent, unknown fields and a bad email with field errors', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [inquiry({ consent: false }), 'json.consent'],
        [inquiry({ consent: undefined }), 'json.consent'],
        [inquiry({ favourite_colour: 'blue' }), 'json'],
        [inquiry({ email: 'not-an-email' }), 'json.email'],
        [inquiry({ phone: '12' }), 'json.phone'],
        [inquiry({ guardian_name: '   ' }), 'json.guardian_name'],
        [inquiry({ referrer: 'javascript:alert(1)' }), 'json.referrer'],
        [inquiry({ school_id: 'not-a-uuid' }), 'json.school_id'],
      ];
      for (const [body, field] of cases) {
        const r = await post(target(), 'alpha.test', body);
        expectProblem(r, 400, 'validation_failed');
        expect(
          r.json.invalid_params.map((p: { name: string }) => p.name),
          JSON.stringify(body),
        ).toContain(field);
      }
    });

    it('documents the public writes, with the Idempotency-Key header, in /openapi.json', async () => {
      const r = await call(target(), 'GET', '/openapi.json', { host: 'localhost' });
      expect(r.status).toBe(200);
      for (const path of ['/v1/public/inquiries', '/v1/public/tours']) {
        const op = r.json.paths[path].post;
        expect(op.security).toEqual([]);
        expect(op.parameters.map((p: { name: string }) => p.name)).toContain('idempotency-key');
        expect(Object.keys(op.responses)).toEqual(
          expect.arrayContaining(['201', '400', '413', '415', '422', '429']),
        );
      }
      expect(r.json.components.schemas.PublicInquiry.required).toEqual([
        'guardian_name',
        'email',
        'consent',
      ]);
    });

    it('enqueues one deduplicated refresh job carrying only ids after commits', async () => {
      await queue.obliterate({ force: true });
      for (let i = 0; i < 3; i++) {
        expect((await post(target(), 'beta.test', inquiry())).status).toBe(201);
      }
      const delayed = await queue.getDelayed();
      expect(delayed).toHaveLength(1);
      expect(delayed[0]!.data).toEqual({ tenantId: world.beta.id, mode: 'incremental' });
      expect(delayed[0]!.name).toBe('refresh');
      // A refused request enqueues nothing.
      await queue.obliterate({ force: true });
      await post(target(), 'beta.test', inquiry({ consent: false }));
      expect(await queue.getJobCounts('delayed', 'waiting')).toEqual({ delayed: 0, waiting: 0 });
      if (runtime === 'node') {
        expect(target().services!.log.counters.get('enqueue_failed') ?? 0).toBe(0);
      }
    });
  });
}
