import { describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { Harness } from '../support/harness.js';
import { expectProblem } from '../support/staff.js';

/**
 * /v1/students on Node and in workerd: CRUD through the resource framework, relationship
 * scoping (teacher, parent, principal, student), the FERPA record-access log, per-student
 * export and erasure.
 */

const ALPHA = 'alpha.test';

const h = await Harness.init('students_api');
const { staff } = h;

const { north, south, admin, principal, teacher, parent, pupil, s1, s2, s3, betaStudent } =
  await h.setup(async () => {
    const a = h.tenants.alpha.id;
    const north = await staff.school(a, 'North');
    const south = await staff.school(a, 'South');
    const admin = await h.admin('alpha');
    const principal = await staff.person(a, [{ role: 'principal', orgUnitId: north }]);
    const teacher = await staff.person(a, [{ role: 'teacher', orgUnitId: north }]);
    const parent = await staff.person(a, [{ role: 'parent' }]);
    const pupil = await staff.person(a, [{ role: 'student' }]);
    /** s1: north, in the teacher's class, the parent's child; s2: north, another family; s3: south. */
    const s1 = await staff.student(a, north, {
      firstName: 'Ada',
      lastName: 'Alpha',
      userId: pupil.userId,
    });
    const s2 = await staff.student(a, north, { firstName: 'Bo', lastName: 'Beta' });
    const s3 = await staff.student(a, south, { firstName: 'Cy', lastName: 'Gamma' });
    await staff.classTaughtBy(a, north, teacher.userId, [s1]);
    await staff.guardian(a, [s1], { userId: parent.userId });
    await staff.guardian(a, [s2]);
    const betaSchool = await staff.school(h.tenants.beta.id, 'Beta School');
    const betaStudent = await staff.student(h.tenants.beta.id, betaSchool, { firstName: 'Zed' });
    return { north, south, admin, principal, teacher, parent, pupil, s1, s2, s3, betaStudent };
  });

for (const runtime of ['node', 'workerd'] as const) {
  describe(`/v1/students on ${runtime}`, () => {
    const target = (): ApiTarget => h.target(runtime);
    const req = h.api(runtime).request;
    const ids = (r: ApiResponse): string[] => r.json.data.map((s: { id: string }) => s.id);
    const newStudent = (over: Record<string, unknown> = {}) => ({
      student_number: `${runtime}-${Math.random().toString(36).slice(2, 10)}`,
      first_name: 'New',
      last_name: 'Pupil',
      grade_level: '3',
      school_id: north,
      date_of_birth: '2017-02-03',
      ...over,
    });

    it('lists the tenant’s students in snake_case and logs one access row per student listed', async () => {
      const r = await req('GET', '/v1/students?limit=100', admin);
      expect(r.status, r.text).toBe(200);
      expect(ids(r)).toEqual(expect.arrayContaining([s1, s2, s3]));
      expect(ids(r)).not.toContain(betaStudent);
      const ada = r.json.data.find((s: { id: string }) => s.id === s1);
      expect(ada).toMatchObject({ first_name: 'Ada', school_id: north, section_504: false });
      expect(ada).not.toHaveProperty('tenant_id');
      const requestId = String(r.headers['x-request-id']);
      for (const id of ids(r)) {
        const log = (await staff.accessLog(id)).filter((l) => l.request_id === requestId);
        expect(log, id).toEqual([
          {
            user_id: h.tenants.alpha.adminUserId,
            access: 'list',
            route: 'GET /v1/students',
            request_id: requestId,
          },
        ]);
      }
    });

    it('pages with limit and an opaque cursor, and rejects a forged cursor', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r: ApiResponse = await req(
          'GET',
          `/v1/students?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
          admin,
        );
        expect(r.status, r.text).toBe(200);
        seen.push(...ids(r));
        cursor = r.json.next_cursor;
        pages++;
      } while (cursor && pages < 50);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(expect.arrayContaining([s1, s2, s3]));
      expectProblem(
        await req('GET', '/v1/students?cursor=bm9wZQ', admin),
        400,
        'validation_failed',
      );
      expectProblem(await req('GET', '/v1/students?limit=101', admin), 400, 'validation_failed');
    });

    it('reads one student with an ETag and logs the read', async () => {
      const r = await req('GET', `/v1/students/${s1}`, admin);
      expect(r.status, r.text).toBe(200);
      expect(r.json).toMatchObject({ id: s1, first_name: 'Ada', date_of_birth: '2015-04-01' });
      expect(r.headers.etag).toMatch(/^"\d+"$/);
      const log = await staff.accessLog(s1);
      expect(log.at(-1)).toEqual({
        user_id: h.tenants.alpha.adminUserId,
        access: 'read',
        route: 'GET /v1/students/:id',
        request_id: r.headers['x-request-id'],
      });
    });

    it('creates, changes with If-Match and soft-deletes a student, auditing each step', async () => {
      const body = newStudent();
      const created = await req('POST', '/v1/students', admin, body);
      expect(created.status, created.text).toBe(201);
      const id = created.json.id;
      expect(created.json).toMatchObject({ ...body, status: 'active', iep: false });

      const stale = created.headers.etag as string;
      const changed = await req(
        'PATCH',
        `/v1/students/${id}`,
        admin,
        { grade_level: '4' },
        { 'if-match': stale },
      );
      expect(changed.status, changed.text).toBe(200);
      expect(changed.json.grade_level).toBe('4');
      // The ETag the create answered is stale now: a second writer with it loses.
      expectProblem(
        await req(
          'PATCH',
          `/v1/students/${id}`,
          admin,
          { grade_level: '5' },
          { 'if-match': stale },
        ),
        412,
        'precondition_failed',
      );

      expect((await req('DELETE', `/v1/students/${id}`, admin)).status).toBe(204);
      expectProblem(await req('GET', `/v1/students/${id}`, admin), 404, 'not_found');
      const list = await req('GET', '/v1/students?limit=100', admin);
      expect(ids(list)).not.toContain(id);

      const trail = await staff.auditOf(id);
      expect(trail.map((a) => a.action)).toEqual([
        'student.create',
        'student.update',
        'student.delete',
      ]);
      expect(trail[1]).toMatchObject({
        before: { grade_level: '3' },
        after: { grade_level: '4' },
        actor_user_id: h.tenants.alpha.adminUserId,
      });
    });

    it('answers 409 for a duplicate student number, 422 for an unknown school, 400 with invalid_params for a bad body', async () => {
      const body = newStudent();
      expect((await req('POST', '/v1/students', admin, body)).status).toBe(201);
      expectProblem(await req('POST', '/v1/students', admin, { ...body }), 409, 'conflict');
      expectProblem(
        await req('POST', '/v1/students', admin, newStudent({ school_id: crypto.randomUUID() })),
        422,
        'unprocessable',
      );
      const bad = await req('POST', '/v1/students', admin, {
        first_name: '',
        date_of_birth: 'soon',
      });
      expectProblem(bad, 400, 'validation_failed');
      const names = bad.json.invalid_params.map((p: { name: string }) => p.name);
      expect(names).toEqual(expect.arrayContaining(['json.student_number', 'json.date_of_birth']));
      expectProblem(await req('GET', '/v1/students/not-a-uuid', admin), 400, 'validation_failed');
    });

    it('treats another tenant’s student id as missing for read, change and delete', async () => {
      expectProblem(await req('GET', `/v1/students/${betaStudent}`, admin), 404, 'not_found');
      expectProblem(
        await req('PATCH', `/v1/students/${betaStudent}`, admin, { grade_level: '9' }),
        404,
        'not_found',
      );
      expectProblem(await req('DELETE', `/v1/students/${betaStudent}`, admin), 404, 'not_found');
      expectProblem(
        await req('GET', `/v1/students/${betaStudent}/export`, admin),
        404,
        'not_found',
      );
      expectProblem(
        await req('POST', `/v1/students/${betaStudent}/erase`, admin),
        404,
        'not_found',
      );
    });

    it('shows a teacher only the students of their classes, and refuses them writes', async () => {
      const list = await req('GET', '/v1/students', teacher.token);
      expect(list.status, list.text).toBe(200);
      expect(ids(list)).toContain(s1);
      expect(ids(list)).not.toContain(s2);
      expect(ids(list)).not.toContain(s3);
      expect((await req('GET', `/v1/students/${s1}`, teacher.token)).status).toBe(200);
      expectProblem(await req('GET', `/v1/students/${s2}`, teacher.token), 404, 'not_found');
      expectProblem(
        await req('POST', '/v1/students', teacher.token, newStudent()),
        403,
        'forbidden',
      );
      expectProblem(
        await req('PATCH', `/v1/students/${s1}`, teacher.token, { grade_level: '9' }),
        403,
        'forbidden',
      );
      expectProblem(await req('GET', `/v1/students/${s1}/export`, teacher.token), 403, 'forbidden');
    });

    it('shows a parent only their own children and a student only themself', async () => {
      const mine = await req('GET', '/v1/students', parent.token);
      expect(ids(mine)).toEqual([s1]);
      expect((await req('GET', `/v1/students/${s1}`, parent.token)).status).toBe(200);
      expectProblem(await req('GET', `/v1/students/${s2}`, parent.token), 404, 'not_found');
      const self = await req('GET', '/v1/students', pupil.token);
      expect(ids(self)).toEqual([s1]);
      expectProblem(await req('GET', `/v1/students/${s3}`, pupil.token), 404, 'not_found');
    });

    it('keeps a principal within their school', async () => {
      const list = await req('GET', '/v1/students?limit=100', principal.token);
      expect(ids(list)).toEqual(expect.arrayContaining([s1, s2]));
      expect(ids(list)).not.toContain(s3);
      expectProblem(await req('GET', `/v1/students/${s3}`, principal.token), 404, 'not_found');
      expectProblem(
        await req('PATCH', `/v1/students/${s3}`, principal.token, { grade_level: '9' }),
        404,
        'not_found',
      );
      // Creating at, or moving a student to, another school is outside their reach.
      expectProblem(
        await req('POST', '/v1/students', principal.token, newStudent({ school_id: south })),
        403,
        'forbidden',
      );
      const own = await req('POST', '/v1/students', principal.token, newStudent());
      expect(own.status, own.text).toBe(201);
      expectProblem(
        await req('PATCH', `/v1/students/${own.json.id}`, principal.token, { school_id: south }),
        403,
        'forbidden',
      );
      // Export follows the same reach; erasure is not a principal's to do.
      expectProblem(
        await req('GET', `/v1/students/${s3}/export`, principal.token),
        404,
        'not_found',
      );
      expectProblem(
        await req('POST', `/v1/students/${s1}/erase`, principal.token),
        403,
        'forbidden',
      );
    });

    it('exports everything held about a student and logs the export', async () => {
      const a = h.tenants.alpha.id;
      const db = await staff.db();
      const kid = await staff.student(a, north, { firstName: 'Exp', lastName: `Ort-${runtime}` });
      const g = await staff.guardian(a, [kid], { firstName: 'Gwen' });
      const { classId, sessionId } = await staff.classTaughtBy(a, north, teacher.userId, [kid]);
      await db.query(
        `insert into school_enrollments (tenant_id, student_id, school_id, session_id, grade_level, entry_date)
         values ($1, $2, $3, $4, '5', '2025-08-15')`,
        [a, kid, north, sessionId],
      );
      await db.query(
        `insert into attendance_records (tenant_id, student_id, school_id, class_id, date, status)
         values ($1, $2, $3, $4, '2025-09-02', 'present')`,
        [a, kid, north, classId],
      );
      const r = await req('GET', `/v1/students/${kid}/export`, admin);
      expect(r.status, r.text).toBe(200);
      expect(Object.keys(r.json).sort()).toEqual(
        [
          'attendance',
          'billing_accounts',
          'class_enrollments',
          'esa_applications',
          'exported_at',
          'guardian_links',
          'guardians',
          'invoices',
          'school_enrollments',
          'scores',
          'student',
        ].sort(),
      );
      expect(r.json.student).toMatchObject({ id: kid, first_name: 'Exp' });
      expect(r.json.guardians.map((x: { id: string }) => x.id)).toEqual([g]);
      expect(r.json.guardian_links[0]).toMatchObject({ guardian_id: g, student_id: kid });
      expect(r.json.class_enrollments[0]).toMatchObject({ class_id: classId });
      expect(r.json.school_enrollments).toHaveLength(1);
      expect(r.json.attendance[0]).toMatchObject({ status: 'present', date: '2025-09-02' });
      expect(r.text).not.toContain('tenant_id');
      expect((await staff.accessLog(kid)).map((l) => l.access)).toEqual(['export']);
    });

    it('erases a student: personal data anonymised, lone guardians too, facts kept, audited without the values', async () => {
      const a = h.tenants.alpha.id;
      const db = await staff.db();
      const kid = await staff.student(a, north, {
        firstName: 'Eraseme',
        lastName: `Kid-${runtime}`,
      });
      const sibling = await staff.student(a, north, { firstName: 'Stays' });
      const lone = await staff.guardian(a, [kid], { firstName: 'Lonely' });
      const shared = await staff.guardian(a, [kid, sibling], { firstName: 'Shared' });
      const { classId } = await staff.classTaughtBy(a, north, teacher.userId, [kid]);
      await db.query(
        `insert into attendance_records (tenant_id, student_id, school_id, class_id, date, status, note)
         values ($1, $2, $3, $4, '2025-09-02', 'absent', 'sick: flu'), ($1, $2, $3, $4, '2025-09-03', 'present', null)`,
        [a, kid, north, classId],
      );

      const r = await req('POST', `/v1/students/${kid}/erase`, admin);
      expect(r.status, r.text).toBe(200);
      expect(r.json).toEqual({ student_id: kid, erased_guardians: 1, removed_links: 2 });

      const st = (await db.query(`select * from students where id = $1`, [kid])).rows[0];
      expect(st).toMatchObject({
        first_name: 'Erased',
        last_name: 'Erased',
        date_of_birth: null,
        deleted_at: null,
      });
      const gs = await db.query(`select id, first_name, email from guardians where id = any($1)`, [
        [lone, shared],
      ]);
      const byId = Object.fromEntries(gs.rows.map((x) => [x.id, x]));
      expect(byId[lone]).toMatchObject({ first_name: 'Erased', email: null });
      expect(byId[shared]).toMatchObject({ first_name: 'Shared' });
      const links = await db.query(
        `select count(*)::int as n from student_guardians where student_id = $1 and deleted_at is null`,
        [kid],
      );
      expect(links.rows[0].n).toBe(0);
      // The sibling keeps their guardian.
      const sib = await db.query(
        `select count(*)::int as n from student_guardians where student_id = $1 and deleted_at is null`,
        [sibling],
      );
      expect(sib.rows[0].n).toBe(1);
      const att = await db.query(
        `select status, note from attendance_records where student_id = $1 order by date`,
        [kid],
      );
      expect(att.rows).toEqual([
        { status: 'absent', note: null },
        { status: 'present', note: null },
      ]);

      const trail = await staff.auditOf(kid);
      const erase = trail.find((x) => x.action === 'student.erase')!;
      expect(erase).toBeDefined();
      expect(JSON.stringify(erase)).not.toMatch(/Eraseme|Lonely|sick/);
      expect((await staff.accessLog(kid)).map((l) => l.access)).toContain('erase');
      // After erasure the record reads as erased.
      const after = await req('GET', `/v1/students/${kid}`, admin);
      expect(after.json).toMatchObject({ first_name: 'Erased', date_of_birth: null });
    });

    it('refuses anonymous callers and other tenants’ tokens', async () => {
      const anon = await call(target(), 'GET', '/v1/students', { host: ALPHA });
      expectProblem(anon, 401, 'unauthenticated');
      const betaAdmin = await h.admin('beta');
      expectProblem(await req('GET', `/v1/students/${s1}`, betaAdmin), 401, 'unauthenticated');
    });
  });
}
