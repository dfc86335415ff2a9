import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { Harness } from '../support/harness.js';
import { Grades } from './grades-fixtures.js';
import { expectProblem } from '../support/staff.js';

/**
 * Grades on Node and in workerd: assignments, bulk score entry, the class gradebook, a
 * student's grades with GPA, completing an enrollment with its final grade — with the
 * relationship scoping of grades.read / grades.write and the record-access log.
 */

const ALPHA = 'alpha.test';

type Person = { userId: string; token: string };

const h = await Harness.init('grades_api');
const { staff } = h;

const {
  grades,
  north,
  south,
  admin,
  betaAdmin,
  principalSouth,
  teacher,
  teacher2,
  teacher3,
  parent,
  parent2,
  pupil,
  s1,
  s2,
  s3,
  classA,
  classB,
  a1,
  a2,
  a3,
  beta,
} = await h.setup(async () => {
  const a = h.tenants.alpha.id;
  const grades = new Grades(staff, a);
  const north = await staff.school(a, 'North');
  const south = await staff.school(a, 'South');
  const admin = await h.admin('alpha');
  const betaAdmin = await h.admin('beta');
  const principalSouth = await staff.person(a, [{ role: 'principal', orgUnitId: south }]);
  const teacher = await staff.person(a, [{ role: 'teacher', orgUnitId: north }]);
  const teacher2 = await staff.person(a, [{ role: 'teacher', orgUnitId: north }]);
  const teacher3 = await staff.person(a, [{ role: 'teacher', orgUnitId: north }]);
  const parent = await staff.person(a, [{ role: 'parent' }]);
  const parent2 = await staff.person(a, [{ role: 'parent' }]);
  const pupil = await staff.person(a, [{ role: 'student' }]);
  /** s1, s2: north, in class A (teacher); s1 is the parent's child and the pupil; s3: class B (teacher2), parent2's child. */
  const s1 = await staff.student(a, north, {
    firstName: 'Ada',
    lastName: 'Alpha',
    userId: pupil.userId,
  });
  const s2 = await staff.student(a, north, { firstName: 'Bo', lastName: 'Beta' });
  const s3 = await staff.student(a, north, { firstName: 'Cy', lastName: 'Gamma' });
  await staff.guardian(a, [s1], { userId: parent.userId });
  await staff.guardian(a, [s3], { userId: parent2.userId });
  const classA = (await staff.classTaughtBy(a, north, teacher.userId, [s1, s2])).classId;
  const classB = (await staff.classTaughtBy(a, north, teacher2.userId, [s3])).classId;

  // Class A: a1 10 pts due 2025-09-01, a2 20 pts weight 2 due 2025-09-05, a3 due far ahead.
  const a1 = await grades.assignment(classA, { due: '2025-09-01', points: 10, title: 'One' });
  const a2 = await grades.assignment(classA, {
    due: '2025-09-05',
    points: 20,
    weight: 2,
    title: 'Two',
  });
  const a3 = await grades.assignment(classA, { due: '2099-01-01', points: 10, title: 'Three' });
  await grades.score(a1, s1, { points: 9 });
  await grades.score(a2, s1, { points: 18 });
  await grades.score(a3, s1, { points: 0 });
  await grades.score(a1, s2, { excused: true });
  await grades.score(a2, s2, { missing: true });

  // Two completed classes of s1, taught by teacher3: B (3.0) on 1 credit, A (4.0) on 0.5.
  const c = (await staff.classTaughtBy(a, north, teacher3.userId, [s1])).classId;
  const d = (await staff.classTaughtBy(a, north, teacher3.userId, [s1])).classId;
  await grades.setEnrollment(await grades.enrollment(c, s1), {
    status: 'completed',
    gradePoints: 3,
    creditsAttempted: 1,
    finalGrade: 'B',
    finalPercent: 84.5,
  });
  await grades.setEnrollment(await grades.enrollment(d, s1), {
    status: 'completed',
    gradePoints: 4,
    creditsAttempted: 0.5,
    finalGrade: 'A',
    finalPercent: 95,
  });

  const b = h.tenants.beta.id;
  const betaGrades = new Grades(staff, b);
  const betaSchool = await staff.school(b, 'Beta School');
  const betaTeacher = await staff.user(b, [{ role: 'teacher' }]);
  const betaStudent = await staff.student(b, betaSchool, { firstName: 'Zed' });
  const betaClass = (await staff.classTaughtBy(b, betaSchool, betaTeacher, [betaStudent])).classId;
  const beta = {
    student: betaStudent,
    classId: betaClass,
    assignment: await betaGrades.assignment(betaClass, { due: '2025-09-01' }),
    enrollment: await betaGrades.enrollment(betaClass, betaStudent),
  };
  return {
    grades,
    north,
    south,
    admin,
    betaAdmin,
    principalSouth,
    teacher,
    teacher2,
    teacher3,
    parent,
    parent2,
    pupil,
    s1,
    s2,
    s3,
    classA,
    classB,
    a1,
    a2,
    a3,
    beta,
  };
});

for (const runtime of ['node', 'workerd'] as const) {
  describe(`grades on ${runtime}`, () => {
    const target = (): ApiTarget => h.target(runtime);
    const req = h.api(runtime).request;
    const ids = (r: ApiResponse): string[] => r.json.data.map((x: { id: string }) => x.id);
    /** A class of the teacher's at North with new students enrolled. */
    const freshClass = async (students = 2) => {
      const kids: string[] = [];
      for (let i = 0; i < students; i++)
        kids.push(
          await staff.student(h.tenants.alpha.id, north, { lastName: `Kid${i}-${runtime}` }),
        );
      const { classId } = await staff.classTaughtBy(
        h.tenants.alpha.id,
        north,
        teacher.userId,
        kids,
      );
      return { classId, kids };
    };
    const newAssignment = (classId: string, over: Record<string, unknown> = {}) => ({
      class_id: classId,
      title: 'Quiz 1',
      category: 'quiz',
      points_possible: 20,
      due_date: '2025-10-01',
      ...over,
    });

    it('documents every grades operation in /openapi.json', async () => {
      const spec = await call(target(), 'GET', '/openapi.json', { host: 'localhost' });
      expect(spec.status, spec.text).toBe(200);
      const paths = spec.json.paths;
      expect(Object.keys(paths['/v1/assignments']).sort()).toEqual(['get', 'post']);
      expect(Object.keys(paths['/v1/assignments/{id}']).sort()).toEqual(['delete', 'get', 'patch']);
      expect(paths['/v1/scores'].post.responses['422']).toBeDefined();
      expect(paths['/v1/classes/{id}/gradebook'].get).toBeDefined();
      expect(paths['/v1/students/{id}/grades'].get).toBeDefined();
      expect(paths['/v1/enrollments/{id}/complete'].post.responses['409']).toBeDefined();
    });

    describe('/v1/assignments', () => {
      it('creates, lists by class and due range, changes and deletes an assignment, auditing each step', async () => {
        const { classId } = await freshClass(0);
        const created = await req(
          'POST',
          '/v1/assignments',
          teacher.token,
          newAssignment(classId, { weight: 2, assigned_date: '2025-09-20' }),
        );
        expect(created.status, created.text).toBe(201);
        const id = created.json.id;
        expect(created.json).toMatchObject({
          class_id: classId,
          category: 'quiz',
          points_possible: 20,
          weight: 2,
          assigned_date: '2025-09-20',
          due_date: '2025-10-01',
        });
        const later = await req(
          'POST',
          '/v1/assignments',
          teacher.token,
          newAssignment(classId, { title: 'Test', category: 'test', due_date: '2025-11-01' }),
        );
        expect(later.status, later.text).toBe(201);
        expect(later.json.weight).toBe(1);

        const all = await req('GET', `/v1/assignments?class_id=${classId}`, teacher.token);
        expect(all.status, all.text).toBe(200);
        expect(ids(all)).toEqual([id, later.json.id]);
        const october = await req(
          'GET',
          `/v1/assignments?class_id=${classId}&due_from=2025-10-01&due_to=2025-10-31`,
          teacher.token,
        );
        expect(ids(october)).toEqual([id]);
        const fromNov = await req(
          'GET',
          `/v1/assignments?class_id=${classId}&due_from=2025-10-02`,
          teacher.token,
        );
        expect(ids(fromNov)).toEqual([later.json.id]);

        const changed = await req('PATCH', `/v1/assignments/${id}`, teacher.token, {
          title: 'Quiz 1 (retake)',
          points_possible: 25,
        });
        expect(changed.status, changed.text).toBe(200);
        expect(changed.json).toMatchObject({ title: 'Quiz 1 (retake)', points_possible: 25 });
        expect((await req('DELETE', `/v1/assignments/${id}`, teacher.token)).status).toBe(204);
        expectProblem(await req('GET', `/v1/assignments/${id}`, teacher.token), 404, 'not_found');

        const trail = await staff.auditOf(id);
        expect(trail.map((x) => x.action)).toEqual([
          'assignment.create',
          'assignment.update',
          'assignment.delete',
        ]);
        expect(trail[1]).toMatchObject({
          before: { title: 'Quiz 1', points_possible: 20 },
          after: { title: 'Quiz 1 (retake)', points_possible: 25 },
          actor_user_id: teacher.userId,
        });
      });

      it('refuses bad bodies (400), an unknown or unreachable class and impossible dates (422); points possible may go below a score (extra credit)', async () => {
        const { classId, kids } = await freshClass(1);
        const bad = await req('POST', '/v1/assignments', teacher.token, {
          class_id: classId,
          title: '',
          category: 'essay',
          points_possible: 0,
          due_date: 'soon',
        });
        expectProblem(bad, 400, 'validation_failed');
        expect(bad.json.invalid_params.map((p: { name: string }) => p.name)).toEqual(
          expect.arrayContaining([
            'json.title',
            'json.category',
            'json.points_possible',
            'json.due_date',
          ]),
        );
        for (const other of [randomUUID(), classB, beta.classId]) {
          const r = await req('POST', '/v1/assignments', teacher.token, newAssignment(other));
          expectProblem(r, 422, 'unprocessable');
          expect(r.json.invalid_params).toEqual([
            { name: 'class_id', reason: 'No such class within your reach.' },
          ]);
        }
        expectProblem(
          await req(
            'POST',
            '/v1/assignments',
            teacher.token,
            newAssignment(classId, { assigned_date: '2025-10-02' }),
          ),
          422,
          'unprocessable',
        );
        const made = await req('POST', '/v1/assignments', teacher.token, newAssignment(classId));
        expect(made.status, made.text).toBe(201);
        const entered = await req('POST', '/v1/scores', teacher.token, {
          assignment_id: made.json.id,
          scores: [{ student_id: kids[0], points: 15 }],
        });
        expect(entered.status, entered.text).toBe(200);
        // Points possible may go below a score: the points above it are extra credit.
        const lower = await req('PATCH', `/v1/assignments/${made.json.id}`, teacher.token, {
          points_possible: 10,
        });
        expect(lower.status, lower.text).toBe(200);
        const get = await req('GET', `/v1/assignments/${made.json.id}`, teacher.token);
        expect(get.json.points_possible).toBe(10);
        expect(await grades.scoresOf(made.json.id)).toMatchObject({ [kids[0]!]: { points: 15 } });
      });

      it('scopes assignments: other teachers and families of other classes see none, families cannot write, other tenants’ ids are missing', async () => {
        expectProblem(await req('GET', `/v1/assignments/${a1}`, teacher2.token), 404, 'not_found');
        expectProblem(
          await req('PATCH', `/v1/assignments/${a1}`, teacher2.token, { title: 'Mine now' }),
          404,
          'not_found',
        );
        expectProblem(
          await req('DELETE', `/v1/assignments/${a1}`, teacher2.token),
          404,
          'not_found',
        );
        const theirs = await req('GET', '/v1/assignments?limit=100', teacher2.token);
        expect(ids(theirs)).not.toContain(a1);
        expectProblem(await req('GET', `/v1/assignments/${a1}`, parent2.token), 404, 'not_found');
        expectProblem(
          await req('GET', `/v1/assignments/${a1}`, principalSouth.token),
          404,
          'not_found',
        );

        // The parent and the pupil see class A's assignments through s1, and cannot write.
        const family = await req('GET', `/v1/assignments?class_id=${classA}`, parent.token);
        expect(ids(family)).toEqual([a1, a2, a3]);
        expect((await req('GET', `/v1/assignments/${a2}`, pupil.token)).status).toBe(200);
        expectProblem(
          await req('POST', '/v1/assignments', parent.token, newAssignment(classA)),
          403,
          'forbidden',
        );
        expectProblem(
          await req('PATCH', `/v1/assignments/${a1}`, pupil.token, { title: 'x' }),
          403,
          'forbidden',
        );

        expectProblem(
          await req('GET', `/v1/assignments/${beta.assignment}`, admin),
          404,
          'not_found',
        );
        expectProblem(
          await req('PATCH', `/v1/assignments/${beta.assignment}`, admin, { title: 'x' }),
          404,
          'not_found',
        );
        expect(ids(await req('GET', '/v1/assignments?limit=100', admin))).not.toContain(
          beta.assignment,
        );
        expectProblem(await req('GET', `/v1/assignments/${a1}`, betaAdmin), 401, 'unauthenticated');
      });
    });

    describe('POST /v1/scores', () => {
      it('upserts one score per student idempotently and audits each request with counts', async () => {
        const { classId, kids } = await freshClass(2);
        const [x, y] = kids as [string, string];
        const made = await req('POST', '/v1/assignments', teacher.token, newAssignment(classId));
        const assignment = made.json.id;
        const body = {
          assignment_id: assignment,
          scores: [
            { student_id: x, points: 17.5, comment: 'Good' },
            { student_id: y, points: null, status: 'missing' },
          ],
        };
        const first = await req('POST', '/v1/scores', teacher.token, body);
        expect(first.status, first.text).toBe(200);
        expect(first.json).toMatchObject({
          assignment_id: assignment,
          created: 2,
          updated: 0,
          unchanged: 0,
        });
        expect(first.json.scores).toMatchObject([
          { student_id: x, points: 17.5, status: 'graded', comment: 'Good' },
          { student_id: y, points: null, status: 'missing', comment: null },
        ]);

        const again = await req('POST', '/v1/scores', teacher.token, body);
        expect(again.status, again.text).toBe(200);
        expect(again.json).toMatchObject({ created: 0, updated: 0, unchanged: 2 });

        const late = await req('POST', '/v1/scores', teacher.token, {
          assignment_id: assignment,
          scores: [{ student_id: y, points: 12, status: 'late' }],
        });
        expect(late.json).toMatchObject({ created: 0, updated: 1, unchanged: 0 });
        expect(late.json.scores[0]).toMatchObject({ points: 12, status: 'late' });

        expect(await grades.scoresOf(assignment)).toEqual({
          [x]: { points: 17.5, is_missing: false, is_excused: false, is_late: false },
          [y]: { points: 12, is_missing: false, is_excused: false, is_late: true },
        });
        const trail = (await staff.auditOf(assignment)).filter((t) => t.action === 'scores.upsert');
        expect(trail).toHaveLength(3);
        expect(trail[0]!.after).toMatchObject({ created: 2, updated: 0, unchanged: 0 });
        expect(trail[2]).toMatchObject({
          actor_user_id: teacher.userId,
          before: { [y]: { points: null, status: 'missing' } },
          after: {
            created: 0,
            updated: 1,
            unchanged: 0,
            scores: { [y]: { points: 12, status: 'late' } },
          },
        });
      });

      it('refuses students not actively enrolled and negative points with 422, naming each, and writes nothing', async () => {
        const { classId, kids } = await freshClass(2);
        const [x, dropped] = kids as [string, string];
        await (
          await staff.db()
        ).query(
          `update class_enrollments set status = 'dropped' where class_id = $1 and student_id = $2`,
          [classId, dropped],
        );
        const assignment = (
          await req('POST', '/v1/assignments', teacher.token, newAssignment(classId))
        ).json.id;
        const r = await req('POST', '/v1/scores', teacher.token, {
          assignment_id: assignment,
          scores: [
            { student_id: x, points: 10 },
            { student_id: dropped, points: 10 },
            { student_id: s3, points: 10 },
            { student_id: beta.student, points: 10 },
            { student_id: s1, points: -1 },
          ],
        });
        expectProblem(r, 422, 'unprocessable');
        expect(r.json.invalid_params.map((p: { name: string }) => p.name)).toEqual([
          'scores[1].student_id',
          'scores[2].student_id',
          'scores[3].student_id',
          'scores[4].student_id',
          'scores[4].points',
        ]);
        expect(await grades.scoresOf(assignment)).toEqual({});

        const negative = await req('POST', '/v1/scores', teacher.token, {
          assignment_id: assignment,
          scores: [{ student_id: x, points: -1 }],
        });
        expectProblem(negative, 422, 'unprocessable');
        expect(negative.json.invalid_params).toEqual([
          { name: 'scores[0].points', reason: 'Must not be negative.' },
        ]);
        expect(await grades.scoresOf(assignment)).toEqual({});
        expect((await staff.auditOf(assignment)).map((t) => t.action)).toEqual([
          'assignment.create',
        ]);

        const bad = await req('POST', '/v1/scores', teacher.token, {
          assignment_id: assignment,
          scores: [
            { student_id: x, points: null, status: 'graded' },
            { student_id: x, points: 3, status: 'excused' },
          ],
        });
        expectProblem(bad, 400, 'validation_failed');
        expect(bad.json.invalid_params.map((p: { name: string }) => p.name)).toEqual(
          expect.arrayContaining([
            'json.scores.0.points',
            'json.scores.1.student_id',
            'json.scores.1.points',
          ]),
        );
        expectProblem(
          await req('POST', '/v1/scores', teacher.token, { assignment_id: assignment, scores: [] }),
          400,
          'validation_failed',
        );
      });

      it('keeps points above the points possible as extra credit (25 of 20)', async () => {
        const { classId, kids } = await freshClass(1);
        const assignment = (
          await req('POST', '/v1/assignments', teacher.token, newAssignment(classId))
        ).json.id;
        const r = await req('POST', '/v1/scores', teacher.token, {
          assignment_id: assignment,
          scores: [{ student_id: kids[0], points: 25 }],
        });
        expect(r.status, r.text).toBe(200);
        expect(r.json.scores).toMatchObject([
          { student_id: kids[0], points: 25, status: 'graded' },
        ]);
        expect(await grades.scoresOf(assignment)).toEqual({
          [kids[0]!]: { points: 25, is_missing: false, is_excused: false, is_late: false },
        });
      });

      it('lets no one enter scores outside their classes or without grades.write', async () => {
        const body = (assignment: string, student: string) => ({
          assignment_id: assignment,
          scores: [{ student_id: student, points: 1 }],
        });
        expectProblem(
          await req('POST', '/v1/scores', teacher2.token, body(a1, s1)),
          404,
          'not_found',
        );
        expectProblem(
          await req('POST', '/v1/scores', principalSouth.token, body(a1, s1)),
          404,
          'not_found',
        );
        expectProblem(
          await req('POST', '/v1/scores', parent.token, body(a1, s1)),
          403,
          'forbidden',
        );
        expectProblem(await req('POST', '/v1/scores', pupil.token, body(a1, s1)), 403, 'forbidden');
        expectProblem(
          await req('POST', '/v1/scores', admin, body(beta.assignment, beta.student)),
          404,
          'not_found',
        );
        expectProblem(
          await req('POST', '/v1/scores', betaAdmin, body(a1, s1)),
          401,
          'unauthenticated',
        );
        expect((await grades.scoresOf(a1))[s1]!.points).toBe(9);
      });
    });

    describe('GET /v1/classes/{id}/gradebook', () => {
      it('answers the students × assignments matrix with current percentages and letters, and logs each student shown', async () => {
        const r = await req('GET', `/v1/classes/${classA}/gradebook`, teacher.token);
        expect(r.status, r.text).toBe(200);
        expect(r.json.class_id).toBe(classA);
        expect(r.json.as_of).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        expect(r.json.scale.map((b: { letter: string }) => b.letter)).toEqual([
          'A',
          'B',
          'C',
          'D',
          'F',
        ]);
        expect(r.json.assignments.map((a: { id: string }) => a.id)).toEqual([a1, a2, a3]);
        expect(r.json.assignments[1]).toMatchObject({
          points_possible: 20,
          weight: 2,
          due_date: '2025-09-05',
        });
        expect(r.json.students).toEqual([
          {
            student_id: s1,
            first_name: 'Ada',
            last_name: 'Alpha',
            enrollment_status: 'active',
            scores: [
              { points: 9, status: 'graded', comment: null },
              { points: 18, status: 'graded', comment: null },
              { points: 0, status: 'graded', comment: null },
            ],
            // (9 + 2 × 18) ÷ (10 + 2 × 20); a3 is not due yet.
            current_percent: 90,
            letter: 'A',
          },
          {
            student_id: s2,
            first_name: 'Bo',
            last_name: 'Beta',
            enrollment_status: 'active',
            scores: [
              { points: null, status: 'excused', comment: null },
              { points: null, status: 'missing', comment: null },
              null,
            ],
            current_percent: 0,
            letter: 'F',
          },
        ]);
        const requestId = String(r.headers['x-request-id']);
        for (const id of [s1, s2]) {
          const log = (await staff.accessLog(id)).filter((l) => l.request_id === requestId);
          expect(log, id).toEqual([
            {
              user_id: teacher.userId,
              access: 'list',
              route: 'GET /v1/classes/:id/gradebook',
              request_id: requestId,
            },
          ]);
        }
      });

      it('counts assignments due by as_of, and uses the class’s own grading scale', async () => {
        const late = await req('GET', `/v1/classes/${classA}/gradebook?as_of=2099-12-31`, admin);
        expect(late.status, late.text).toBe(200);
        const [ada, bo] = late.json.students;
        // (9 + 36 + 0) ÷ 60
        expect(ada).toMatchObject({ current_percent: 75, letter: 'C' });
        expect(bo).toMatchObject({ current_percent: 0, letter: 'F' });
        const early = await req('GET', `/v1/classes/${classA}/gradebook?as_of=2025-09-01`, admin);
        expect(early.json.students[0]).toMatchObject({ current_percent: 90, letter: 'A' });
        // Only an excused score is due: no percentage yet.
        expect(early.json.students[1]).toMatchObject({ current_percent: null, letter: null });

        const { classId, kids } = await freshClass(1);
        await grades.scale(
          [
            { letter: 'P', min_percent: 65, points: 1 },
            { letter: 'H', min_percent: 85, points: 4 },
            { letter: 'NP', min_percent: 0, points: 0 },
          ],
          classId,
        );
        const hw = await grades.assignment(classId, { due: '2025-09-01', points: 3 });
        await grades.score(hw, kids[0]!, { points: 2 });
        const own = await req('GET', `/v1/classes/${classId}/gradebook`, teacher.token);
        expect(own.json.scale.map((b: { letter: string }) => b.letter)).toEqual(['H', 'P', 'NP']);
        expect(own.json.students[0]).toMatchObject({ current_percent: 66.67, letter: 'P' });
      });

      it('answers 400 for a malformed id or date and 404 for an unknown class', async () => {
        expectProblem(
          await req('GET', '/v1/classes/nope/gradebook', admin),
          400,
          'validation_failed',
        );
        expectProblem(
          await req('GET', `/v1/classes/${classA}/gradebook?as_of=tomorrow`, admin),
          400,
          'validation_failed',
        );
        expectProblem(
          await req('GET', `/v1/classes/${randomUUID()}/gradebook`, admin),
          404,
          'not_found',
        );
      });

      it('shows a parent or student only their own row, and other classes, schools and tenants not at all', async () => {
        for (const who of [parent, pupil]) {
          const r = await req('GET', `/v1/classes/${classA}/gradebook`, who.token);
          expect(r.status, r.text).toBe(200);
          expect(r.json.students.map((s: { student_id: string }) => s.student_id)).toEqual([s1]);
          expect(r.json.students[0]).toMatchObject({ current_percent: 90, letter: 'A' });
        }
        expectProblem(
          await req('GET', `/v1/classes/${classA}/gradebook`, teacher2.token),
          404,
          'not_found',
        );
        expectProblem(
          await req('GET', `/v1/classes/${classA}/gradebook`, parent2.token),
          404,
          'not_found',
        );
        expectProblem(
          await req('GET', `/v1/classes/${classA}/gradebook`, principalSouth.token),
          404,
          'not_found',
        );
        expectProblem(
          await req('GET', `/v1/classes/${beta.classId}/gradebook`, admin),
          404,
          'not_found',
        );
        expectProblem(
          await req('GET', `/v1/classes/${classA}/gradebook`, betaAdmin),
          401,
          'unauthenticated',
        );
        const anon = await call(target(), 'GET', `/v1/classes/${classA}/gradebook`, {
          host: ALPHA,
        });
        expectProblem(anon, 401, 'unauthenticated');
      });
    });

    describe('GET /v1/students/{id}/grades', () => {
      it('answers each class’s current percentage and letter, final grades and the GPA, and logs the read', async () => {
        const r = await req('GET', `/v1/students/${s1}/grades`, parent.token);
        expect(r.status, r.text).toBe(200);
        expect(r.json).toMatchObject({
          student_id: s1,
          // (3 × 1 + 4 × 0.5) ÷ 1.5
          gpa: 3.33,
          credits_attempted: 1.5,
        });
        const byClass = new Map(
          r.json.classes.map((c: { class_id: string }) => [c.class_id, c] as const),
        );
        expect(byClass.size).toBe(3);
        expect(byClass.get(classA)).toMatchObject({
          status: 'active',
          current_percent: 90,
          letter: 'A',
          subject: 'math',
          final: null,
        });
        const finals = r.json.classes
          .filter((c: { status: string }) => c.status === 'completed')
          .map((c: { final: unknown }) => c.final);
        expect(finals).toEqual(
          expect.arrayContaining([
            expect.objectContaining({
              grade: 'B',
              grade_points: 3,
              credits_attempted: 1,
              percent: 84.5,
            }),
            expect.objectContaining({ grade: 'A', grade_points: 4, credits_attempted: 0.5 }),
          ]),
        );
        const log = await staff.accessLog(s1);
        expect(log.at(-1)).toEqual({
          user_id: parent.userId,
          access: 'read',
          route: 'GET /v1/students/:id/grades',
          request_id: r.headers['x-request-id'],
        });
        const self = await req('GET', `/v1/students/${s1}/grades`, pupil.token);
        expect(self.json.gpa).toBe(3.33);
      });

      it('shows a teacher only their own classes of the student', async () => {
        const r = await req('GET', `/v1/students/${s1}/grades`, teacher.token);
        expect(r.status, r.text).toBe(200);
        expect(r.json.classes.map((c: { class_id: string }) => c.class_id)).toEqual([classA]);
        expect(r.json.gpa).toBeNull();
        const t3 = await req('GET', `/v1/students/${s1}/grades`, teacher3.token);
        expect(t3.json.classes).toHaveLength(2);
        expect(t3.json.gpa).toBe(3.33);
      });

      it('answers 400 for a malformed id and 404 for an unknown student', async () => {
        expectProblem(await req('GET', '/v1/students/x/grades', admin), 400, 'validation_failed');
        expectProblem(
          await req('GET', `/v1/students/${randomUUID()}/grades`, admin),
          404,
          'not_found',
        );
      });

      it('treats students outside the caller’s reach as missing', async () => {
        expectProblem(
          await req('GET', `/v1/students/${s1}/grades`, teacher2.token),
          404,
          'not_found',
        );
        expectProblem(
          await req('GET', `/v1/students/${s1}/grades`, parent2.token),
          404,
          'not_found',
        );
        expectProblem(await req('GET', `/v1/students/${s3}/grades`, pupil.token), 404, 'not_found');
        expectProblem(
          await req('GET', `/v1/students/${s1}/grades`, principalSouth.token),
          404,
          'not_found',
        );
        expectProblem(
          await req('GET', `/v1/students/${beta.student}/grades`, admin),
          404,
          'not_found',
        );
        expectProblem(
          await req('GET', `/v1/students/${s1}/grades`, betaAdmin),
          401,
          'unauthenticated',
        );
        expect((await staff.accessLog(s3)).filter((l) => l.user_id === pupil.userId)).toEqual([]);
      });
    });

    describe('POST /v1/enrollments/{id}/complete', () => {
      it('computes the final grade, grade points and credits, completes the enrollment and audits it', async () => {
        const { classId, kids } = await freshClass(1);
        const x = kids[0]!;
        await grades.credits(classId, 0.5);
        const q1 = await grades.assignment(classId, { due: '2025-09-10', points: 10 });
        const q2 = await grades.assignment(classId, { due: '2025-10-10', points: 10, weight: 3 });
        const q3 = await grades.assignment(classId, { due: '2026-02-01', points: 10 });
        await grades.score(q1, x, { points: 10 });
        await grades.score(q2, x, { points: 7 });
        await grades.score(q3, x, { points: 0 });
        const enrollment = await grades.enrollment(classId, x);

        const r = await req('POST', `/v1/enrollments/${enrollment}/complete`, teacher.token, {
          exit_date: '2026-01-20',
        });
        expect(r.status, r.text).toBe(200);
        // (10 + 3 × 7) ÷ 40 = 77.5 % → C; q3 is due after the exit date.
        expect(r.json).toMatchObject({
          id: enrollment,
          status: 'completed',
          exit_date: '2026-01-20',
          final_percent: 77.5,
          final_grade: 'C',
          grade_points: 2,
          credits_attempted: 0.5,
          credits_earned: 0.5,
        });
        expect(await grades.enrollmentRow(enrollment)).toEqual({
          status: 'completed',
          exit_date: '2026-01-20',
          final_percent: 77.5,
          final_grade: 'C',
          grade_points: 2,
          credits_attempted: 0.5,
          credits_earned: 0.5,
        });
        const trail = await staff.auditOf(enrollment);
        expect(trail).toHaveLength(1);
        expect(trail[0]).toMatchObject({
          action: 'class_enrollment.complete',
          actor_user_id: teacher.userId,
          before: { status: 'active', final_grade: null },
          after: { status: 'completed', final_grade: 'C', grade_points: 2 },
        });

        const view = await req('GET', `/v1/students/${x}/grades`, admin);
        expect(view.json).toMatchObject({ gpa: 2, credits_attempted: 0.5, credits_earned: 0.5 });
        expect(view.json.classes[0].final).toMatchObject({ grade: 'C', percent: 77.5 });

        const again = await req(
          'POST',
          `/v1/enrollments/${enrollment}/complete`,
          teacher.token,
          {},
        );
        expectProblem(again, 409, 'conflict');
      });

      it('fails a student below the lowest passing band, defaulting the exit date to today', async () => {
        const { classId, kids } = await freshClass(1);
        const hw = await grades.assignment(classId, { due: '2025-09-10', points: 10 });
        await grades.score(hw, kids[0]!, { missing: true });
        const enrollment = await grades.enrollment(classId, kids[0]!);
        const r = await req('POST', `/v1/enrollments/${enrollment}/complete`, admin);
        expect(r.status, r.text).toBe(200);
        expect(r.json).toMatchObject({
          final_percent: 0,
          final_grade: 'F',
          grade_points: 0,
          credits_attempted: 1,
          credits_earned: 0,
        });
        expect(r.json.exit_date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      });

      it('refuses an enrollment with nothing graded or an exit date before entry (422), a dropped one (409), and a bad id (400)', async () => {
        const { classId, kids } = await freshClass(2);
        const [x, y] = kids as [string, string];
        const hw = await grades.assignment(classId, { due: '2025-09-10' });
        await grades.score(hw, x, { excused: true });
        const ex = await grades.enrollment(classId, x);
        expectProblem(
          await req('POST', `/v1/enrollments/${ex}/complete`, teacher.token, {}),
          422,
          'unprocessable',
        );
        await grades.score(hw, y, { points: 5 });
        const ey = await grades.enrollment(classId, y);
        const early = await req('POST', `/v1/enrollments/${ey}/complete`, teacher.token, {
          exit_date: '2025-01-01',
        });
        expectProblem(early, 422, 'unprocessable');
        expect(early.json.invalid_params).toEqual([
          { name: 'exit_date', reason: 'Before the entry date.' },
        ]);
        await grades.setEnrollment(ey, { status: 'dropped' });
        expectProblem(
          await req('POST', `/v1/enrollments/${ey}/complete`, teacher.token, {}),
          409,
          'conflict',
        );
        expect((await grades.enrollmentRow(ex)).status).toBe('active');
        expectProblem(
          await req('POST', '/v1/enrollments/nope/complete', teacher.token, {}),
          400,
          'validation_failed',
        );
        expectProblem(
          await req('POST', `/v1/enrollments/${ex}/complete`, teacher.token, {
            exit_date: 'later',
          }),
          400,
          'validation_failed',
        );
      });

      it('lets no one complete enrollments outside their classes or without grades.write', async () => {
        const enrollment = await grades.enrollment(classA, s1);
        expectProblem(
          await req('POST', `/v1/enrollments/${enrollment}/complete`, teacher2.token, {}),
          404,
          'not_found',
        );
        expectProblem(
          await req('POST', `/v1/enrollments/${enrollment}/complete`, principalSouth.token, {}),
          404,
          'not_found',
        );
        expectProblem(
          await req('POST', `/v1/enrollments/${enrollment}/complete`, parent.token, {}),
          403,
          'forbidden',
        );
        expectProblem(
          await req('POST', `/v1/enrollments/${beta.enrollment}/complete`, admin, {}),
          404,
          'not_found',
        );
        expectProblem(
          await req('POST', `/v1/enrollments/${enrollment}/complete`, betaAdmin, {}),
          401,
          'unauthenticated',
        );
        expect((await grades.enrollmentRow(enrollment)).status).toBe('active');
      });
    });
  });
}
