import { PassThrough, type Writable } from 'node:stream';
import { once } from 'node:events';
import { stringify } from 'csv-stringify';
import { sql } from 'drizzle-orm';
import yazl from 'yazl';
import { rowsOf, type Tx } from '../../db/connection.js';
import type * as TenantSchema from '../../db/schema/tenant.js';
import { categorySourcedId, FILE_KEYS, UNMAPPED_FILES, type FileKey } from './spec.js';

/**
 * A tenant as a OneRoster 1.2 CSV bundle (bulk), streamed into a zip: each file is read in
 * pages ordered by sourcedId (a cursor, so memory stays flat) and written through a
 * CSV stringifier into the zip as it is read. A row's sourcedId is the one it was imported
 * with, else its Homeroom id, so an exported bundle imported into another tenant and
 * exported again gives the same files (dateLastModified aside). What OneRoster cannot say
 * travels in `metadata.homeroom.*` columns; a person's role row that Homeroom makes up
 * (staff, guardians, students without a school enrolment) has a `homeroom-role-` sourcedId.
 */

const PAGE = 5000;
const sid = (alias: string) => `coalesce(${alias}.source_id, ${alias}.id::text)`;
const stamp = (alias: string) =>
  `to_char(${alias}.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const num = (expr: string) => `coalesce((${expr})::float8::text, '')`;
const date = (expr: string) => `coalesce(to_char(${expr}, 'YYYY-MM-DD'), '')`;
const ref = (table: string, id: string) =>
  `coalesce((select ${sid('r')} from ${table} r where r.id = ${id}), '')`;
const ROOT = `(select ${sid('o')} from org_units o where o.parent_id is null and o.deleted_at is null order by o.created_at, o.id limit 1)`;
const SCHOOL_KINDS = `('school','microschool','campus')`;

interface FileQuery {
  header: string[];
  /** A select whose columns are the header's, in order, all text. */
  select: string;
}

const FILES: Record<FileKey, FileQuery> = {
  orgs: {
    header: [
      'sourcedId',
      'status',
      'dateLastModified',
      'name',
      'type',
      'identifier',
      'parentSourcedId',
      'metadata.homeroom.kind',
    ],
    select: `select ${sid('x')}, '', ${stamp('x')}, x.name,
      case x.kind when 'network' then 'national' when 'region' then 'state' when 'district' then 'district' else 'school' end,
      x.code, ${ref('org_units', 'x.parent_id')}, x.kind
      from org_units x where x.deleted_at is null`,
  },
  academicSessions: {
    header: [
      'sourcedId',
      'status',
      'dateLastModified',
      'title',
      'type',
      'startDate',
      'endDate',
      'parentSourcedId',
      'schoolYear',
      'metadata.homeroom.orgSourcedId',
    ],
    select: `select ${sid('x')}, '', ${stamp('x')}, x.name,
      case x.kind when 'school_year' then 'schoolYear' when 'grading_period' then 'gradingPeriod' else 'term' end,
      ${date('x.start_date')}, ${date('x.end_date')}, ${ref('academic_sessions', 'x.parent_id')},
      extract(year from x.end_date)::int::text, ${ref('org_units', 'x.org_unit_id')}
      from academic_sessions x where x.deleted_at is null`,
  },
  courses: {
    header: [
      'sourcedId',
      'status',
      'dateLastModified',
      'schoolYearSourcedId',
      'title',
      'courseCode',
      'grades',
      'orgSourcedId',
      'subjects',
      'subjectCodes',
    ],
    select: `select ${sid('x')}, '', ${stamp('x')}, '', x.name, x.code, array_to_string(x.grade_levels, ','),
      coalesce((select ${sid('r')} from org_units r where r.id = x.org_unit_id), ${ROOT}), x.subject, ''
      from courses x where x.deleted_at is null`,
  },
  classes: {
    header: [
      'sourcedId',
      'status',
      'dateLastModified',
      'title',
      'grades',
      'courseSourcedId',
      'classCode',
      'classType',
      'location',
      'schoolSourcedId',
      'termSourcedIds',
      'subjects',
      'subjectCodes',
      'periods',
    ],
    select: `select ${sid('x')}, '', ${stamp('x')}, x.name, '', ${ref('courses', 'x.course_id')}, x.section,
      'scheduled', coalesce(x.room, ''), ${ref('org_units', 'x.school_id')}, ${ref('academic_sessions', 'x.session_id')},
      '', '', ''
      from classes x
      where x.deleted_at is null
        and exists (select 1 from courses c where c.id = x.course_id and c.deleted_at is null)`,
  },
  users: {
    header: [
      'sourcedId',
      'status',
      'dateLastModified',
      'enabledUser',
      'username',
      'userIds',
      'givenName',
      'familyName',
      'middleName',
      'identifier',
      'email',
      'sms',
      'phone',
      'agentSourcedIds',
      'grades',
      'password',
      'userMasterIdentifier',
      'resourceSourcedIds',
      'preferredGivenName',
      'preferredMiddleName',
      'preferredFamilyName',
      'primaryOrgSourcedId',
      'pronouns',
    ],
    select: `
      select ${sid('x')}, '', ${stamp('x')}, (x.status = 'active')::text, coalesce(u.email, x.student_number), '',
        x.first_name, x.last_name, coalesce(x.middle_name, ''), x.student_number, coalesce(u.email, ''), '',
        coalesce(u.phone, ''),
        coalesce((select string_agg(${sid('g')}, ',' order by ${sid('g')} collate "C")
                  from student_guardians sg join guardians g on g.id = sg.guardian_id and g.deleted_at is null
                  where sg.student_id = x.id and sg.deleted_at is null), ''),
        x.grade_level, '', '', '', coalesce(x.preferred_name, ''), '', '', ${ref('org_units', 'x.school_id')}, ''
      from students x left join users u on u.id = x.user_id and u.deleted_at is null
      where x.deleted_at is null
      union all
      select ${sid('x')}, '', ${stamp('x')}, (x.employment_status in ('active','on_leave'))::text,
        coalesce(x.email, x.employee_number), '', x.first_name, x.last_name, '', x.employee_number,
        coalesce(x.email, ''), '', '', '', '', '', '', '', '', '', '', ${ref('org_units', 'x.school_id')}, ''
      from staff x where x.deleted_at is null
      union all
      select ${sid('x')}, '', ${stamp('x')}, 'true', coalesce(x.email, ${sid('x')}), '', x.first_name, x.last_name,
        '', '', coalesce(x.email, ''), '', coalesce(x.phone, ''),
        coalesce((select string_agg(${sid('s')}, ',' order by ${sid('s')} collate "C")
                  from student_guardians sg join students s on s.id = sg.student_id and s.deleted_at is null
                  where sg.guardian_id = x.id and sg.deleted_at is null), ''),
        '', '', '', '', '', '', '', '', ''
      from guardians x where x.deleted_at is null`,
  },
  roles: {
    header: [
      'sourcedId',
      'status',
      'dateLastModified',
      'userSourcedId',
      'roleType',
      'role',
      'beginDate',
      'endDate',
      'orgSourcedId',
      'userProfileSourcedId',
    ],
    select: `
      select ${sid('x')}, '', ${stamp('x')}, ${sid('s')},
        case when row_number() over (partition by x.student_id order by x.entry_date desc, x.id) = 1
             then 'primary' else 'secondary' end,
        'student', ${date('x.entry_date')}, ${date('x.exit_date')}, ${ref('org_units', 'x.school_id')}, ''
      from school_enrollments x join students s on s.id = x.student_id and s.deleted_at is null
      where x.deleted_at is null
      union all
      select 'homeroom-role-' || ${sid('s')}, '', ${stamp('s')}, ${sid('s')}, 'primary', 'student', '', '',
        ${ref('org_units', 's.school_id')}, ''
      from students s
      where s.deleted_at is null
        and not exists (select 1 from school_enrollments x where x.student_id = s.id and x.deleted_at is null)
      union all
      select 'homeroom-role-' || ${sid('x')}, '', ${stamp('x')}, ${sid('x')}, 'primary',
        case when exists (select 1 from user_roles ur join roles r on r.id = ur.role_id
                          where ur.user_id = x.user_id and ur.deleted_at is null
                            and r.key in ('principal','office_admin','network_admin'))
             then 'administrator' else 'teacher' end, '', '',
        coalesce((select ${sid('r')} from org_units r where r.id = x.school_id), ${ROOT}), ''
      from staff x where x.deleted_at is null
      union all
      select 'homeroom-role-' || ${sid('x')}, '', ${stamp('x')}, ${sid('x')}, 'primary', 'guardian', '', '',
        coalesce((select ${sid('o')} from student_guardians sg join students s on s.id = sg.student_id
                    join org_units o on o.id = s.school_id
                  where sg.guardian_id = x.id and sg.deleted_at is null and s.deleted_at is null
                  order by ${sid('s')} collate "C" limit 1), ${ROOT}), ''
      from guardians x where x.deleted_at is null`,
  },
  demographics: {
    header: [
      'sourcedId',
      'status',
      'dateLastModified',
      'birthDate',
      'sex',
      'americanIndianOrAlaskaNative',
      'asian',
      'blackOrAfricanAmerican',
      'nativeHawaiianOrOtherPacificIslander',
      'white',
      'demographicRaceTwoOrMoreRaces',
      'hispanicOrLatinoEthnicity',
      'countryOfBirthCode',
      'stateOfBirthAbbreviation',
      'cityOfBirth',
      'publicSchoolResidenceStatus',
    ],
    select: `select ${sid('x')}, '', ${stamp('x')}, ${date('x.date_of_birth')},
      case x.gender when 'male' then 'male' when 'female' then 'female' when 'nonbinary' then 'other' else '' end,
      '', '', '', '', '', '', '', '', '', '', ''
      from students x
      where x.deleted_at is null and (x.date_of_birth is not null or x.gender in ('male','female','nonbinary'))`,
  },
  enrollments: {
    header: [
      'sourcedId',
      'status',
      'dateLastModified',
      'classSourcedId',
      'schoolSourcedId',
      'userSourcedId',
      'role',
      'primary',
      'beginDate',
      'endDate',
    ],
    select: `
      select ${sid('x')}, '', ${stamp('x')}, ${sid('c')}, ${ref('org_units', 'c.school_id')}, ${sid('s')},
        'student', 'false', ${date('x.entry_date')}, ${date('x.exit_date')}
      from class_enrollments x
      join classes c on c.id = x.class_id and c.deleted_at is null
      join students s on s.id = x.student_id and s.deleted_at is null
      where x.deleted_at is null
      union all
      select ${sid('x')}, '', ${stamp('x')}, ${sid('c')}, ${ref('org_units', 'c.school_id')}, ${sid('s')},
        case x.role when 'aide' then 'proctor' else 'teacher' end, (x.role = 'primary')::text, '', ''
      from class_teachers x
      join classes c on c.id = x.class_id and c.deleted_at is null
      join staff s on s.id = x.staff_id and s.deleted_at is null
      where x.deleted_at is null`,
  },
  categories: {
    header: ['sourcedId', 'status', 'dateLastModified', 'title', 'weight'],
    select: `select distinct '${categorySourcedId('')}' || x.category, '', '', x.category, ''
      from assignments x where x.deleted_at is null`,
  },
  lineItems: {
    header: [
      'sourcedId',
      'status',
      'dateLastModified',
      'title',
      'description',
      'assignDate',
      'dueDate',
      'classSourcedId',
      'categorySourcedId',
      'gradingPeriodSourcedId',
      'resultValueMin',
      'resultValueMax',
    ],
    select: `select ${sid('x')}, '', ${stamp('x')}, x.title, '', ${date('x.assigned_date')}, ${date('x.due_date')},
      ${sid('c')}, '${categorySourcedId('')}' || x.category, '', '0', ${num('x.points_possible')}
      from assignments x join classes c on c.id = x.class_id and c.deleted_at is null
      where x.deleted_at is null`,
  },
  results: {
    header: [
      'sourcedId',
      'status',
      'dateLastModified',
      'lineItemSourcedId',
      'studentSourcedId',
      'scoreStatus',
      'score',
      'scoreDate',
      'comment',
    ],
    select: `select ${sid('x')}, '', ${stamp('x')}, ${sid('a')}, ${sid('s')},
      case when x.is_excused then 'exempt' when x.is_missing then 'not submitted'
           when x.points is null then 'submitted' else 'fully graded' end,
      ${num('x.points')}, ${date('coalesce(x.graded_at::date, a.due_date)')}, coalesce(x.comment, '')
      from scores x
      join assignments a on a.id = x.assignment_id and a.deleted_at is null
      join classes c on c.id = a.class_id and c.deleted_at is null
      join students s on s.id = x.student_id and s.deleted_at is null
      where x.deleted_at is null`,
  },
};

export interface ExportCounts {
  files: Partial<Record<FileKey, number>>;
}

/** Writes the tenant's bundle as a zip into `out`; resolves when the zip is complete. */
export async function exportOneRoster(
  tx: Tx<typeof TenantSchema>,
  out: Writable,
): Promise<ExportCounts> {
  const zip = new yazl.ZipFile();
  const done = new Promise<void>((resolve, reject) => {
    zip.outputStream.on('error', reject);
    out.on('error', reject);
    out.on('finish', resolve);
    out.on('close', resolve);
  });
  zip.outputStream.pipe(out);
  const mtime = new Date(Date.UTC(2000, 0, 1));
  const counts: ExportCounts = { files: {} };
  try {
    const manifest = [
      ['propertyName', 'value'],
      ['manifest.version', '1.0'],
      ['oneroster.version', '1.2'],
      ...[...FILE_KEYS, ...UNMAPPED_FILES]
        .sort()
        .map((k) => [
          `file.${k}`,
          (FILE_KEYS as readonly string[]).includes(k) ? 'bulk' : 'absent',
        ]),
      ['source.systemName', 'Homeroom'],
      ['source.systemCode', 'homeroom'],
    ];
    zip.addBuffer(Buffer.from(await toCsv(manifest)), 'manifest.csv', { mtime });
    for (const key of FILE_KEYS) {
      const file = FILES[key];
      const body = new PassThrough();
      zip.addReadStream(body, `${key}.csv`, { mtime });
      const csv = stringify({ record_delimiter: '\r\n' });
      csv.pipe(body);
      const write = async (record: string[]) => {
        if (!csv.write(record)) await once(csv, 'drain');
      };
      await write(file.header);
      const names = file.header.map((_, i) => `c${i}`);
      // A cursor in the export's transaction: the file's rows are computed and sorted once,
      // then fetched a page at a time.
      const cursor = `or_export_${key.toLowerCase()}`;
      await tx.execute(
        sql.raw(
          `declare ${cursor} no scroll cursor for select * from (${file.select}) as x(${names.join(', ')}) order by x.c0 collate "C"`,
        ),
      );
      let n = 0;
      for (;;) {
        const page: Record<string, string>[] = rowsOf<Record<string, string>>(
          await tx.execute(sql.raw(`fetch ${PAGE} from ${cursor}`)),
        );
        for (const row of page) await write(names.map((c) => row[c] ?? ''));
        n += page.length;
        if (page.length < PAGE) break;
      }
      await tx.execute(sql.raw(`close ${cursor}`));
      counts.files[key] = n;
      csv.end();
      await once(body, 'end').catch(() => undefined);
    }
  } finally {
    zip.end();
  }
  await done;
  return counts;
}

function toCsv(records: string[][]): Promise<string> {
  return new Promise((resolve, reject) =>
    stringify(records, { record_delimiter: '\r\n' }, (err, out) =>
      err ? reject(err) : resolve(out),
    ),
  );
}
