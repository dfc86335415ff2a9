import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { createApiWorld, type ApiWorld } from '../support/api-world.js';

/**
 * POST /v1/public/tours: the tour request upserts the lead like an inquiry and moves it to
 * `tour_scheduled` only forward by funnel position; a lost lead is reopened.
 */

let world: ApiWorld;
let db: pg.Client;

beforeAll(async () => {
  world = await createApiWorld('pubtour', {
    vars: { PUBLIC_RATE_LIMIT: '10000', METRICS_QUEUE: `test-${randomUUID()}` },
  });
  db = new pg.Client({ connectionString: world.t.adminUrl('pool') });
  await db.connect();
  // Beta runs a funnel without tours: a tour request must not invent a stage for it.
  await db.query(
    `update funnel_stages set deleted_at = now() where tenant_id = $1 and key = 'tour_scheduled'`,
    [world.beta.id],
  );
});

afterAll(async () => {
  await db?.end();
  await world?.close();
});

const day = (offset: number) =>
  new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

function tour(overrides: Record<string, unknown> = {}) {
  return {
    guardian_name: 'Ana Park',
    email: `tour.${randomUUID().slice(0, 8)}@example.org`,
    phone: '+44 20 7946 0958',
    student_first_name: 'Min',
    grade_interest: '3',
    consent: true,
    preferred_times: [{ date: day(10), time: '09:30' }, { date: day(12) }],
    message: 'Mornings are best.',
    utm_source: 'instagram',
    ...overrides,
  };
}

const postTour = (target: ApiTarget, body: unknown, host = 'alpha.test') =>
  call(target, 'POST', '/v1/public/tours', { host, body });
const postInquiry = (target: ApiTarget, body: unknown, host = 'alpha.test') =>
  call(target, 'POST', '/v1/public/inquiries', { host, body });

async function lead(id: string) {
  const r = await db.query(`select * from leads where id = $1`, [id]);
  return r.rows[0];
}
async function history(id: string) {
  const r = await db.query(
    `select from_stage, to_stage, note from lead_stage_history where lead_id = $1 order by changed_at, created_at`,
    [id],
  );
  return r.rows;
}
async function touches(id: string) {
  const r = await db.query(
    `select kind, details from lead_touchpoints where lead_id = $1 order by occurred_at, created_at`,
    [id],
  );
  return r.rows;
}

function expectProblem(r: ApiResponse, status: number, type: string) {
  expect(r.status, r.text).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(r.json.type).toBe(`https://docs.homeroom.app/problems/${type}`);
}

for (const runtime of ['node', 'workerd'] as const) {
  describe(`POST /v1/public/tours on ${runtime}`, () => {
    const target = () => world.targets.find((t) => t.runtime === runtime)!;

    it('creates a new lead directly at tour_scheduled with one history row and the preferred times', async () => {
      const r = await postTour(target(), tour());
      expect(r.status, r.text).toBe(201);
      expect(Object.keys(r.json)).toEqual(['lead_id']);
      expect(await lead(r.json.lead_id)).toMatchObject({
        stage: 'tour_scheduled',
        source: 'instagram',
      });
      expect(await history(r.json.lead_id)).toMatchObject([
        { from_stage: null, to_stage: 'tour_scheduled' },
      ]);
      const [t] = await touches(r.json.lead_id);
      expect(t.kind).toBe('tour_request');
      expect(t.details.preferred_times).toEqual([
        { date: day(10), time: '09:30' },
        { date: day(12), time: null },
      ]);
      expect(t.details.message).toBe('Mornings are best.');
    });

    it('moves an inquiry lead forward to tour_scheduled with a history row', async () => {
      const body = tour();
      const first = await postInquiry(target(), { ...body, preferred_times: undefined });
      expect(first.status, first.text).toBe(201);
      const r = await postTour(target(), { ...body, email: body.email.toUpperCase() });
      expect(r.status, r.text).toBe(201);
      expect(r.json.lead_id).toBe(first.json.lead_id);
      expect((await lead(r.json.lead_id)).stage).toBe('tour_scheduled');
      expect(await history(r.json.lead_id)).toMatchObject([
        { from_stage: null, to_stage: 'inquiry' },
        { from_stage: 'inquiry', to_stage: 'tour_scheduled' },
      ]);
      expect((await touches(r.json.lead_id)).map((t) => t.kind)).toEqual([
        'inquiry',
        'tour_request',
      ]);
      const audit = await db.query(
        `select before, after from audit_log where entity_id = $1 and action = 'lead.tour_request'`,
        [r.json.lead_id],
      );
      expect(audit.rows).toEqual([
        {
          before: { stage: 'inquiry' },
          after: expect.objectContaining({ stage: 'tour_scheduled', created: false }),
        },
      ]);
    });

    it('never moves a lead backwards: later stages keep their stage', async () => {
      const body = tour();
      const first = await postTour(target(), body);
      await db.query(`update leads set stage = 'application_started' where id = $1`, [
        first.json.lead_id,
      ]);
      const r = await postTour(target(), body);
      expect(r.status, r.text).toBe(201);
      expect((await lead(r.json.lead_id)).stage).toBe('application_started');
      expect(await history(r.json.lead_id)).toHaveLength(1);
      expect(await touches(r.json.lead_id)).toHaveLength(2);
      // An inquiry after a tour request does not pull the lead back either.
      const second = tour();
      await postTour(target(), second);
      const again = await postInquiry(target(), { ...second, preferred_times: undefined });
      expect((await lead(again.json.lead_id)).stage).toBe('tour_scheduled');
    });

    it('reopens a lost lead at tour_scheduled, keeping the lost reason in the history', async () => {
      const body = tour();
      const first = await postInquiry(target(), { ...body, preferred_times: undefined });
      await db.query(
        `update leads set stage = 'lost', lost_at = now(), lost_reason = 'chose another school' where id = $1`,
        [first.json.lead_id],
      );
      const r = await postTour(target(), body);
      expect(r.status, r.text).toBe(201);
      expect(await lead(r.json.lead_id)).toMatchObject({
        stage: 'tour_scheduled',
        lost_at: null,
        lost_reason: null,
      });
      const h = await history(r.json.lead_id);
      expect(h.at(-1)).toMatchObject({ from_stage: 'lost', to_stage: 'tour_scheduled' });
      expect(h.at(-1).note).toMatch(/reopened.*chose another school/);
    });

    it('reopens a lost lead at inquiry on a new inquiry', async () => {
      const body = tour();
      const first = await postInquiry(target(), { ...body, preferred_times: undefined });
      await db.query(`update leads set stage = 'lost', lost_at = now() where id = $1`, [
        first.json.lead_id,
      ]);
      const r = await postInquiry(target(), { ...body, preferred_times: undefined });
      expect((await lead(r.json.lead_id)).stage).toBe('inquiry');
      expect((await history(r.json.lead_id)).at(-1)).toMatchObject({
        from_stage: 'lost',
        to_stage: 'inquiry',
      });
    });

    it('records the touch without a stage change where the funnel has no tour stage', async () => {
      const r = await postTour(target(), tour(), 'beta.test');
      expect(r.status, r.text).toBe(201);
      expect((await lead(r.json.lead_id)).stage).toBe('inquiry');
      expect(await history(r.json.lead_id)).toMatchObject([
        { from_stage: null, to_stage: 'inquiry' },
      ]);
      expect((await touches(r.json.lead_id)).map((t) => t.kind)).toEqual(['tour_request']);
    });

    it('refuses preferred dates in the past, too far ahead or malformed', async () => {
      const cases: [unknown, string][] = [
        [[{ date: '2020-01-01' }], 'json.preferred_times.0.date'],
        [[{ date: day(10) }, { date: day(400) }], 'json.preferred_times.1.date'],
        [[{ date: '2026-02-30' }], 'json.preferred_times.0.date'],
        [[{ date: day(10), time: '25:00' }], 'json.preferred_times.0.time'],
        [[{ date: day(10), when: 'soon' }], 'json.preferred_times.0'],
        [Array.from({ length: 6 }, () => ({ date: day(10) })), 'json.preferred_times'],
        ['tomorrow', 'json.preferred_times'],
      ];
      for (const [times, field] of cases) {
        const body = tour({ preferred_times: times });
        const r = await postTour(target(), body);
        expectProblem(r, 400, 'validation_failed');
        expect(r.json.invalid_params.map((p: { name: string }) => p.name)).toContain(field);
        const found = await db.query(`select 1 from leads where lower(email) = lower($1)`, [
          body.email,
        ]);
        expect(found.rowCount).toBe(0);
      }
    });

    it('accepts a tour request without preferred times', async () => {
      const r = await postTour(target(), tour({ preferred_times: undefined }));
      expect(r.status, r.text).toBe(201);
      expect((await touches(r.json.lead_id))[0].details.preferred_times).toEqual([]);
    });

    it('answers a filled honeypot with 201 and stores nothing', async () => {
      const body = tour({ website: 'buy-now.example' });
      const r = await postTour(target(), body);
      expect(r.status, r.text).toBe(201);
      const found = await db.query(`select 1 from leads where lower(email) = lower($1)`, [
        body.email,
      ]);
      expect(found.rowCount).toBe(0);
      const r2 = await db.query(`select 1 from lead_touchpoints where lead_id = $1`, [
        r.json.lead_id,
      ]);
      expect(r2.rowCount).toBe(0);
    });

    it('refuses another tenant’s school (422)', async () => {
      const other = await db.query<{ id: string }>(
        `insert into org_units (tenant_id, parent_id, kind, name, code)
         values ($1, $2, 'school', 'Beta Tours', $3) returning id`,
        [world.beta.id, world.beta.rootOrgUnitId, `BT${randomUUID().slice(0, 6)}`],
      );
      const r = await postTour(target(), tour({ school_id: other.rows[0]!.id }));
      expectProblem(r, 422, 'unprocessable');
    });
  });
}
