import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { escapeText } from '../../db/seed/copy.js';
import { rowsOf, type Tx } from '../../db/connection.js';
import type * as TenantSchema from '../../db/schema/tenant.js';
import { ASSIGNMENT_CATEGORIES } from '../../db/schema/grades.js';
import type { Bundle } from './bundle.js';
import { Problems, readCsv, type Problem, type StagedRow } from './read.js';
import { categoryKeyOf, FILE_KEYS, SPECS, type FileKey } from './spec.js';

/**
 * OneRoster 1.2 CSV import into one tenant, inside the caller's transaction: every file is
 * streamed into a temporary staging table (checked row by row on the way, then COPY'd), the bundle is
 * checked as a whole in SQL (duplicate sourcedIds, references to rows in neither the
 * bundle nor the tenant, people without a role or a school), and only then merged, one
 * set-based statement per target table. A row is found again by its `source_id` (the
 * sourcedId), so a re-import updates in place and an unchanged row is not written at all.
 * Bulk files end (soft-delete) the imported rows they no longer list; delta files end the
 * rows they mark `tobedeleted`. Rows Homeroom created itself (no source_id) are never
 * ended by an import.
 */

export type FileMode = 'bulk' | 'delta' | 'absent';

export interface FileCounts {
  mode: FileMode;
  rows: number;
  created: number;
  updated: number;
  deleted: number;
}

export interface ImportReport {
  /** No errors: the import was (or, in a dry run, would be) applied. */
  ok: boolean;
  dryRun: boolean;
  /** Whether the changes were committed (false for a dry run or any error). */
  applied: boolean;
  oneRosterVersion: string | null;
  files: Partial<Record<FileKey, FileCounts>>;
  errors: Problem[];
  warnings: Problem[];
  /** Errors beyond the first 1,000, counted but not listed. */
  moreErrors: number;
}

export interface ImportProgress {
  phase: 'reading' | 'checking' | 'merging' | 'done';
  file: string | null;
  /** Data rows read so far over all files. */
  rows: number;
}

export interface ImportOptions {
  dryRun?: boolean;
  onProgress?: (p: ImportProgress) => void;
}

const TENANT = `nullif(current_setting('app.tenant_id', true), '')::uuid`;
const LIVE = (a: string) => `coalesce(${a}.status, 'active') <> 'tobedeleted'`;
const stg = (key: FileKey) => `or_stg_${key}`;
const col = (name: string) => `"${name}"`;

/** Where each file's sourcedIds live in the tenant (for references to earlier imports). */
const TARGET_TABLES: Partial<Record<FileKey, string[]>> = {
  orgs: ['org_units'],
  academicSessions: ['academic_sessions'],
  courses: ['courses'],
  classes: ['classes'],
  users: ['students', 'staff', 'guardians'],
  lineItems: ['assignments'],
};

/** Constraint → the file and column whose values broke it. */
const CONSTRAINTS: Record<string, [FileKey, string]> = {
  org_units_code_key: ['orgs', 'identifier'],
  courses_code_key: ['courses', 'courseCode'],
  classes_section_key: ['classes', 'classCode'],
  students_number_key: ['users', 'identifier'],
  staff_employee_number_key: ['users', 'identifier'],
  users_email_key: ['users', 'email'],
  class_enrollments_key: ['enrollments', 'userSourcedId'],
  class_teachers_key: ['enrollments', 'userSourcedId'],
  school_enrollments_key: ['roles', 'userSourcedId'],
  scores_key: ['results', 'studentSourcedId'],
};

class MergeFailed extends Error {}

export async function importOneRoster(
  tx: Tx<typeof TenantSchema>,
  bundle: Bundle,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const problems = new Problems();
  const progress = options.onProgress ?? (() => {});
  // One statement per round trip (every driver takes that); a text may hold several.
  const q = async <R extends Record<string, unknown> = Record<string, unknown>>(text: string) => {
    let rows: R[] = [];
    for (const statement of text.split(/;\s*\n/).filter((s) => s.trim()))
      rows = rowsOf<R>(await tx.execute(sql.raw(statement)));
    return rows;
  };
  const report: ImportReport = {
    ok: false,
    dryRun: options.dryRun === true,
    applied: false,
    oneRosterVersion: null,
    files: {},
    errors: problems.errors,
    warnings: problems.warnings,
    moreErrors: 0,
  };
  const finish = () => {
    report.moreErrors = problems.dropped;
    report.ok = problems.count === 0;
    progress({ phase: 'done', file: null, rows: totalRows });
    return report;
  };
  let totalRows = 0;

  // The manifest: which files are here, bulk or delta.
  const modes = await readManifest(bundle, problems, report);
  if (!modes) return finish();

  for (const key of FILE_KEYS) {
    const columns = Object.keys(SPECS[key].columns).map((c) => `${col(c)} text`);
    if (key === 'categories') columns.push('key text');
    await q(
      `create temp table if not exists ${stg(key)} (line int, ${columns.join(', ')}) on commit drop;
       truncate ${stg(key)}`,
    );
  }

  for (const key of FILE_KEYS) {
    const mode = modes[key];
    if (mode === 'absent') continue;
    const name = `${key}.csv`;
    progress({ phase: 'reading', file: name, rows: totalRows });
    const input = await bundle.open(name);
    const rows = await readCsv(input, {
      file: name,
      spec: SPECS[key],
      problems,
      onBatch: async (batch: StagedRow[]) => {
        if (key === 'categories')
          for (const r of batch) r.key = categoryKeyOf(String(r.title), ASSIGNMENT_CATEGORIES);
        await stage(tx, key, batch);
        totalRows += batch.length;
        progress({ phase: 'reading', file: name, rows: totalRows });
      },
    });
    report.files[key] = { mode, rows: rows ?? 0, created: 0, updated: 0, deleted: 0 };
    if (mode === 'bulk') {
      const marked = await q<{ line: number }>(
        `select line from ${stg(key)} where status = 'tobedeleted' order by line limit 5`,
      );
      for (const m of marked)
        problems.error({
          file: name,
          line: m.line,
          column: 'status',
          value: 'tobedeleted',
          message: 'a bulk file lists only live rows (tobedeleted belongs in a delta file)',
        });
    }
  }
  // 1.1: a user's role and orgs are on the user; they stand in for roles.csv.
  if (modes.roles === 'absent' && modes.users !== 'absent') {
    await q(
      `insert into ${stg('roles')} (line, "sourcedId", status, "userSourcedId", "roleType", role, "orgSourcedId")
       select u.line, u."sourcedId" || ':' || x.org || ':' || u.role, u.status, u."sourcedId",
              case when x.n = 1 then 'primary' else 'secondary' end, u.role, x.org
       from ${stg('users')} u, unnest(string_to_array(u."orgSourcedIds", ',')) with ordinality as x(org, n)
       where u.role is not null`,
    );
    modes.roles = modes.users;
  }

  // Temporary tables are never analysed on their own: without statistics and indexes the
  // planner nests loops over them (quadratic in the rows).
  for (const key of FILE_KEYS) {
    if (modes[key] === 'absent') continue;
    const refs = Object.entries(SPECS[key].columns)
      .filter(([, c]) => c.kind === 'ref')
      .map(([name]) => name);
    for (const name of ['sourcedId', ...refs])
      await q(`create index on ${stg(key)} (${col(name)})`);
    await q(`analyze ${stg(key)}`);
  }
  // Rows with errors were not staged: references to them would only repeat those errors.
  if (problems.count > 0) return finish();
  progress({ phase: 'checking', file: null, rows: totalRows });
  await checkBundle(q, modes, problems);
  if (problems.count > 0) return finish();

  progress({ phase: 'merging', file: null, rows: totalRows });
  try {
    await merge(q, modes, report, problems);
  } catch (err) {
    if (err instanceof MergeFailed) return finish();
    throw err;
  }
  return finish();
}

/** The staging table's columns, in order. */
const stagingColumns = (key: FileKey) => [
  'line',
  ...Object.keys(SPECS[key].columns),
  ...(key === 'categories' ? ['key'] : []),
];

/**
 * Stages a batch of checked rows: `COPY … FROM STDIN` where the transaction runs on a `pg`
 * client (Node), else one insert of the batch as JSON (the Neon and PGlite drivers).
 */
async function stage(tx: Tx<typeof TenantSchema>, key: FileKey, batch: StagedRow[]) {
  const client = (tx as unknown as { $client?: unknown }).$client;
  if (client instanceof pg.Client) {
    const columns = stagingColumns(key);
    const text = batch
      .map(
        (row) =>
          columns
            .map((c) =>
              row[c] === null || row[c] === undefined ? '\\N' : escapeText(String(row[c])),
            )
            .join('\t') + '\n',
      )
      .join('');
    await pipeline(
      Readable.from([text]),
      client.query(copyFrom(`copy ${stg(key)} (${columns.map(col).join(', ')}) from stdin`)),
    );
    return;
  }
  await tx.execute(
    sql`insert into ${sql.raw(stg(key))} select * from jsonb_populate_recordset(null::${sql.raw(stg(key))}, ${JSON.stringify(batch)}::jsonb)`,
  );
}

async function readManifest(
  bundle: Bundle,
  problems: Problems,
  report: ImportReport,
): Promise<Record<FileKey, FileMode> | null> {
  const present = new Set(bundle.files());
  if (!present.has('manifest.csv')) {
    problems.error({
      file: 'manifest.csv',
      line: null,
      column: null,
      value: null,
      message: 'the bundle has no manifest.csv',
    });
    return null;
  }
  const props = new Map<string, { value: string; line: number }>();
  const rows = await readCsv(await bundle.open('manifest.csv'), {
    file: 'manifest.csv',
    spec: {
      key: 'orgs',
      columns: {
        propertyName: { kind: 'text', required: true, max: 100 },
        value: { kind: 'text', max: 200 },
      },
      ignored: [],
      requiredHeaders: ['value'],
    },
    problems,
    onBatch: async (batch) => {
      for (const r of batch)
        props.set(String(r.propertyName), { value: String(r.value ?? '').trim(), line: r.line });
    },
    sourcedIds: false,
  });
  if (rows === null) return null;
  const version = props.get('oneroster.version');
  report.oneRosterVersion = version?.value ?? null;
  if (!version || !['1.0', '1.1', '1.2'].includes(version.value))
    problems.error({
      file: 'manifest.csv',
      line: version?.line ?? null,
      column: 'value',
      value: version?.value ?? null,
      message: 'oneroster.version must be 1.1 or 1.2',
    });
  const modes = {} as Record<FileKey, FileMode>;
  for (const key of FILE_KEYS) {
    const entry = props.get(`file.${key}`);
    const mode = (entry?.value ?? 'absent').toLowerCase();
    if (mode !== 'bulk' && mode !== 'delta' && mode !== 'absent') {
      problems.error({
        file: 'manifest.csv',
        line: entry?.line ?? null,
        column: 'value',
        value: entry?.value ?? null,
        message: `file.${key} must be bulk, delta or absent`,
      });
      modes[key] = 'absent';
      continue;
    }
    modes[key] = mode;
    const name = `${key}.csv`;
    if (mode !== 'absent' && !present.has(name))
      problems.error({
        file: 'manifest.csv',
        line: entry?.line ?? null,
        column: 'value',
        value: mode,
        message: `the manifest lists ${name} as ${mode} but the bundle has no such file`,
      });
    if (mode === 'absent' && present.has(name))
      problems.error({
        file: name,
        line: null,
        column: null,
        value: null,
        message: `${name} is in the bundle but the manifest lists it absent`,
      });
  }
  return problems.count ? null : modes;
}

type Query = <R extends Record<string, unknown> = Record<string, unknown>>(
  text: string,
) => Promise<R[]>;

/** Reports each row found, as an error on the given column. */
type Report = (
  file: string,
  rows: { line: number; value: string | null }[],
  column: string,
  message: string,
) => void;

/** Whole-bundle checks: duplicates, references, people's roles and schools. */
async function checkBundle(q: Query, modes: Record<FileKey, FileMode>, problems: Problems) {
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

/** One statement of the merge: counts what it did into the report, or reports what it broke. */
type Run = (key: FileKey, text: string, count?: 'created' | 'deleted') => Promise<void>;

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
async function merge(
  q: Query,
  modes: Record<FileKey, FileMode>,
  report: ImportReport,
  problems: Problems,
) {
  const run = mergeStatements(q, report, problems);
  for (const [key, mergeFile] of MERGES) if (modes[key] !== 'absent') await mergeFile(run);
  await endRemoved(run, modes);
}

/** Runs each statement in a savepoint: a broken constraint is reported and ends the merge. */
function mergeStatements(q: Query, report: ImportReport, problems: Problems): Run {
  let step = 0;
  return async (key, text, count) => {
    const savepoint = `or_merge_${step++}`;
    await q(`savepoint ${savepoint}`);
    let rows: Record<string, unknown>[];
    try {
      rows = await q(text);
    } catch (err) {
      const e = (err as { cause?: unknown }).cause ?? err;
      const { code, constraint, detail, message } = e as {
        code?: string;
        constraint?: string;
        detail?: string;
        message?: string;
      };
      if (!code || !/^(23|22)/.test(code)) throw err;
      await q(`rollback to savepoint ${savepoint}`);
      const [file, column] = CONSTRAINTS[constraint ?? ''] ?? [key, null];
      const value = /=\((?:[0-9a-f-]{36}, )?(.*)\) /.exec(detail ?? '')?.[1] ?? null;
      let line: number | null = null;
      if (column && value !== null) {
        const hit = await q<{ line: number }>(
          `select line from ${stg(file)} where lower(${col(column)}) = lower(${literal(value)}) order by line limit 1`,
        ).catch(() => []);
        line = hit[0]?.line ?? null;
      }
      problems.error({
        file: `${file}.csv`,
        line,
        column,
        value,
        message: constraint
          ? `conflicts with a row the tenant already has (${constraint})`
          : `rejected by the database: ${message}`,
      });
      throw new MergeFailed();
    }
    await q(`release savepoint ${savepoint}`);
    const counts = report.files[key];
    if (counts) {
      for (const r of rows) {
        if (count === 'deleted') counts.deleted += Number(r.n ?? 0);
        else if (count === 'created') {
          counts.created += Number(r.created ?? 0);
          counts.updated += Number(r.updated ?? 0);
        }
      }
    }
  };
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

/** A SQL string literal (for values read back from the database's own error detail). */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
