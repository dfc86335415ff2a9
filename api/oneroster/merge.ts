import { ASSIGNMENT_CATEGORIES } from '../../db/schema/grades.js';
import type { FileMode, ImportReport } from './import.js';
import type { Problems } from './read.js';
import type { FileKey } from './spec.js';
import { LIVE, stg, type Query } from './staging.js';
import { mergeStatements, type Run } from './merge-statements.js';

const TENANT = `nullif(current_setting('app.tenant_id', true), '')::uuid`;

/** The merge's steps, in order: a file's rows go in after the rows they refer to. */
const MERGES: [FileKey, (run: Run) => Promise<void>][] = [
  ['orgs', mergeOrgs],
  ['academicSessions', mergeAcademicSessions],
  ['courses', mergeCourses],
  ['classes', mergeClasses],
  ['users', mergeUsers],
  ['roles', mergeRoles],
  ['demographics', mergeDemographics],
  ['enrollments', mergeEnrollments],
  ['lineItems', mergeLineItems],
  ['results', mergeResults],
];

/** The merge, target table by target table; a broken constraint becomes a report. */
export async function merge(
  q: Query,
  modes: Record<FileKey, FileMode>,
  report: ImportReport,
  problems: Problems,
) {
  const run = mergeStatements(q, report, problems);
  for (const [key, mergeFile] of MERGES) if (modes[key] !== 'absent') await mergeFile(run);
  await endRemoved(run, modes);
}

/** Counts the rows an insert created and those it updated. */
const counted = (insert: string) =>
  `with w as (${insert} returning (xmax = 0) as ins)
   select count(*) filter (where ins) as created, count(*) filter (where not ins) as updated from w`;

/** Inserts or updates rows by source_id; an unchanged row is not written. */
const upsert = (
  table: string,
  columns: string[],
  select: string,
  opts: { insertOnly?: string[] } = {},
) => {
  const updatable = columns.filter((c) => !(opts.insertOnly ?? []).includes(c));
  return counted(
    `insert into ${table} as x (tenant_id, source_id, ${columns.join(', ')})
     ${select}
     on conflict (tenant_id, source_id) where source_id is not null do update
     set ${updatable.map((c) => `${c} = excluded.${c}`).join(', ')}, deleted_at = null
     where (${updatable.map((c) => `x.${c}`).join(', ')}, x.deleted_at) is distinct from
           (${updatable.map((c) => `excluded.${c}`).join(', ')}, null)`,
  );
};
const orgId = (ref: string) => `(select o.id from org_units o where o.source_id = ${ref})`;
const sessionId = (ref: string) =>
  `(select a.id from academic_sessions a where a.source_id = ${ref})`;

/** orgs.csv: org units, the root first, then their parents. */
async function mergeOrgs(run: Run) {
  // The bundle's one top org is the tenant's root org unit when that has no source yet.
  await run(
    'orgs',
    `update org_units o set source_id = r."sourcedId"
     from (select s."sourcedId" from ${stg('orgs')} s where ${LIVE('s')} and s."parentSourcedId" is null) r
     where o.parent_id is null and o.source_id is null and o.deleted_at is null
       and (select count(*) from ${stg('orgs')} s where ${LIVE('s')} and s."parentSourcedId" is null) = 1
       and (select count(*) from org_units p where p.parent_id is null and p.deleted_at is null) = 1
       and not exists (select 1 from org_units e where e.source_id = r."sourcedId")`,
  );
  await run(
    'orgs',
    upsert(
      'org_units',
      ['kind', 'name', 'code'],
      `select ${TENANT}, s."sourcedId",
         coalesce(s."metadata.homeroom.kind", case s.type when 'national' then 'network' when 'state' then 'region'
           when 'district' then 'district' when 'local' then 'district' when 'school' then 'school' else 'campus' end),
         s.name, coalesce(s.identifier, s."sourcedId")
       from ${stg('orgs')} s where ${LIVE('s')} order by s.line`,
    ),
    'created',
  );
  await run(
    'orgs',
    `update org_units o set parent_id = p.id
     from ${stg('orgs')} s left join org_units p on p.source_id = s."parentSourcedId"
     where o.source_id = s."sourcedId" and ${LIVE('s')} and o.parent_id is distinct from p.id`,
  );
}

/** academicSessions.csv: academic sessions, then their parents. */
async function mergeAcademicSessions(run: Run) {
  const root = `(select o.id from org_units o where o.parent_id is null and o.deleted_at is null order by o.created_at, o.id limit 1)`;
  await run(
    'academicSessions',
    upsert(
      'academic_sessions',
      ['org_unit_id', 'kind', 'name', 'start_date', 'end_date'],
      `select ${TENANT}, s."sourcedId",
         coalesce(${orgId('s."metadata.homeroom.orgSourcedId"')}, ${root}),
         case s.type when 'schoolYear' then 'school_year' when 'gradingPeriod' then 'grading_period' else 'term' end,
         s.title, s."startDate"::date, s."endDate"::date
       from ${stg('academicSessions')} s where ${LIVE('s')} order by s.line`,
    ),
    'created',
  );
  await run(
    'academicSessions',
    `update academic_sessions a set parent_id = p.id
     from ${stg('academicSessions')} s left join academic_sessions p on p.source_id = s."parentSourcedId"
     where a.source_id = s."sourcedId" and ${LIVE('s')} and a.parent_id is distinct from p.id`,
  );
}

/** courses.csv. */
async function mergeCourses(run: Run) {
  await run(
    'courses',
    upsert(
      'courses',
      ['org_unit_id', 'code', 'name', 'subject', 'grade_levels'],
      `select ${TENANT}, s."sourcedId", ${orgId('s."orgSourcedId"')}, coalesce(s."courseCode", s."sourcedId"), s.title,
         coalesce(nullif(trim(split_part(s.subjects, ',', 1)), ''), 'general'),
         coalesce(array(select trim(g) from unnest(string_to_array(s.grades, ',')) g), '{}')
       from ${stg('courses')} s where ${LIVE('s')} order by s.line`,
    ),
    'created',
  );
}

/** classes.csv. */
async function mergeClasses(run: Run) {
  await run(
    'classes',
    upsert(
      'classes',
      ['course_id', 'session_id', 'school_id', 'section', 'name', 'room'],
      `select ${TENANT}, s."sourcedId",
         (select c.id from courses c where c.source_id = s."courseSourcedId"),
         ${sessionId(`split_part(s."termSourcedIds", ',', 1)`)}, ${orgId('s."schoolSourcedId"')},
         coalesce(s."classCode", s."sourcedId"), s.title, s.location
       from ${stg('classes')} s where ${LIVE('s')} order by s.line`,
    ),
    'created',
  );
}

/** users.csv: sign-ins, students, staff, guardians, and the links between them. */
async function mergeUsers(run: Run) {
  const users = `${stg('users')} s join or_kind k on k.sid = s."sourcedId"`;
  await mergeSignIns(run, users);
  await mergeStudents(run, users);
  await mergeStaff(run, users);
  await mergeGuardians(run, users);
  await linkSignIns(run);
  await mergeGuardianLinks(run);
}

/** Sign-ins (users) for the people with an email address. */
async function mergeSignIns(run: Run, users: string) {
  await run(
    'users',
    upsert(
      'users',
      ['email', 'first_name', 'last_name', 'phone', 'status'],
      // One sign-in per address: the first person with it gets it; an address the tenant
      // already gives someone else is left to them (the person is imported without one).
      `select distinct on (lower(s.email)) ${TENANT}, s."sourcedId", s.email, s."givenName", s."familyName", s.phone,
         case when s."enabledUser" = 'false' then 'disabled' else 'active' end
       from ${users} where s.email is not null
         and not exists (select 1 from users e where lower(e.email) = lower(s.email) and e.deleted_at is null
                         and e.source_id is distinct from s."sourcedId")
       order by lower(s.email), s.line`,
    ),
  );
}

/** Students, and the status a re-import changes. */
async function mergeStudents(run: Run, users: string) {
  await run(
    'users',
    upsert(
      'students',
      [
        'student_number',
        'first_name',
        'middle_name',
        'last_name',
        'preferred_name',
        'grade_level',
        'school_id',
        'status',
      ],
      `select ${TENANT}, s."sourcedId", coalesce(s.identifier, s."sourcedId"), s."givenName", s."middleName",
         s."familyName", s."preferredGivenName",
         coalesce(nullif(trim(split_part(s.grades, ',', 1)), ''), 'UG'),
         coalesce(${orgId('k.school_sid')}, (select e.school_id from students e where e.source_id = s."sourcedId")),
         case when s."enabledUser" = 'false' then 'inactive' else 'active' end
       from ${users} where k.kind = 'student' order by s.line`,
      { insertOnly: ['status'] },
    ),
    'created',
  );
  await run(
    'users',
    `update students e set status = case when s."enabledUser" = 'false' then 'inactive' else 'active' end
     from ${stg('users')} s where e.source_id = s."sourcedId" and s."enabledUser" is not null
       and ((s."enabledUser" = 'false' and e.status = 'active') or (s."enabledUser" = 'true' and e.status = 'inactive'))`,
  );
}

/** Staff, and the employment status a re-import changes. */
async function mergeStaff(run: Run, users: string) {
  await run(
    'users',
    upsert(
      'staff',
      ['employee_number', 'first_name', 'last_name', 'email', 'school_id', 'employment_status'],
      `select ${TENANT}, s."sourcedId", coalesce(s.identifier, s."sourcedId"), s."givenName", s."familyName",
         s.email, ${orgId('s."primaryOrgSourcedId"')},
         case when s."enabledUser" = 'false' then 'inactive' else 'active' end
       from ${users} where k.kind = 'staff' order by s.line`,
      { insertOnly: ['employment_status'] },
    ),
    'created',
  );
  await run(
    'users',
    `update staff e set employment_status = case when s."enabledUser" = 'false' then 'inactive' else 'active' end
     from ${stg('users')} s where e.source_id = s."sourcedId" and s."enabledUser" is not null
       and ((s."enabledUser" = 'false' and e.employment_status in ('active','on_leave'))
         or (s."enabledUser" = 'true' and e.employment_status not in ('active','on_leave')))`,
  );
}

/** Guardians. */
async function mergeGuardians(run: Run, users: string) {
  await run(
    'users',
    upsert(
      'guardians',
      ['first_name', 'last_name', 'email', 'phone'],
      `select ${TENANT}, s."sourcedId", s."givenName", s."familyName", s.email, s.phone
       from ${users} where k.kind = 'guardian' order by s.line`,
    ),
    'created',
  );
}

/** Each student, staff member and guardian to their sign-in. */
async function linkSignIns(run: Run) {
  for (const table of ['students', 'staff', 'guardians'])
    await run(
      'users',
      `update ${table} p set user_id = u.id
       from ${stg('users')} s left join users u on u.source_id = s."sourcedId" and u.deleted_at is null
       where p.source_id = s."sourcedId" and p.user_id is distinct from u.id
         and (u.id is not null or p.user_id in (select id from users where source_id = s."sourcedId"))`,
    );
}

/** Guardian links: a student's agents and a guardian's agents, both ways. */
async function mergeGuardianLinks(run: Run) {
  await run(
    'users',
    `create temp table if not exists or_links (student_sid text, guardian_sid text, relationship text) on commit drop;
     truncate or_links;
     insert into or_links
     select distinct st.sid, g.sid, g.rel from (
       select s."sourcedId" as a, trim(v) as b from ${stg('users')} s, unnest(string_to_array(s."agentSourcedIds", ',')) v where ${LIVE('s')}
       union select trim(v), s."sourcedId" from ${stg('users')} s, unnest(string_to_array(s."agentSourcedIds", ',')) v where ${LIVE('s')}
     ) pair
     join lateral (select pair.a as sid where exists (select 1 from students e where e.source_id = pair.a and e.deleted_at is null)) st on true
     join lateral (
       select pair.b as sid,
         coalesce((select case r.role when 'parent' then 'parent' when 'relative' then 'other' else 'guardian' end
                   from ${stg('roles')} r where r."userSourcedId" = pair.b and r.role in ('guardian','parent','relative')
                   order by r."roleType" = 'primary' desc, r.line limit 1), 'guardian') as rel
       where exists (select 1 from guardians e where e.source_id = pair.b and e.deleted_at is null)) g on true`,
  );
  await run(
    'users',
    `insert into student_guardians (tenant_id, student_id, guardian_id, relationship)
     select ${TENANT}, st.id, g.id, l.relationship from or_links l
     join students st on st.source_id = l.student_sid join guardians g on g.source_id = l.guardian_sid
     on conflict do nothing`,
  );
  await run(
    'users',
    `update student_guardians sg set deleted_at = now()
     from students st, guardians g
     where sg.student_id = st.id and sg.guardian_id = g.id and sg.deleted_at is null
       and st.source_id is not null and g.source_id is not null
       and (exists (select 1 from ${stg('users')} s where s."sourcedId" in (st.source_id, g.source_id)))
       and not exists (select 1 from or_links l where l.student_sid = st.source_id and l.guardian_sid = g.source_id)`,
  );
}

/** roles.csv: school enrolments and role grants. */
async function mergeRoles(run: Run) {
  // A student's role at a school is a school enrolment in the school year it begins in
  // (not the role Homeroom's export makes up for a student who has no enrolment).
  await run(
    'roles',
    upsert(
      'school_enrollments',
      ['student_id', 'school_id', 'session_id', 'grade_level', 'entry_date', 'exit_date'],
      `select ${TENANT}, r."sourcedId", st.id, o.id, y.id, st.grade_level,
         coalesce(r."beginDate"::date, y.start_date), r."endDate"::date
       from ${stg('roles')} r
       join students st on st.source_id = r."userSourcedId"
       join org_units o on o.source_id = r."orgSourcedId" and o.kind in ('school','microschool','campus')
       join lateral (
         select a.id, a.start_date from academic_sessions a
         where a.kind = 'school_year' and a.deleted_at is null
           and (r."beginDate" is null or r."beginDate"::date between a.start_date and a.end_date)
         order by a.org_unit_id = o.id desc, a.start_date desc limit 1) y on true
       where r.role = 'student' and ${LIVE('r')} and r."sourcedId" not like 'homeroom-role-%'
       order by r.line`,
    ),
    'created',
  );
  await run(
    'roles',
    `insert into user_roles (tenant_id, source_id, user_id, role_id, org_unit_id)
     select ${TENANT}, r."sourcedId", u.id, ro.id, o.id
     from ${stg('roles')} r
     join users u on u.source_id = r."userSourcedId" and u.deleted_at is null
     join org_units o on o.source_id = r."orgSourcedId"
     join roles ro on ro.deleted_at is null and ro.key = case
       when r.role = 'student' then 'student'
       when r.role in ('teacher','aide','proctor') then 'teacher'
       when r.role in ('administrator','principal','siteAdministrator','districtAdministrator','systemAdministrator') then 'principal'
       when r.role in ('guardian','parent','relative') then 'parent' end
     where ${LIVE('r')}
     on conflict do nothing`,
  );
}

/** demographics.csv: a student's birth date and gender. */
async function mergeDemographics(run: Run) {
  await run(
    'demographics',
    `with w as (
       update students e set date_of_birth = d."birthDate"::date,
         gender = case d.sex when 'male' then 'male' when 'female' then 'female' when 'other' then 'nonbinary' end
       from ${stg('demographics')} d
       where e.source_id = d."sourcedId" and ${LIVE('d')}
         and (e.date_of_birth, e.gender) is distinct from (d."birthDate"::date,
           case d.sex when 'male' then 'male' when 'female' then 'female' when 'other' then 'nonbinary' end)
       returning 1)
     select 0 as created, count(*) as updated from w`,
    'created',
  );
}

/** enrollments.csv: class enrolments and class teachers. */
async function mergeEnrollments(run: Run) {
  const classOf = `(select c.id from classes c where c.source_id = s."classSourcedId")`;
  await run(
    'enrollments',
    upsert(
      'class_enrollments',
      ['class_id', 'student_id', 'entry_date', 'exit_date'],
      `select ${TENANT}, s."sourcedId", ${classOf},
         (select st.id from students st where st.source_id = s."userSourcedId"),
         coalesce(s."beginDate"::date, (select a.start_date from classes c join academic_sessions a on a.id = c.session_id
                                         where c.source_id = s."classSourcedId")),
         s."endDate"::date
       from ${stg('enrollments')} s where s.role = 'student' and ${LIVE('s')} order by s.line`,
    ),
    'created',
  );
  await run(
    'enrollments',
    upsert(
      'class_teachers',
      ['class_id', 'staff_id', 'role'],
      `select ${TENANT}, s."sourcedId", ${classOf},
         (select st.id from staff st where st.source_id = s."userSourcedId"),
         case when s.role in ('aide','proctor') then 'aide' when s."primary" = 'false' then 'co_teacher' else 'primary' end
       from ${stg('enrollments')} s where s.role in ('teacher','aide','proctor') and ${LIVE('s')} order by s.line`,
    ),
    'created',
  );
}

/** lineItems.csv: assignments. */
async function mergeLineItems(run: Run) {
  await run(
    'lineItems',
    upsert(
      'assignments',
      ['class_id', 'title', 'category', 'points_possible', 'assigned_date', 'due_date'],
      `select ${TENANT}, s."sourcedId", (select c.id from classes c where c.source_id = s."classSourcedId"), s.title,
         coalesce((select k.key from ${stg('categories')} k where k."sourcedId" = s."categorySourcedId"),
           case when substr(s."categorySourcedId", 19) in (${ASSIGNMENT_CATEGORIES.map((c) => `'${c}'`).join(', ')})
                and s."categorySourcedId" like 'homeroom-category-%' then substr(s."categorySourcedId", 19) end,
           'classwork'),
         s."resultValueMax"::numeric, left(s."assignDate", 10)::date, left(s."dueDate", 10)::date
       from ${stg('lineItems')} s where ${LIVE('s')} order by s.line`,
    ),
    'created',
  );
}

/** results.csv: scores. */
async function mergeResults(run: Run) {
  await run(
    'results',
    upsert(
      'scores',
      ['assignment_id', 'student_id', 'points', 'is_excused', 'is_missing', 'comment', 'graded_at'],
      `select ${TENANT}, s."sourcedId", (select a.id from assignments a where a.source_id = s."lineItemSourcedId"),
         (select st.id from students st where st.source_id = s."studentSourcedId"),
         s.score::numeric, s."scoreStatus" = 'exempt', s."scoreStatus" = 'not submitted', s.comment,
         s."scoreDate"::date::timestamptz
       from ${stg('results')} s where ${LIVE('s')} order by s.line`,
    ),
    'created',
  );
}

/** Ending: bulk files end what they no longer list, delta files what they mark. */
async function endRemoved(run: Run, modes: Record<FileKey, FileMode>) {
  const ends: [FileKey, string[]][] = [
    ['results', ['scores']],
    ['lineItems', ['assignments']],
    ['enrollments', ['class_enrollments', 'class_teachers']],
    ['roles', ['school_enrollments', 'user_roles']],
    ['users', ['students', 'staff', 'guardians', 'users']],
    ['classes', ['classes']],
    ['courses', ['courses']],
    ['academicSessions', ['academic_sessions']],
    ['orgs', ['org_units']],
  ];
  for (const [key, tables] of ends) {
    if (modes[key] === 'absent') continue;
    for (const table of tables) {
      const which =
        modes[key] === 'bulk'
          ? `not exists (select 1 from ${stg(key)} s where s."sourcedId" = x.source_id and ${LIVE('s')})`
          : `exists (select 1 from ${stg(key)} s where s."sourcedId" = x.source_id and s.status = 'tobedeleted')`;
      await run(
        key,
        `with w as (update ${table} x set deleted_at = now()
         where x.source_id is not null and x.deleted_at is null and ${which} returning 1)
       select count(*) as n from w`,
        table === 'users' || table === 'user_roles' ? undefined : 'deleted',
      );
    }
  }
}
