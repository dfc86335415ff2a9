import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { REDIS_URL } from '../support/api-world.js';
import { Harness } from '../support/harness.js';
import {
  calendar,
  classEnrollmentDates,
  emptyRole,
  enrollAtSchool,
  recordsOn,
} from './attendance-fixtures.js';
import { bearer, expectProblem } from '../support/staff.js';

/** `date` (YYYY-MM-DD) moved by `days`. */
const addDaysTo = (date: string, days: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/**
 * Attendance on Node and in workerd: bulk upsert for a class or a school day (all or
 * nothing, idempotent, audited, refreshing metrics), the class roster, a student's records
 * and summary, the days not taken — each within the caller's relationships.
 */

const ALPHA = 'alpha.test';
const QUEUE = `test-${randomUUID()}`;
const NO_ACCESS = 'no_attendance';

const h = await Harness.init('attendance_api', { vars: { METRICS_QUEUE: QUEUE } });
const { staff } = h;

type Person = { userId: string; token: string };

/**
 * The people and classes of one runtime's tests, built apart so the runtimes do not see
 * each other's records. Calendar 2025-09-01 … 09-14 at both schools: weekdays
 * instructional, weekends `break`, Friday 09-05 a holiday.
 */
interface Fixture {
  north: string;
  south: string;
  sessionId: string;
  /** Class A (teacher): s1, s2, s4 (left the class after 09-02), s5. */
  classA: string;
  /** Class B (otherTeacher): s3. */
  classB: string;
  /** s1: the parent's child and the pupil themself; s2: entered the school on 09-03. */
  s1: string;
  s2: string;
  s3: string;
  s4: string;
  s5: string;
  southStudent: string;
  teacher: Person;
  otherTeacher: Person;
  principal: Person;
  southPrincipal: Person;
  office: Person;
  parent: Person;
  otherParent: Person;
  pupil: Person;
  nobody: Person;
}

async function build(runtime: string): Promise<Fixture> {
  const a = h.tenants.alpha.id;
  const north = await staff.school(a, `North ${runtime}`);
  const south = await staff.school(a, `South ${runtime}`);
  const teacher = await staff.person(a, [{ role: 'teacher', orgUnitId: north }]);
  const otherTeacher = await staff.person(a, [{ role: 'teacher', orgUnitId: north }]);
  const principal = await staff.person(a, [{ role: 'principal', orgUnitId: north }]);
  const southPrincipal = await staff.person(a, [{ role: 'principal', orgUnitId: south }]);
  const office = await staff.person(a, [{ role: 'office_admin', orgUnitId: north }]);
  const parent = await staff.person(a, [{ role: 'parent' }]);
  const otherParent = await staff.person(a, [{ role: 'parent' }]);
  const pupil = await staff.person(a, [{ role: 'student' }]);
  const nobody = await staff.person(a, [{ role: NO_ACCESS }]);
  const s1 = await staff.student(a, north, {
    firstName: 'Ada',
    lastName: 'Ames',
    userId: pupil.userId,
  });
  const s2 = await staff.student(a, north, { firstName: 'Bo', lastName: 'Byrd' });
  const s3 = await staff.student(a, north, { firstName: 'Cy', lastName: 'Cole' });
  const s4 = await staff.student(a, north, { firstName: 'Di', lastName: 'Dunn' });
  const s5 = await staff.student(a, north, { firstName: 'Ed', lastName: 'Eve' });
  const southStudent = await staff.student(a, south, { firstName: 'Flo', lastName: 'Fox' });
  const { classId: classA, sessionId } = await staff.classTaughtBy(a, north, teacher.userId, [
    s1,
    s2,
    s4,
    s5,
  ]);
  const { classId: classB } = await staff.classTaughtBy(a, north, otherTeacher.userId, [s3]);
  await classEnrollmentDates(staff, classA, s4, '2025-08-15', '2025-09-02');
  await staff.guardian(a, [s1], { userId: parent.userId });
  await staff.guardian(a, [s3], { userId: otherParent.userId });
  const holiday = { '2025-09-05': 'holiday' };
  await calendar(staff, a, north, sessionId, '2025-09-01', '2025-09-14', holiday);
  await calendar(staff, a, south, sessionId, '2025-09-01', '2025-09-14', holiday);
  for (const s of [s1, s3, s4, s5])
    await enrollAtSchool(staff, a, s, north, sessionId, '2025-08-15');
  await enrollAtSchool(staff, a, s2, north, sessionId, '2025-09-03');
  await enrollAtSchool(staff, a, southStudent, south, sessionId, '2025-08-15');
  return {
    north,
    south,
    sessionId,
    classA,
    classB,
    s1,
    s2,
    s3,
    s4,
    s5,
    southStudent,
    teacher,
    otherTeacher,
    principal,
    southPrincipal,
    office,
    parent,
    otherParent,
    pupil,
    nobody,
  };
}

const { redis, queue, admin, betaAdmin, betaClass, betaStudent } = await h.setup(async () => {
  const admin = await h.admin('alpha');
  const betaAdmin = await h.admin('beta');
  await emptyRole(staff, h.tenants.alpha.id, NO_ACCESS);
  const betaSchool = await staff.school(h.tenants.beta.id, 'Beta School');
  const betaTeacher = await staff.user(h.tenants.beta.id, [{ role: 'teacher' }]);
  const betaStudent = await staff.student(h.tenants.beta.id, betaSchool, { firstName: 'Zed' });
  const betaClass = (
    await staff.classTaughtBy(h.tenants.beta.id, betaSchool, betaTeacher, [betaStudent])
  ).classId;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE, { connection: redis });
  return { redis, queue, admin, betaAdmin, betaClass, betaStudent };
});

afterAll(async () => {
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  redis?.disconnect();
});

for (const runtime of ['node', 'workerd'] as const) {
  describe(`attendance on ${runtime}`, () => {
    let f: Fixture;
    beforeAll(async () => {
      f = await build(runtime);
    }, 120_000);

    const target = (): ApiTarget => h.target(runtime);
    const req = (
      method: string,
      path: string,
      token: string,
      body?: unknown,
      host = ALPHA,
    ): Promise<ApiResponse> => call(target(), method, path, { host, headers: bearer(token), body });
    const post = (token: string, body: Record<string, unknown>) =>
      req('POST', '/v1/attendance', token, body);
    const names = (r: ApiResponse): string[] =>
      (r.json.invalid_params ?? []).map((p: { name: string }) => p.name);

    describe('POST /v1/attendance', () => {
      it('takes a class’s attendance, answers counts, and a repeat changes nothing', async () => {
        const body = {
          date: '2025-09-04',
          class_id: f.classA,
          records: [
            { student_id: f.s1, status: 'present' },
            { student_id: f.s2, status: 'tardy', reason: 'bus' },
          ],
        };
        const first = await post(f.teacher.token, body);
        expect(first.status, first.text).toBe(200);
        expect(first.json).toEqual({
          date: '2025-09-04',
          school_id: f.north,
          class_id: f.classA,
          period: null,
          inserted: 2,
          updated: 0,
          unchanged: 0,
          conflicts: [],
        });
        const again = await post(f.teacher.token, body);
        expect(again.status, again.text).toBe(200);
        expect(again.json).toMatchObject({ inserted: 0, updated: 0, unchanged: 2 });

        const changed = await post(f.teacher.token, {
          ...body,
          records: [
            { student_id: f.s1, status: 'present' },
            { student_id: f.s2, status: 'absent' },
          ],
        });
        expect(changed.json).toMatchObject({ inserted: 0, updated: 1, unchanged: 1 });
        // One record per student and day: the status changed, the omitted reason kept.
        expect(await recordsOn(staff, [f.s1, f.s2], '2025-09-04')).toEqual([
          { student_id: f.s1, status: 'present', period: null, class_id: f.classA },
          { student_id: f.s2, status: 'absent', period: null, class_id: f.classA },
        ]);
        const db = await staff.db();
        const reason = await db.query(
          `select reason, marked_by::text from attendance_records
           where student_id = $1 and date = '2025-09-04'`,
          [f.s2],
        );
        expect(reason.rows).toEqual([{ reason: 'bus', marked_by: f.teacher.userId }]);

        const trail = await staff.auditOf(f.classA);
        expect(trail.map((x) => x.action)).toEqual([
          'attendance.upsert',
          'attendance.upsert',
          'attendance.upsert',
        ]);
        expect(trail[2]).toMatchObject({
          actor_user_id: f.teacher.userId,
          before: { statuses: { [f.s2]: 'tardy' } },
          after: { updated: 1, statuses: { [f.s2]: 'absent' } },
        });
        expect(JSON.stringify(trail)).not.toContain('bus');
      });

      it('keeps period records apart from the whole-day record', async () => {
        const r = await post(f.teacher.token, {
          date: '2025-09-04',
          class_id: f.classA,
          period: '2',
          records: [{ student_id: f.s1, status: 'absent' }],
        });
        expect(r.status, r.text).toBe(200);
        expect(r.json).toMatchObject({ period: '2', inserted: 1 });
        const rows = await recordsOn(staff, [f.s1], '2025-09-04');
        expect(rows.map((x) => [x.period, x.status])).toEqual([
          [null, 'present'],
          ['2', 'absent'],
        ]);
      });

      it('takes a school day for a principal and an office within their school', async () => {
        const r = await post(f.principal.token, {
          date: '2025-09-08',
          school_id: f.north,
          records: [
            { student_id: f.s1, status: 'present' },
            { student_id: f.s3, status: 'excused_absence', reason: 'doctor' },
          ],
        });
        expect(r.status, r.text).toBe(200);
        expect(r.json).toMatchObject({ school_id: f.north, class_id: null, inserted: 2 });
        const office = await post(f.office.token, {
          date: '2025-09-08',
          school_id: f.north,
          records: [{ student_id: f.s3, status: 'absent' }],
        });
        expect(office.json).toMatchObject({ updated: 1 });
        expect(await recordsOn(staff, [f.s1, f.s3], '2025-09-08')).toEqual([
          { student_id: f.s1, status: 'present', period: null, class_id: null },
          { student_id: f.s3, status: 'absent', period: null, class_id: null },
        ]);
        expect((await staff.auditOf(f.north)).map((x) => x.action)).toEqual([
          'attendance.upsert',
          'attendance.upsert',
        ]);
      });

      it('enqueues a metrics refresh after a write that changed something, and none otherwise', async () => {
        const body = {
          date: '2025-09-12',
          class_id: f.classA,
          records: [{ student_id: f.s5, status: 'present' }],
        };
        await queue.obliterate({ force: true });
        expect((await post(f.teacher.token, body)).status).toBe(200);
        const jobs = [...(await queue.getDelayed()), ...(await queue.getWaiting())];
        expect(jobs.map((j) => j.data)).toEqual([
          { tenantId: h.tenants.alpha.id, mode: 'incremental' },
        ]);
        await queue.obliterate({ force: true });
        expect((await post(f.teacher.token, body)).json).toMatchObject({ unchanged: 1 });
        expectProblem(
          await post(f.teacher.token, { ...body, date: '2025-09-13' }),
          422,
          'unprocessable',
        );
        expect(await queue.getJobCounts('delayed', 'waiting')).toEqual({ delayed: 0, waiting: 0 });
      });

      it('refuses a date after today in the school’s time zone with 422', async () => {
        const db = await staff.db();
        // Two days ahead is after today in every time zone.
        const ahead = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
        await db.query(
          `insert into calendar_days (tenant_id, school_id, session_id, date, kind)
           values ($1, $2, $3, $4, 'instructional')`,
          [h.tenants.alpha.id, f.north, f.sessionId, ahead],
        );
        for (const body of [
          { date: ahead, class_id: f.classA, records: [{ student_id: f.s1, status: 'present' }] },
          { date: ahead, school_id: f.north, records: [{ student_id: f.s1, status: 'present' }] },
        ]) {
          const r = await post(admin, body);
          expectProblem(r, 422, 'unprocessable');
          expect(r.json.invalid_params).toEqual([
            { name: 'json.date', reason: 'after today in the school’s time zone' },
          ]);
        }
        expect(await recordsOn(staff, [f.s1], ahead)).toEqual([]);
      });

      it('keeps the office’s whole-day records against a class roster and reports them as conflicts', async () => {
        const office = await post(f.office.token, {
          date: '2025-09-09',
          school_id: f.north,
          records: [
            { student_id: f.s1, status: 'excused_absence', reason: 'dentist' },
            { student_id: f.s2, status: 'excused_absence' },
          ],
        });
        expect(office.status, office.text).toBe(200);
        const roster = {
          date: '2025-09-09',
          class_id: f.classA,
          records: [
            { student_id: f.s1, status: 'present' },
            { student_id: f.s2, status: 'present' },
          ],
        };
        const r = await post(f.teacher.token, roster);
        expect(r.status, r.text).toBe(200);
        expect(r.json).toMatchObject({ inserted: 0, updated: 0, unchanged: 0 });
        expect(r.json.conflicts).toEqual(
          // In the order of the request.
          [f.s1, f.s2].map((id) => ({
            student_id: id,
            date: '2025-09-09',
            period: null,
            status: 'present',
            existing_status: 'excused_absence',
            existing_class_id: null,
            existing_marked_by: f.office.userId,
            existing_marked_at: expect.any(String),
          })),
        );
        expect(await recordsOn(staff, [f.s1, f.s2], '2025-09-09')).toEqual([
          { student_id: f.s1, status: 'excused_absence', period: null, class_id: null },
          { student_id: f.s2, status: 'excused_absence', period: null, class_id: null },
        ]);
        // A period roster is a record of its own: the day record does not stand in its way.
        const period = await post(f.teacher.token, { ...roster, period: '1' });
        expect(period.json).toMatchObject({ inserted: 2, conflicts: [] });

        // Overriding is for the school's staff, not a class's teacher alone; it is audited.
        expectProblem(await post(f.teacher.token, { ...roster, override: true }), 403, 'forbidden');
        const over = await post(f.principal.token, {
          ...roster,
          records: [roster.records[0]],
          override: true,
        });
        expect(over.json).toMatchObject({ updated: 1, conflicts: [] });
        expect(await recordsOn(staff, [f.s1, f.s2], '2025-09-09')).toEqual([
          { student_id: f.s1, status: 'present', period: null, class_id: f.classA },
          { student_id: f.s1, status: 'present', period: '1', class_id: f.classA },
          { student_id: f.s2, status: 'excused_absence', period: null, class_id: null },
          { student_id: f.s2, status: 'present', period: '1', class_id: f.classA },
        ]);
        expect((await staff.auditOf(f.classA)).at(-1)).toMatchObject({
          actor_user_id: f.principal.userId,
          before: { override: true, statuses: { [f.s1]: 'excused_absence' } },
        });
        // The roster's own earlier mark is its to change.
        const own = await post(f.teacher.token, {
          ...roster,
          records: [{ student_id: f.s1, status: 'tardy' }],
        });
        expect(own.json).toMatchObject({ updated: 1, conflicts: [] });
      });

      it('moves a record filed at the school a student left to the school that takes the day', async () => {
        const a = h.tenants.alpha.id;
        const mover = await staff.student(a, f.south, { firstName: 'Mo', lastName: 'Move' });
        await enrollAtSchool(staff, a, mover, f.south, f.sessionId, '2025-08-15');
        const south = await post(f.southPrincipal.token, {
          date: '2025-09-10',
          school_id: f.south,
          records: [{ student_id: mover, status: 'present' }],
        });
        expect(south.status, south.text).toBe(200);
        // The transfer is recorded afterwards: South's enrolment ends on the 9th.
        const db = await staff.db();
        await db.query(
          `update school_enrollments set exit_date = '2025-09-09', status = 'transferred'
            where student_id = $1`,
          [mover],
        );
        await enrollAtSchool(staff, a, mover, f.north, f.sessionId, '2025-09-10');
        const north = await post(f.principal.token, {
          date: '2025-09-10',
          school_id: f.north,
          records: [{ student_id: mover, status: 'present' }],
        });
        expect(north.status, north.text).toBe(200);
        expect(north.json).toMatchObject({ inserted: 0, updated: 1, unchanged: 0 });
        const row = await db.query(
          `select school_id::text, marked_by::text from attendance_records
            where student_id = $1 and deleted_at is null`,
          [mover],
        );
        expect(row.rows).toEqual([{ school_id: f.north, marked_by: f.principal.userId }]);
      });

      // Each case mixes in a valid record; the whole request is refused and nothing written.
      const invalid: {
        name: string;
        body: (f: Fixture) => Record<string, unknown>;
        params: string[];
        reason: RegExp;
      }[] = [
        {
          name: 'a weekend (stored as a break)',
          body: (f) => ({
            date: '2025-09-06',
            class_id: f.classA,
            records: [{ student_id: f.s1, status: 'present' }],
          }),
          params: ['json.date'],
          reason: /break day/,
        },
        {
          name: 'a holiday',
          body: (f) => ({
            date: '2025-09-05',
            school_id: f.north,
            records: [{ student_id: f.s1, status: 'present' }],
          }),
          params: ['json.date'],
          reason: /holiday day/,
        },
        {
          name: 'a date outside the school’s calendar',
          body: (f) => ({
            date: '2025-10-01',
            class_id: f.classA,
            records: [{ student_id: f.s1, status: 'present' }],
          }),
          params: ['json.date'],
          reason: /not a day of the school/,
        },
        {
          name: 'a student not yet enrolled at the school on the date',
          body: (f) => ({
            date: '2025-09-02',
            class_id: f.classA,
            records: [
              { student_id: f.s1, status: 'present' },
              { student_id: f.s2, status: 'present' },
            ],
          }),
          params: ['json.records.1.student_id'],
          reason: /not enrolled at the school on 2025-09-02/,
        },
        {
          name: 'a student who left the class before the date',
          body: (f) => ({
            date: '2025-09-03',
            class_id: f.classA,
            records: [
              { student_id: f.s4, status: 'present' },
              { student_id: f.s1, status: 'present' },
            ],
          }),
          params: ['json.records.0.student_id'],
          reason: /not enrolled in the class on 2025-09-03/,
        },
        {
          name: 'a student of another school, and one of another tenant',
          body: (f) => ({
            date: '2025-09-03',
            school_id: f.north,
            records: [
              { student_id: f.s1, status: 'present' },
              { student_id: f.southStudent, status: 'present' },
              { student_id: betaStudent, status: 'present' },
            ],
          }),
          params: ['json.records.1.student_id', 'json.records.2.student_id'],
          reason: /not enrolled at the school/,
        },
        {
          name: 'the same student twice',
          body: (f) => ({
            date: '2025-09-03',
            class_id: f.classA,
            records: [
              { student_id: f.s1, status: 'present' },
              { student_id: f.s5, status: 'present' },
              { student_id: f.s1, status: 'absent' },
            ],
          }),
          params: ['json.records.2.student_id'],
          reason: /more than once \(also records\.0\)/,
        },
        {
          name: 'the same student twice, once in capitals',
          body: (f) => ({
            date: '2025-09-03',
            class_id: f.classA.toUpperCase(),
            records: [
              { student_id: f.s1.toUpperCase(), status: 'present' },
              { student_id: f.s1, status: 'absent' },
            ],
          }),
          params: ['json.records.1.student_id'],
          reason: /more than once \(also records\.0\)/,
        },
      ];
      for (const c of invalid) {
        it(`refuses ${c.name} with 422 and writes nothing`, async () => {
          const body = c.body(f);
          const r = await post(admin, body);
          expectProblem(r, 422, 'unprocessable');
          expect(names(r)).toEqual(c.params);
          for (const p of r.json.invalid_params) expect(p.reason).toMatch(c.reason);
          const students = (body.records as { student_id: string }[]).map((x) => x.student_id);
          expect(await recordsOn(staff, students, String(body.date))).toEqual([]);
        });
      }

      const malformed: { name: string; body: (f: Fixture) => unknown; param: string }[] = [
        {
          name: 'an unknown status',
          body: (f) => ({
            date: '2025-09-03',
            class_id: f.classA,
            records: [{ student_id: f.s1, status: 'asleep' }],
          }),
          param: 'json.records.0.status',
        },
        {
          name: 'both a class and a school',
          body: (f) => ({
            date: '2025-09-03',
            class_id: f.classA,
            school_id: f.north,
            records: [{ student_id: f.s1, status: 'present' }],
          }),
          param: 'json.class_id',
        },
        {
          name: 'neither a class nor a school',
          body: (f) => ({ date: '2025-09-03', records: [{ student_id: f.s1, status: 'present' }] }),
          param: 'json.class_id',
        },
        {
          name: 'an impossible date',
          body: (f) => ({
            date: '2025-02-30',
            class_id: f.classA,
            records: [{ student_id: f.s1, status: 'present' }],
          }),
          param: 'json.date',
        },
        {
          name: 'no records',
          body: (f) => ({ date: '2025-09-03', class_id: f.classA, records: [] }),
          param: 'json.records',
        },
      ];
      for (const c of malformed) {
        it(`answers 400 for ${c.name}`, async () => {
          const r = await post(admin, c.body(f) as Record<string, unknown>);
          expectProblem(r, 400, 'validation_failed');
          expect(names(r)).toContain(c.param);
          expect(await recordsOn(staff, [f.s1], '2025-09-03')).toEqual([]);
        });
      }

      it('treats classes and schools out of reach as missing, and refuses callers without the permission', async () => {
        const one = (classOrSchool: Record<string, string>) => ({
          date: '2025-09-03',
          ...classOrSchool,
          records: [{ student_id: f.s1, status: 'present' }],
        });
        expectProblem(await post(admin, one({ class_id: betaClass })), 404, 'not_found');
        expectProblem(
          await post(f.otherTeacher.token, one({ class_id: f.classA })),
          404,
          'not_found',
        );
        expectProblem(await post(f.teacher.token, one({ school_id: f.north })), 404, 'not_found');
        expectProblem(
          await post(f.southPrincipal.token, one({ class_id: f.classA })),
          404,
          'not_found',
        );
        expectProblem(
          await post(f.southPrincipal.token, one({ school_id: f.north })),
          404,
          'not_found',
        );
        expectProblem(await post(admin, one({ school_id: randomUUID() })), 404, 'not_found');
        expectProblem(await post(f.parent.token, one({ class_id: f.classA })), 403, 'forbidden');
        expectProblem(await post(f.pupil.token, one({ class_id: f.classA })), 403, 'forbidden');
        expectProblem(await post(f.nobody.token, one({ class_id: f.classA })), 403, 'forbidden');
        expectProblem(
          await req('POST', '/v1/attendance', admin, one({ class_id: f.classA }), 'beta.test'),
          401,
          'unauthenticated',
        );
        expect(await recordsOn(staff, [f.s1], '2025-09-03')).toEqual([]);
      });
    });

    describe('DELETE /v1/students/{id}', () => {
      it('ends the deleted student’s open school enrolments in the same request, audited', async () => {
        const a = h.tenants.alpha.id;
        const gone = await staff.student(a, f.north, { firstName: 'Gil', lastName: 'Gone' });
        await enrollAtSchool(staff, a, gone, f.north, f.sessionId, '2025-08-15', '2025-09-02');
        await enrollAtSchool(staff, a, gone, f.south, f.sessionId, '2025-09-03');
        const r = await req('DELETE', `/v1/students/${gone}`, admin);
        expect(r.status, r.text).toBe(204);
        const db = await staff.db();
        const rows = (
          await db.query(
            `select id::text, school_id::text, exit_date::text, status, deleted_at
               from school_enrollments where student_id = $1 order by entry_date`,
            [gone],
          )
        ).rows;
        expect(rows.map((x) => [x.school_id, x.status, x.deleted_at])).toEqual([
          [f.north, 'withdrawn', null],
          [f.south, 'withdrawn', null],
        ]);
        expect(rows[0].exit_date).toBe('2025-09-02');
        // Ended today in the school's time zone: within a day of today in UTC.
        const utc = Date.now();
        expect(
          [-1, 0, 1].map((d) => new Date(utc + d * 86_400_000).toISOString().slice(0, 10)),
        ).toContain(rows[1].exit_date);
        expect((await staff.auditOf(rows[1].id)).map((x) => [x.action, x.after])).toEqual([
          [
            'school_enrollment.update',
            { exit_date: rows[1].exit_date, status: 'withdrawn', reason: 'student deleted' },
          ],
        ]);
        expect(await staff.auditOf(rows[0].id)).toEqual([]);
      });
    });

    describe('GET /v1/attendance (class roster)', () => {
      it('lists the class’s students on the date with their record or null, and logs each', async () => {
        await post(f.teacher.token, {
          date: '2025-09-02',
          class_id: f.classA,
          records: [{ student_id: f.s4, status: 'early_departure' }],
        });
        const r = await req(
          'GET',
          `/v1/attendance?class_id=${f.classA}&date=2025-09-02`,
          f.teacher.token,
        );
        expect(r.status, r.text).toBe(200);
        expect(r.json).toMatchObject({
          class_id: f.classA,
          school_id: f.north,
          date: '2025-09-02',
          period: null,
          day_kind: 'instructional',
        });
        // The roster follows class enrollment (s2 joins the school only on the 3rd).
        const byStudent = Object.fromEntries(
          r.json.data.map((x: { student_id: string; record: unknown }) => [x.student_id, x.record]),
        );
        expect(Object.keys(byStudent).sort()).toEqual([f.s1, f.s2, f.s4, f.s5].sort());
        expect(byStudent[f.s4]).toMatchObject({
          status: 'early_departure',
          class_id: f.classA,
          date: '2025-09-02',
        });
        expect(byStudent[f.s1]).toBeNull();
        expect(r.json.data[0]).toMatchObject({
          student_id: f.s1,
          first_name: 'Ada',
          last_name: 'Ames',
        });

        const later = await req(
          'GET',
          `/v1/attendance?class_id=${f.classA}&date=2025-09-04`,
          f.teacher.token,
        );
        const ids = later.json.data.map((x: { student_id: string }) => x.student_id);
        expect(ids).not.toContain(f.s4);
        expect(
          later.json.data.find((x: { student_id: string }) => x.student_id === f.s1).record,
        ).toMatchObject({ status: 'present' });
        const period = await req(
          'GET',
          `/v1/attendance?class_id=${f.classA}&date=2025-09-04&period=2`,
          f.teacher.token,
        );
        expect(
          period.json.data.find((x: { student_id: string }) => x.student_id === f.s1).record,
        ).toMatchObject({ status: 'absent', period: '2' });

        const log = (await staff.accessLog(f.s4)).filter(
          (l) => l.request_id === r.headers['x-request-id'],
        );
        expect(log).toEqual([
          {
            user_id: f.teacher.userId,
            access: 'list',
            route: 'GET /v1/attendance',
            request_id: r.headers['x-request-id'],
          },
        ]);
      });

      it('shows a parent only their own child in the class', async () => {
        const r = await req(
          'GET',
          `/v1/attendance?class_id=${f.classA}&date=2025-09-04`,
          f.parent.token,
        );
        expect(r.status, r.text).toBe(200);
        expect(r.json.data.map((x: { student_id: string }) => x.student_id)).toEqual([f.s1]);
      });

      it('defaults to today in the school’s time zone', async () => {
        const a = h.tenants.alpha.id;
        const east = await staff.school(a, `East ${runtime}`);
        const db = await staff.db();
        await db.query(`update org_units set timezone = 'Pacific/Kiritimati' where id = $1`, [
          east,
        ]);
        const kid = await staff.student(a, east);
        const eastTeacher = await staff.person(a, [{ role: 'teacher', orgUnitId: east }]);
        const { classId } = await staff.classTaughtBy(a, east, eastTeacher.userId, [kid]);
        const r = await req('GET', `/v1/attendance?class_id=${classId}`, eastTeacher.token);
        expect(r.status, r.text).toBe(200);
        const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Pacific/Kiritimati' }).format(
          new Date(),
        );
        expect(r.json).toMatchObject({ date: today, day_kind: null });
        expect(r.json.data.map((x: { student_id: string }) => x.student_id)).toEqual([kid]);
      });

      it('ends a student’s attendance summary by default today in the school’s time zone, not the tenant’s', async () => {
        const a = h.tenants.alpha.id;
        // The tenant keeps the control plane's default zone.
        const tenantZone = 'America/New_York';
        const dayIn = (zone: string) =>
          new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
        // One of these two zones, 26 hours apart, is on another date than the tenant's.
        const zone = ['Pacific/Kiritimati', 'Etc/GMT+12'].find(
          (z) => dayIn(z) !== dayIn(tenantZone),
        )!;
        const far = await staff.school(a, `Far ${runtime}`);
        const db = await staff.db();
        await db.query(`update org_units set timezone = $2 where id = $1`, [far, zone]);
        const kid = await staff.student(a, far);
        const r = await req('GET', `/v1/students/${kid}/attendance`, admin);
        expect(r.status, r.text).toBe(200);
        expect(r.json.to).toBe(dayIn(zone));
      });

      it('answers 400 for a missing or malformed class or date', async () => {
        expectProblem(
          await req('GET', '/v1/attendance?date=2025-09-04', admin),
          400,
          'validation_failed',
        );
        expectProblem(
          await req('GET', '/v1/attendance?class_id=nope', admin),
          400,
          'validation_failed',
        );
        expectProblem(
          await req('GET', `/v1/attendance?class_id=${f.classA}&date=09/04/2025`, admin),
          400,
          'validation_failed',
        );
      });

      it('treats classes out of reach as missing and refuses callers without the permission', async () => {
        const path = (id: string) => `/v1/attendance?class_id=${id}&date=2025-09-04`;
        expectProblem(await req('GET', path(betaClass), admin), 404, 'not_found');
        expectProblem(await req('GET', path(f.classA), f.otherTeacher.token), 404, 'not_found');
        expectProblem(await req('GET', path(f.classA), f.otherParent.token), 404, 'not_found');
        expectProblem(await req('GET', path(f.classA), f.southPrincipal.token), 404, 'not_found');
        expectProblem(await req('GET', path(f.classA), f.nobody.token), 403, 'forbidden');
        expectProblem(
          await req('GET', path(betaClass), admin, undefined, 'beta.test'),
          401,
          'unauthenticated',
        );
        expectProblem(await req('GET', path(f.classA), betaAdmin), 401, 'unauthenticated');
      });
    });

    describe('GET /v1/students/{id}/attendance', () => {
      it('returns the records and a summary counted as the attendance metric counts, and logs the read', async () => {
        const day = (date: string, status: string, period?: string) =>
          post(f.teacher.token, {
            date,
            class_id: f.classA,
            ...(period ? { period } : {}),
            records: [{ student_id: f.s5, status }],
          });
        for (const [date, status, period] of [
          ['2025-09-01', 'absent'],
          ['2025-09-02', 'excused_absence'],
          ['2025-09-03', 'tardy'],
          ['2025-09-04', 'early_departure'],
          ['2025-09-08', 'present'],
          ['2025-09-10', 'absent', '1'],
        ] as const) {
          expect((await day(date, status, period)).status).toBe(200);
        }
        const r = await req(
          'GET',
          `/v1/students/${f.s5}/attendance?from=2025-09-01&to=2025-09-11`,
          f.principal.token,
        );
        expect(r.status, r.text).toBe(200);
        expect(r.json).toMatchObject({ student_id: f.s5, from: '2025-09-01', to: '2025-09-11' });
        // Instructional days 1–4 and 8–11 (the 5th is a holiday, 6–7 a weekend): 8. The
        // 12th (written by another test) is outside the range; the 10th has a period record only.
        expect(r.json.summary).toEqual({
          membership_days: 8,
          present_days: 3,
          absent_days: 2,
          excused_absence_days: 1,
          unmarked_days: 3,
          // Over the 5 marked days: unmarked days are not absences.
          marked_days: 5,
          ada_percent: 60,
          completeness_percent: 62.5,
        });
        expect(
          r.json.data.map((x: { date: string; status: string; period: string | null }) => [
            x.date,
            x.status,
            x.period,
          ]),
        ).toEqual([
          ['2025-09-01', 'absent', null],
          ['2025-09-02', 'excused_absence', null],
          ['2025-09-03', 'tardy', null],
          ['2025-09-04', 'early_departure', null],
          ['2025-09-08', 'present', null],
          ['2025-09-10', 'absent', '1'],
        ]);
        expect((await staff.accessLog(f.s5)).at(-1)).toEqual({
          user_id: f.principal.userId,
          access: 'read',
          route: 'GET /v1/students/:id/attendance',
          request_id: r.headers['x-request-id'],
        });

        // Membership starts at the school entry (the 3rd): 3, 4, 8, 9, 10, 11, 12.
        const late = await req(
          'GET',
          `/v1/students/${f.s2}/attendance?from=2025-09-01&to=2025-09-14`,
          admin,
        );
        expect(late.json.summary).toMatchObject({ membership_days: 7 });
      });

      it('lets a parent and the student read their own, and answers 400 for a bad range', async () => {
        const range = '?from=2025-09-01&to=2025-09-14';
        expect(
          (await req('GET', `/v1/students/${f.s1}/attendance${range}`, f.parent.token)).status,
        ).toBe(200);
        expect(
          (await req('GET', `/v1/students/${f.s1}/attendance${range}`, f.pupil.token)).status,
        ).toBe(200);
        expect(
          (await req('GET', `/v1/students/${f.s1}/attendance${range}`, f.teacher.token)).status,
        ).toBe(200);
        const backwards = await req(
          'GET',
          `/v1/students/${f.s1}/attendance?from=2025-09-10&to=2025-09-01`,
          admin,
        );
        expectProblem(backwards, 400, 'validation_failed');
        expect(names(backwards)).toEqual(['query.from']);
        expectProblem(
          await req('GET', `/v1/students/${f.s1}/attendance?from=2024-01-01&to=2025-09-01`, admin),
          400,
          'validation_failed',
        );
        expectProblem(
          await req('GET', '/v1/students/nope/attendance', admin),
          400,
          'validation_failed',
        );
      });

      it('treats students out of reach as missing and refuses callers without the permission', async () => {
        const path = (id: string) => `/v1/students/${id}/attendance`;
        expectProblem(await req('GET', path(betaStudent), admin), 404, 'not_found');
        expectProblem(await req('GET', path(f.s1), f.otherTeacher.token), 404, 'not_found');
        expectProblem(await req('GET', path(f.s1), f.otherParent.token), 404, 'not_found');
        expectProblem(await req('GET', path(f.s2), f.pupil.token), 404, 'not_found');
        expectProblem(await req('GET', path(f.s1), f.southPrincipal.token), 404, 'not_found');
        expectProblem(await req('GET', path(f.s1), f.nobody.token), 403, 'forbidden');
        expectProblem(
          await req('GET', path(betaStudent), admin, undefined, 'beta.test'),
          401,
          'unauthenticated',
        );
      });
    });

    describe('GET /v1/attendance/missing', () => {
      const schoolIds = (r: ApiResponse) =>
        r.json.schools.map((s: { school_id: string }) => s.school_id);
      const classIds = (r: ApiResponse) =>
        r.json.classes.map((x: { class_id: string }) => x.class_id);

      it('lists the schools and classes in reach that have not taken attendance on the day', async () => {
        const before = await req('GET', '/v1/attendance/missing?date=2025-09-11', admin);
        expect(before.status, before.text).toBe(200);
        expect(before.json.date).toBe('2025-09-11');
        expect(schoolIds(before)).toEqual(expect.arrayContaining([f.north, f.south]));
        expect(classIds(before)).toEqual(expect.arrayContaining([f.classA, f.classB]));

        const teacherView = await req(
          'GET',
          '/v1/attendance/missing?date=2025-09-11',
          f.teacher.token,
        );
        expect(teacherView.json).toEqual({
          date: '2025-09-11',
          schools: [],
          classes: [
            {
              class_id: f.classA,
              name: expect.any(String),
              section: '1',
              school_id: f.north,
              date: '2025-09-11',
            },
          ],
        });
        const southView = await req(
          'GET',
          '/v1/attendance/missing?date=2025-09-11',
          f.southPrincipal.token,
        );
        expect(southView.json.schools).toEqual([
          { school_id: f.south, name: `South ${runtime}`, date: '2025-09-11' },
        ]);
        expect(southView.json.classes).toEqual([]);

        await post(f.teacher.token, {
          date: '2025-09-11',
          class_id: f.classA,
          records: [{ student_id: f.s1, status: 'present' }],
        });
        const after = await req('GET', '/v1/attendance/missing?date=2025-09-11', admin);
        expect(schoolIds(after)).not.toContain(f.north);
        expect(schoolIds(after)).toContain(f.south);
        expect(classIds(after)).not.toContain(f.classA);
        expect(classIds(after)).toContain(f.classB);
        const done = await req('GET', '/v1/attendance/missing?date=2025-09-11', f.teacher.token);
        expect(done.json.classes).toEqual([]);

        // Not an instructional day: nothing to take.
        const weekend = await req('GET', '/v1/attendance/missing?date=2025-09-06', admin);
        expect(schoolIds(weekend)).not.toContain(f.north);
        expect(classIds(weekend)).not.toContain(f.classA);
      });

      it('defaults to each school’s today in its own time zone and answers 400 for a bad date', async () => {
        // UTC+14 and UTC−11: at any instant their dates differ by one day, so at least one
        // of them differs from the organisation's (America/New_York). Each school's only
        // instructional day is its own today: asked on any other date, it is not listed.
        const a = h.tenants.alpha.id;
        const db = await staff.db();
        const zones = ['Pacific/Kiritimati', 'Pacific/Pago_Pago'];
        const today = (zone: string) =>
          new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
        const schools: string[] = [];
        for (const zone of zones) {
          const school = await staff.school(a, `${zone} ${runtime}`);
          await db.query(`update org_units set timezone = $2 where id = $1`, [school, zone]);
          const kid = await staff.student(a, school, { firstName: 'Zo', lastName: 'Zone' });
          await enrollAtSchool(staff, a, kid, school, f.sessionId, '2025-08-15');
          // Yesterday, today and tomorrow there; only today's is instructional.
          const there = today(zone);
          for (const [date, kind] of [
            [addDaysTo(there, -1), 'break'],
            [there, 'instructional'],
            [addDaysTo(there, 1), 'break'],
          ])
            await db.query(
              `insert into calendar_days (tenant_id, school_id, session_id, date, kind)
               values ($1, $2, $3, $4, $5)`,
              [a, school, f.sessionId, date, kind],
            );
          schools.push(school);
        }
        // The expectation is taken before and after the request; a date that turned over
        // in between asks again.
        let r: ApiResponse;
        let expected: string[];
        do {
          expected = zones.map(today);
          r = await req('GET', '/v1/attendance/missing', admin);
          expect(r.status, r.text).toBe(200);
        } while (expected.join() !== zones.map(today).join());
        expect(r.json.date).toBeNull();
        const listed = r.json.schools.filter((s: { school_id: string }) =>
          schools.includes(s.school_id),
        );
        expect(listed).toEqual(
          schools.map((id, i) => ({
            school_id: id,
            name: `${zones[i]} ${runtime}`,
            date: expected[i],
          })),
        );
        expectProblem(
          await req('GET', '/v1/attendance/missing?date=today', admin),
          400,
          'validation_failed',
        );
      });

      it('shows families nothing, refuses callers without the permission and other tenants’ tokens', async () => {
        const parentView = await req(
          'GET',
          '/v1/attendance/missing?date=2025-09-10',
          f.parent.token,
        );
        expect(parentView.json).toEqual({ date: '2025-09-10', schools: [], classes: [] });
        expectProblem(await req('GET', '/v1/attendance/missing', f.nobody.token), 403, 'forbidden');
        expectProblem(
          await req('GET', '/v1/attendance/missing', betaAdmin),
          401,
          'unauthenticated',
        );
        expectProblem(
          await req('GET', '/v1/attendance/missing', admin, undefined, 'beta.test'),
          401,
          'unauthenticated',
        );
      });
    });
  });
}
