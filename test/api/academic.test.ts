import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { Harness } from '../support/harness.js';
import { bearer, expectProblem } from '../support/staff.js';

/**
 * Rosters on Node and in workerd: /v1/courses, /v1/classes (with their teachers),
 * /v1/enrollments and /v1/school-enrollments through the resource framework, relationship
 * scoping (teacher, parent, principal), reference checks, constraints and audit rows.
 */

const ALPHA = 'alpha.test';
const BETA = 'beta.test';

const h = await Harness.init('academic_api');
const { staff } = h;

async function one(text: string, values: unknown[]): Promise<string> {
  const db = await staff.db();
  return (await db.query<{ id: string }>(text, values)).rows[0]!.id;
}

async function classAt(tenantId: string, schoolId: string, teacherUserId: string, kids: string[]) {
  const made = await staff.classTaughtBy(tenantId, schoolId, teacherUserId, kids);
  const courseId = await one(`select course_id as id from classes where id = $1`, [made.classId]);
  return { ...made, courseId };
}

const schoolEnrollment = (tenantId: string, studentId: string, schoolId: string, session: string) =>
  one(
    `insert into school_enrollments (tenant_id, student_id, school_id, session_id, grade_level, entry_date)
     values ($1, $2, $3, $4, '5', '2025-08-15') returning id`,
    [tenantId, studentId, schoolId, session],
  );

const {
  a,
  root,
  north,
  south,
  admin,
  principal,
  office,
  teacher,
  parent,
  s1,
  s2,
  s3,
  north1,
  south1,
  enrolS1,
  enrolS3,
  shared,
  sharedS1,
  sharedS2,
  schoolEnrolS1,
  schoolEnrolS2,
  schoolEnrolS3,
  southCourse,
  beta,
} = await h.setup(async () => {
  const a = h.tenants.alpha.id;
  const root = await staff.root(a);
  const north = await staff.school(a, 'North');
  const south = await staff.school(a, 'South');
  const admin = await h.admin('alpha');
  const principal = await staff.person(a, [{ role: 'principal', orgUnitId: north }]);
  const office = await staff.person(a, [{ role: 'office_admin', orgUnitId: north }]);
  const teacher = await staff.person(a, [{ role: 'teacher', orgUnitId: north }]);
  const parent = await staff.person(a, [{ role: 'parent' }]);
  const southTeacher = await staff.user(a, [{ role: 'teacher', orgUnitId: south }]);
  /** s1: north, in the teacher's class, the parent's child; s2: north; s3: south. */
  const s1 = await staff.student(a, north, { firstName: 'Ada' });
  const s2 = await staff.student(a, north, { firstName: 'Bo' });
  const s3 = await staff.student(a, south, { firstName: 'Cy' });
  await staff.guardian(a, [s1], { userId: parent.userId });
  /** The teacher's class at North (s1 enrolled) and another teacher's at South (s3 enrolled). */
  const north1 = await classAt(a, north, teacher.userId, [s1]);
  const south1 = await classAt(a, south, southTeacher, [s3]);
  const enrolS1 = await one(`select id from class_enrollments where class_id = $1`, [
    north1.classId,
  ]);
  const enrolS3 = await one(`select id from class_enrollments where class_id = $1`, [
    south1.classId,
  ]);
  /** A North class with no teacher where s1 and s2 are classmates. */
  const shared = await one(
    `insert into classes (tenant_id, course_id, session_id, school_id, section, name)
     values ($1, $2, $3, $4, 'shared', 'Shared') returning id`,
    [a, north1.courseId, north1.sessionId, north],
  );
  const enrol = (studentId: string) =>
    one(
      `insert into class_enrollments (tenant_id, class_id, student_id, entry_date)
       values ($1, $2, $3, '2025-08-15') returning id`,
      [a, shared, studentId],
    );
  const sharedS1 = await enrol(s1);
  const sharedS2 = await enrol(s2);
  const schoolEnrolS1 = await schoolEnrollment(a, s1, north, north1.sessionId);
  const schoolEnrolS2 = await schoolEnrollment(a, s2, north, north1.sessionId);
  const schoolEnrolS3 = await schoolEnrollment(a, s3, south, south1.sessionId);
  const southCourse = await one(
    `insert into courses (tenant_id, org_unit_id, code, name, subject)
     values ($1, $2, 'SOUTH-ART', 'Art', 'art') returning id`,
    [a, south],
  );
  const b = h.tenants.beta.id;
  const betaSchool = await staff.school(b, 'Beta School');
  const betaTeacher = await staff.user(b, [{ role: 'teacher', orgUnitId: betaSchool }]);
  const studentId = await staff.student(b, betaSchool, { firstName: 'Zed' });
  const betaClass = await classAt(b, betaSchool, betaTeacher, [studentId]);
  const beta = {
    ...betaClass,
    studentId,
    enrollmentId: await one(`select id from class_enrollments where class_id = $1`, [
      betaClass.classId,
    ]),
    schoolEnrollmentId: await schoolEnrollment(b, studentId, betaSchool, betaClass.sessionId),
  };
  return {
    a,
    root,
    north,
    south,
    admin,
    principal,
    office,
    teacher,
    parent,
    s1,
    s2,
    s3,
    north1,
    south1,
    enrolS1,
    enrolS3,
    shared,
    sharedS1,
    sharedS2,
    schoolEnrolS1,
    schoolEnrolS2,
    schoolEnrolS3,
    southCourse,
    beta,
  };
});

for (const runtime of ['node', 'workerd'] as const) {
  describe(`rosters on ${runtime}`, () => {
    const target = (): ApiTarget => h.target(runtime);
    const req = h.api(runtime).request;
    const ids = (r: ApiResponse): string[] => {
      expect(r.status, r.text).toBe(200);
      return r.json.data.map((x: { id: string }) => x.id);
    };
    const tag = () => `${runtime}-${randomUUID().slice(0, 8)}`;
    const paramNames = (r: ApiResponse): string[] =>
      (r.json.invalid_params ?? []).map((p: { name: string }) => p.name);
    const created = async (path: string, token: string, body: unknown): Promise<ApiResponse> => {
      const r = await req('POST', path, token, body);
      expect(r.status, r.text).toBe(201);
      return r;
    };
    const newCourse = (over: Record<string, unknown> = {}) => ({
      code: `ALG-${tag()}`,
      name: 'Algebra I',
      subject: 'math',
      credits: 1.5,
      grade_levels: ['9', '10'],
      org_unit_id: north,
      ...over,
    });
    const newClass = (courseId: string, over: Record<string, unknown> = {}) => ({
      course_id: courseId,
      session_id: north1.sessionId,
      school_id: north,
      section: tag(),
      name: `Algebra ${runtime}`,
      room: '101',
      schedule: [{ day: 'mon', start: '09:00', end: '09:50' }],
      capacity: 24,
      ...over,
    });

    /** Tenant A's token cannot reach tenant B's row by id, nor tenant A's host with B's token. */
    async function isolated(path: string, betaId: string, patch: unknown): Promise<void> {
      expectProblem(await req('GET', `${path}/${betaId}`, admin), 404, 'not_found');
      expectProblem(await req('PATCH', `${path}/${betaId}`, admin, patch), 404, 'not_found');
      expectProblem(await req('DELETE', `${path}/${betaId}`, admin), 404, 'not_found');
      expect(ids(await req('GET', `${path}?limit=100`, admin))).not.toContain(betaId);
      const onBetaHost = await call(target(), 'GET', path, { host: BETA, headers: bearer(admin) });
      expectProblem(onBetaHost, 401, 'unauthenticated');
    }

    it('documents the roster routes, with the final grades read-only', async () => {
      const r = await call(target(), 'GET', '/openapi.json', { host: 'localhost' });
      expect(r.status).toBe(200);
      const paths = Object.keys(r.json.paths);
      for (const p of [
        '/v1/courses',
        '/v1/courses/{id}',
        '/v1/classes',
        '/v1/classes/{id}',
        '/v1/classes/{id}/teachers',
        '/v1/enrollments',
        '/v1/enrollments/{id}',
        '/v1/school-enrollments',
        '/v1/school-enrollments/{id}',
      ])
        expect(paths).toContain(p);
      expect(Object.keys(r.json.paths['/v1/classes/{id}/teachers'])).toEqual(['get', 'put']);
      const schemas = r.json.components.schemas;
      expect(Object.keys(schemas.ClassEnrollment.properties)).toContain('final_grade');
      for (const s of ['ClassEnrollmentCreate', 'ClassEnrollmentUpdate'])
        expect(
          Object.keys(schemas[s].properties).filter((k) => /^final_|credits_|grade_points/.test(k)),
        ).toEqual([]);
    });

    describe('/v1/courses', () => {
      it('creates, filters, pages, changes with If-Match and deletes a course, auditing each step', async () => {
        const body = newCourse();
        const r = await created('/v1/courses', admin, body);
        const id = r.json.id;
        expect(r.json).toMatchObject({ ...body, description: null });
        expect(r.json).not.toHaveProperty('tenant_id');
        expect(r.headers.location).toBe(`/v1/courses/${id}`);

        expect(ids(await req('GET', `/v1/courses?q=${body.code}`, admin))).toEqual([id]);
        const bySubject = ids(await req('GET', '/v1/courses?subject=math&limit=100', admin));
        expect(bySubject).toContain(id);
        expect(bySubject).not.toContain(southCourse);
        expect(ids(await req('GET', `/v1/courses?org_unit_id=${south}`, admin))).toEqual([
          southCourse,
        ]);
        const seen: string[] = [];
        let cursor: string | null = null;
        for (let i = 0; i < 50; i++) {
          const page: ApiResponse = await req(
            'GET',
            `/v1/courses?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
            admin,
          );
          seen.push(...ids(page));
          cursor = page.json.next_cursor;
          if (!cursor) break;
        }
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen).toEqual(expect.arrayContaining([id, southCourse, north1.courseId]));

        const stale = r.headers.etag as string;
        const changed = await req(
          'PATCH',
          `/v1/courses/${id}`,
          admin,
          { name: 'Algebra One' },
          { 'if-match': stale },
        );
        expect(changed.status, changed.text).toBe(200);
        expect(changed.json.name).toBe('Algebra One');
        expectProblem(
          await req('PATCH', `/v1/courses/${id}`, admin, { name: 'X' }, { 'if-match': stale }),
          412,
          'precondition_failed',
        );
        expect((await req('DELETE', `/v1/courses/${id}`, admin)).status).toBe(204);
        expectProblem(await req('GET', `/v1/courses/${id}`, admin), 404, 'not_found');

        const trail = await staff.auditOf(id);
        expect(trail.map((x) => x.action)).toEqual([
          'course.create',
          'course.update',
          'course.delete',
        ]);
        expect(trail[1]).toMatchObject({
          before: { name: 'Algebra I' },
          after: { name: 'Algebra One' },
          actor_user_id: h.tenants.alpha.adminUserId,
        });
      });

      it('answers 400, 409 and 422 for bad bodies, duplicate codes, unknown org units and a course in use', async () => {
        const bad = await req('POST', '/v1/courses', admin, { code: '', credits: -1 });
        expectProblem(bad, 400, 'validation_failed');
        expect(paramNames(bad)).toEqual(
          expect.arrayContaining(['json.code', 'json.name', 'json.subject', 'json.credits']),
        );
        const body = newCourse();
        await created('/v1/courses', admin, body);
        expectProblem(await req('POST', '/v1/courses', admin, body), 409, 'conflict');
        const unknown = await req(
          'POST',
          '/v1/courses',
          admin,
          newCourse({ org_unit_id: randomUUID() }),
        );
        expectProblem(unknown, 422, 'unprocessable');
        expect(paramNames(unknown)).toEqual(['json.org_unit_id']);
        expectProblem(
          await req('DELETE', `/v1/courses/${north1.courseId}`, admin),
          409,
          'conflict',
        );
        expectProblem(await req('GET', '/v1/courses/nope', admin), 400, 'validation_failed');
      });

      it('keeps tenants apart and writes within reach and permission', async () => {
        await isolated('/v1/courses', beta.courseId, { name: 'Stolen' });
        // A teacher reads the catalog but cannot write it; a parent cannot read it.
        expect(ids(await req('GET', '/v1/courses?limit=100', teacher.token))).toContain(
          southCourse,
        );
        expectProblem(
          await req('POST', '/v1/courses', teacher.token, newCourse()),
          403,
          'forbidden',
        );
        expectProblem(await req('GET', '/v1/courses', parent.token), 403, 'forbidden');
        // A principal writes their school's courses only.
        const own = await created('/v1/courses', principal.token, newCourse());
        expect(own.json.org_unit_id).toBe(north);
        expectProblem(
          await req('POST', '/v1/courses', principal.token, newCourse({ org_unit_id: south })),
          403,
          'forbidden',
        );
        expectProblem(
          await req('POST', '/v1/courses', principal.token, newCourse({ org_unit_id: null })),
          403,
          'forbidden',
        );
        expectProblem(
          await req('PATCH', `/v1/courses/${southCourse}`, principal.token, { name: 'Mine' }),
          404,
          'not_found',
        );
        expectProblem(
          await req('PATCH', `/v1/courses/${own.json.id}`, principal.token, {
            org_unit_id: south,
          }),
          403,
          'forbidden',
        );
      });
    });

    describe('/v1/classes', () => {
      it('creates a class, sets its teachers, filters, changes and deletes it, auditing each step', async () => {
        const course = (await created('/v1/courses', admin, newCourse())).json.id;
        const body = newClass(course);
        const r = await created('/v1/classes', admin, body);
        const id = r.json.id;
        expect(r.json).toMatchObject({
          ...body,
          status: 'active',
          grading_scale_id: null,
          teachers: [],
        });
        expectProblem(await req('GET', `/v1/classes/${id}`, teacher.token), 404, 'not_found');

        const set = await req('PUT', `/v1/classes/${id}/teachers`, admin, {
          teachers: [{ staff_id: north1.staffId, role: 'co_teacher' }],
        });
        expect(set.status, set.text).toBe(200);
        expect(set.json.data).toEqual([
          {
            staff_id: north1.staffId,
            role: 'co_teacher',
            first_name: 'Tess',
            last_name: 'Teacher',
          },
        ]);
        const listed = await req('GET', `/v1/classes/${id}/teachers`, admin);
        expect(listed.json.data).toEqual(set.json.data);
        // Teaching it brings the class into the teacher's scope.
        const seen = await req('GET', `/v1/classes/${id}`, teacher.token);
        expect(seen.status, seen.text).toBe(200);
        expect(seen.json.teachers).toEqual(set.json.data);
        expect(
          ids(await req('GET', `/v1/classes?staff_id=${north1.staffId}&limit=100`, admin)),
        ).toEqual(expect.arrayContaining([id, north1.classId]));
        expect(ids(await req('GET', `/v1/classes?course_id=${course}`, admin))).toEqual([id]);
        const bySchool = ids(
          await req(
            'GET',
            `/v1/classes?school_id=${north}&session_id=${north1.sessionId}&status=active&limit=100`,
            admin,
          ),
        );
        expect(bySchool).toEqual(expect.arrayContaining([id, north1.classId]));
        expect(bySchool).not.toContain(south1.classId);
        expect(
          ids(await req('GET', `/v1/classes?course_id=${course}&status=cancelled`, admin)),
        ).toEqual([]);

        const cleared = await req('PUT', `/v1/classes/${id}/teachers`, admin, { teachers: [] });
        expect(cleared.json.data).toEqual([]);
        expectProblem(await req('GET', `/v1/classes/${id}`, teacher.token), 404, 'not_found');

        const stale = r.headers.etag as string;
        const changed = await req(
          'PATCH',
          `/v1/classes/${id}`,
          admin,
          { room: '202', status: 'cancelled' },
          { 'if-match': stale },
        );
        expect(changed.status, changed.text).toBe(200);
        expect(changed.json).toMatchObject({ room: '202', status: 'cancelled' });
        expectProblem(
          await req('PATCH', `/v1/classes/${id}`, admin, { room: '303' }, { 'if-match': stale }),
          412,
          'precondition_failed',
        );
        expectProblem(
          await req('DELETE', `/v1/classes/${id}`, admin, undefined, { 'if-match': stale }),
          412,
          'precondition_failed',
        );
        expect((await req('DELETE', `/v1/classes/${id}`, admin)).status).toBe(204);
        expectProblem(await req('GET', `/v1/classes/${id}/teachers`, admin), 404, 'not_found');

        const trail = await staff.auditOf(id);
        expect(trail.map((x) => x.action)).toEqual([
          'class.create',
          'class_teacher.replace',
          'class_teacher.replace',
          'class.update',
          'class.delete',
        ]);
        expect(trail[1]).toMatchObject({
          before: { teachers: [] },
          after: { teachers: [{ staff_id: north1.staffId, role: 'co_teacher' }] },
        });
      });

      it('answers 400, 409 and 422 for bad bodies, duplicate sections, unknown references and a class in use', async () => {
        const bad = await req('POST', '/v1/classes', admin, {
          ...newClass(north1.courseId),
          capacity: 0,
          schedule: [{ day: 'mon', start: '10:00', end: '09:00' }],
          status: 'paused',
        });
        expectProblem(bad, 400, 'validation_failed');
        expect(paramNames(bad)).toEqual(
          expect.arrayContaining(['json.capacity', 'json.status', 'json.schedule.0.end']),
        );
        const body = newClass(north1.courseId);
        await created('/v1/classes', admin, body);
        expectProblem(await req('POST', '/v1/classes', admin, body), 409, 'conflict');
        const unknown = await req('POST', '/v1/classes', admin, {
          ...newClass(randomUUID()),
          session_id: beta.sessionId,
          school_id: root,
        });
        expectProblem(unknown, 422, 'unprocessable');
        expect(paramNames(unknown).sort()).toEqual([
          'json.course_id',
          'json.school_id',
          'json.session_id',
        ]);
        expectProblem(
          await req('PATCH', `/v1/classes/${north1.classId}`, admin, { course_id: beta.courseId }),
          422,
          'unprocessable',
        );

        const dup = await req('PUT', `/v1/classes/${north1.classId}/teachers`, admin, {
          teachers: [{ staff_id: north1.staffId }, { staff_id: north1.staffId }],
        });
        expectProblem(dup, 400, 'validation_failed');
        const strangers = await req('PUT', `/v1/classes/${north1.classId}/teachers`, admin, {
          teachers: [{ staff_id: north1.staffId }, { staff_id: beta.staffId }],
        });
        expectProblem(strangers, 422, 'unprocessable');
        expect(paramNames(strangers)).toEqual(['json.teachers.1.staff_id']);
        // The failed replacement changed nothing.
        const still = await req('GET', `/v1/classes/${north1.classId}/teachers`, admin);
        expect(still.json.data.map((x: { staff_id: string }) => x.staff_id)).toEqual([
          north1.staffId,
        ]);
        expectProblem(await req('DELETE', `/v1/classes/${north1.classId}`, admin), 409, 'conflict');
      });

      it('scopes classes by relationship and keeps tenants apart', async () => {
        await isolated('/v1/classes', beta.classId, { room: 'X' });
        expectProblem(
          await req('GET', `/v1/classes/${beta.classId}/teachers`, admin),
          404,
          'not_found',
        );
        expectProblem(
          await req('PUT', `/v1/classes/${beta.classId}/teachers`, admin, { teachers: [] }),
          404,
          'not_found',
        );
        // Teacher: their own classes only, and no writes.
        const mine = ids(await req('GET', '/v1/classes?limit=100', teacher.token));
        expect(mine).toContain(north1.classId);
        expect(mine).not.toContain(south1.classId);
        expectProblem(
          await req('GET', `/v1/classes/${south1.classId}`, teacher.token),
          404,
          'not_found',
        );
        expectProblem(
          await req('POST', '/v1/classes', teacher.token, newClass(north1.courseId)),
          403,
          'forbidden',
        );
        expectProblem(
          await req('PUT', `/v1/classes/${north1.classId}/teachers`, teacher.token, {
            teachers: [],
          }),
          403,
          'forbidden',
        );
        // Parent: their child's classes.
        expect(ids(await req('GET', '/v1/classes', parent.token)).sort()).toEqual(
          [north1.classId, shared].sort(),
        );
        expectProblem(
          await req('GET', `/v1/classes/${south1.classId}/teachers`, parent.token),
          404,
          'not_found',
        );
        // Principal: their school, and writes there only.
        const theirs = ids(await req('GET', '/v1/classes?limit=100', principal.token));
        expect(theirs).toContain(north1.classId);
        expect(theirs).not.toContain(south1.classId);
        expectProblem(
          await req(
            'POST',
            '/v1/classes',
            principal.token,
            newClass(north1.courseId, { school_id: south }),
          ),
          403,
          'forbidden',
        );
        expectProblem(
          await req('PATCH', `/v1/classes/${south1.classId}`, principal.token, { room: 'X' }),
          404,
          'not_found',
        );
        expectProblem(
          await req('PUT', `/v1/classes/${south1.classId}/teachers`, principal.token, {
            teachers: [],
          }),
          404,
          'not_found',
        );
        const own = await created('/v1/classes', principal.token, newClass(north1.courseId));
        expectProblem(
          await req('PATCH', `/v1/classes/${own.json.id}`, principal.token, { school_id: south }),
          403,
          'forbidden',
        );
        // An office admin reads classes but may not write them.
        expectProblem(
          await req('POST', '/v1/classes', office.token, newClass(north1.courseId)),
          403,
          'forbidden',
        );
      });
    });

    describe('/v1/enrollments', () => {
      it('enrolls a student, filters, changes status and dates, keeps final grades read-only, deletes, audits', async () => {
        const klass = (await created('/v1/classes', admin, newClass(north1.courseId))).json.id;
        const r = await created('/v1/enrollments', admin, {
          class_id: klass,
          student_id: s2,
          entry_date: '2025-08-20',
        });
        const id = r.json.id;
        expect(r.json).toMatchObject({
          class_id: klass,
          student_id: s2,
          status: 'active',
          entry_date: '2025-08-20',
          exit_date: null,
          final_grade: null,
          final_percent: null,
          credits_earned: null,
        });
        const list = await req('GET', `/v1/enrollments?class_id=${klass}`, admin);
        expect(ids(list)).toEqual([id]);
        const log = await staff.accessLog(s2);
        expect(log.at(-1)).toMatchObject({
          access: 'list',
          route: 'GET /v1/enrollments',
          request_id: list.headers['x-request-id'],
        });
        expect(
          ids(await req('GET', `/v1/enrollments?student_id=${s1}&limit=100`, admin)).sort(),
        ).toEqual([enrolS1, sharedS1].sort());

        const stale = r.headers.etag as string;
        const changed = await req(
          'PATCH',
          `/v1/enrollments/${id}`,
          admin,
          { status: 'dropped', exit_date: '2025-10-01', final_grade: 'A', credits_earned: 1 },
          { 'if-match': stale },
        );
        expect(changed.status, changed.text).toBe(200);
        expect(changed.json).toMatchObject({
          status: 'dropped',
          exit_date: '2025-10-01',
          final_grade: null,
          credits_earned: null,
        });
        expect(
          ids(await req('GET', `/v1/enrollments?class_id=${klass}&status=active`, admin)),
        ).toEqual([]);
        expectProblem(
          await req(
            'PATCH',
            `/v1/enrollments/${id}`,
            admin,
            { status: 'active' },
            {
              'if-match': stale,
            },
          ),
          412,
          'precondition_failed',
        );
        expect((await req('DELETE', `/v1/enrollments/${id}`, admin)).status).toBe(204);
        expectProblem(await req('GET', `/v1/enrollments/${id}`, admin), 404, 'not_found');
        // Deleted, the student may be enrolled in the class again.
        await created('/v1/enrollments', admin, {
          class_id: klass,
          student_id: s2,
          entry_date: '2025-11-01',
        });

        const trail = await staff.auditOf(id);
        expect(trail.map((x) => x.action)).toEqual([
          'class_enrollment.create',
          'class_enrollment.update',
          'class_enrollment.delete',
        ]);
        expect(trail[1]!.after).toEqual({ status: 'dropped', exit_date: '2025-10-01' });
      });

      it('answers 409 for a second enrollment, 422 for backwards dates or unknown references, 400 for bad input', async () => {
        expectProblem(
          await req('POST', '/v1/enrollments', admin, {
            class_id: north1.classId,
            student_id: s1,
            entry_date: '2025-09-01',
          }),
          409,
          'conflict',
        );
        const backwards = await req('POST', '/v1/enrollments', admin, {
          class_id: north1.classId,
          student_id: s2,
          entry_date: '2025-09-01',
          exit_date: '2025-08-01',
        });
        expectProblem(backwards, 422, 'unprocessable');
        expect(paramNames(backwards)).toEqual(['json.exit_date']);
        const patchBack = await req('PATCH', `/v1/enrollments/${enrolS1}`, admin, {
          exit_date: '2025-01-01',
        });
        expectProblem(patchBack, 422, 'unprocessable');
        expect(paramNames(patchBack)).toEqual(['json.exit_date']);
        const unknown = await req('POST', '/v1/enrollments', admin, {
          class_id: beta.classId,
          student_id: beta.studentId,
          entry_date: '2025-09-01',
        });
        expectProblem(unknown, 422, 'unprocessable');
        expect(paramNames(unknown).sort()).toEqual(['json.class_id', 'json.student_id']);
        const bad = await req('POST', '/v1/enrollments', admin, {
          class_id: 'x',
          entry_date: 'soon',
          status: 'gone',
        });
        expectProblem(bad, 400, 'validation_failed');
        expect(paramNames(bad)).toEqual(
          expect.arrayContaining([
            'json.class_id',
            'json.student_id',
            'json.entry_date',
            'json.status',
          ]),
        );
      });

      it('scopes enrollments by class for staff and teachers and by child for parents', async () => {
        await isolated('/v1/enrollments', beta.enrollmentId, { status: 'dropped' });
        const taught = ids(await req('GET', '/v1/enrollments?limit=100', teacher.token));
        expect(taught).toContain(enrolS1);
        expect(taught).not.toContain(enrolS3);
        // Not the enrollments of a class they do not teach, even of their own students.
        expect(taught).not.toContain(sharedS1);
        expectProblem(
          await req('GET', `/v1/enrollments/${enrolS3}`, teacher.token),
          404,
          'not_found',
        );
        expectProblem(
          await req('PATCH', `/v1/enrollments/${enrolS1}`, teacher.token, { status: 'dropped' }),
          403,
          'forbidden',
        );
        // Their child's enrollments, never a classmate's.
        expect(ids(await req('GET', '/v1/enrollments?limit=100', parent.token)).sort()).toEqual(
          [enrolS1, sharedS1].sort(),
        );
        expectProblem(
          await req('GET', `/v1/enrollments/${sharedS2}`, parent.token),
          404,
          'not_found',
        );
        expectProblem(
          await req('GET', `/v1/enrollments/${enrolS3}`, parent.token),
          404,
          'not_found',
        );
        expectProblem(
          await req('POST', '/v1/enrollments', parent.token, {
            class_id: north1.classId,
            student_id: s2,
            entry_date: '2025-09-01',
          }),
          403,
          'forbidden',
        );
        const theirs = ids(await req('GET', '/v1/enrollments?limit=100', principal.token));
        expect(theirs).toEqual(expect.arrayContaining([enrolS1, sharedS2]));
        expect(theirs).not.toContain(enrolS3);
        expectProblem(
          await req('DELETE', `/v1/enrollments/${enrolS3}`, principal.token),
          404,
          'not_found',
        );
        // A class or a student outside the principal's school reads as missing.
        const away = await req('POST', '/v1/enrollments', principal.token, {
          class_id: south1.classId,
          student_id: s3,
          entry_date: '2025-09-01',
        });
        expectProblem(away, 422, 'unprocessable');
        expect(paramNames(away).sort()).toEqual(['json.class_id', 'json.student_id']);
        // The office enrolls at its own school.
        const klass = (await created('/v1/classes', admin, newClass(north1.courseId))).json.id;
        const ok = await created('/v1/enrollments', office.token, {
          class_id: klass,
          student_id: s2,
          entry_date: '2025-09-01',
        });
        expect((await staff.auditOf(ok.json.id))[0]).toMatchObject({
          action: 'class_enrollment.create',
          actor_user_id: office.userId,
        });
      });
    });

    describe('/v1/school-enrollments', () => {
      it('creates, filters, withdraws with If-Match and deletes a school enrollment, auditing each step', async () => {
        const session = await one(
          `insert into academic_sessions (tenant_id, org_unit_id, kind, name, start_date, end_date)
           values ($1, $2, 'school_year', $3, '2026-08-15', '2027-06-15') returning id`,
          [a, north, `Year ${tag()}`],
        );
        const body = {
          student_id: s2,
          school_id: north,
          session_id: session,
          grade_level: '6',
          entry_date: '2026-08-15',
        };
        const r = await created('/v1/school-enrollments', admin, body);
        const id = r.json.id;
        expect(r.json).toMatchObject({ ...body, status: 'active', exit_date: null });
        expect(
          ids(await req('GET', `/v1/school-enrollments?session_id=${session}`, admin)),
        ).toEqual([id]);
        const north2 = ids(
          await req(
            'GET',
            `/v1/school-enrollments?school_id=${north}&student_id=${s2}&status=active`,
            admin,
          ),
        );
        expect(north2).toEqual(expect.arrayContaining([id, schoolEnrolS2]));
        expect(north2).not.toContain(schoolEnrolS1);

        const stale = r.headers.etag as string;
        const changed = await req(
          'PATCH',
          `/v1/school-enrollments/${id}`,
          admin,
          { status: 'withdrawn', exit_date: '2026-12-18', exit_reason: 'moved away' },
          { 'if-match': stale },
        );
        expect(changed.status, changed.text).toBe(200);
        expect(changed.json).toMatchObject({ status: 'withdrawn', exit_reason: 'moved away' });
        expectProblem(
          await req(
            'PATCH',
            `/v1/school-enrollments/${id}`,
            admin,
            { grade_level: '7' },
            {
              'if-match': stale,
            },
          ),
          412,
          'precondition_failed',
        );
        expect((await req('DELETE', `/v1/school-enrollments/${id}`, admin)).status).toBe(204);
        expectProblem(await req('GET', `/v1/school-enrollments/${id}`, admin), 404, 'not_found');
        expect((await staff.auditOf(id)).map((x) => x.action)).toEqual([
          'school_enrollment.create',
          'school_enrollment.update',
          'school_enrollment.delete',
        ]);
      });

      it('answers 409 for a duplicate, 422 for backwards dates or unknown references, 400 for bad input', async () => {
        const body = {
          student_id: s1,
          school_id: north,
          session_id: north1.sessionId,
          grade_level: '5',
          entry_date: '2025-08-15',
        };
        expectProblem(await req('POST', '/v1/school-enrollments', admin, body), 409, 'conflict');
        const backwards = await req('POST', '/v1/school-enrollments', admin, {
          ...body,
          entry_date: '2026-01-10',
          exit_date: '2026-01-09',
        });
        expectProblem(backwards, 422, 'unprocessable');
        expect(paramNames(backwards)).toEqual(['json.exit_date']);
        const unknown = await req('POST', '/v1/school-enrollments', admin, {
          ...body,
          student_id: beta.studentId,
          school_id: root,
          session_id: randomUUID(),
        });
        expectProblem(unknown, 422, 'unprocessable');
        expect(paramNames(unknown).sort()).toEqual([
          'json.school_id',
          'json.session_id',
          'json.student_id',
        ]);
        const bad = await req('POST', '/v1/school-enrollments', admin, {
          ...body,
          status: 'expelled',
          grade_level: '',
        });
        expectProblem(bad, 400, 'validation_failed');
        expect(paramNames(bad)).toEqual(
          expect.arrayContaining(['json.status', 'json.grade_level']),
        );
      });

      it('scopes school enrollments by school for staff and by student for teachers and parents', async () => {
        await isolated('/v1/school-enrollments', beta.schoolEnrollmentId, { grade_level: '9' });
        const theirs = ids(await req('GET', '/v1/school-enrollments?limit=100', principal.token));
        expect(theirs).toEqual(expect.arrayContaining([schoolEnrolS1, schoolEnrolS2]));
        expect(theirs).not.toContain(schoolEnrolS3);
        expectProblem(
          await req('GET', `/v1/school-enrollments/${schoolEnrolS3}`, principal.token),
          404,
          'not_found',
        );
        expectProblem(
          await req('POST', '/v1/school-enrollments', principal.token, {
            student_id: s2,
            school_id: south,
            session_id: south1.sessionId,
            grade_level: '5',
            entry_date: '2026-02-01',
          }),
          403,
          'forbidden',
        );
        expect(ids(await req('GET', '/v1/school-enrollments?limit=100', teacher.token))).toEqual([
          schoolEnrolS1,
        ]);
        expectProblem(
          await req('POST', '/v1/school-enrollments', teacher.token, {
            student_id: s1,
            school_id: north,
            session_id: north1.sessionId,
            grade_level: '5',
            entry_date: '2026-02-01',
          }),
          403,
          'forbidden',
        );
        expect(ids(await req('GET', '/v1/school-enrollments', parent.token))).toEqual([
          schoolEnrolS1,
        ]);
        expectProblem(
          await req('GET', `/v1/school-enrollments/${schoolEnrolS2}`, parent.token),
          404,
          'not_found',
        );
      });
    });
  });
}
