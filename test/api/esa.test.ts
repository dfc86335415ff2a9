import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { REDIS_URL } from '../support/api-world.js';
import { Harness } from '../support/harness.js';
import { esaProgram, rawAccount, rawInvoice, schoolYear } from './finance-fixtures.js';
import { bearer, expectProblem } from '../support/staff.js';

/**
 * /v1/esa/applications on Node and in workerd: drafts, validated status transitions with
 * their permissions and timestamps, awards, disbursements, ESA payments linked to their
 * disbursement, relationship scoping and the metrics refresh after commits.
 */

const ALPHA = 'alpha.test';
const QUEUE = `test-${randomUUID()}`;
const AWARD = 700_000;

const h = await Harness.init('esa_api', { vars: { METRICS_QUEUE: QUEUE } });
const { staff } = h;

const {
  redis,
  queue,
  north,
  south,
  year,
  admin,
  principal,
  office,
  teacher,
  parent,
  otherParent,
  mine,
  theirs,
  far,
  gMine,
  betaApplication,
} = await h.setup(async () => {
  const a = h.tenants.alpha.id;
  const north = await staff.school(a, 'North');
  const south = await staff.school(a, 'South');
  const year = await schoolYear(staff, a, await staff.root(a));
  const admin = await h.admin('alpha');
  const principal = await staff.person(a, [{ role: 'principal', orgUnitId: north }]);
  const office = await staff.person(a, [{ role: 'office_admin', orgUnitId: north }]);
  const teacher = await staff.person(a, [{ role: 'teacher', orgUnitId: north }]);
  const parent = await staff.person(a, [{ role: 'parent' }]);
  const otherParent = await staff.person(a, [{ role: 'parent' }]);
  /** mine: the parent's child (north); theirs: another family's (north); far: at south. */
  const mine = await staff.student(a, north, { firstName: 'Ada' });
  const theirs = await staff.student(a, north, { firstName: 'Bo' });
  const far = await staff.student(a, south, { firstName: 'Cy' });
  const gMine = await staff.guardian(a, [mine], { userId: parent.userId });
  await staff.guardian(a, [theirs], { userId: otherParent.userId });
  const b = h.tenants.beta.id;
  const betaSchool = await staff.school(b, 'Beta School');
  const betaKid = await staff.student(b, betaSchool);
  const db = await staff.db();
  const r = await db.query<{ id: string }>(
    `insert into esa_applications (tenant_id, student_id, program_id, session_id, school_id)
     values ($1, $2, $3, $4, $5) returning id`,
    [
      b,
      betaKid,
      await esaProgram(staff, b, AWARD),
      await schoolYear(staff, b, betaSchool),
      betaSchool,
    ],
  );
  const betaApplication = r.rows[0]!.id;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE, { connection: redis });
  return {
    redis,
    queue,
    north,
    south,
    year,
    admin,
    principal,
    office,
    teacher,
    parent,
    otherParent,
    mine,
    theirs,
    far,
    gMine,
    betaApplication,
  };
});

afterAll(async () => {
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  redis?.disconnect();
});

for (const runtime of ['node', 'workerd'] as const) {
  describe(`/v1/esa on ${runtime}`, () => {
    const target = (): ApiTarget => h.target(runtime);
    const req = h.api(runtime).request;
    const ok = (r: ApiResponse, status = 200) => {
      expect(r.status, r.text).toBe(status);
      return r.json;
    };
    const ids = (r: ApiResponse): string[] => r.json.data.map((x: { id: string }) => x.id);
    const program = () => esaProgram(staff, h.tenants.alpha.id, AWARD);
    const apply = async (
      token: string,
      student: string,
      over: Record<string, unknown> = {},
    ): Promise<{ id: string; [k: string]: unknown }> =>
      ok(
        await req('POST', '/v1/esa/applications', token, {
          student_id: student,
          program_id: await program(),
          session_id: year,
          amount_requested_cents: 500_000,
          ...over,
        }),
        201,
      );
    const move = (id: string, token: string, to: string, extra: Record<string, unknown> = {}) =>
      req('POST', `/v1/esa/applications/${id}/transition`, token, { to, ...extra });
    /** An application of the parent's child taken to `approved`. */
    const approved = async (award?: number) => {
      const app = await apply(parent.token, mine);
      ok(await move(app.id, parent.token, 'submitted'));
      ok(await move(app.id, office.token, 'under_review'));
      return ok(
        await move(
          app.id,
          principal.token,
          'approved',
          award === undefined ? {} : { amount_awarded_cents: award },
        ),
      );
    };

    describe('applications', () => {
      it('lets a parent draft, change and submit an application for their own child', async () => {
        const app = await apply(parent.token, mine);
        expect(app).toMatchObject({
          status: 'draft',
          student_id: mine,
          school_id: north,
          amount_requested_cents: 500_000,
          amount_awarded_cents: null,
          submitted_at: null,
          decided_at: null,
        });
        const changed = ok(
          await req('PATCH', `/v1/esa/applications/${app.id}`, parent.token, {
            amount_requested_cents: 600_000,
          }),
        );
        expect(changed.amount_requested_cents).toBe(600_000);
        const submitted = ok(await move(app.id, parent.token, 'submitted'));
        expect(submitted.status).toBe('submitted');
        expect(Date.parse(submitted.submitted_at)).toBeGreaterThan(Date.now() - 60_000);
        expectProblem(
          await req('PATCH', `/v1/esa/applications/${app.id}`, parent.token, {
            amount_requested_cents: 1,
          }),
          409,
          'conflict',
        );
        expect((await staff.auditOf(app.id)).map((a) => a.action)).toEqual([
          'esa_application.create',
          'esa_application.update',
          'esa_application.submitted',
        ]);
      });

      it('refuses a bad body, an unknown programme, a duplicate and another family’s child', async () => {
        const bad = await req('POST', '/v1/esa/applications', parent.token, {
          student_id: 'x',
          amount_requested_cents: -1,
        });
        expectProblem(bad, 400, 'validation_failed');
        expect(bad.json.invalid_params.map((p: { name: string }) => p.name)).toEqual(
          expect.arrayContaining([
            'json.student_id',
            'json.program_id',
            'json.session_id',
            'json.amount_requested_cents',
          ]),
        );
        expectProblem(
          await req('POST', '/v1/esa/applications', parent.token, {
            student_id: mine,
            program_id: randomUUID(),
            session_id: year,
          }),
          422,
          'unprocessable',
        );
        const p = await program();
        await apply(parent.token, mine, { program_id: p });
        expectProblem(
          await req('POST', '/v1/esa/applications', parent.token, {
            student_id: mine,
            program_id: p,
            session_id: year,
          }),
          409,
          'conflict',
        );
        const other = await req('POST', '/v1/esa/applications', parent.token, {
          student_id: theirs,
          program_id: p,
          session_id: year,
        });
        expectProblem(other, 422, 'unprocessable');
        expect(other.json.invalid_params[0].name).toBe('json.student_id');
      });

      it('takes an application through review to approval with an award, then refuses further moves', async () => {
        const app = await apply(parent.token, mine);
        ok(await move(app.id, parent.token, 'submitted'));
        expectProblem(await move(app.id, parent.token, 'under_review'), 403, 'forbidden');
        ok(await move(app.id, office.token, 'under_review'));
        expectProblem(await move(app.id, parent.token, 'approved'), 403, 'forbidden');
        expectProblem(await move(app.id, office.token, 'approved'), 403, 'forbidden');
        const tooMuch = await move(app.id, principal.token, 'approved', {
          amount_awarded_cents: AWARD + 1,
        });
        expectProblem(tooMuch, 422, 'unprocessable');
        const done = ok(await move(app.id, principal.token, 'approved', { reason: 'eligible' }));
        expect(done).toMatchObject({
          status: 'approved',
          amount_awarded_cents: 500_000,
          decision_note: 'eligible',
        });
        expect(done.decided_at).toBeTruthy();
        const again = await move(app.id, principal.token, 'withdrawn');
        expectProblem(again, 409, 'conflict');
        expect(again.json.detail).toMatch(/approved to withdrawn.*none \(final\)/);
        expect(again.json.invalid_params).toEqual([
          { name: 'json.to', reason: 'approved is final' },
        ]);
        const trail = await staff.auditOf(app.id);
        expect(trail.map((a) => a.action)).toEqual([
          'esa_application.create',
          'esa_application.submitted',
          'esa_application.under_review',
          'esa_application.approved',
        ]);
        expect(trail.at(-1)).toMatchObject({
          before: { status: 'under_review' },
          after: { status: 'approved', amount_awarded_cents: 500_000 },
          actor_user_id: principal.userId,
        });
      });

      it.each([
        { from: [], to: 'approved', allowed: 'submitted, withdrawn' },
        { from: ['submitted'], to: 'denied', allowed: 'under_review, withdrawn' },
        { from: ['submitted'], to: 'draft', allowed: 'under_review, withdrawn' },
        {
          from: ['submitted', 'under_review'],
          to: 'submitted',
          allowed: 'approved, denied, withdrawn',
        },
      ])('answers 409 with the allowed next states: $from → $to', async ({ from, to, allowed }) => {
        const app = await apply(admin, mine);
        for (const step of from) ok(await move(app.id, admin, step));
        const r = await move(app.id, admin, to);
        expectProblem(r, 409, 'conflict');
        expect(r.json.detail).toContain(`allowed next: ${allowed}.`);
        expect(r.json.invalid_params).toEqual([
          { name: 'json.to', reason: `must be one of: ${allowed}` },
        ]);
      });

      it('withdraws from draft, submitted or under review, and denies with a note', async () => {
        for (const path of [[], ['submitted'], ['submitted', 'under_review']]) {
          const app = await apply(admin, mine);
          for (const step of path) ok(await move(app.id, admin, step));
          const w = ok(await move(app.id, parent.token, 'withdrawn', { reason: 'moved away' }));
          expect(w).toMatchObject({
            status: 'withdrawn',
            decided_at: null,
            decision_note: 'moved away',
          });
          expectProblem(await move(app.id, parent.token, 'submitted'), 409, 'conflict');
        }
        const app = await apply(admin, mine);
        ok(await move(app.id, admin, 'submitted'));
        ok(await move(app.id, admin, 'under_review'));
        const denied = ok(await move(app.id, admin, 'denied', { reason: 'income above limit' }));
        expect(denied).toMatchObject({
          status: 'denied',
          amount_awarded_cents: null,
          decision_note: 'income above limit',
        });
        expect(denied.decided_at).toBeTruthy();
        expectProblem(await move(app.id, admin, 'bogus'), 400, 'validation_failed');
      });

      it('scopes applications: own children for parents, own school for staff, nothing for teachers', async () => {
        const a1 = await apply(admin, mine);
        const a2 = await apply(admin, theirs);
        const a3 = await apply(admin, far);
        const list = await req('GET', '/v1/esa/applications?limit=100', parent.token);
        expect(ids(list)).toContain(a1.id);
        expect(ids(list)).not.toContain(a2.id);
        expectProblem(
          await req('GET', `/v1/esa/applications/${a2.id}`, parent.token),
          404,
          'not_found',
        );
        expectProblem(await move(a2.id, parent.token, 'submitted'), 404, 'not_found');
        expectProblem(
          await req('PATCH', `/v1/esa/applications/${a2.id}`, parent.token, {
            amount_requested_cents: 1,
          }),
          404,
          'not_found',
        );
        ok(await req('GET', `/v1/esa/applications/${a2.id}`, otherParent.token));
        const staffList = await req('GET', '/v1/esa/applications?limit=100', principal.token);
        expect(ids(staffList)).toEqual(expect.arrayContaining([a1.id, a2.id]));
        expect(ids(staffList)).not.toContain(a3.id);
        expectProblem(
          await req('GET', `/v1/esa/applications/${a3.id}`, office.token),
          404,
          'not_found',
        );
        ok(await move(a3.id, admin, 'submitted'));
        expectProblem(await move(a3.id, office.token, 'under_review'), 404, 'not_found');
        expectProblem(await req('GET', '/v1/esa/applications', teacher.token), 403, 'forbidden');
        const filtered = await req('GET', `/v1/esa/applications?status=submitted&limit=100`, admin);
        expect(ids(filtered)).toContain(a3.id);
        expect(ids(filtered)).not.toContain(a1.id);
      });

      it('treats another tenant’s application as missing and refuses another tenant’s token', async () => {
        const path = `/v1/esa/applications/${betaApplication}`;
        expectProblem(await req('GET', path, admin), 404, 'not_found');
        expectProblem(
          await req('PATCH', path, admin, { amount_requested_cents: 1 }),
          404,
          'not_found',
        );
        expectProblem(await move(betaApplication, admin, 'submitted'), 404, 'not_found');
        expectProblem(await req('GET', `${path}/disbursements`, admin), 404, 'not_found');
        expectProblem(
          await req('POST', `${path}/disbursements`, admin, {
            amount_cents: 1,
            scheduled_on: '2026-09-01',
          }),
          404,
          'not_found',
        );
        const list = await req('GET', '/v1/esa/applications?limit=100', admin);
        expect(ids(list)).not.toContain(betaApplication);
        const betaAdmin = await h.admin('beta');
        expectProblem(await req('GET', '/v1/esa/applications', betaAdmin), 401, 'unauthenticated');
        expectProblem(
          await call(target(), 'GET', '/v1/esa/applications', { host: ALPHA }),
          401,
          'unauthenticated',
        );
      });
    });

    describe('malformed input', () => {
      it('answers 400 with invalid_params for bad filters, pages, ids and bodies, never a 5xx', async () => {
        for (const path of [
          '/v1/esa/applications?status=pending',
          '/v1/esa/applications?limit=500',
          '/v1/esa/applications/not-a-uuid',
          '/v1/esa/applications/not-a-uuid/disbursements',
        ]) {
          const r = await req('GET', path, admin);
          expectProblem(r, 400, 'validation_failed');
          expect(r.json.invalid_params.length, path).toBeGreaterThan(0);
        }
        const app = await apply(admin, mine);
        for (const body of [{}, { to: 'submitted', amount_awarded_cents: -5 }, { to: 7 }]) {
          const r = await req('POST', `/v1/esa/applications/${app.id}/transition`, admin, body);
          expectProblem(r, 400, 'validation_failed');
        }
        expectProblem(
          await move(app.id, admin, 'submitted', { amount_awarded_cents: 5 }),
          422,
          'unprocessable',
        );
        const raw = await call(target(), 'POST', `/v1/esa/applications/${app.id}/transition`, {
          host: ALPHA,
          headers: bearer(admin),
          rawBody: '{"to":',
        });
        expectProblem(raw, 400, 'validation_failed');
      });
    });

    describe('disbursements and ESA payments', () => {
      it('schedules and records disbursements within the award, audited', async () => {
        const app = await approved(300_000);
        const base = `/v1/esa/applications/${app.id}/disbursements`;
        const d1 = ok(
          await req('POST', base, office.token, {
            amount_cents: 150_000,
            scheduled_on: '2026-09-01',
          }),
          201,
        );
        expect(d1).toMatchObject({
          status: 'scheduled',
          disbursed_on: null,
          application_id: app.id,
        });
        const d2 = ok(
          await req('POST', base, admin, {
            amount_cents: 100_000,
            scheduled_on: '2026-10-01',
            status: 'disbursed',
            disbursed_on: '2026-10-02',
            reference: 'AZ-DSB-1',
          }),
          201,
        );
        expect(d2).toMatchObject({ status: 'disbursed', disbursed_on: '2026-10-02' });
        const over = await req('POST', base, admin, {
          amount_cents: 50_001,
          scheduled_on: '2026-11-01',
        });
        expectProblem(over, 422, 'unprocessable');
        expect(over.json.invalid_params[0]).toEqual({
          name: 'json.amount_cents',
          reason: 'exceeds what is left of the award (50000)',
        });
        expectProblem(
          await req('POST', base, admin, {
            amount_cents: 1,
            scheduled_on: '2026-11-01',
            status: 'disbursed',
          }),
          422,
          'unprocessable',
        );
        expectProblem(
          await req('POST', base, admin, { amount_cents: 0, scheduled_on: 'soon' }),
          400,
          'validation_failed',
        );
        const list = ok(await req('GET', base, parent.token));
        expect(list.data.map((d: { id: string }) => d.id)).toEqual([d1.id, d2.id]);
        expectProblem(await req('GET', base, otherParent.token), 404, 'not_found');
        expectProblem(
          await req('POST', base, parent.token, { amount_cents: 1, scheduled_on: '2026-11-01' }),
          403,
          'forbidden',
        );
        expect((await staff.auditOf(d1.id)).map((a) => a.action)).toEqual([
          'esa_disbursement.create',
        ]);
      });

      it('disburses only approved applications', async () => {
        const app = await apply(parent.token, mine);
        expectProblem(
          await req('POST', `/v1/esa/applications/${app.id}/disbursements`, admin, {
            amount_cents: 1,
            scheduled_on: '2026-09-01',
          }),
          409,
          'conflict',
        );
      });

      it('records an ESA payment linked to its disbursed disbursement, within its amount', async () => {
        const app = await approved();
        const base = `/v1/esa/applications/${app.id}/disbursements`;
        const scheduled = ok(
          await req('POST', base, admin, { amount_cents: 100_000, scheduled_on: '2026-09-01' }),
          201,
        );
        const paid = ok(
          await req('POST', base, admin, {
            amount_cents: 200_000,
            scheduled_on: '2026-09-01',
            status: 'disbursed',
            disbursed_on: '2026-09-03',
          }),
          201,
        );
        const account = await rawAccount(staff, h.tenants.alpha.id, north, [gMine]);
        const invoice = await rawInvoice(staff, h.tenants.alpha.id, account, 150_000);
        const pay = (body: Record<string, unknown>) =>
          req('POST', '/v1/payments', admin, body, { 'idempotency-key': randomUUID() });
        const notYet = await pay({
          account_id: account,
          method: 'esa',
          amount_cents: 100_000,
          esa_disbursement_id: scheduled.id,
        });
        expectProblem(notYet, 422, 'unprocessable');
        expect(notYet.json.invalid_params[0].name).toBe('json.esa_disbursement_id');
        const payment = ok(
          await pay({
            account_id: account,
            method: 'esa',
            amount_cents: 180_000,
            esa_disbursement_id: paid.id,
          }),
          201,
        );
        expect(payment).toMatchObject({
          method: 'esa',
          esa_disbursement_id: paid.id,
          unapplied_cents: 30_000,
          allocations: [{ invoice_id: invoice, amount_cents: 150_000 }],
        });
        const beyond = await pay({
          account_id: account,
          method: 'esa',
          amount_cents: 20_001,
          esa_disbursement_id: paid.id,
        });
        expectProblem(beyond, 422, 'unprocessable');
        expect(beyond.json.invalid_params[0].name).toBe('json.amount_cents');
        // Another family's account cannot take this child's disbursement.
        const strangers = await rawAccount(staff, h.tenants.alpha.id, north, []);
        expectProblem(
          await pay({
            account_id: strangers,
            method: 'esa',
            amount_cents: 1,
            esa_disbursement_id: paid.id,
          }),
          422,
          'unprocessable',
        );
        expectProblem(
          await pay({
            account_id: account,
            method: 'card',
            amount_cents: 1,
            esa_disbursement_id: paid.id,
          }),
          422,
          'unprocessable',
        );
      });

      it('moves a disbursement from scheduled to disbursed or cancelled, and returns one only while unspent', async () => {
        const app = await approved();
        const other = await approved();
        const base = `/v1/esa/applications/${app.id}/disbursements`;
        const schedule = async (cents: number) =>
          ok(
            await req('POST', base, admin, { amount_cents: cents, scheduled_on: '2026-09-01' }),
            201,
          );
        const status = (d: string, token: string, body: Record<string, unknown>, appId = app.id) =>
          req('POST', `/v1/esa/applications/${appId}/disbursements/${d}/status`, token, body);
        const d1 = await schedule(100_000);
        expectProblem(await status(d1.id, admin, { to: 'disbursed' }), 422, 'unprocessable');
        expectProblem(
          await status(d1.id, parent.token, { to: 'disbursed', disbursed_on: '2026-09-02' }),
          403,
          'forbidden',
        );
        expectProblem(
          await status(d1.id, admin, { to: 'disbursed', disbursed_on: '2026-09-02' }, other.id),
          404,
          'not_found',
        );
        const done = ok(
          await status(d1.id, office.token, { to: 'disbursed', disbursed_on: '2026-09-02' }),
        );
        expect(done).toMatchObject({ status: 'disbursed', disbursed_on: '2026-09-02' });
        const account = await rawAccount(staff, h.tenants.alpha.id, north, [gMine]);
        ok(
          await req(
            'POST',
            '/v1/payments',
            admin,
            { account_id: account, method: 'esa', amount_cents: 1000, esa_disbursement_id: d1.id },
            { 'idempotency-key': randomUUID() },
          ),
          201,
        );
        expectProblem(await status(d1.id, admin, { to: 'returned' }), 409, 'conflict');
        const d2 = await schedule(50_000);
        ok(await status(d2.id, admin, { to: 'cancelled' }));
        const r = await status(d2.id, admin, { to: 'disbursed', disbursed_on: '2026-09-02' });
        expectProblem(r, 409, 'conflict');
        expect(r.json.invalid_params).toEqual([{ name: 'json.to', reason: 'cancelled is final' }]);
        // A cancelled disbursement no longer counts against the award.
        await schedule(399_999);
        const d3 = await schedule(1);
        expectProblem(await status(d3.id, admin, { to: 'scheduled' }), 400, 'validation_failed');
        ok(await status(d3.id, admin, { to: 'disbursed', disbursed_on: '2026-09-05' }));
        ok(await status(d3.id, admin, { to: 'returned' }));
        expect((await staff.auditOf(d3.id)).map((a) => a.action)).toEqual([
          'esa_disbursement.create',
          'esa_disbursement.disbursed',
          'esa_disbursement.returned',
        ]);
      });

      it('enqueues a metrics refresh after a committed transition, none after a refused one', async () => {
        const app = await apply(parent.token, mine);
        await queue.obliterate({ force: true });
        ok(await move(app.id, parent.token, 'submitted'));
        const delayed = await queue.getDelayed();
        expect(delayed).toHaveLength(1);
        expect(delayed[0]!.data).toEqual({ tenantId: h.tenants.alpha.id, mode: 'incremental' });
        await queue.obliterate({ force: true });
        expectProblem(await move(app.id, parent.token, 'submitted'), 409, 'conflict');
        expect(await queue.getJobCounts('delayed', 'waiting')).toEqual({ delayed: 0, waiting: 0 });
      });
    });
  });
}
