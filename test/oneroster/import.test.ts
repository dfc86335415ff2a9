import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImport } from '../../api/oneroster/run.js';
import type { CreatedTenant } from '../../db/tenants/create.js';
import { oneRosterWorld, type OneRosterWorld } from './world.js';
import { tempDir, writeZip } from './zip.js';

/**
 * OneRoster 1.2 CSV import against real PostgreSQL (app role, row-level security on) and
 * real files: every mapping, bulk and delta, idempotence, atomicity, each kind of bad input
 * and tenant isolation. Bundles are the sample under test/fixtures/oneroster/sample, as is
 * or changed one file at a time.
 */
const SAMPLE = 'test/fixtures/oneroster/sample';
let w: OneRosterWorld;
let dir: string;
let sample: Record<string, string>;

beforeAll(async () => {
  w = await oneRosterWorld('or_import');
  dir = await tempDir();
  sample = {};
  for (const name of await readdir(SAMPLE))
    sample[name] = await readFile(join(SAMPLE, name), 'utf8');
}, 120_000);
afterAll(() => w?.close());

let bundles = 0;
/** The sample with some files replaced (a string) or left out (null), as a directory. */
async function bundle(changes: Record<string, string | Buffer | null> = {}): Promise<string> {
  const path = join(dir, `b${bundles++}`);
  await mkdir(path);
  const files: Record<string, string | Buffer | null> = { ...sample, ...changes };
  for (const [name, body] of Object.entries(files))
    if (body !== null) await writeFile(join(path, name), body);
  return path;
}

/** A manifest listing the given files with their mode, every other one absent. */
function manifest(modes: Record<string, 'bulk' | 'delta'>, version = '1.2'): string {
  const keys = [
    'orgs',
    'academicSessions',
    'courses',
    'classes',
    'users',
    'roles',
    'demographics',
    'enrollments',
    'categories',
    'lineItems',
    'results',
  ];
  return [
    'propertyName,value',
    'manifest.version,1.0',
    `oneroster.version,${version}`,
    ...keys.map((k) => `file.${k},${modes[k] ?? 'absent'}`),
  ].join('\n');
}

/** Only some files of the sample, with a manifest of them. */
function only(modes: Record<string, 'bulk' | 'delta'>, files: Record<string, string> = {}) {
  const out: Record<string, string | null> = {};
  for (const name of Object.keys(sample)) out[name] = null;
  for (const key of Object.keys(modes)) out[`${key}.csv`] = files[key] ?? sample[`${key}.csv`]!;
  out['manifest.csv'] = manifest(modes);
  return out;
}

const importInto = (tenant: CreatedTenant, path: string, dryRun = false) =>
  runImport(w.handle.db, tenant.id, path, { dryRun });

async function count(tenant: CreatedTenant, table: string, where = 'true'): Promise<number> {
  const [r] = await w.rows<{ n: number }>(
    `select count(*)::int as n from ${table} where tenant_id = $1 and ${where}`,
    [tenant.id],
  );
  return r!.n;
}

/** Row counts of every table an import writes, for "nothing changed" checks. */
async function footprint(tenant: CreatedTenant) {
  const out: Record<string, string> = {};
  for (const table of [
    'org_units',
    'academic_sessions',
    'courses',
    'classes',
    'users',
    'user_roles',
    'students',
    'staff',
    'guardians',
    'student_guardians',
    'school_enrollments',
    'class_enrollments',
    'class_teachers',
    'assignments',
    'scores',
  ]) {
    const [r] = await w.rows<{ v: string }>(
      `select count(*) || '/' || count(deleted_at) || '/' || coalesce(max(changed_xid::text), '') as v from ${table} where tenant_id = $1`,
      [tenant.id],
    );
    out[table] = r!.v;
  }
  return out;
}

describe('import of the sample bundle', () => {
  let t: CreatedTenant;
  beforeAll(async () => {
    t = await w.tenant('sample');
  });

  it('maps every file onto the model and reports the counts', async () => {
    const { report, metricInputsWritten } = await importInto(t, await bundle());
    expect(report.errors).toEqual([]);
    expect(report).toMatchObject({ ok: true, applied: true, oneRosterVersion: '1.2' });
    expect(metricInputsWritten).toBe(true);
    expect(report.files.orgs).toEqual({
      mode: 'bulk',
      rows: 3,
      created: 2,
      updated: 1,
      deleted: 0,
    });
    expect(report.files.enrollments).toMatchObject({ rows: 7, created: 7 });

    // orgs → org units: the district is the tenant's root; schools under it.
    const orgs = await w.rows(
      `select o.source_id, o.kind, o.name, o.code, p.source_id as parent from org_units o
       left join org_units p on p.id = o.parent_id where o.tenant_id = $1 order by o.code`,
      [t.id],
    );
    expect(orgs).toEqual([
      {
        source_id: 'org-district',
        kind: 'district',
        name: 'Desert Valley Schools',
        code: 'DVS',
        parent: null,
      },
      {
        source_id: 'org-lincoln',
        kind: 'school',
        name: 'Lincoln Elementary',
        code: 'LIN',
        parent: 'org-district',
      },
      {
        source_id: 'org-mesa',
        kind: 'school',
        name: 'Mesa Middle School, North Campus',
        code: 'MESA',
        parent: 'org-district',
      },
    ]);
    expect(
      (
        await w.rows(
          `select id from org_units where source_id = 'org-district' and tenant_id = $1`,
          [t.id],
        )
      )[0],
    ).toEqual({ id: t.rootOrgUnitId });
    // academic sessions → sessions: year › term › grading period.
    expect(
      await w.rows(
        `select a.source_id, a.kind, a.start_date::text, a.end_date::text, p.source_id as parent from academic_sessions a
         left join academic_sessions p on p.id = a.parent_id where a.tenant_id = $1 order by a.start_date, a.end_date desc`,
        [t.id],
      ),
    ).toEqual([
      {
        source_id: 'ay-2026',
        kind: 'school_year',
        start_date: '2025-08-01',
        end_date: '2026-06-30',
        parent: null,
      },
      {
        source_id: 'term-fall',
        kind: 'term',
        start_date: '2025-08-01',
        end_date: '2025-12-19',
        parent: 'ay-2026',
      },
      {
        source_id: 'gp-q1',
        kind: 'grading_period',
        start_date: '2025-08-01',
        end_date: '2025-10-10',
        parent: 'term-fall',
      },
      {
        source_id: 'term-spring',
        kind: 'term',
        start_date: '2026-01-05',
        end_date: '2026-06-30',
        parent: 'ay-2026',
      },
    ]);
    // courses and classes (first term, school, room).
    expect(
      await w.rows(
        `select c.source_id, c.code, c.subject, c.grade_levels, o.source_id as org from courses c
         join org_units o on o.id = c.org_unit_id where c.tenant_id = $1 order by c.code`,
        [t.id],
      ),
    ).toContainEqual({
      source_id: 'course-math4',
      code: 'MATH4',
      subject: 'math',
      grade_levels: ['04'],
      org: 'org-lincoln',
    });
    expect(
      await w.rows(
        `select k.source_id, k.section, k.room, c.source_id as course, s.source_id as term, o.source_id as school
         from classes k join courses c on c.id = k.course_id join academic_sessions s on s.id = k.session_id
         join org_units o on o.id = k.school_id where k.tenant_id = $1 order by k.section`,
        [t.id],
      ),
    ).toEqual([
      {
        source_id: 'class-ela4-a',
        section: 'ELA4-A',
        room: 'Room 14',
        course: 'course-ela4',
        term: 'term-fall',
        school: 'org-lincoln',
      },
      {
        source_id: 'class-math4-a',
        section: 'MATH4-A',
        room: 'Room 12',
        course: 'course-math4',
        term: 'term-fall',
        school: 'org-lincoln',
      },
      {
        source_id: 'class-sci7-a',
        section: 'SCI7-A',
        room: 'Lab 2',
        course: 'course-sci7',
        term: 'term-fall',
        school: 'org-mesa',
      },
    ]);
    // users → students (with demographics), staff, guardians; sign-ins for those with email.
    expect(
      await w.rows(
        `select s.source_id, s.student_number, s.first_name, s.middle_name, s.preferred_name, s.grade_level,
                s.date_of_birth::text, s.gender, o.source_id as school, u.email
         from students s join org_units o on o.id = s.school_id left join users u on u.id = s.user_id
         where s.tenant_id = $1 order by s.student_number`,
        [t.id],
      ),
    ).toEqual([
      {
        source_id: 'stu-ava',
        student_number: 'S1001',
        first_name: 'Ava',
        middle_name: 'Marie',
        preferred_name: null,
        grade_level: '04',
        date_of_birth: '2016-03-14',
        gender: 'female',
        school: 'org-lincoln',
        email: 'ava.reyes@students.example.org',
      },
      {
        source_id: 'stu-ben',
        student_number: 'S1002',
        first_name: 'Ben',
        middle_name: null,
        preferred_name: 'Benny',
        grade_level: '04',
        date_of_birth: '2015-11-02',
        gender: 'male',
        school: 'org-lincoln',
        email: null,
      },
      {
        source_id: 'stu-cleo',
        student_number: 'S1003',
        first_name: 'Cleo',
        middle_name: null,
        preferred_name: null,
        grade_level: '07',
        date_of_birth: '2013-06-21',
        gender: 'nonbinary',
        school: 'org-mesa',
        email: null,
      },
    ]);
    expect(
      await w.rows(
        `select s.source_id, s.employee_number, s.email, o.source_id as school from staff s
         left join org_units o on o.id = s.school_id where s.tenant_id = $1 order by s.employee_number`,
        [t.id],
      ),
    ).toEqual([
      {
        source_id: 'adm-park',
        employee_number: 'A3001',
        email: 'j.park@staff.example.org',
        school: 'org-district',
      },
      {
        source_id: 'tch-hall',
        employee_number: 'T2001',
        email: 'k.hall@staff.example.org',
        school: 'org-lincoln',
      },
      {
        source_id: 'tch-diaz',
        employee_number: 'T2002',
        email: 'm.diaz@staff.example.org',
        school: 'org-mesa',
      },
    ]);
    // Roles scoped to their org: teacher at the school, administrator → principal.
    expect(
      await w.rows(
        `select u.email, r.key, o.source_id as org from user_roles ur join users u on u.id = ur.user_id
         join roles r on r.id = ur.role_id left join org_units o on o.id = ur.org_unit_id
         where ur.tenant_id = $1 and ur.source_id is not null order by u.email`,
        [t.id],
      ),
    ).toEqual([
      { email: 'ava.reyes@students.example.org', key: 'student', org: 'org-lincoln' },
      { email: 'j.park@staff.example.org', key: 'principal', org: 'org-district' },
      { email: 'k.hall@staff.example.org', key: 'teacher', org: 'org-lincoln' },
      { email: 'lucia.reyes@example.net', key: 'parent', org: 'org-lincoln' },
      { email: 'm.diaz@staff.example.org', key: 'teacher', org: 'org-mesa' },
    ]);
    // agents → guardian links, both ways round (Cleo lists her guardian; Lucia lists Ava).
    expect(
      await w.rows(
        `select s.source_id as student, g.source_id as guardian, sg.relationship from student_guardians sg
         join students s on s.id = sg.student_id join guardians g on g.id = sg.guardian_id
         where sg.tenant_id = $1 order by s.source_id`,
        [t.id],
      ),
    ).toEqual([
      { student: 'stu-ava', guardian: 'par-reyes', relationship: 'parent' },
      { student: 'stu-cleo', guardian: 'par-nguyen', relationship: 'guardian' },
    ]);
    // School membership → school enrolments in the school year the role begins in.
    expect(
      await w.rows(
        `select se.source_id, s.source_id as student, o.source_id as school, a.source_id as year, se.entry_date::text, se.grade_level
         from school_enrollments se join students s on s.id = se.student_id join org_units o on o.id = se.school_id
         join academic_sessions a on a.id = se.session_id where se.tenant_id = $1 order by se.source_id`,
        [t.id],
      ),
    ).toEqual([
      {
        source_id: 'role-ava',
        student: 'stu-ava',
        school: 'org-lincoln',
        year: 'ay-2026',
        entry_date: '2025-08-01',
        grade_level: '04',
      },
      {
        source_id: 'role-ben',
        student: 'stu-ben',
        school: 'org-lincoln',
        year: 'ay-2026',
        entry_date: '2025-08-01',
        grade_level: '04',
      },
      {
        source_id: 'role-cleo',
        student: 'stu-cleo',
        school: 'org-mesa',
        year: 'ay-2026',
        entry_date: '2025-08-04',
        grade_level: '07',
      },
    ]);
    // Enrollments → class enrolments (students) and class teachers.
    expect(
      await w.rows(
        `select e.source_id, e.entry_date::text, e.status from class_enrollments e where e.tenant_id = $1 order by e.source_id`,
        [t.id],
      ),
    ).toEqual([
      { source_id: 'enr-ava-ela', entry_date: '2025-08-01', status: 'active' },
      { source_id: 'enr-ava-math', entry_date: '2025-08-01', status: 'active' },
      { source_id: 'enr-ben-math', entry_date: '2025-08-11', status: 'active' },
      { source_id: 'enr-cleo-sci', entry_date: '2025-08-04', status: 'active' },
    ]);
    expect(await count(t, 'class_teachers', `source_id is not null and role = 'primary'`)).toBe(3);
    // Line items → assignments (category from the category title); results → scores,
    // extra credit (25 of 20) and exempt kept.
    expect(
      await w.rows(
        `select source_id, category, points_possible::float8 as points, assigned_date::text, due_date::text from assignments
         where tenant_id = $1 order by source_id`,
        [t.id],
      ),
    ).toEqual([
      {
        source_id: 'li-math-hw1',
        category: 'homework',
        points: 20,
        assigned_date: '2025-08-18',
        due_date: '2025-08-22',
      },
      {
        source_id: 'li-math-quiz1',
        category: 'quiz',
        points: 20,
        assigned_date: '2025-08-25',
        due_date: '2025-08-29',
      },
      {
        source_id: 'li-sci-test1',
        category: 'test',
        points: 50,
        assigned_date: '2025-09-08',
        due_date: '2025-09-12',
      },
    ]);
    expect(
      await w.rows(
        `select source_id, points::float8, is_excused, is_missing, comment from scores where tenant_id = $1 order by source_id`,
        [t.id],
      ),
    ).toEqual([
      { source_id: 'res-ava-hw1', points: 18, is_excused: false, is_missing: false, comment: null },
      {
        source_id: 'res-ava-quiz1',
        points: 25,
        is_excused: false,
        is_missing: false,
        comment: 'Extra credit, bonus question',
      },
      {
        source_id: 'res-ben-hw1',
        points: null,
        is_excused: false,
        is_missing: true,
        comment: null,
      },
      {
        source_id: 'res-ben-quiz1',
        points: null,
        is_excused: true,
        is_missing: false,
        comment: 'Excused: family travel',
      },
      {
        source_id: 'res-cleo-test1',
        points: 44.5,
        is_excused: false,
        is_missing: false,
        comment: null,
      },
    ]);
    // The import is in the tenant's audit log.
    expect(await count(t, 'audit_log', `action = 'oneroster.import'`)).toBe(1);
  });

  it('re-importing the same bundle changes nothing (and asks for no refresh)', async () => {
    const before = await footprint(t);
    const { report, metricInputsWritten } = await importInto(
      t,
      await writeZip(join(dir, 'same.zip'), sample),
    );
    expect(report.ok).toBe(true);
    for (const c of Object.values(report.files))
      expect(c).toMatchObject({ created: 0, updated: 0, deleted: 0 });
    expect(metricInputsWritten).toBe(false);
    expect(await footprint(t)).toEqual(before);
  });

  it('updates a changed row in place, found by its sourcedId', async () => {
    const users = sample['users.csv']!.replace('Ben,Okafor', 'Benjamin,Okafor');
    const { report, metricInputsWritten } = await importInto(
      t,
      await bundle({ 'users.csv': users }),
    );
    expect(report.files.users).toMatchObject({ created: 0, updated: 1, deleted: 0 });
    expect(metricInputsWritten).toBe(true);
    expect(
      await w.rows(
        `select first_name from students where tenant_id = $1 and source_id = 'stu-ben'`,
        [t.id],
      ),
    ).toEqual([{ first_name: 'Benjamin' }]);
    expect(await count(t, 'students')).toBe(3);
  });

  it('bulk: a file is the whole truth for its type, rows it no longer lists are ended (soft)', async () => {
    const enrollments = sample['enrollments.csv']!.split('\n')
      .filter((l) => !l.startsWith('enr-ava-ela'))
      .join('\n');
    const { report } = await importInto(
      t,
      await bundle(only({ enrollments: 'bulk' }, { enrollments })),
    );
    expect(report.errors).toEqual([]);
    expect(report.files).toEqual({
      enrollments: { mode: 'bulk', rows: 6, created: 0, updated: 0, deleted: 1 },
    });
    expect(
      await count(t, 'class_enrollments', `source_id = 'enr-ava-ela' and deleted_at is not null`),
    ).toBe(1);
    expect(await count(t, 'class_enrollments', 'deleted_at is null')).toBe(3);
    // Files the manifest lists absent are left alone.
    expect(await count(t, 'students', 'deleted_at is null')).toBe(3);
    // Listed again, the row comes back (the same row, not a copy).
    await importInto(t, await bundle());
    expect(await count(t, 'class_enrollments', `source_id = 'enr-ava-ela'`)).toBe(1);
    expect(await count(t, 'class_enrollments', 'deleted_at is null')).toBe(4);
  });

  it('delta: tobedeleted rows end things, other rows are added or updated, the rest is untouched', async () => {
    const users = [
      sample['users.csv']!.split('\n')[0],
      'stu-ben,tobedeleted,2025-09-01T00:00:00Z,true,ben.okafor,,Ben,Okafor,,S1002,,,,,04,,,,,,,org-lincoln,',
      'stu-dina,active,2025-09-01T00:00:00Z,true,dina.k,,Dina,Kaur,,S1004,,,,,04,,,,,,,org-lincoln,',
    ].join('\n');
    const roles = [
      sample['roles.csv']!.split('\n')[0],
      'role-dina,active,2025-09-01T00:00:00Z,stu-dina,primary,student,2025-09-01,,org-lincoln,',
    ].join('\n');
    const enrollments = [
      sample['enrollments.csv']!.split('\n')[0],
      'enr-ben-math,tobedeleted,2025-09-01T00:00:00Z,class-math4-a,org-lincoln,stu-ben,student,false,2025-08-11,',
      'enr-dina-math,active,2025-09-01T00:00:00Z,class-math4-a,org-lincoln,stu-dina,student,false,2025-09-01,',
    ].join('\n');
    const { report } = await importInto(
      t,
      await bundle(
        only(
          { users: 'delta', roles: 'delta', enrollments: 'delta' },
          { users, roles, enrollments },
        ),
      ),
    );
    expect(report.errors).toEqual([]);
    expect(report.files.users).toMatchObject({ mode: 'delta', created: 1, deleted: 1 });
    expect(report.files.enrollments).toMatchObject({ mode: 'delta', created: 1, deleted: 1 });
    expect(
      await w.rows(
        `select source_id, deleted_at is not null as ended from students where tenant_id = $1 order by source_id`,
        [t.id],
      ),
    ).toEqual([
      { source_id: 'stu-ava', ended: false },
      { source_id: 'stu-ben', ended: true },
      { source_id: 'stu-cleo', ended: false },
      { source_id: 'stu-dina', ended: false },
    ]);
    expect(
      await count(t, 'class_enrollments', `source_id = 'enr-ben-math' and deleted_at is not null`),
    ).toBe(1);
    expect(
      await count(t, 'class_enrollments', `source_id = 'enr-dina-math' and deleted_at is null`),
    ).toBe(1);
    expect(
      await count(t, 'school_enrollments', `source_id = 'role-dina' and deleted_at is null`),
    ).toBe(1);
    // A delta leaves what it does not mention: Ava's enrolments are still there.
    expect(
      await count(t, 'class_enrollments', `source_id like 'enr-ava-%' and deleted_at is null`),
    ).toBe(2);
  });
});

describe('atomicity and dry run', () => {
  it('a failure in the last file leaves the tenant untouched', async () => {
    const t = await w.tenant('atomic');
    const before = await footprint(t);
    // Two results for one student and line item: only the merge of scores (the last
    // table written) can tell, after every other table has been written.
    const results = `${sample['results.csv']!.trimEnd()}\nres-ava-hw1-again,,,li-math-hw1,stu-ava,fully graded,17,2025-08-24,\n`;
    const { report, metricInputsWritten } = await importInto(
      t,
      await bundle({ 'results.csv': results }),
    );
    expect(report.ok).toBe(false);
    expect(report.applied).toBe(false);
    expect(report.errors).toEqual([
      expect.objectContaining({
        file: 'results.csv',
        message: expect.stringContaining('scores_key'),
      }),
    ]);
    expect(metricInputsWritten).toBe(false);
    expect(await footprint(t)).toEqual(before);
    expect(await count(t, 'audit_log', `action = 'oneroster.import'`)).toBe(0);
  });

  it('a dry run checks and counts the same, then writes nothing', async () => {
    const t = await w.tenant('dryrun');
    const before = await footprint(t);
    const { report, metricInputsWritten } = await importInto(t, await bundle(), true);
    expect(report).toMatchObject({ ok: true, dryRun: true, applied: false });
    expect(report.files.users).toMatchObject({ rows: 8, created: 8 });
    expect(metricInputsWritten).toBe(false);
    expect(await footprint(t)).toEqual(before);
  });
});

describe('bad input gets a report naming file, line, column and value', () => {
  let t: CreatedTenant;
  beforeAll(async () => {
    t = await w.tenant('bad');
  });
  const errorsOf = async (path: string) => {
    const before = await footprint(t);
    const { report } = await importInto(t, path);
    expect(report.ok).toBe(false);
    expect(report.applied).toBe(false);
    expect(await footprint(t)).toEqual(before);
    return report.errors;
  };

  it('a missing required column and a column twice in the header; unknown columns are warnings', async () => {
    const orgs = sample['orgs.csv']!.replace(
      'sourcedId,status,dateLastModified,name,type',
      'sourcedId,status,dateLastModified,title,type',
    );
    expect(await errorsOf(await bundle({ 'orgs.csv': orgs }))).toContainEqual({
      file: 'orgs.csv',
      line: 1,
      column: 'name',
      value: null,
      message: 'the header lacks the required column name',
    });
    const courses = sample['courses.csv']!.replace('subjectCodes', 'title');
    expect(await errorsOf(await bundle({ 'courses.csv': courses }))).toContainEqual(
      expect.objectContaining({
        file: 'courses.csv',
        line: 1,
        column: 'title',
        message: 'a column is twice in the header',
      }),
    );
    const t2 = await w.tenant('unknowncol');
    const { report } = await importInto(
      t2,
      await bundle({
        'orgs.csv': sample['orgs.csv']!.replace(
          'parentSourcedId',
          'parentSourcedId,favouriteColour',
        )
          .replace(/\n(?=.)/g, '\n')
          .split('\n')
          .map((l, i) => (i === 0 || !l ? l : `${l},`))
          .join('\n'),
      }),
    );
    expect(report.errors).toEqual([]);
    expect(report.warnings).toContainEqual(
      expect.objectContaining({
        file: 'orgs.csv',
        column: 'favouriteColour',
        message: 'unknown column, ignored',
      }),
    );
  });

  it('a byte-order mark, CRLF line ends and quoted commas and newlines are read as CSV', async () => {
    const t2 = await w.tenant('crlf');
    const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
    const results = `${sample['results.csv']!.trimEnd()}`.replace(
      '"Extra credit, bonus question"',
      '"Extra credit,\nbonus ""question"""',
    );
    const changes: Record<string, string | Buffer> = {};
    for (const [name, body] of Object.entries(sample)) changes[name] = `\uFEFF${crlf(body)}`;
    changes['results.csv'] = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(crlf(results)),
    ]);
    const { report } = await importInto(t2, await writeZip(join(dir, 'crlf.zip'), changes));
    expect(report.errors).toEqual([]);
    expect(
      await w.rows(
        `select comment from scores where tenant_id = $1 and source_id = 'res-ava-quiz1'`,
        [t2.id],
      ),
    ).toEqual([{ comment: 'Extra credit,\r\nbonus "question"' }]);
    expect(
      await w.rows(`select name from org_units where tenant_id = $1 and source_id = 'org-mesa'`, [
        t2.id,
      ]),
    ).toEqual([{ name: 'Mesa Middle School, North Campus' }]);
  });

  it('bytes that are not UTF-8', async () => {
    const users = Buffer.from(sample['users.csv']!.replace('Okafor', 'Ok\u0000afor'), 'utf8');
    users[users.indexOf(0)] = 0xe9; // a Latin-1 é
    expect(await errorsOf(await bundle({ 'users.csv': users }))).toEqual([
      {
        file: 'users.csv',
        line: 3,
        column: 'familyName',
        value: 'Ok\uFFFDafor',
        message: 'not UTF-8',
      },
    ]);
  });

  it('duplicate sourcedIds, dangling references, bad dates and enums, oversized fields, ragged rows', async () => {
    const errors = await errorsOf(
      await bundle({
        'courses.csv': `${sample['courses.csv']!.trimEnd()}\ncourse-math4,,,ay-2026,Maths again,MATH4B,04,org-lincoln,math,\n`,
        'classes.csv': sample['classes.csv']!.replace('course-sci7,SCI7-A', 'course-nope,SCI7-A'),
        'academicSessions.csv': sample['academicSessions.csv']!.replace(
          '2025-12-19',
          '2025-13-19',
        ).replace('gradingPeriod', 'quarter'),
        'orgs.csv': sample['orgs.csv']!.replace('Lincoln Elementary', 'L'.repeat(201)),
        'enrollments.csv': `${sample['enrollments.csv']!.trimEnd()}\nenr-short,,,class-math4-a,org-lincoln\n`,
      }),
    );
    expect(errors).toEqual(
      expect.arrayContaining([
        {
          file: 'orgs.csv',
          line: 3,
          column: 'name',
          value: 'L'.repeat(200) + '…',
          message: 'longer than 200 characters',
        },
        {
          file: 'academicSessions.csv',
          line: 3,
          column: 'endDate',
          value: '2025-13-19',
          message: 'not a date (YYYY-MM-DD)',
        },
        {
          file: 'academicSessions.csv',
          line: 5,
          column: 'type',
          value: 'quarter',
          message: 'not one of gradingPeriod, semester, schoolYear, term',
        },
        {
          file: 'enrollments.csv',
          line: 9,
          column: null,
          value: null,
          message: 'the row has 5 fields, the header 10',
        },
      ]),
    );
    // Duplicates and references are checked once every row has been read.
    const later = await errorsOf(
      await bundle({
        'courses.csv': `${sample['courses.csv']!.trimEnd()}\ncourse-math4,,,ay-2026,Maths again,MATH4B,04,org-lincoln,math,\n`,
        'classes.csv': sample['classes.csv']!.replace('course-sci7,SCI7-A', 'course-nope,SCI7-A'),
      }),
    );
    expect(later).toEqual([
      {
        file: 'courses.csv',
        line: 5,
        column: 'sourcedId',
        value: 'course-math4',
        message: 'a sourcedId is on an earlier line of this file too',
      },
      {
        file: 'classes.csv',
        line: 4,
        column: 'courseSourcedId',
        value: 'course-nope',
        message: 'no courses row has this sourcedId, in the bundle or in the tenant',
      },
    ]);
  });

  it('a manifest that lists a missing file, or no manifest at all', async () => {
    expect(await errorsOf(await bundle({ 'results.csv': null }))).toEqual([
      expect.objectContaining({
        file: 'manifest.csv',
        message: 'the manifest lists results.csv as bulk but the bundle has no such file',
      }),
    ]);
    expect(await errorsOf(await bundle({ 'manifest.csv': null }))).toEqual([
      expect.objectContaining({ file: 'manifest.csv', message: 'the bundle has no manifest.csv' }),
    ]);
  });

  it('a zip bomb is refused before it is inflated; a file that is not a zip is refused', async () => {
    const bomb = await writeZip(join(dir, 'bomb.zip'), {
      ...sample,
      'users.csv': Buffer.alloc(8 * 1024 * 1024, 0x61),
    });
    expect(await errorsOf(bomb)).toEqual([
      expect.objectContaining({ file: 'users.csv', message: expect.stringContaining('zip bomb') }),
    ]);
    const notZip = join(dir, 'not.zip');
    await writeFile(notZip, 'sourcedId,status\n');
    expect(await errorsOf(notZip)).toEqual([
      expect.objectContaining({
        file: '(bundle)',
        message: expect.stringContaining('not a readable zip file'),
      }),
    ]);
  });

  it('accepts a 1.1 bundle whose users carry their role and orgs (no roles.csv)', async () => {
    const t2 = await w.tenant('v11');
    const users = [
      'sourcedId,status,dateLastModified,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password',
      'stu-ava,,,org-lincoln,student,ava,,Ava,Reyes,,S1001,,,,,04,',
      'tch-hall,,,org-lincoln,teacher,k.hall,,Karen,Hall,,T2001,k.hall@staff.example.org,,,,,',
    ].join('\n');
    const files = only({ orgs: 'bulk', academicSessions: 'bulk', users: 'bulk' }, { users });
    files['manifest.csv'] = manifest(
      { orgs: 'bulk', academicSessions: 'bulk', users: 'bulk' },
      '1.1',
    );
    const { report } = await importInto(t2, await bundle(files));
    expect(report.errors).toEqual([]);
    expect(
      await w.rows(
        `select s.source_id, o.source_id as school from students s join org_units o on o.id = s.school_id where s.tenant_id = $1`,
        [t2.id],
      ),
    ).toEqual([{ source_id: 'stu-ava', school: 'org-lincoln' }]);
    expect(await count(t2, 'school_enrollments')).toBe(1);
    expect(await count(t2, 'staff', `source_id = 'tch-hall'`)).toBe(1);
  });
});

describe('tenant isolation', () => {
  it('an import writes only its own tenant and cannot reference another tenant’s rows', async () => {
    const a = await w.tenant('isoa');
    const b = await w.tenant('isob');
    const beforeB = await footprint(b);
    expect((await importInto(a, await bundle())).report.ok).toBe(true);
    expect(await footprint(b)).toEqual(beforeB);
    // B's enrollments naming A's classes and students: unknown in B.
    const { report } = await importInto(b, await bundle(only({ enrollments: 'delta' })));
    expect(report.ok).toBe(false);
    expect(report.errors).toContainEqual(
      expect.objectContaining({
        file: 'enrollments.csv',
        line: 2,
        column: 'classSourcedId',
        value: 'class-math4-a',
      }),
    );
    // The same sourcedIds in B are B's own rows.
    expect((await importInto(b, await bundle())).report.ok).toBe(true);
    expect(await count(a, 'students')).toBe(3);
    expect(await count(b, 'students')).toBe(3);
  });
});

describe('npm run import', () => {
  it('prints the report; --dry-run exits non-zero on errors and 0 on a valid bundle', async () => {
    await w.tenant('cli');
    const cli = (...argv: string[]) =>
      promisify(execFile)('npx', ['tsx', 'scripts/import.ts', '--tenant', 'cli', ...argv], {
        env: {
          ...process.env,
          DATABASE_URL: w.t.env.DATABASE_URL,
          NODE_ENV: 'test',
          REDIS_URL: '',
        },
      }).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: { code: number; stdout: string; stderr: string }) => ({
          code: e.code,
          out: e.stdout + e.stderr,
        }),
      );
    const ok = await cli('--oneroster', await bundle(), '--dry-run');
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain('dry run: the bundle is valid, nothing was written');
    const bad = await cli(
      '--oneroster',
      await bundle({
        'orgs.csv': sample['orgs.csv']!.replace('2025', '2025').replace(
          ',school,LIN,',
          ',academy,LIN,',
        ),
      }),
      '--dry-run',
    );
    expect(bad.code, bad.out).toBe(1);
    expect(bad.out).toContain('orgs.csv:3 type "academy": not one of');
  }, 60_000);
});
