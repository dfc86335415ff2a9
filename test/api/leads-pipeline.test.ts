import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { REDIS_URL } from '../support/api-world.js';
import { Harness } from '../support/harness.js';
import { bearer, expectProblem } from '../support/staff.js';

/**
 * The admissions pipeline for staff on Node and in workerd: one lead with its touchpoints
 * and stage history, stage moves against the tenant's funnel, owner and field changes,
 * conversion of an enrolled lead into a student — with org-reach scoping, If-Match, audit
 * rows and the metrics refresh each committed change enqueues.
 */

const ALPHA = 'alpha.test';
const QUEUE = `test-${randomUUID()}`;

const h = await Harness.init('leads_pipeline', { vars: { METRICS_QUEUE: QUEUE } });
const { staff } = h;

const {
  redis,
  queue,
  a,
  north,
  south,
  betaSchool,
  year,
  term,
  southYear,
  admin,
  betaAdmin,
  principalNorth,
  principalSouth,
  officeNorth,
  teacher,
  coach,
} = await h.setup(async () => {
  const a = h.tenants.alpha.id;
  const north = await staff.school(a, 'North');
  const south = await staff.school(a, 'South');
  const betaSchool = await staff.school(h.tenants.beta.id, 'Beta School');
  const db = await staff.db();
  await db.query(`update org_units set grade_levels = '{K,1,2}' where id = $1`, [north]);
  const session = async (orgUnit: string, kind: string, start: string, end: string) =>
    (
      await db.query<{ id: string }>(
        `insert into academic_sessions (tenant_id, org_unit_id, kind, name, start_date, end_date)
         values ($1, $2, $3, $4, $5, $6) returning id`,
        [a, orgUnit, kind, `${kind} ${randomUUID().slice(0, 6)}`, start, end],
      )
    ).rows[0]!.id;
  /** A school year of the network (shared by its schools), a term, and a year of south only. */
  const year = await session(await staff.root(a), 'school_year', '2026-08-15', '2027-06-15');
  const term = await session(north, 'term', '2026-08-15', '2026-12-20');
  const southYear = await session(south, 'school_year', '2026-08-15', '2027-06-15');
  const admin = await h.admin('alpha');
  const betaAdmin = await h.admin('beta');
  const principalNorth = await staff.person(a, [{ role: 'principal', orgUnitId: north }]);
  const principalSouth = await staff.person(a, [{ role: 'principal', orgUnitId: south }]);
  const officeNorth = await staff.person(a, [{ role: 'office_admin', orgUnitId: north }]);
  const teacher = await staff.person(a, [{ role: 'teacher', orgUnitId: north }]);
  const coach = await staff.person(a, [{ role: 'coach', orgUnitId: north }]);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE, { connection: redis });
  return {
    redis,
    queue,
    a,
    north,
    south,
    betaSchool,
    year,
    term,
    southYear,
    admin,
    betaAdmin,
    principalNorth,
    principalSouth,
    officeNorth,
    teacher,
    coach,
  };
});

afterAll(async () => {
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  redis?.disconnect();
});

interface LeadSeed {
  stage?: string;
  school?: string | null;
  tenant?: string;
  guardian?: string;
  email?: string;
  grade?: string | null;
  studentFirstName?: string | null;
}

/** A lead as the website would leave it: at its stage, with the history row of its start. */
async function seedLead(row: LeadSeed = {}): Promise<{ id: string; email: string }> {
  const db = await staff.db();
  const stage = row.stage ?? 'inquiry';
  const email = row.email ?? `${randomUUID().slice(0, 8)}@fam.test`;
  const tenant = row.tenant ?? a;
  const r = await db.query<{ id: string }>(
    `insert into leads (tenant_id, guardian_name, email, school_id, stage, grade_interest,
                        student_first_name, lost_at, lost_reason)
     values ($1, $2, $3, $4, $5, $6, $7, case when $5 = 'lost' then now() end,
             case when $5 = 'lost' then 'seeded' end)
     returning id`,
    [
      tenant,
      row.guardian ?? 'Maria Lopez',
      email,
      row.school === undefined ? north : row.school,
      stage,
      row.grade === undefined ? 'K' : row.grade,
      row.studentFirstName === undefined ? 'Sofia' : row.studentFirstName,
    ],
  );
  const id = r.rows[0]!.id;
  await db.query(
    `insert into lead_stage_history (tenant_id, lead_id, from_stage, to_stage, changed_at, note)
     values ($1, $2, null, $3, now() - interval '1 day', 'seeded')`,
    [tenant, id, stage],
  );
  return { id, email };
}

async function leadRow(id: string) {
  return (await (await staff.db()).query(`select * from leads where id = $1`, [id])).rows[0];
}

async function historyOf(id: string) {
  return (
    await (
      await staff.db()
    ).query(
      `select from_stage, to_stage, changed_by::text, note from lead_stage_history
       where lead_id = $1 order by changed_at, created_at, id`,
      [id],
    )
  ).rows;
}

async function count(sql: string, params: unknown[]): Promise<number> {
  const r = await (await staff.db()).query<{ n: string }>(sql, params);
  return Number(r.rows[0]!.n);
}

for (const runtime of ['node', 'workerd'] as const) {
  describe(`lead pipeline on ${runtime}`, () => {
    const target = (): ApiTarget => h.target(runtime);
    const req = (
      method: string,
      path: string,
      token: string | null,
      body?: unknown,
      options: { host?: string; headers?: Record<string, string> } = {},
    ): Promise<ApiResponse> =>
      call(target(), method, path, {
        host: options.host ?? ALPHA,
        headers: { ...(token ? bearer(token) : {}), ...options.headers },
        body,
      });
    const move = (id: string, body: unknown, token = admin, headers: Record<string, string> = {}) =>
      req('POST', `/v1/leads/${id}/stage`, token, body, { headers });
    const invalidNames = (r: ApiResponse): string[] =>
      (r.json.invalid_params ?? []).map((p: { name: string }) => p.name);

    /** The checks every endpoint shares: other tenants, other schools, missing permission. */
    async function expectScoped(
      method: string,
      path: (id: string) => string,
      body: unknown,
      leadStage = 'inquiry',
    ) {
      const betaLead = await seedLead({ tenant: h.tenants.beta.id, school: betaSchool });
      const northLead = await seedLead({ stage: leadStage });
      const noSchool = await seedLead({ stage: leadStage, school: null });
      // Another tenant's lead on this tenant's host: not found, whoever asks.
      expectProblem(await req(method, path(betaLead.id), admin, body), 404, 'not_found');
      // Another tenant's token on this tenant's host is no token at all.
      expectProblem(await req(method, path(northLead.id), betaAdmin, body), 401, 'unauthenticated');
      // A principal of another school, and for a lead without a school, of any one school.
      expectProblem(
        await req(method, path(northLead.id), principalSouth.token, body),
        404,
        'not_found',
      );
      expectProblem(
        await req(method, path(noSchool.id), principalNorth.token, body),
        404,
        'not_found',
      );
      // Teachers hold no leads permission.
      expectProblem(await req(method, path(northLead.id), teacher.token, body), 403, 'forbidden');
      expect((await leadRow(northLead.id)).stage).toBe(leadStage);
      expect((await leadRow(northLead.id)).converted_student_id).toBeNull();
    }

    describe('GET /v1/leads/{id}', () => {
      it('shows a lead with its touchpoints and stage history, oldest first, and an ETag', async () => {
        const email = `detail-${runtime}-${randomUUID().slice(0, 6)}@fam.test`;
        const inquiry = (source: string, message: string) =>
          req('POST', '/v1/public/inquiries', null, {
            guardian_name: 'Dana Reyes',
            email,
            student_first_name: 'Leo',
            grade_interest: 'k',
            school_id: north,
            consent: true,
            message,
            utm_source: source,
          });
        const first = await inquiry('google', 'First question');
        expect(first.status, first.text).toBe(201);
        const id = first.json.lead_id;
        expect((await inquiry('facebook', 'Second question')).status).toBe(201);
        expect((await move(id, { stage: 'tour_completed', reason: 'Came on Friday' })).status).toBe(
          200,
        );

        const r = await req('GET', `/v1/leads/${id}`, principalNorth.token);
        expect(r.status, r.text).toBe(200);
        expect(r.headers.etag).toMatch(/^"\d+"$/);
        expect(r.json).toMatchObject({
          id,
          guardian_name: 'Dana Reyes',
          email,
          grade_interest: 'K',
          school_id: north,
          stage: 'tour_completed',
          source: 'google',
          message: 'Second question',
          converted_student_id: null,
        });
        expect(
          r.json.touchpoints.map((p: { kind: string; utm_source: string }) => [
            p.kind,
            p.utm_source,
          ]),
        ).toEqual([
          ['inquiry', 'google'],
          ['inquiry', 'facebook'],
        ]);
        expect(r.json.touchpoints[0].details.message).toBe('First question');
        expect(
          r.json.stage_history.map((h: { from_stage: string; to_stage: string }) => [
            h.from_stage,
            h.to_stage,
          ]),
        ).toEqual([
          [null, 'inquiry'],
          ['inquiry', 'tour_completed'],
        ]);
        expect(r.json.stage_history[1]).toMatchObject({
          changed_by: h.tenants.alpha.adminUserId,
          note: 'Came on Friday',
        });
        expect(r.json).not.toHaveProperty('tenant_id');
      });

      it('answers a malformed id with 400 and an unknown one with 404', async () => {
        const bad = await req('GET', '/v1/leads/not-a-uuid', admin);
        expectProblem(bad, 400, 'validation_failed');
        expect(invalidNames(bad)).toContain('param.id');
        expectProblem(await req('GET', `/v1/leads/${randomUUID()}`, admin), 404, 'not_found');
      });

      it('hides other tenants’ and other schools’ leads and refuses callers without leads.read', async () => {
        await expectScoped('GET', (id) => `/v1/leads/${id}`, undefined);
        const own = await seedLead();
        expect((await req('GET', `/v1/leads/${own.id}`, officeNorth.token)).status).toBe(200);
        expect((await req('GET', `/v1/leads/${own.id}`, coach.token)).status).toBe(404);
      });
    });

    describe('POST /v1/leads/{id}/stage', () => {
      const cases: {
        name: string;
        from: string;
        body: Record<string, unknown>;
        status: number;
        code?: string;
        param?: string;
      }[] = [
        {
          name: 'a valid forward move',
          from: 'inquiry',
          body: { stage: 'tour_scheduled' },
          status: 200,
        },
        {
          name: 'a move that skips stages',
          from: 'inquiry',
          body: { stage: 'application_submitted', reason: 'Applied online' },
          status: 200,
        },
        {
          name: 'a move back to correct a mistake',
          from: 'accepted',
          body: { stage: 'tour_completed' },
          status: 200,
        },
        { name: 'a move to enrolled', from: 'accepted', body: { stage: 'enrolled' }, status: 200 },
        {
          name: 'lost with a reason',
          from: 'tour_completed',
          body: { stage: 'lost', reason: 'Moved out of state' },
          status: 200,
        },
        {
          name: 'lost without a reason',
          from: 'inquiry',
          body: { stage: 'lost' },
          status: 422,
          code: 'unprocessable',
          param: 'json.reason',
        },
        {
          name: 'lost with a blank reason',
          from: 'inquiry',
          body: { stage: 'lost', reason: '   ' },
          status: 422,
          code: 'unprocessable',
          param: 'json.reason',
        },
        {
          name: 'out of lost',
          from: 'lost',
          body: { stage: 'inquiry' },
          status: 409,
          code: 'conflict',
        },
        {
          name: 'out of enrolled',
          from: 'enrolled',
          body: { stage: 'accepted' },
          status: 409,
          code: 'conflict',
        },
        {
          name: 'enrolled to lost',
          from: 'enrolled',
          body: { stage: 'lost', reason: 'Changed mind' },
          status: 409,
          code: 'conflict',
        },
        {
          name: 'an unknown stage',
          from: 'inquiry',
          body: { stage: 'waitlist' },
          status: 422,
          code: 'unprocessable',
          param: 'json.stage',
        },
        {
          name: 'the current stage',
          from: 'tour_scheduled',
          body: { stage: 'tour_scheduled' },
          status: 409,
          code: 'conflict',
        },
        {
          name: 'a malformed stage',
          from: 'inquiry',
          body: { stage: 'Tour Scheduled' },
          status: 400,
          code: 'validation_failed',
          param: 'json.stage',
        },
        {
          name: 'a missing stage',
          from: 'inquiry',
          body: { reason: 'x' },
          status: 400,
          code: 'validation_failed',
          param: 'json.stage',
        },
      ];
      for (const c of cases) {
        it(`${c.status === 200 ? 'moves' : 'refuses'} ${c.name} (${c.from} → ${String(c.body.stage)}: ${c.status})`, async () => {
          const lead = await seedLead({ stage: c.from });
          const r = await move(lead.id, c.body);
          const row = await leadRow(lead.id);
          const history = await historyOf(lead.id);
          const audits = await staff.auditOf(lead.id);
          if (c.status !== 200) {
            expectProblem(r, c.status, c.code!);
            if (c.param) expect(invalidNames(r)).toContain(c.param);
            expect(row.stage).toBe(c.from);
            expect(history).toHaveLength(1);
            expect(audits).toEqual([]);
            return;
          }
          expect(r.status, r.text).toBe(200);
          const to = String(c.body.stage);
          expect(r.json.stage).toBe(to);
          expect(r.headers.etag).toMatch(/^"\d+"$/);
          expect(row.stage).toBe(to);
          expect(history).toEqual([
            { from_stage: null, to_stage: c.from, changed_by: null, note: 'seeded' },
            {
              from_stage: c.from,
              to_stage: to,
              changed_by: h.tenants.alpha.adminUserId,
              note: (c.body.reason as string | undefined) ?? null,
            },
          ]);
          expect(r.json.stage_history.at(-1)).toMatchObject({ from_stage: c.from, to_stage: to });
          expect(audits).toEqual([
            {
              action: 'lead.stage',
              before: { stage: c.from },
              after: { stage: to, stage_history_id: expect.any(String) },
              actor_user_id: h.tenants.alpha.adminUserId,
            },
          ]);
          if (to === 'lost') {
            expect(row.lost_reason).toBe(c.body.reason);
            expect(row.lost_at).toBeInstanceOf(Date);
            expect(r.json.lost_reason).toBe(c.body.reason);
          } else {
            expect(row.lost_at).toBeNull();
          }
        });
      }

      it('applies a move with a fresh If-Match and refuses a stale one with 412', async () => {
        const lead = await seedLead();
        const read = await req('GET', `/v1/leads/${lead.id}`, admin);
        const etag = String(read.headers.etag);
        const moved = await move(lead.id, { stage: 'tour_scheduled' }, admin, { 'if-match': etag });
        expect(moved.status, moved.text).toBe(200);
        expect(moved.headers.etag).not.toBe(etag);
        expectProblem(
          await move(lead.id, { stage: 'tour_completed' }, admin, { 'if-match': etag }),
          412,
          'precondition_failed',
        );
        expect((await leadRow(lead.id)).stage).toBe('tour_scheduled');
        expect(await historyOf(lead.id)).toHaveLength(2);
        const again = await move(lead.id, { stage: 'tour_completed' }, admin, {
          'if-match': String(moved.headers.etag),
        });
        expect(again.status, again.text).toBe(200);
      });

      it('enqueues one metrics refresh after a committed move, none after a refused one', async () => {
        const lead = await seedLead();
        await queue.obliterate({ force: true });
        expect((await move(lead.id, { stage: 'tour_scheduled' })).status).toBe(200);
        const delayed = await queue.getDelayed();
        expect(delayed).toHaveLength(1);
        expect(delayed[0]!.data).toEqual({ tenantId: a, mode: 'incremental' });
        await queue.obliterate({ force: true });
        expect((await move(lead.id, { stage: 'lost' })).status).toBe(422);
        expect(await queue.getJobCounts('delayed', 'waiting')).toEqual({ delayed: 0, waiting: 0 });
      });

      it('lets an office admin of the school move its leads and keeps everyone else out', async () => {
        await expectScoped('POST', (id) => `/v1/leads/${id}/stage`, { stage: 'tour_scheduled' });
        const lead = await seedLead();
        // A coach may read leads but not move them.
        expectProblem(await move(lead.id, { stage: 'accepted' }, coach.token), 403, 'forbidden');
        const r = await move(lead.id, { stage: 'accepted' }, officeNorth.token);
        expect(r.status, r.text).toBe(200);
        expect((await historyOf(lead.id)).at(-1)!.changed_by).toBe(officeNorth.userId);
      });
    });

    describe('PATCH /v1/leads/{id}', () => {
      const patch = (
        id: string,
        body: unknown,
        token = admin,
        headers: Record<string, string> = {},
      ) => req('PATCH', `/v1/leads/${id}`, token, body, { headers });

      it('assigns an owner and changes simple fields, auditing which contact fields changed but not their values', async () => {
        const lead = await seedLead();
        const r = await patch(lead.id, {
          owner_user_id: officeNorth.userId,
          guardian_name: 'Maria Lopez-Garcia',
          phone: '+1 555 010 0123',
          grade_interest: '1',
          score: 40,
        });
        expect(r.status, r.text).toBe(200);
        expect(r.json).toMatchObject({
          owner_user_id: officeNorth.userId,
          guardian_name: 'Maria Lopez-Garcia',
          phone: '+1 555 010 0123',
          grade_interest: '1',
          score: 40,
          stage: 'inquiry',
        });
        const row = await leadRow(lead.id);
        expect(row.owner_user_id).toBe(officeNorth.userId);
        expect(row.guardian_name).toBe('Maria Lopez-Garcia');
        const audits = await staff.auditOf(lead.id);
        expect(audits).toHaveLength(1);
        expect(audits[0]!.action).toBe('lead.update');
        expect(audits[0]!.after).toEqual({
          owner_user_id: officeNorth.userId,
          grade_interest: '1',
          score: 40,
          changed: expect.arrayContaining(['guardian_name', 'phone', 'owner_user_id']),
        });
        expect(JSON.stringify(audits)).not.toContain('Lopez-Garcia');
        expect(JSON.stringify(audits)).not.toContain('0123');
        // Clearing the owner; a no-op writes nothing.
        expect((await patch(lead.id, { owner_user_id: null })).json.owner_user_id).toBeNull();
        expect((await patch(lead.id, { score: 40 })).status).toBe(200);
        expect(await staff.auditOf(lead.id)).toHaveLength(2);
      });

      it('refuses owners who may not work the lead, grades the school does not offer and unknown fields', async () => {
        const lead = await seedLead();
        const betaUser = await staff.user(h.tenants.beta.id, [{ role: 'network_admin' }]);
        for (const owner of [
          teacher.userId,
          coach.userId,
          principalSouth.userId,
          betaUser,
          randomUUID(),
        ]) {
          const r = await patch(lead.id, { owner_user_id: owner });
          expectProblem(r, 422, 'unprocessable');
          expect(invalidNames(r)).toEqual(['json.owner_user_id']);
        }
        const grade = await patch(lead.id, { grade_interest: '9' });
        expectProblem(grade, 422, 'unprocessable');
        expect(invalidNames(grade)).toEqual(['json.grade_interest']);
        const school = await patch(lead.id, { school_id: randomUUID() });
        expectProblem(school, 422, 'unprocessable');
        expect(invalidNames(school)).toEqual(['json.school_id']);
        const unknown = await patch(lead.id, { stage: 'accepted' });
        expectProblem(unknown, 400, 'validation_failed');
        expectProblem(await patch(lead.id, { score: -1 }), 400, 'validation_failed');
        const row = await leadRow(lead.id);
        expect([row.owner_user_id, row.grade_interest, row.stage]).toEqual([null, 'K', 'inquiry']);
        expect(await staff.auditOf(lead.id)).toEqual([]);
      });

      it('refuses a stale If-Match with 412', async () => {
        const lead = await seedLead();
        const etag = String((await req('GET', `/v1/leads/${lead.id}`, admin)).headers.etag);
        expect((await patch(lead.id, { score: 5 }, admin, { 'if-match': etag })).status).toBe(200);
        expectProblem(
          await patch(lead.id, { score: 6 }, admin, { 'if-match': etag }),
          412,
          'precondition_failed',
        );
        expect((await leadRow(lead.id)).score).toBe(5);
      });

      it('keeps leads within the caller’s reach', async () => {
        await expectScoped('PATCH', (id) => `/v1/leads/${id}`, { score: 7 });
        const lead = await seedLead();
        // A principal may not move a lead to a school outside their reach…
        expectProblem(
          await patch(lead.id, { school_id: south }, principalNorth.token),
          403,
          'forbidden',
        );
        expect((await leadRow(lead.id)).school_id).toBe(north);
        // …and may assign it to their own staff.
        const r = await patch(lead.id, { owner_user_id: officeNorth.userId }, principalNorth.token);
        expect(r.status, r.text).toBe(200);
        expectProblem(await patch(lead.id, { score: 1 }, coach.token), 403, 'forbidden');
      });
    });

    describe('POST /v1/leads/{id}/convert', () => {
      const convert = (id: string, body: unknown, token = admin) =>
        req('POST', `/v1/leads/${id}/convert`, token, body);
      const body = (over: Record<string, unknown> = {}) => ({
        session_id: year,
        entry_date: '2026-08-20',
        student: {
          student_number: `${runtime}-${randomUUID().slice(0, 8)}`,
          last_name: 'Lopez',
          date_of_birth: '2021-03-04',
        },
        ...over,
      });
      const rowsFor = async (studentNumber: string, email: string) => ({
        students: await count(`select count(*) n from students where student_number = $1`, [
          studentNumber,
        ]),
        guardians: await count(`select count(*) n from guardians where lower(email) = lower($1)`, [
          email,
        ]),
        links: await count(
          `select count(*) n from student_guardians sg join students s on s.id = sg.student_id
           where s.student_number = $1`,
          [studentNumber],
        ),
        enrollments: await count(
          `select count(*) n from school_enrollments se join students s on s.id = se.student_id
           where s.student_number = $1`,
          [studentNumber],
        ),
      });

      it('creates the student, guardian, link and enrollment, links the lead and audits each', async () => {
        const lead = await seedLead({ stage: 'enrolled', guardian: 'Maria Elena Lopez' });
        const input = body();
        const r = await convert(lead.id, input);
        expect(r.status, r.text).toBe(201);
        expect(r.json).toEqual({
          lead_id: lead.id,
          student_id: expect.any(String),
          guardian_id: expect.any(String),
          guardian_reused: false,
          student_guardian_id: expect.any(String),
          school_enrollment_id: expect.any(String),
        });
        expect(await rowsFor(input.student.student_number, lead.email)).toEqual({
          students: 1,
          guardians: 1,
          links: 1,
          enrollments: 1,
        });
        const db = await staff.db();
        const student = (
          await db.query(`select * from students where id = $1`, [r.json.student_id])
        ).rows[0];
        expect(student).toMatchObject({
          first_name: 'Sofia',
          last_name: 'Lopez',
          grade_level: 'K',
          school_id: north,
          status: 'active',
        });
        const guardian = (
          await db.query(`select * from guardians where id = $1`, [r.json.guardian_id])
        ).rows[0];
        expect(guardian).toMatchObject({
          first_name: 'Maria Elena',
          last_name: 'Lopez',
          email: lead.email,
        });
        const enrollment = (
          await db.query(
            `select school_id, session_id, grade_level, status, entry_date::text from school_enrollments where id = $1`,
            [r.json.school_enrollment_id],
          )
        ).rows[0];
        expect(enrollment).toEqual({
          school_id: north,
          session_id: year,
          grade_level: 'K',
          status: 'active',
          entry_date: '2026-08-20',
        });
        const converted = await leadRow(lead.id);
        expect(converted.converted_student_id).toBe(r.json.student_id);
        // Dated, so that figures as of an earlier day leave the conversion out.
        expect(converted.converted_at).toBeInstanceOf(Date);
        expect((await staff.auditOf(lead.id)).map((x) => x.action)).toEqual(['lead.convert']);
        for (const [entity, action] of [
          [r.json.student_id, 'student.create'],
          [r.json.guardian_id, 'guardian.create'],
          [r.json.student_guardian_id, 'student_guardian.create'],
          [r.json.school_enrollment_id, 'school_enrollment.create'],
        ]) {
          expect((await staff.auditOf(entity)).map((x) => x.action)).toEqual([action]);
        }
        // Once converted, never again.
        const again = await convert(lead.id, body());
        expectProblem(again, 409, 'conflict');
        // The lead shows its student.
        const detail = await req('GET', `/v1/leads/${lead.id}`, admin);
        expect(detail.json.converted_student_id).toBe(r.json.student_id);
        expect(detail.json.converted_at).toBe(converted.converted_at.toISOString());
      });

      it('reuses the tenant’s guardian with the lead’s email, whatever its case', async () => {
        const email = `Reuse-${randomUUID().slice(0, 6)}@Fam.test`;
        const existing = await staff.guardian(a, [], { email: email.toLowerCase() });
        const lead = await seedLead({ stage: 'enrolled', email, school: south, grade: '3' });
        const input = body({ session_id: southYear, guardian: { relationship: 'mother' } });
        const r = await convert(lead.id, input);
        expect(r.status, r.text).toBe(201);
        expect(r.json).toMatchObject({ guardian_id: existing, guardian_reused: true });
        expect(await rowsFor(input.student.student_number, email)).toEqual({
          students: 1,
          guardians: 1,
          links: 1,
          enrollments: 1,
        });
        expect(await staff.auditOf(existing)).toEqual([]);
      });

      it('converts only enrolled leads (409)', async () => {
        for (const stage of ['accepted', 'lost']) {
          const lead = await seedLead({ stage });
          expectProblem(await convert(lead.id, body()), 409, 'conflict');
          expect((await leadRow(lead.id)).converted_student_id).toBeNull();
        }
      });

      it('validates the session, entry date, grade and names against the school (422)', async () => {
        const lead = await seedLead({ stage: 'enrolled' });
        const refused: [Record<string, unknown>, string][] = [
          [{ session_id: southYear }, 'json.session_id'],
          [{ session_id: term }, 'json.session_id'],
          [{ session_id: randomUUID() }, 'json.session_id'],
          [{ entry_date: '2027-07-01' }, 'json.entry_date'],
          [{ entry_date: '2026-08-14' }, 'json.entry_date'],
          [{ grade_level: '7' }, 'json.grade_level'],
          [{ school_id: randomUUID() }, 'json.school_id'],
        ];
        for (const [over, param] of refused) {
          const r = await convert(lead.id, body(over));
          expectProblem(r, 422, 'unprocessable');
          expect(invalidNames(r), JSON.stringify(over)).toContain(param);
        }
        const oneWord = await seedLead({
          stage: 'enrolled',
          guardian: 'Maria',
          studentFirstName: null,
        });
        const names = await convert(oneWord.id, body());
        expectProblem(names, 422, 'unprocessable');
        expect(invalidNames(names).sort()).toEqual([
          'json.guardian.last_name',
          'json.student.first_name',
        ]);
        const malformed = await convert(lead.id, body({ entry_date: '20-08-2026', extra: 1 }));
        expectProblem(malformed, 400, 'validation_failed');
        expect(invalidNames(malformed)).toContain('json.entry_date');
        expect((await leadRow(lead.id)).converted_student_id).toBeNull();
        expect(await count(`select count(*) n from guardians where email = $1`, [lead.email])).toBe(
          0,
        );
      });

      it('is all or nothing: a conversion failing at any step leaves no student behind', async () => {
        // A student number in use: the student insert fails (409).
        const taken = await staff.student(a, north, { number: `taken-${runtime}` });
        expect(taken).toBeTruthy();
        const dup = await seedLead({ stage: 'enrolled' });
        const input = body({ student: { student_number: `taken-${runtime}`, last_name: 'Lopez' } });
        expectProblem(await convert(dup.id, input), 409, 'conflict');
        expect(await count(`select count(*) n from guardians where email = $1`, [dup.email])).toBe(
          0,
        );

        // The last insert (the enrollment) fails after the student, guardian and link were written.
        const db = await staff.db();
        await db.query(
          `alter table school_enrollments add constraint test_refuse_day check (entry_date <> '2027-01-04')`,
        );
        try {
          const lead = await seedLead({ stage: 'enrolled' });
          const late = body({ entry_date: '2027-01-04' });
          const r = await convert(lead.id, late);
          expectProblem(r, 422, 'unprocessable');
          expect(r.json.detail).toContain('test_refuse_day');
          expect(await rowsFor(late.student.student_number, lead.email)).toEqual({
            students: 0,
            guardians: 0,
            links: 0,
            enrollments: 0,
          });
          expect((await leadRow(lead.id)).converted_student_id).toBeNull();
          expect(await staff.auditOf(lead.id)).toEqual([]);
        } finally {
          await db.query(`alter table school_enrollments drop constraint test_refuse_day`);
        }
      });

      it('keeps conversions within the caller’s reach', async () => {
        await expectScoped('POST', (id) => `/v1/leads/${id}/convert`, body(), 'enrolled');
        const lead = await seedLead({ stage: 'enrolled' });
        // Enrolling into a school outside the caller's reach.
        expectProblem(
          await convert(
            lead.id,
            body({ school_id: south, session_id: southYear, grade_level: '3' }),
            principalNorth.token,
          ),
          403,
          'forbidden',
        );
        expectProblem(await convert(lead.id, body(), coach.token), 403, 'forbidden');
        expect((await leadRow(lead.id)).converted_student_id).toBeNull();
        const r = await convert(lead.id, body(), officeNorth.token);
        expect(r.status, r.text).toBe(201);
      });
    });

    it('enqueues a metrics refresh after a committed change and conversion, none after a refused one', async () => {
      const expectOneRefresh = async () => {
        const delayed = await queue.getDelayed();
        expect(delayed.map((j) => j.data)).toEqual([{ tenantId: a, mode: 'incremental' }]);
        await queue.obliterate({ force: true });
      };
      const lead = await seedLead({ stage: 'enrolled' });
      await queue.obliterate({ force: true });
      expect((await req('PATCH', `/v1/leads/${lead.id}`, admin, { school_id: south })).status).toBe(
        200,
      );
      await expectOneRefresh();
      const converted = await req('POST', `/v1/leads/${lead.id}/convert`, admin, {
        session_id: southYear,
        entry_date: '2026-09-01',
        student: { student_number: `${runtime}-${randomUUID().slice(0, 8)}`, last_name: 'Lopez' },
      });
      expect(converted.status, converted.text).toBe(201);
      await expectOneRefresh();
      expect((await req('PATCH', `/v1/leads/${lead.id}`, admin, { score: 101 })).status).toBe(400);
      expect(await queue.getJobCounts('delayed', 'waiting')).toEqual({ delayed: 0, waiting: 0 });
    });
  });
}
