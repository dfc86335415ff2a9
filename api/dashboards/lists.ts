/**
 * The people behind the dashboards' figures (dashboards/README.md, "Lists behind the figures"): who is chronically
 * absent, failing a class, missing work, overdue on a balance, waiting on an ESA decision,
 * or a lead nobody has touched. Read from the tenant's branch — names never reach the
 * warehouse — with the definitions of the metrics (docs/metrics.md, analytics/metrics/*),
 * over a window of dates and limited to the caller's scope (a condition built by the route
 * with `rowScope`, on the `students`, `classes`, `invoices`, `leads` or `esa_applications`
 * table named as such in each query).
 */
import { sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import type { TenantSchema } from '../../db/schema/types.js';

export const LIST_KEYS = [
  'chronic-absence',
  'at-risk',
  'failing',
  'missing-work',
  'overdue',
  'stale-leads',
  'esa-pending',
] as const;
export type ListKey = (typeof LIST_KEYS)[number];

export const OVERDUE_BUCKETS = ['31-60', '61-90', '90+'] as const;
export type OverdueBucket = (typeof OVERDUE_BUCKETS)[number];

export interface ListInput {
  /** The caller's scope on the list's table (undefined: the whole tenant). */
  scope: SQL | undefined;
  schoolId?: string | undefined;
  gradeLevel?: string | undefined;
  /** The window, inclusive (YYYY-MM-DD); `to` is never after today. */
  from: string;
  to: string;
  /** Today in the tenant's zone (YYYY-MM-DD). */
  today: string;
  /** Leads and ESA lists: days without a touch / pending (≥ 1). */
  days: number;
  bucket: OverdueBucket;
  /** At most this many rows (the page); none for a download. */
  limit?: number | undefined;
}

/** One row: its cells as shown, the student it shows (access log) and its record page. */
export interface ListRow {
  cells: string[];
  studentId: string | null;
  href: string | null;
}

export interface ListDefinition {
  title: string;
  /** What the list holds, as the metric defines it. */
  definition: (input: Pick<ListInput, 'days' | 'bucket'>) => string;
  /** The permission the list is read with (its rows scoped by its holder's roles). */
  permission: string;
  columns: readonly string[];
  /** Which filters apply beside school: grade level, window, days, bucket. */
  filters: readonly ('grade' | 'window' | 'days' | 'bucket')[];
  run: (tx: Tx<TenantSchema>, input: ListInput) => Promise<ListRow[]>;
}

const pct = (n: number | null) => (n === null ? '—' : `${n.toFixed(1)}%`);
const dollars = (cents: number) =>
  `$${(cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const limitOf = (input: ListInput) => (input.limit ? sql`limit ${input.limit}` : sql``);
const and = (...parts: (SQL | undefined)[]): SQL => {
  const live = parts.filter((p): p is SQL => p !== undefined);
  return live.length ? sql.join(live, sql` and `) : sql`true`;
};
const name = (first: string, last: string, preferred: string | null) =>
  `${last}, ${preferred ?? first}`;
export const studentHref = (id: string) => `/dashboards/students/${id}`;
export const accountHref = (id: string) => `/dashboards/accounts/${id}`;

/**
 * Each student's membership days, marked days and absences in the window
 * (docs/metrics.md#attendance): a membership day is an instructional day of a school on
 * which the student has a school enrolment there (overlapping enrolments count it once);
 * its outcome is the student's whole-day record that date; absent and excused_absence are
 * absences. With a school, days at that school only; otherwise every school's.
 */
const attendanceSums = (input: ListInput) => sql`
  with days as (
    select distinct cd.school_id, cd.date from calendar_days cd
     where cd.deleted_at is null and cd.kind = 'instructional'
       and cd.date between ${input.from}::date and ${input.to}::date
       ${input.schoolId ? sql`and cd.school_id = ${input.schoolId}::uuid` : sql``}),
  member as (
    select distinct se.student_id, d.school_id, d.date from days d
      join school_enrollments se on se.school_id = d.school_id and se.deleted_at is null
       and se.entry_date <= d.date and (se.exit_date is null or se.exit_date >= d.date)),
  sums as (
    select m.student_id, count(*)::int as membership,
           count(*) filter (where r.status in ('present', 'tardy', 'early_departure',
                                               'absent', 'excused_absence'))::int as marked,
           count(*) filter (where r.status in ('absent', 'excused_absence'))::int as absent,
           count(*) filter (where r.status = 'excused_absence')::int as excused
      from member m
      left join attendance_records r on r.student_id = m.student_id and r.date = m.date
       and r.period is null and r.deleted_at is null
     group by m.student_id)`;

/** Chronic absence (≥ 10 %) or at risk (5 % up to 10 %), among students with ≥ 10 marked days. */
function absenceList(band: 'chronic' | 'at-risk'): ListDefinition['run'] {
  return async (tx, input) => {
    const rate =
      band === 'chronic'
        ? sql`s.absent * 10 >= s.marked`
        : sql`s.absent * 20 >= s.marked and s.absent * 10 < s.marked`;
    const rows = rowsOf<{
      id: string;
      first_name: string;
      last_name: string;
      preferred_name: string | null;
      student_number: string;
      grade_level: string;
      school: string | null;
      membership: number;
      marked: number;
      absent: number;
      excused: number;
    }>(
      await tx.execute(sql`${attendanceSums(input)}
        select students.id::text as id, students.first_name, students.last_name,
               students.preferred_name, students.student_number, students.grade_level,
               o.name as school, s.membership, s.marked, s.absent, s.excused
          from sums s
          join students on students.id = s.student_id and students.deleted_at is null
          left join org_units o on o.id = students.school_id
         where s.marked >= 10 and ${rate}
           and ${and(
             input.gradeLevel ? sql`students.grade_level = ${input.gradeLevel}` : undefined,
             input.scope,
           )}
         order by s.absent::float8 / s.marked desc, students.last_name, students.first_name,
                  students.id
         ${limitOf(input)}`),
    );
    return rows.map((r) => ({
      studentId: r.id,
      href: studentHref(r.id),
      cells: [
        name(r.first_name, r.last_name, r.preferred_name),
        r.student_number,
        r.grade_level,
        r.school ?? '—',
        String(r.absent),
        String(r.excused),
        String(r.marked),
        pct((r.absent * 100) / r.marked),
      ],
    }));
  };
}

/**
 * Per (student, class): the current percentage and missing scores over the class's
 * assignments due in the window (docs/metrics.md#grades) — excused scores left out, a
 * missing score 0 of its points possible, an ungraded one left out; a class enrolment
 * dropped or withdrawn by the window's end is in neither.
 */
export const classGradesSql = (
  input: Pick<ListInput, 'from' | 'to' | 'schoolId'> & { studentId?: string },
) => sql`
  with pairs as (
    select s.student_id, a.class_id,
           sum(a.weight * case when s.is_missing then 0 else s.points end)
             filter (where not s.is_excused and (s.is_missing or s.points is not null)) as earned,
           sum(a.weight * a.points_possible)
             filter (where not s.is_excused and (s.is_missing or s.points is not null)) as possible,
           count(*) filter (where not s.is_excused)::int as due,
           count(*) filter (where s.is_missing and not s.is_excused)::int as missing
      from scores s
      join assignments a on a.id = s.assignment_id and a.deleted_at is null
      join classes c on c.id = a.class_id and c.deleted_at is null
     where s.deleted_at is null and a.due_date between ${input.from}::date and ${input.to}::date
       ${input.schoolId ? sql`and c.school_id = ${input.schoolId}::uuid` : sql``}
       ${input.studentId ? sql`and s.student_id = ${input.studentId}::uuid` : sql``}
       and not exists (
         select 1 from class_enrollments ce
          where ce.deleted_at is null and ce.student_id = s.student_id and ce.class_id = a.class_id
            and ce.status in ('dropped', 'withdrawn')
            and coalesce(ce.exit_date, ${input.to}::date) <= ${input.to}::date)
     group by s.student_id, a.class_id),
  graded as (
    select p.*, case when p.possible > 0 then (p.earned * 100 / p.possible)::float8 end as percent
      from pairs p)`;

function gradesList(kind: 'failing' | 'missing'): ListDefinition['run'] {
  return async (tx, input) => {
    const which = kind === 'failing' ? sql`g.percent < 60` : sql`g.missing > 0`;
    const rows = rowsOf<{
      id: string;
      first_name: string;
      last_name: string;
      preferred_name: string | null;
      student_number: string;
      grade_level: string;
      class_name: string;
      school: string | null;
      percent: number | null;
      missing: number;
      due: number;
    }>(
      await tx.execute(sql`${classGradesSql(input)}
        select students.id::text as id, students.first_name, students.last_name,
               students.preferred_name, students.student_number, students.grade_level,
               classes.name as class_name, o.name as school, g.percent, g.missing, g.due
          from graded g
          join students on students.id = g.student_id and students.deleted_at is null
          join classes on classes.id = g.class_id
          left join org_units o on o.id = classes.school_id
         where ${which}
           and ${and(
             input.gradeLevel ? sql`students.grade_level = ${input.gradeLevel}` : undefined,
             input.scope,
           )}
         order by ${kind === 'failing' ? sql`g.percent` : sql`g.missing desc`},
                  students.last_name, students.first_name, students.id, classes.name, classes.id
         ${limitOf(input)}`),
    );
    return rows.map((r) => ({
      studentId: r.id,
      href: studentHref(r.id),
      cells: [
        name(r.first_name, r.last_name, r.preferred_name),
        r.student_number,
        r.grade_level,
        r.class_name,
        r.school ?? '—',
        ...(kind === 'failing'
          ? [pct(r.percent === null ? null : Number(r.percent)), String(r.missing)]
          : [String(r.missing), String(r.due), pct(r.percent === null ? null : Number(r.percent))]),
      ],
    }));
  };
}

const BUCKET_DAYS: Record<OverdueBucket, [number, number | null]> = {
  '31-60': [31, 60],
  '61-90': [61, 90],
  '90+': [91, null],
};

/**
 * Families with invoices overdue by the bucket's days today (docs/metrics.md#finance, AR
 * aging): open or paid invoices issued by today with a positive balance, days past due =
 * today − due date; uncollectible, draft and void invoices are not receivables.
 */
const overdue: ListDefinition['run'] = async (tx, input) => {
  const [low, high] = BUCKET_DAYS[input.bucket];
  const late = sql`(${input.today}::date - invoices.due_date)`;
  const rows = rowsOf<{
    id: string;
    account_number: string;
    name: string;
    school: string | null;
    invoices: number;
    balance: number;
    oldest: number;
  }>(
    await tx.execute(sql`
      select ba.id::text as id, ba.account_number, ba.name, o.name as school,
             count(*)::int as invoices, sum(invoices.balance_cents)::bigint as balance,
             max(${late})::int as oldest
        from invoices
        join billing_accounts ba on ba.id = invoices.account_id and ba.deleted_at is null
        left join org_units o on o.id = coalesce(invoices.school_id, ba.school_id)
       where invoices.deleted_at is null and invoices.status in ('open', 'paid')
         and invoices.balance_cents > 0 and invoices.issue_date <= ${input.today}::date
         and invoices.due_date is not null and ${late} >= ${low}
         ${high === null ? sql`` : sql`and ${late} <= ${high}`}
         and ${and(
           input.schoolId
             ? sql`coalesce(invoices.school_id, ba.school_id) = ${input.schoolId}::uuid`
             : undefined,
           input.scope,
         )}
       group by ba.id, ba.account_number, ba.name, o.name
       order by sum(invoices.balance_cents) desc, ba.name, ba.id
       ${limitOf(input)}`),
  );
  return rows.map((r) => ({
    studentId: null,
    href: accountHref(r.id),
    cells: [
      r.name,
      r.account_number,
      r.school ?? '—',
      String(r.invoices),
      dollars(Number(r.balance)),
      String(r.oldest),
    ],
  }));
};

/**
 * Open leads (neither at a terminal stage nor at the funnel's last) whose last touch — a
 * touchpoint, a stage move or the first touch — is more than `days` days ago.
 */
const staleLeads: ListDefinition['run'] = async (tx, input) => {
  const rows = rowsOf<{
    id: string;
    guardian_name: string;
    email: string;
    phone: string | null;
    stage: string;
    school: string | null;
    last_touch: string;
    idle: number;
  }>(
    await tx.execute(sql`
      with last_stage as (
        select key from funnel_stages where deleted_at is null and not is_terminal
         order by position desc limit 1),
      touched as (
        select leads.id, greatest(leads.first_touch_at,
                 (select max(tp.occurred_at) from lead_touchpoints tp
                   where tp.lead_id = leads.id),
                 (select max(h.changed_at) from lead_stage_history h
                   where h.lead_id = leads.id)) as last_touch
          from leads
         where leads.deleted_at is null
           and leads.stage not in (select key from funnel_stages
                                    where deleted_at is null and is_terminal)
           and leads.stage not in (select key from last_stage)
           and ${and(
             input.schoolId ? sql`leads.school_id = ${input.schoolId}::uuid` : undefined,
             input.gradeLevel ? sql`leads.grade_interest = ${input.gradeLevel}` : undefined,
             input.scope,
           )})
      select leads.id::text as id, leads.guardian_name, leads.email, leads.phone,
             coalesce(fs.name, leads.stage) as stage, o.name as school,
             to_char(t.last_touch at time zone 'UTC', 'YYYY-MM-DD') as last_touch,
             ${input.today}::date - (t.last_touch at time zone 'UTC')::date as idle
        from touched t
        join leads on leads.id = t.id
        left join funnel_stages fs on fs.key = leads.stage and fs.deleted_at is null
        left join org_units o on o.id = leads.school_id
       where ${input.today}::date - (t.last_touch at time zone 'UTC')::date > ${input.days}
       order by t.last_touch, leads.guardian_name, leads.id
       ${limitOf(input)}`),
  );
  return rows.map((r) => ({
    studentId: null,
    href: null,
    cells: [
      r.guardian_name,
      r.email,
      r.phone ?? '—',
      r.stage,
      r.school ?? '—',
      r.last_touch,
      String(r.idle),
    ],
  }));
};

/** Applications submitted or under review whose submission is more than `days` days ago. */
const esaPending: ListDefinition['run'] = async (tx, input) => {
  const rows = rowsOf<{
    id: string;
    first_name: string;
    last_name: string;
    preferred_name: string | null;
    student_number: string;
    grade_level: string;
    program: string;
    status: string;
    school: string | null;
    submitted: string;
    waiting: number;
    requested: number;
  }>(
    await tx.execute(sql`
      select students.id::text as id, students.first_name, students.last_name,
             students.preferred_name, students.student_number, students.grade_level,
             p.name as program, esa_applications.status, o.name as school,
             to_char(esa_applications.submitted_at at time zone 'UTC', 'YYYY-MM-DD') as submitted,
             ${input.today}::date - (esa_applications.submitted_at at time zone 'UTC')::date as waiting,
             esa_applications.amount_requested_cents as requested
        from esa_applications
        join students on students.id = esa_applications.student_id and students.deleted_at is null
        join esa_programs p on p.id = esa_applications.program_id
        left join org_units o on o.id = coalesce(esa_applications.school_id, students.school_id)
       where esa_applications.deleted_at is null
         and esa_applications.status in ('submitted', 'under_review')
         and esa_applications.submitted_at is not null
         and ${input.today}::date - (esa_applications.submitted_at at time zone 'UTC')::date > ${input.days}
         and ${and(
           input.schoolId
             ? sql`coalesce(esa_applications.school_id, students.school_id) = ${input.schoolId}::uuid`
             : undefined,
           input.gradeLevel ? sql`students.grade_level = ${input.gradeLevel}` : undefined,
           input.scope,
         )}
       order by esa_applications.submitted_at, students.last_name, esa_applications.id
       ${limitOf(input)}`),
  );
  return rows.map((r) => ({
    studentId: r.id,
    href: studentHref(r.id),
    cells: [
      name(r.first_name, r.last_name, r.preferred_name),
      r.student_number,
      r.grade_level,
      r.program,
      r.status === 'under_review' ? 'under review' : r.status,
      r.school ?? '—',
      r.submitted,
      String(r.waiting),
      dollars(r.requested),
    ],
  }));
};

const STUDENT = ['Student', 'Student number', 'Grade'] as const;

export const LISTS: Record<ListKey, ListDefinition> = {
  'chronic-absence': {
    title: 'Chronically absent students',
    definition: () =>
      'Students with at least 10 marked membership days in the window whose absences (excused or not) are 10% or more of those days.',
    permission: 'attendance.read',
    columns: [...STUDENT, 'School', 'Absences', 'Excused', 'Marked days', 'Absent'],
    filters: ['grade', 'window'],
    run: absenceList('chronic'),
  },
  'at-risk': {
    title: 'Students at risk of chronic absence',
    definition: () =>
      'Students with at least 10 marked membership days in the window whose absences are at least 5% and under 10% of those days.',
    permission: 'attendance.read',
    columns: [...STUDENT, 'School', 'Absences', 'Excused', 'Marked days', 'Absent'],
    filters: ['grade', 'window'],
    run: absenceList('at-risk'),
  },
  failing: {
    title: 'Students failing a class',
    definition: () =>
      'Each class in which a student’s current percentage over the assignments due in the window is below 60%. Dropped and withdrawn classes are left out.',
    permission: 'grades.read',
    columns: [...STUDENT, 'Class', 'School', 'Percentage', 'Missing'],
    filters: ['grade', 'window'],
    run: gradesList('failing'),
  },
  'missing-work': {
    title: 'Students with missing work',
    definition: () =>
      'Each class in which a student has at least one missing score on an assignment due in the window (excused scores are not due).',
    permission: 'grades.read',
    columns: [...STUDENT, 'Class', 'School', 'Missing', 'Due', 'Percentage'],
    filters: ['grade', 'window'],
    run: gradesList('missing'),
  },
  overdue: {
    title: 'Families with overdue balances',
    definition: ({ bucket }) =>
      `Families with an open invoice ${bucket === '90+' ? 'more than 90' : bucket.replace('-', '–')} days past due today, with the balance of those invoices.`,
    permission: 'finance.read',
    columns: ['Family', 'Account', 'School', 'Invoices', 'Balance', 'Days past due (oldest)'],
    filters: ['bucket'],
    run: overdue,
  },
  'stale-leads': {
    title: 'Leads with no recent touch',
    definition: ({ days }) =>
      `Open leads (not lost, not yet enrolled) whose last touch — a contact, a stage move or the inquiry — was more than ${days} days ago.`,
    permission: 'leads.read',
    columns: ['Family', 'Email', 'Phone', 'Stage', 'School', 'Last touch', 'Days since'],
    filters: ['grade', 'days'],
    run: staleLeads,
  },
  'esa-pending': {
    title: 'ESA applications awaiting a decision',
    definition: ({ days }) =>
      `Applications submitted or under review whose submission was more than ${days} days ago.`,
    permission: 'esa.read',
    columns: [
      ...STUDENT,
      'Programme',
      'Status',
      'School',
      'Submitted',
      'Days waiting',
      'Requested',
    ],
    filters: ['grade', 'days'],
    run: esaPending,
  },
};

/** The default `days` of the leads and ESA lists. */
export const DEFAULT_DAYS: Partial<Record<ListKey, number>> = {
  'stale-leads': 14,
  'esa-pending': 30,
};
