import type { FileMode } from './import.js';
import type { Problems } from './read.js';
import { FILE_KEYS, SPECS, type FileKey } from './spec.js';
import { col, LIVE, stg, type Query } from './staging.js';

/** Where each file's sourcedIds live in the tenant (for references to earlier imports). */
const TARGET_TABLES: Partial<Record<FileKey, string[]>> = {
  orgs: ['org_units'],
  academicSessions: ['academic_sessions'],
  courses: ['courses'],
  classes: ['classes'],
  users: ['students', 'staff', 'guardians'],
  lineItems: ['assignments'],
};

/** Reports each row found, as an error on the given column. */
type Report = (
  file: string,
  rows: { line: number; value: string | null }[],
  column: string,
  message: string,
) => void;

/** Whole-bundle checks: duplicates, references, people's roles and schools. */
export async function checkBundle(q: Query, modes: Record<FileKey, FileMode>, problems: Problems) {
  const report: Report = (file, rows, column, message) => {
    for (const r of rows) problems.error({ file, line: r.line, column, value: r.value, message });
  };
  await checkDuplicates(q, modes, report);
  await checkReferences(q, modes, report);
  if (problems.count) return;
  await classifyUsers(q);
  await checkPeople(q, modes, report);
}

/** No sourcedId twice in a file. */
async function checkDuplicates(q: Query, modes: Record<FileKey, FileMode>, report: Report) {
  for (const key of FILE_KEYS) {
    if (modes[key] === 'absent') continue;
    report(
      `${key}.csv`,
      await q(
        `select line, "sourcedId" as value from (
           select line, "sourcedId", row_number() over (partition by "sourcedId" order by line) n
           from ${stg(key)}) d where n > 1 order by line limit 100`,
      ),
      'sourcedId',
      'a sourcedId is on an earlier line of this file too',
    );
  }
}

/** References: to a live row of the bundle, or to a row an earlier import brought. */
async function checkReferences(q: Query, modes: Record<FileKey, FileMode>, report: Report) {
  for (const key of FILE_KEYS) {
    if (modes[key] === 'absent') continue;
    for (const [name, check] of Object.entries(SPECS[key].columns)) {
      if (check.kind !== 'ref' && check.kind !== 'refs') continue;
      const target = check.target;
      if (target === 'categories' && modes.categories === 'absent') continue;
      const values =
        check.kind === 'ref'
          ? `select s.line, s.${col(name)} as value from ${stg(key)} s where s.${col(name)} is not null and ${LIVE('s')}`
          : `select s.line, v as value from ${stg(key)} s, unnest(string_to_array(s.${col(name)}, ',')) v where ${LIVE('s')}`;
      const existing = (TARGET_TABLES[target] ?? [])
        .map(
          (t) =>
            `or exists (select 1 from ${t} e where e.source_id = r.value and e.deleted_at is null)`,
        )
        .join(' ');
      report(
        `${key}.csv`,
        await q(
          `select r.line, r.value from (${values}) r
           where not (exists (select 1 from ${stg(target)} t where t."sourcedId" = r.value and ${LIVE('t')}) ${existing})
           order by r.line limit 200`,
        ),
        name,
        `no ${target} row has this sourcedId, in the bundle or in the tenant`,
      );
    }
  }
  if (modes.demographics !== 'absent')
    report(
      'demographics.csv',
      await q(
        `select d.line, d."sourcedId" as value from ${stg('demographics')} d
         where ${LIVE('d')} and not exists (select 1 from ${stg('users')} u where u."sourcedId" = d."sourcedId")
           and not exists (select 1 from students e where e.source_id = d."sourcedId")
         order by d.line limit 100`,
      ),
      'sourcedId',
      'no user has this sourcedId, in the bundle or in the tenant',
    );
}

/**
 * Each live user of the bundle as student, staff or guardian (by role, else as the tenant
 * has them), with their school, into the temporary table or_kind.
 */
async function classifyUsers(q: Query) {
  await q(`
    create temp table if not exists or_kind (sid text primary key, line int, kind text, school_sid text) on commit drop;
    truncate or_kind;
    insert into or_kind (sid, line, kind, school_sid)
    select u."sourcedId", u.line,
      case
        when 'student' = any(r.roles) then 'student'
        when r.roles && array['teacher','aide','proctor','administrator','principal','siteAdministrator','districtAdministrator','systemAdministrator','counselor'] then 'staff'
        when r.roles && array['guardian','parent','relative'] then 'guardian'
        when exists (select 1 from students e where e.source_id = u."sourcedId") then 'student'
        when exists (select 1 from staff e where e.source_id = u."sourcedId") then 'staff'
        when exists (select 1 from guardians e where e.source_id = u."sourcedId") then 'guardian'
      end,
      coalesce(
        case when exists (select 1 from ${stg('orgs')} so where so."sourcedId" = u."primaryOrgSourcedId" and so.type = 'school'
                           and coalesce(so."metadata.homeroom.kind", 'school') in ('school','microschool','campus'))
               or exists (select 1 from org_units o where o.source_id = u."primaryOrgSourcedId" and o.kind in ('school','microschool','campus'))
             then u."primaryOrgSourcedId" end,
        (select rr."orgSourcedId" from ${stg('roles')} rr
          where rr."userSourcedId" = u."sourcedId" and rr.role = 'student' and ${LIVE('rr')}
          order by rr."roleType" = 'primary' desc, rr.line limit 1))
    from ${stg('users')} u
    left join lateral (
      select array_agg(rr.role) as roles from ${stg('roles')} rr
      where rr."userSourcedId" = u."sourcedId" and ${LIVE('rr')}
    ) r on true
    where ${LIVE('u')};
    analyze or_kind`);
}

/** Users Homeroom keeps, students with a school, enrolments and results of the right kind. */
async function checkPeople(q: Query, modes: Record<FileKey, FileMode>, report: Report) {
  report(
    'users.csv',
    await q(`select line, sid as value from or_kind where kind is null order by line limit 100`),
    'sourcedId',
    'the user has no role Homeroom keeps (student, teacher, aide, proctor, administrator, guardian, parent, relative)',
  );
  report(
    'users.csv',
    await q(
      `select line, sid as value from or_kind where kind = 'student' and school_sid is null
       and not exists (select 1 from students e where e.source_id = sid) order by line limit 100`,
    ),
    'primaryOrgSourcedId',
    'a student needs a school (primaryOrgSourcedId or a student role at a school)',
  );
  const kindOf = (ref: string) =>
    `coalesce((select k.kind from or_kind k where k.sid = ${ref}),
      case when exists (select 1 from students e where e.source_id = ${ref}) then 'student'
           when exists (select 1 from staff e where e.source_id = ${ref}) then 'staff'
           when exists (select 1 from guardians e where e.source_id = ${ref}) then 'guardian' end)`;
  if (modes.enrollments !== 'absent')
    report(
      'enrollments.csv',
      await q(
        `select s.line, s."userSourcedId" as value from ${stg('enrollments')} s
         where ${LIVE('s')} and ${kindOf('s."userSourcedId"')} is distinct from
           case when s.role = 'student' then 'student' else 'staff' end
         order by s.line limit 100`,
      ),
      'userSourcedId',
      'the user is not a student (role student) or staff (other roles)',
    );
  if (modes.results !== 'absent')
    report(
      'results.csv',
      await q(
        `select s.line, s."studentSourcedId" as value from ${stg('results')} s
         where ${LIVE('s')} and ${kindOf('s."studentSourcedId"')} is distinct from 'student'
         order by s.line limit 100`,
      ),
      'studentSourcedId',
      'the user is not a student',
    );
}
