import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { completeEnrollment } from '../../api/grades/complete.js';
import { upsertScores, type UpsertScoresInput } from '../../api/grades/scores.js';
import * as t from '../../db/schema/tenant.js';
import { ApiError } from '../../api/problems.js';
import { createDomainWorld, type DomainWorld } from './domain-world.js';
import { Grades } from './grades-fixtures.js';

/**
 * Score entry and completing an enrollment as domain functions: a transaction and plain
 * input in, data out, no HTTP.
 */

let d: DomainWorld;
let grader: string;
let s1: string;
let s2: string;
let outsider: string;
let classId: string;

beforeAll(async () => {
  d = await createDomainWorld('domain_grades');
  const a = d.tenantId;
  const school = await d.staff.school(a, 'North');
  grader = await d.staff.user(a, [{ role: 'teacher', orgUnitId: school }]);
  s1 = await d.staff.student(a, school, { firstName: 'Ada' });
  s2 = await d.staff.student(a, school, { firstName: 'Bo' });
  outsider = await d.staff.student(a, school, { firstName: 'Cy' });
  classId = (await d.staff.classTaughtBy(a, school, grader, [s1, s2])).classId;
}, 180_000);

afterAll(async () => {
  await d?.close();
});

async function assignment(points = 10) {
  const id = await new Grades(d.staff, d.tenantId).assignment(classId, {
    due: '2025-09-01',
    points,
  });
  return { id, classId, pointsPossible: points };
}

const upsert = (input: Omit<UpsertScoresInput, 'tenantId' | 'userId'>) =>
  d.inTenant((tx) => upsertScores(tx, { tenantId: d.tenantId, userId: grader, ...input }));

describe('upsertScores', () => {
  it('creates, then updates only what changed, keeping a comment left out', async () => {
    const a = await assignment();
    const first = await upsert({
      assignment: a,
      scores: [
        { studentId: s1, points: 8, comment: 'Good' },
        { studentId: s2, points: null, status: 'missing' },
      ],
    });
    expect(first).toMatchObject({ created: 2, updated: 0, unchanged: 0, before: {} });
    expect(first.after).toEqual({
      [s1]: { points: 8, status: 'graded' },
      [s2]: { points: null, status: 'missing' },
    });
    expect(first.scores.map((s) => [s.studentId, s.points, s.status, s.comment])).toEqual([
      [s1, 8, 'graded', 'Good'],
      [s2, null, 'missing', null],
    ]);

    const second = await upsert({
      assignment: a,
      scores: [
        { studentId: s2, points: null, status: 'missing' },
        { studentId: s1, points: 9, status: 'late' },
      ],
    });
    expect(second).toMatchObject({ created: 0, updated: 1, unchanged: 1 });
    expect(second.before).toEqual({ [s1]: { points: 8, status: 'graded' } });
    expect(second.after).toEqual({ [s1]: { points: 9, status: 'late' } });
    // In the order given; the comment left out is kept.
    expect(second.scores.map((s) => [s.studentId, s.points, s.status, s.comment])).toEqual([
      [s2, null, 'missing', null],
      [s1, 9, 'late', 'Good'],
    ]);
    expect(second.scores[1]!.id).toBe(first.scores[0]!.id);
  });

  it('refuses students not in the class and negative points, writing nothing (points above the possible are extra credit)', async () => {
    const a = await assignment(5);
    const err = await upsert({
      assignment: a,
      scores: [
        { studentId: s1, points: 4 },
        { studentId: outsider, points: 3 },
        { studentId: s2, points: 6 },
        { studentId: randomUUID(), points: -1 },
      ],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('unprocessable');
    expect((err as ApiError).invalidParams?.map((p) => p.name)).toEqual([
      'scores[1].student_id',
      'scores[3].student_id',
      'scores[3].points',
    ]);
    const after = await upsert({
      assignment: a,
      scores: [
        { studentId: s1, points: 4 },
        { studentId: s2, points: 6 },
      ],
    });
    expect(after).toMatchObject({ created: 2, updated: 0 });
  });
});

describe('completeEnrollment', () => {
  /** A fresh class of one student, with scores on assignments due 2025-09-01 and 2025-10-01. */
  async function enrolled(points: { sept: number | null; oct: number }) {
    const school = await d.staff.school(d.tenantId, `South ${randomUUID().slice(0, 6)}`);
    const student = await d.staff.student(d.tenantId, school, { firstName: 'Eve' });
    const cls = (await d.staff.classTaughtBy(d.tenantId, school, grader, [student])).classId;
    const g = new Grades(d.staff, d.tenantId);
    await g.score(await g.assignment(cls, { due: '2025-09-01' }), student, { points: points.sept });
    await g.score(await g.assignment(cls, { due: '2025-10-01' }), student, { points: points.oct });
    return g.enrollment(cls, student);
  }

  const complete = (id: string, exitDate?: string) =>
    d.inTenant(async (tx) => {
      const [enrollment] = await tx
        .select()
        .from(t.classEnrollments)
        .where(eq(t.classEnrollments.id, id));
      return completeEnrollment(tx, {
        enrollment: enrollment!,
        ...(exitDate ? { exitDate } : {}),
        tenantTimezone: 'UTC',
      });
    });

  it('gives the final grade from the scores due by the exit date, then refuses a second time', async () => {
    const id = await enrolled({ sept: 8, oct: 5 });
    const row = await complete(id, '2025-09-15');
    expect(row).toMatchObject({
      id,
      status: 'completed',
      exitDate: '2025-09-15',
      finalPercent: 80,
      finalGrade: 'B',
      gradePoints: 3,
      creditsAttempted: 1,
      creditsEarned: 1,
    });
    const again = await complete(id).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ApiError);
    expect((again as ApiError).code).toBe('conflict');
  });

  it('counts every score due by today when no exit date is given; an F earns no credit', async () => {
    const id = await enrolled({ sept: 8, oct: 0 });
    const row = await complete(id);
    expect(row).toMatchObject({ finalPercent: 40, finalGrade: 'F', creditsEarned: 0 });
  });

  it('refuses an exit date before the entry date, or one with no graded score due by it', async () => {
    const id = await enrolled({ sept: null, oct: 5 });
    for (const exit of ['2025-08-01', '2025-09-15']) {
      const err = await complete(id, exit).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe('unprocessable');
    }
    const [row] = await d.inTenant((tx) =>
      tx.select().from(t.classEnrollments).where(eq(t.classEnrollments.id, id)),
    );
    expect(row!.status).toBe('active');
  });
});
