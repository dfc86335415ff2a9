import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { GradesPayload } from '../../analytics/metrics/types.js';
import { refreshTenant } from '../../analytics/refresh.js';
import { call, type ApiResponse } from '../support/api.js';
import { Harness } from '../support/harness.js';
import { Grades } from './grades-fixtures.js';
import { bearer } from '../support/staff.js';

/**
 * One definition of a class percentage, letter and GPA: the API's gradebook and student
 * grades agree with the warehouse's grades metric (DuckDB) on the same rows, as of the
 * same date, on a tenant default scale that is not A–F.
 */

const ALPHA = 'alpha.test';
const AS_OF = '2025-12-15';
const SCALE = [
  { letter: 'A', min_percent: 93, points: 4 },
  { letter: 'B', min_percent: 85, points: 3 },
  { letter: 'C', min_percent: 75, points: 2 },
  { letter: 'D', min_percent: 65, points: 1 },
  { letter: 'F', min_percent: 0, points: 0 },
];

const h = await Harness.init('grades_wh', { runtimes: ['node'] });
const { staff } = h;

const { dir, admin, k1, k2, p } = await h.setup(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hr-grades-wh-'));
  const a = h.tenants.alpha.id;
  const g = new Grades(staff, a);
  const db = await staff.db();
  await db.query(
    `update grading_scales set bands = $2 where tenant_id = $1 and is_default and deleted_at is null`,
    [a, JSON.stringify(SCALE)],
  );
  const admin = await h.admin('alpha');
  const school = await staff.school(a, 'North');
  const teacher = await staff.user(a, [{ role: 'teacher' }]);
  const kids: string[] = [];
  for (let i = 0; i < 5; i++) kids.push(await staff.student(a, school, { lastName: `K${i}` }));
  const [pp, q, r, s, u] = kids as [string, string, string, string, string];
  const p = pp;
  const k1 = (await staff.classTaughtBy(a, school, teacher, [p, q, r, s, u])).classId;
  const k2 = (await staff.classTaughtBy(a, school, teacher, [p, q])).classId;
  await g.credits(k2, 0.5);

  const h1 = await g.assignment(k1, { due: '2025-09-10', points: 100 });
  const h2 = await g.assignment(k1, { due: '2025-10-10', points: 50, weight: 2 });
  const h3 = await g.assignment(k1, { due: '2025-11-10', points: 20 });
  const h4 = await g.assignment(k1, { due: '2025-11-20', points: 100, weight: 0 });
  const h5 = await g.assignment(k1, { due: '2026-01-10', points: 100 });
  await g.score(h1, p, { points: 90 });
  await g.score(h2, p, { points: 40 });
  await g.score(h3, p, { excused: true });
  await g.score(h5, p, { points: 0 });
  await g.score(h1, q, { missing: true });
  await g.score(h2, q, { points: 45 });
  await g.score(h3, q, { points: 20 });
  await g.score(h1, r, { points: 95 });
  await g.score(h2, r, { points: null });
  await g.score(h3, r, { points: 18.6 });
  await g.score(h4, r, { points: 0 });
  await g.score(h1, s, { points: 74.99 });
  await g.score(h3, u, { excused: true });
  const b1 = await g.assignment(k2, { due: '2025-12-01', points: 10 });
  const b2 = await g.assignment(k2, { due: '2025-12-15', points: 10, weight: 3 });
  await g.score(b1, p, { points: 8.5 });
  await g.score(b2, p, { points: 10 });
  await g.score(b1, q, { points: 6.5 });
  await g.score(b2, q, { missing: true });

  // Final grades through the API: p completes both classes.
  for (const classId of [k1, k2]) {
    const r2 = await call(
      h.targets[0]!,
      'POST',
      `/v1/enrollments/${await g.enrollment(classId, p)}/complete`,
      { host: ALPHA, headers: bearer(admin), body: { exit_date: AS_OF } },
    );
    if (r2.status !== 200) throw new Error(r2.text);
  }
  return { dir, admin, k1, k2, p };
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const get = (path: string): Promise<ApiResponse> =>
  call(h.targets[0]!, 'GET', path, { host: ALPHA, headers: bearer(admin) });

it('gives the same class percentages, letters and GPA as the warehouse', async () => {
  const { snapshots } = await refreshTenant({
    tenantId: h.tenants.alpha.id,
    branchUrl: h.world.t.appUrl('pool'),
    warehouseDir: dir,
    mode: 'full',
    asOf: AS_OF,
  });
  const yearly = snapshots.filter((x) => x.metric === 'grades' && x.period === 'school_year');
  const tenant = yearly.find((x) => x.scopeId === null)!.payload as GradesPayload;
  // A class's figures are published with its school's.
  const classes = yearly
    .filter((x) => x.scopeKind === 'school')
    .flatMap((x) => (x.payload as GradesPayload).classes);

  for (const classId of [k1, k2]) {
    const book = await get(`/v1/classes/${classId}/gradebook?as_of=${AS_OF}`);
    expect(book.status, book.text).toBe(200);
    const rows: { current_percent: number | null; letter: string | null }[] = book.json.students;
    const graded = rows.filter((x) => x.current_percent !== null);
    const wh = classes.find((c) => c.class_id === classId)!;
    expect(wh, classId).toBeDefined();
    expect(graded.length).toBe(wh.students);
    const mean = graded.reduce((n, x) => n + x.current_percent!, 0) / graded.length;
    // The API rounds each percentage to 2 decimals, the warehouse their mean.
    expect(Math.abs(mean - wh.average_percent!)).toBeLessThan(0.01);
    const letters = Object.fromEntries(SCALE.map((b) => [b.letter, 0]));
    for (const x of graded) letters[x.letter!]!++;
    const scale = yearly.find((x) => x.scopeId !== null)!.payload as GradesPayload;
    expect(scale.letters.map((l, i) => [l.letter, wh.letter_counts[i]])).toEqual(
      Object.entries(letters),
    );
  }
  // K1: p 85 (B), q 50 (F), r 94.67 (A), s 74.99 (D: not rounded up to C), u no percentage.
  const k1Book = await get(`/v1/classes/${k1}/gradebook?as_of=${AS_OF}`);
  expect(
    k1Book.json.students.map((x: { current_percent: number | null; letter: string | null }) => [
      x.current_percent,
      x.letter,
    ]),
  ).toEqual([
    [85, 'B'],
    [50, 'F'],
    [94.67, 'A'],
    [74.99, 'D'],
    [null, null],
  ]);

  // Only p has final grades (B on 1 credit, A on 0.5): the tenant's GPA is p's.
  const mine = await get(`/v1/students/${p}/grades?as_of=${AS_OF}`);
  expect(mine.status, mine.text).toBe(200);
  expect(mine.json.gpa).toBe(3.33);
  expect(mine.json.gpa).toBe(Math.round(tenant.gpa! * 100) / 100);
  expect(mine.json.credits_attempted).toBe(tenant.credits_attempted);
  expect(tenant.completed_enrollments).toBe(2);
}, 120_000);

it('leaves a class dropped by the as-of date out of current grades, like the warehouse', async () => {
  const db = await staff.db();
  const a = h.tenants.alpha.id;
  // q fails K2 (6.5 and a missing ×3 of 40 → 16.25 %), then drops it before the as-of date.
  const [q] = (
    await db.query<{ student_id: string }>(
      `select student_id from class_enrollments
        where tenant_id = $1 and class_id = $2 and student_id <> $3 and deleted_at is null`,
      [a, k2, p],
    )
  ).rows.map((r) => r.student_id);
  const before = await get(`/v1/students/${q}/grades?as_of=${AS_OF}`);
  const k2Before = before.json.classes.find((c: { class_id: string }) => c.class_id === k2);
  expect(k2Before).toMatchObject({ current_percent: 16.25, letter: 'F' });
  await db.query(
    `update class_enrollments set status = 'dropped', exit_date = '2025-12-10'
      where tenant_id = $1 and class_id = $2 and student_id = $3`,
    [a, k2, q],
  );

  const mine = await get(`/v1/students/${q}/grades?as_of=${AS_OF}`);
  expect(mine.status, mine.text).toBe(200);
  expect(mine.json.classes.find((c: { class_id: string }) => c.class_id === k2)).toMatchObject({
    status: 'dropped',
    current_percent: null,
    letter: null,
  });
  // The day before the drop the class still counts.
  const earlier = await get(`/v1/students/${q}/grades?as_of=2025-12-09`);
  expect(
    earlier.json.classes.find((c: { class_id: string }) => c.class_id === k2).letter,
  ).not.toBeNull();
  const book = await get(`/v1/classes/${k2}/gradebook?as_of=${AS_OF}`);
  const row = book.json.students.find((x: { student_id: string }) => x.student_id === q);
  expect(row).toMatchObject({ enrollment_status: 'dropped', current_percent: null, letter: null });

  const { snapshots } = await refreshTenant({
    tenantId: a,
    branchUrl: h.world.t.appUrl('pool'),
    warehouseDir: dir,
    mode: 'full',
    asOf: AS_OF,
  });
  const k2Row = snapshots
    .filter((x) => x.metric === 'grades' && x.period === 'school_year' && x.scopeKind === 'school')
    .flatMap((x) => (x.payload as GradesPayload).classes)
    .find((c) => c.class_id === k2)!;
  // Only p's K2 grade is left, and no one fails K2.
  expect(k2Row).toMatchObject({ students: 1, failing_students: 0 });
}, 120_000);

it('counts a final grade in GPA only from its exit date on', async () => {
  // p's two final grades are dated the as-of date: the day before, there is no GPA yet.
  const before = await get(`/v1/students/${p}/grades?as_of=2025-12-14`);
  expect(before.status, before.text).toBe(200);
  expect(before.json.gpa).toBeNull();
  expect(before.json.credits_attempted).toBe(0);
  const on = await get(`/v1/students/${p}/grades?as_of=${AS_OF}`);
  expect(on.json.gpa).toBe(3.33);
});
