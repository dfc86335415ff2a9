/**
 * The PostgreSQL baseline of the refresh target (BENCHMARKS.md): materialized views that compute,
 * from the branch tables, the same figures the warehouse publishes (analytics/metrics/*.ts), for
 * every tenant in the database, the tenant scope and each school scope, and the `school_year`,
 * `term` and `last_30_days` periods, as of `current_date`.
 *
 * The session's `TimeZone` must be the tenant's zone when the views are created or
 * refreshed: `current_date` is then the tenant's today, and the tenant's zone is the one
 * for facts with no school. A fact's date is local to its school's zone (`unit_zone`: the
 * unit's own, else its nearest ancestor's), as the metrics take it (`localDate`);
 * durations are between instants (`timestamptz`), so daylight saving shifts nothing.
 *
 * One view per metric family, in long form: a row per (tenant, scope, period, breakdown,
 * key) with the figures of that breakdown (`total`, by grade, by school, by day, by class,
 * by stage, by month, …); columns that do not apply to a breakdown are null. Each view
 * computes its expensive intermediate (membership days, score sums, …) once and derives
 * every breakdown from it. Each is self-contained (scopes and windows are recomputed in
 * every view: a few small tables), so the views can be refreshed in any order.
 *
 * Mirrored exactly, so that the figures are equal and not just close:
 * - soft-deleted rows are left out of every table (`deleted_at is null`), as the extraction
 *   does; categorical text used as a group key goes through the extraction's `code()`;
 * - the window rules of `MetricContext.prepare()`; facts are summed per date segment (the
 *   calendar cut at every window boundary) before they meet the windows, like the
 *   warehouse, so a fact row is not multiplied by every scope and period it belongs to;
 * - ratios, GPA, the grade average and median days are unrounded in double precision, as
 *   the warehouse publishes them (rounding happens once, at display); the grade average is
 *   the warehouse's exact one (percentages fixed to 8 decimals, summed as integers).
 *
 * Written to plan well whatever the row estimates (PostgreSQL has no statistics for CTE
 * results, so its estimates collapse after a few joins): the large joins are between base
 * tables (with statistics) or between a large relation and a small one (scopes, windows,
 * bands); the parts of a view are combined by `union all` + `group by` rather than by joins
 * between large intermediate results, so a misestimate cannot turn into a rescanning
 * nested loop; per-lead history lookups are index probes.
 */
import type pg from 'pg';
import { code } from '../analytics/tables.js';
import { SCHOOL_KINDS } from '../db/schema/org.js';

/** The tenant scope's `scope_id` in the views (a unique index needs a non-null key). */
const ZERO = `'00000000-0000-0000-0000-000000000000'::uuid`;
const ZERO_ID = '00000000-0000-0000-0000-000000000000';
const KINDS = SCHOOL_KINDS.map((k) => `'${k}'`).join(', ');

/** The key of every view: a unique index on it lets `REFRESH … CONCURRENTLY` run. */
const KEY = 'tenant_id, scope_kind, scope_id, period, breakdown, key';

/**
 * JavaScript's `ratio(a, b)` of analytics/metrics/context.ts: a ÷ b in double precision,
 * unrounded (figures are rounded once, at display), null when b is 0.
 */
const ratio = (a: string, b: string) =>
  `case when coalesce(${b}, 0) <> 0 then (${a})::float8 / (${b})::float8 end`;

/** Zone of a fact joined to `unit_zone` as `alias` (the tenant's when it has none). */
const zoneOf = (alias: string) => `coalesce(${alias}.zone, current_setting('TimeZone'))`;
/** `unit_zone` joined as `alias` to the fact's tenant and unit. */
const joinZone = (alias: string, tenant: string, unit: string) =>
  `left join unit_zone ${alias} on ${alias}.tenant_id = ${tenant} and ${alias}.unit_id = ${unit}`;

/** An interval in days, as DuckDB's `epoch(interval) / 86400.0`. */
const days = (interval: string) => `extract(epoch from ${interval})::float8 / 86400`;
/** The median (interpolated, as DuckDB's `median`). */
const median = (x: string) => `percentile_cont(0.5) within group (order by ${x})`;

/**
 * Scopes and windows (MetricContext.prepare()), per tenant:
 * - `unit_schools`: each live org unit and the live schools it is, or is under;
 * - `windows`: (tenant, scope_kind, scope_id, period) → [start_date, end_date], source and
 *   session, for the tenant scope (scope_id ZERO) and every school.
 */
const SCOPES = `
  tenants as (select distinct tenant_id from org_units),
  anc (tenant_id, unit_id, ancestor_id, depth) as (
    select tenant_id, id, id, 0 from org_units where deleted_at is null
    union all
    select a.tenant_id, a.unit_id, o.parent_id, a.depth + 1
      from anc a
      join org_units o on o.tenant_id = a.tenant_id and o.id = a.ancestor_id and o.deleted_at is null
     where o.parent_id is not null and a.depth < 16),
  ancestors as (
    select tenant_id, unit_id, ancestor_id, min(depth) as depth from anc group by 1, 2, 3),
  -- Each unit's zone: its own, else its nearest ancestor's (names the server knows).
  unit_zone as (
    select distinct on (a.tenant_id, a.unit_id) a.tenant_id, a.unit_id, o.timezone as zone
      from ancestors a
      join org_units o on o.tenant_id = a.tenant_id and o.id = a.ancestor_id and o.deleted_at is null
     where o.timezone in (select name from pg_timezone_names)
     order by a.tenant_id, a.unit_id, a.depth),
  schools as (
    select tenant_id, id as school_id from org_units
     where deleted_at is null and kind in (${KINDS})),
  unit_schools as (
    select a.tenant_id, a.unit_id, a.ancestor_id as school_id
      from ancestors a
      join schools s on s.tenant_id = a.tenant_id and s.school_id = a.ancestor_id),
  sessions as (
    select tenant_id, id, org_unit_id, kind, start_date, end_date from academic_sessions
     where deleted_at is null and kind in ('school_year', 'term') and start_date <= current_date),
  -- A school's session: its own or its nearest ancestor's; the one containing today first,
  -- else the most recent that started.
  school_pick as (
    select distinct on (s.tenant_id, s.school_id, se.kind)
           s.tenant_id, s.school_id, se.kind, se.id, se.start_date, se.end_date
      from schools s
      join ancestors a on a.tenant_id = s.tenant_id and a.unit_id = s.school_id
      join sessions se on se.tenant_id = a.tenant_id and se.org_unit_id = a.ancestor_id
     order by s.tenant_id, s.school_id, se.kind, se.end_date >= current_date desc, a.depth,
              se.start_date desc, se.id),
  -- The tenant's: the span of every session containing today, else the latest that started.
  tenant_pick as (
    select tenant_id, kind,
           case when bool_or(end_date >= current_date)
                then min(start_date) filter (where end_date >= current_date)
                else max(start_date) end as start_date,
           case when bool_or(end_date >= current_date)
                then max(end_date) filter (where end_date >= current_date)
                else (array_agg(end_date order by start_date desc, id desc))[1] end as end_date,
           case when bool_or(end_date >= current_date)
                then case when count(*) filter (where end_date >= current_date) = 1
                          then (array_agg(id) filter (where end_date >= current_date))[1] end
                else (array_agg(id order by start_date desc, id desc))[1] end as session_id
      from sessions group by tenant_id, kind),
  scopes as (
    select tenant_id, 'tenant'::text as scope_kind, ${ZERO} as scope_id from tenants
    union all
    select tenant_id, 'school', school_id from schools),
  years as (
    select sc.tenant_id, sc.scope_kind, sc.scope_id,
           coalesce(sp.start_date, tp.start_date, current_date - 364) as start_date,
           least(coalesce(sp.end_date, tp.end_date, current_date), current_date) as end_date,
           case when coalesce(sp.start_date, tp.start_date) is null then 'fallback' else 'session' end as source,
           coalesce(sp.id, tp.session_id) as session_id
      from scopes sc
      left join school_pick sp on sc.scope_kind = 'school' and sp.tenant_id = sc.tenant_id
            and sp.school_id = sc.scope_id and sp.kind = 'school_year'
      left join tenant_pick tp on tp.tenant_id = sc.tenant_id and tp.kind = 'school_year'),
  terms as (
    select sc.tenant_id, sc.scope_kind, sc.scope_id,
           coalesce(sp.start_date, tp.start_date) as start_date,
           least(coalesce(sp.end_date, tp.end_date), current_date) as end_date,
           coalesce(sp.id, tp.session_id) as session_id
      from scopes sc
      left join school_pick sp on sc.scope_kind = 'school' and sp.tenant_id = sc.tenant_id
            and sp.school_id = sc.scope_id and sp.kind = 'term'
      left join tenant_pick tp on tp.tenant_id = sc.tenant_id and tp.kind = 'term'),
  windows as (
    select tenant_id, scope_kind, scope_id, 'school_year'::text as period, start_date, end_date,
           source, session_id
      from years
    union all
    select t.tenant_id, t.scope_kind, t.scope_id, 'term', coalesce(t.start_date, y.start_date),
           coalesce(t.end_date, y.end_date),
           case when t.start_date is null then 'fallback' else 'session' end,
           case when t.start_date is null then y.session_id else t.session_id end
      from terms t join years y using (tenant_id, scope_kind, scope_id)
    union all
    select tenant_id, scope_kind, scope_id, 'last_30_days', current_date - 29, current_date,
           'trailing', null::uuid
      from scopes)`;

/**
 * Date segments: the window boundaries cut the calendar into segments that lie wholly
 * inside or outside every window. The boundaries of all tenants are used (windows are
 * mostly the same dates), so a date's segment is found without a per-tenant join:
 * `segOf(date)` is the first day of its segment. `FIRST_DAY`: the earliest window start,
 * a constant lower bound for scans of dated facts.
 */
const SEGMENTS = `
  bounds as (
    select array_agg(b order by b) as bounds from (
      select start_date as b from windows union select end_date + 1 from windows) b)`;
const BOUNDS = `(select bounds from bounds)`;
const FIRST_DAY = `(${BOUNDS})[1]`;
const segOf = (date: string) => `(${BOUNDS})[width_bucket(${date}, ${BOUNDS})]`;

/**
 * `rel`'s rows (with `tenant_id` and a unit column) once for the tenant scope and once for
 * each school scope covering the unit.
 */
const scoped = (rel: string, unit: string) => `(
      select f.*, 'tenant'::text as scope_kind, ${ZERO} as scope_id from ${rel} f
      union all
      select f.*, 'school'::text, us.school_id from ${rel} f
        join unit_schools us on us.tenant_id = f.tenant_id and us.unit_id = f.${unit})`;

/** Joins scoped rows `x` to the windows (`w`) of their scope that contain `date`. */
const inWindow = (date: string) => `join windows w on w.tenant_id = x.tenant_id
       and w.scope_kind = x.scope_kind and w.scope_id = x.scope_id
       and ${date} between w.start_date and w.end_date`;

const BASE = `tenant_id, scope_kind, scope_id, period`;
const BASE_W = `w.tenant_id, w.scope_kind, w.scope_id, w.period`;

type Column = [name: string, type: string];
const KEY_COLUMNS: Column[] = [
  ['tenant_id', 'uuid'],
  ['scope_kind', 'text'],
  ['scope_id', 'uuid'],
  ['period', 'text'],
  ['breakdown', 'text'],
  ['key', 'text'],
];
const KEY_NAMES = KEY_COLUMNS.map(([n]) => n);
const WINDOW_COLUMNS: Column[] = [
  ['window_start', 'date'],
  ['window_end', 'date'],
  ['window_source', 'text'],
  ['session_id', 'uuid'],
];

interface Part {
  /** Column → expression; columns not given are null. */
  values: Record<string, string>;
  /** The FROM (and WHERE) of the part. */
  from: string;
}

/**
 * Combines the parts of a view's rows: a `union all` of parts, each giving the key and some
 * of `columns`, grouped by the key, each column the `max` of its parts (`custom`: other
 * outputs, computed from the parts' columns). Rows are thus merged without joins between
 * the parts.
 */
function merge(
  columns: Column[],
  parts: Part[],
  custom: { inputs?: string[]; outputs?: Record<string, string> } = {},
): string {
  const names = new Set([...KEY_NAMES, ...columns.map(([n]) => n)]);
  const branches = parts.map((p) => {
    const unknown = Object.keys(p.values).filter((k) => !names.has(k));
    if (unknown.length) throw new Error(`unknown view columns: ${unknown.join(', ')}`);
    const list = [
      ...KEY_COLUMNS.map(([n, t]) => `(${p.values[n]})::${t} as ${n}`),
      // uuid has no max(): carried as text.
      ...columns.map(
        ([n, t]) => `(${p.values[n] ?? 'null'})::${t === 'uuid' ? 'text' : t} as ${n}`,
      ),
    ];
    return `select ${list.join(',\n           ')}\n      ${p.from}`;
  });
  const outputs = columns
    .filter(([n]) => !custom.inputs?.includes(n))
    .map(([n, t]) => `max(${n})${t === 'uuid' ? '::uuid' : ''} as ${n}`);
  for (const [n, expr] of Object.entries(custom.outputs ?? {})) outputs.push(`${expr} as ${n}`);
  return `select ${KEY_NAMES.join(', ')}, ${outputs.join(',\n         ')}
      from (${branches.join('\n      union all\n      ')}) p
     group by ${KEY_NAMES.join(', ')}`;
}

const keyOf = (alias: string, breakdown: string, key: string) => ({
  tenant_id: `${alias}.tenant_id`,
  scope_kind: `${alias}.scope_kind`,
  scope_id: `${alias}.scope_id`,
  period: `${alias}.period`,
  breakdown,
  key,
});
const windowPart: Part = {
  values: {
    ...keyOf('w', `'total'`, `''`),
    window_start: 'w.start_date',
    window_end: 'w.end_date',
    window_source: 'w.source',
    session_id: 'w.session_id',
  },
  from: 'from windows w',
};
const ymd = (d: string) => `to_char(${d}, 'YYYY-MM-DD')`;
const WINDOW_SELECT = 'window_start, window_end, window_source, session_id';
/** A figure of the breakdowns it applies to (0 when no part gave it), null elsewhere. */
const fig = (column: string, breakdowns: string[], alias = column) =>
  `case when breakdown in (${breakdowns.map((b) => `'${b}'`).join(', ')})
        then coalesce(${column}, 0) end as ${alias}`;

// ---------------------------------------------------------------- attendance

const ATTENDANCE_FIGURES: Column[] = [
  ['students', 'int'],
  ['membership_days', 'int'],
  ['present_days', 'int'],
  ['absent_days', 'int'],
  ['excused_absence_days', 'int'],
  ['unmarked_days', 'int'],
  ['marked_days', 'int'],
  ['ada_percent', 'float8'],
  ['completeness_percent', 'float8'],
  ['chronic_eligible', 'int'],
  ['chronically_absent', 'int'],
  ['chronic_absence_rate', 'float8'],
];
/** Figures computed from the others in the final select. */
const ATTENDANCE_DERIVED = new Set([
  'marked_days',
  'ada_percent',
  'completeness_percent',
  'chronic_absence_rate',
]);
const MISSING_LIST_LIMIT = 400;

const STUDENT_FIGURES = `count(*) as students, sum(membership) as membership_days,
           sum(present) as present_days, sum(absent) as absent_days,
           sum(excused) as excused_absence_days, sum(unmarked) as unmarked_days,
           count(*) filter (where membership - unmarked >= 10) as chronic_eligible,
           count(*) filter (where membership - unmarked >= 10
                              and absent * 10 >= membership - unmarked) as chronically_absent`;

const OUTCOMES = `count(*) as membership,
           count(*) filter (where status in ('present', 'tardy', 'early_departure')) as present,
           count(*) filter (where status in ('absent', 'excused_absence')) as absent,
           count(*) filter (where status = 'excused_absence') as excused,
           count(*) filter (where status is null or status not in
             ('present', 'tardy', 'early_departure', 'absent', 'excused_absence')) as unmarked`;

const studentValues = (f: string) => ({
  students: `${f}.students`,
  membership_days: `${f}.membership_days`,
  present_days: `${f}.present_days`,
  absent_days: `${f}.absent_days`,
  excused_absence_days: `${f}.excused_absence_days`,
  unmarked_days: `${f}.unmarked_days`,
  chronic_eligible: `${f}.chronic_eligible`,
  chronically_absent: `${f}.chronically_absent`,
});
const dayValues = (f: string) => ({
  membership_days: `${f}.membership_days`,
  present_days: `${f}.present_days`,
  absent_days: `${f}.absent_days`,
  excused_absence_days: `${f}.excused_absence_days`,
  unmarked_days: `${f}.unmarked_days`,
});

/**
 * Attendance (analytics/metrics/attendance.ts). Breakdowns: `total` (window, figures,
 * completeness), `grade`, `school` (figures and completeness), `day` (the daily series),
 * `missing` (the oldest school days without attendance, `key` = date and school, ranked).
 */
const MARKED = '(membership_days - coalesce(unmarked_days, 0))';
const attendanceSql = `
  with recursive ${SCOPES}, ${SEGMENTS},
  -- Overlapping enrolments of a student at a school merged into spans (gaps and islands);
  -- a span's grade is that of its latest enrolment.
  enrolments as (
    select tenant_id, student_id, school_id, ${code('grade_level')} as grade_level,
           entry_date as s, coalesce(exit_date, 'infinity'::date) as e
      from school_enrollments se
     where deleted_at is null and entry_date <= current_date
       -- A deleted student is in no figure.
       and exists (select 1 from students st where st.tenant_id = se.tenant_id
                    and st.id = se.student_id and st.deleted_at is null)),
  ordered as (
    select en.*, max(e) over (partition by tenant_id, student_id, school_id order by s, e
                              rows between unbounded preceding and 1 preceding) as reach
      from enrolments en),
  islands as (
    select o.*, sum(case when reach is null or s > reach then 1 else 0 end)
                  over (partition by tenant_id, student_id, school_id order by s, e) as island
      from ordered o),
  spans as (
    select tenant_id, student_id, school_id, min(s) as s, max(e) as e,
           (array_agg(grade_level order by s desc))[1] as grade_level
      from islands group by tenant_id, student_id, school_id, island),
  -- Membership days (instructional days a span covers) with the day's daily record, if any;
  -- summed per student, school and segment, and per school, day and grade, in one pass.
  sums as (
    select tenant_id, student_id, school_id, seg, date, grade_level,
           grouping(student_id) = 0 as per_student, ${OUTCOMES},
           max(date) as last_day,
           (array_agg(grade_level order by date desc))[1] as latest_grade
      from (select sp.tenant_id, sp.student_id, sp.school_id, cd.date, ${segOf('cd.date')} as seg,
                   sp.grade_level, r.status
              from spans sp
              -- Each span's school days: a range scan of calendar_days_school_date_key (the
              -- planner cannot estimate a range join against spans; offset 0 keeps it a
              -- per-span lookup).
              cross join lateral (
                select cd.date from calendar_days cd
                 where cd.tenant_id = sp.tenant_id and cd.school_id = sp.school_id
                   and cd.date between greatest(sp.s, ${FIRST_DAY}) and least(sp.e, current_date)
                   and cd.kind = 'instructional' and cd.deleted_at is null
                offset 0) cd
              -- Whichever school filed it: a record belongs to the membership day's school.
              left join attendance_records r on r.tenant_id = sp.tenant_id
               and r.student_id = sp.student_id
               and r.date = cd.date and r.period is null and r.deleted_at is null) member_days
     group by grouping sets ((tenant_id, student_id, school_id, seg),
                             (tenant_id, school_id, date, grade_level))),
  -- Per scope, period, student and school; the grade is that of the latest day.
  student_school as (
    select ${BASE_W}, x.student_id, x.school_id,
           sum(x.membership) as membership, sum(x.present) as present, sum(x.absent) as absent,
           sum(x.excused) as excused, sum(x.unmarked) as unmarked, max(x.last_day) as last_day,
           (array_agg(x.latest_grade order by x.last_day desc))[1] as grade_level
      from ${scoped('(select * from sums where per_student)', 'school_id')} x
      ${inWindow('x.seg')}
     group by ${BASE_W}, x.student_id, x.school_id),
  student_figures as (
    select ${BASE}, grade_level, grouping(grade_level) = 0 as by_grade, ${STUDENT_FIGURES}
      from (select ${BASE}, student_id,
                   sum(membership) as membership, sum(present) as present, sum(absent) as absent,
                   sum(excused) as excused, sum(unmarked) as unmarked,
                   (array_agg(grade_level order by last_day desc))[1] as grade_level
              from student_school group by ${BASE}, student_id) per_student
     group by grouping sets ((${BASE}), (${BASE}, grade_level))),
  school_figures as (
    select ${BASE}, school_id, ${STUDENT_FIGURES}
      from student_school group by ${BASE}, school_id),
  -- Day figures by the grade of each membership day, and the daily series.
  day_figures as (
    select ${BASE_W}, x.date, x.grade_level, grouping(x.date) = 0 as by_day,
           sum(x.membership) as membership_days, sum(x.present) as present_days,
           sum(x.absent) as absent_days, sum(x.excused) as excused_absence_days,
           sum(x.unmarked) as unmarked_days
      from ${scoped('(select * from sums where not per_student)', 'school_id')} x
      ${inWindow('x.date')}
     group by grouping sets ((${BASE_W}, x.date), (${BASE_W}, x.grade_level))),
  -- Completeness: instructional days on which the school recorded no attendance at all.
  taken as (
    select cd.tenant_id, cd.school_id, cd.date,
           exists (select 1 from attendance_records r
                    where r.tenant_id = cd.tenant_id and r.school_id = cd.school_id
                      and r.date = cd.date and r.deleted_at is null
                      and exists (select 1 from students st where st.tenant_id = r.tenant_id
                                   and st.id = r.student_id and st.deleted_at is null)) as taken
      from calendar_days cd
     where cd.deleted_at is null and cd.kind = 'instructional'
       and cd.date between ${FIRST_DAY} and current_date),
  school_days as (
    select ${BASE_W}, x.school_id, x.date, not x.taken as missing
      from ${scoped('taken', 'school_id')} x
      ${inWindow('x.date')}),
  completeness as (
    select ${BASE}, school_id, grouping(school_id) = 0 as by_school,
           count(*) as instructional_days, count(*) filter (where missing) as days_without_attendance
      from school_days
     group by grouping sets ((${BASE}), (${BASE}, school_id))),
  merged as (
    ${merge(
      [
        ...WINDOW_COLUMNS,
        ...ATTENDANCE_FIGURES.filter(([n]) => !ATTENDANCE_DERIVED.has(n)),
        ['instructional_days', 'int'],
        ['days_without_attendance', 'int'],
        ['rank', 'int'],
      ],
      [
        windowPart,
        {
          values: { ...keyOf('f', `'total'`, `''`), ...studentValues('f') },
          from: `from student_figures f where not f.by_grade`,
        },
        {
          values: {
            ...keyOf(
              'c',
              `case when c.by_school then 'school' else 'total' end`,
              `coalesce(c.school_id::text, '')`,
            ),
            instructional_days: 'c.instructional_days',
            days_without_attendance: 'c.days_without_attendance',
          },
          from: `from completeness c`,
        },
        {
          values: { ...keyOf('f', `'grade'`, 'f.grade_level'), ...studentValues('f') },
          from: `from student_figures f where f.by_grade`,
        },
        {
          values: {
            ...keyOf(
              'd',
              `case when d.by_day then 'day' else 'grade' end`,
              `case when d.by_day then ${ymd('d.date')} else d.grade_level end`,
            ),
            ...dayValues('d'),
          },
          from: `from day_figures d`,
        },
        {
          values: { ...keyOf('f', `'school'`, 'f.school_id::text'), ...studentValues('f') },
          from: `from school_figures f`,
        },
        {
          values: {
            ...keyOf('m', `'missing'`, `${ymd('m.date')} || ' ' || m.school_id`),
            rank: 'm.rank',
          },
          from: `from (select *, row_number() over (partition by ${BASE} order by date, school_id) as rank
                   from school_days where missing) m
           where m.rank <= ${MISSING_LIST_LIMIT + 1}`,
        },
      ],
    )})
  select ${KEY}, ${WINDOW_SELECT},
         ${fig('students', ['total', 'grade', 'school'])},
         ${fig('membership_days', ['total', 'grade', 'school', 'day'])},
         ${fig('present_days', ['total', 'grade', 'school', 'day'])},
         ${fig('absent_days', ['total', 'grade', 'school', 'day'])},
         ${fig('excused_absence_days', ['total', 'grade', 'school', 'day'])},
         ${fig('unmarked_days', ['total', 'grade', 'school', 'day'])},
         ${fig(MARKED, ['total', 'grade', 'school', 'day'], 'marked_days')},
         ${ratio('present_days * 100', MARKED)} as ada_percent,
         ${ratio(`${MARKED} * 100`, 'membership_days')} as completeness_percent,
         ${fig('chronic_eligible', ['total', 'grade', 'school'])},
         ${fig('chronically_absent', ['total', 'grade', 'school'])},
         ${ratio('chronically_absent', 'chronic_eligible')} as chronic_absence_rate,
         ${fig('instructional_days', ['total', 'school'])},
         ${fig('days_without_attendance', ['total', 'school'])},
         rank
    from merged
   -- By grade: the grades of membership days (every student's latest grade is one of them).
   where breakdown <> 'grade' or membership_days is not null`;

// ---------------------------------------------------------------- grades

const DEFAULT_BANDS: [string, number][] = [
  ['A', 90],
  ['B', 80],
  ['C', 70],
  ['D', 60],
  ['F', 0],
];
const GPA_FIGURES: Column[] = [
  ['gpa', 'float8'],
  ['credits_attempted', 'float8'],
  ['completed_enrollments', 'int'],
];

/** `breakdown` and `key` of a grades grouping set. */
const GRADE_GROUP = `case when grouping(class_id) = 0 then 'class'
                when grouping(subject) = 0 then 'subject'
                when grouping(school_id) = 0 then 'school' else 'total' end as breakdown,
           case when grouping(class_id) = 0 then class_id::text
                when grouping(subject) = 0 then subject
                when grouping(school_id) = 0 then school_id::text else '' end as key`;

/**
 * Grades (analytics/metrics/grades.ts). Breakdowns: `total` (window, figures, GPA),
 * `subject` and `school` (figures, GPA), `class` (figures, with course, subject and school;
 * school scopes only: a class belongs to one school). `letters` is {letter: count} of the
 * letters with a non-zero count.
 */
const gradesSql = `
  with recursive ${SCOPES}, ${SEGMENTS},
  -- Letter bands: the tenant's default scale, else A/B/C/D/F. A percentage gets the band
  -- with the highest minimum not above it (first letter on a tie), else the lowest band.
  scale as (
    select distinct on (tenant_id) tenant_id, bands from grading_scales
     where deleted_at is null and is_default order by tenant_id, id),
  scale_bands as (
    select s.tenant_id, b ->> 'letter' as letter, (b ->> 'min_percent')::float8 as min_percent
      from scale s cross join jsonb_array_elements(s.bands) b
     where b ->> 'letter' is not null and b ->> 'min_percent' is not null),
  band_lookup as materialized (
    select tenant_id,
           array_agg(min_percent order by min_percent) filter (where first_of_min) as mins,
           array_agg(letter order by min_percent) filter (where first_of_min) as letters,
           (array_agg(letter order by min_percent, letter collate "C" desc))[1] as lowest
      from (select bd.*, row_number() over (partition by tenant_id, min_percent
                                             order by letter collate "C") = 1 as first_of_min
              from (select tenant_id, letter, min_percent from scale_bands
                    union all
                    select t.tenant_id, d.letter, d.min_percent
                      from tenants t
                     cross join (values ${DEFAULT_BANDS.map(([l, m]) => `('${l}', ${m}::float8)`).join(', ')}) d(letter, min_percent)
                     where not exists (select 1 from scale_bands sb where sb.tenant_id = t.tenant_id)) bd) b
     group by tenant_id),
  class_info as not materialized (
    select c.tenant_id, c.id as class_id, c.school_id, c.course_id,
           coalesce(${code('co.subject')}, 'unknown') as subject, c.session_id, co.credits
      from classes c
      left join courses co on co.tenant_id = c.tenant_id and co.id = c.course_id
       and co.deleted_at is null
     where c.deleted_at is null),
  -- Scores on assignments due up to today, summed per student, class and due-date segment:
  -- excused scores left out, missing ones count 0 points, ungraded ones only count as due;
  -- scores graded after today and class enrolments dropped or withdrawn by today left out
  -- entirely.
  score_sums as (
    select a.tenant_id, s.student_id, a.class_id, c.school_id, c.course_id, c.subject,
           ${segOf('a.due_date')} as seg,
           sum(a.weight * case when s.is_missing then 0 else s.points end)
             filter (where not s.is_excused and (s.is_missing or s.points is not null)) as earned,
           sum(a.weight * a.points_possible)
             filter (where not s.is_excused and (s.is_missing or s.points is not null)) as possible,
           count(*) filter (where not s.is_excused) as due,
           count(*) filter (where s.is_missing) as missing
      from scores s
      join assignments a on a.tenant_id = s.tenant_id and a.id = s.assignment_id
       and a.deleted_at is null and a.due_date between ${FIRST_DAY} and current_date
      join class_info c on c.tenant_id = a.tenant_id and c.class_id = a.class_id
     where s.deleted_at is null
       -- Graded by today in the class's school's zone (only recent gradings need the zone).
       and (s.graded_at is null or s.graded_at < current_date - interval '2 days'
            or (s.graded_at at time zone coalesce(
                  (select uz.zone from unit_zone uz
                    where uz.tenant_id = s.tenant_id and uz.unit_id = c.school_id),
                  current_setting('TimeZone')))::date <= current_date)
       and not exists (select 1 from class_enrollments ce
                        where ce.tenant_id = s.tenant_id and ce.student_id = s.student_id
                          and ce.class_id = a.class_id and ce.deleted_at is null
                          and ce.status in ('dropped', 'withdrawn')
                          and coalesce(ce.exit_date, current_date) <= current_date)
     group by a.tenant_id, s.student_id, a.class_id, c.school_id, c.course_id, c.subject, seg),
  -- (student, class) percentages per scope and period, in double precision like DuckDB's
  -- decimal division, with their letter.
  lettered as (
    select p.*, case when p.pct is not null
                     then coalesce(bl.letters[width_bucket(p.pct, bl.mins)], bl.lowest) end as letter
      from (select ${BASE_W}, x.class_id, x.student_id, x.course_id, x.school_id, x.subject,
                   sum(x.due) as due, sum(x.missing) as missing,
                   case when sum(x.possible) > 0
                        then (sum(x.earned) * 100)::float8 / sum(x.possible)::float8 end as pct
              from ${scoped('score_sums', 'school_id')} x
              ${inWindow('x.seg')}
             group by ${BASE_W}, x.class_id, x.student_id, x.course_id, x.school_id, x.subject) p
      left join band_lookup bl on bl.tenant_id = p.tenant_id),
  -- The average is DuckDB's exact one: percentages fixed to 8 decimals, summed as integers.
  figures as (
    select ${BASE}, ${GRADE_GROUP}, course_id, subject, school_id,
           count(distinct student_id) filter (where pct is not null) as students,
           count(pct) as student_classes,
           case when count(pct) > 0
                then sum(floor(pct * 1e8::float8 + 0.5)::bigint)::float8 / count(pct)::float8 / 1e8
           end as average_percent,
           count(distinct student_id) filter (where pct < 60) as failing_students,
           sum(missing) as missing_scores, sum(due) as scores_due
      from lettered
     group by grouping sets ((${BASE}), (${BASE}, subject), (${BASE}, school_id),
                             (${BASE}, class_id, course_id, subject, school_id))),
  letter_counts as (
    select ${BASE}, ${GRADE_GROUP}, letter, count(*) as n
      from lettered where letter is not null
     group by grouping sets ((${BASE}, letter), (${BASE}, subject, letter),
                             (${BASE}, school_id, letter), (${BASE}, class_id, letter))),
  -- GPA: completed enrolments with grade points, in classes whose session overlaps the
  -- window, whose exit date (undated: counts) is not after today.
  completed as (
    select ce.tenant_id, c.school_id, c.subject, least(ce.grade_points, 4.0) as points,
           coalesce(ce.credits_attempted, c.credits) as credits, se.start_date, se.end_date
      from class_enrollments ce
      join class_info c on c.tenant_id = ce.tenant_id and c.class_id = ce.class_id
      join academic_sessions se on se.tenant_id = c.tenant_id and se.id = c.session_id
       and se.deleted_at is null
     where ce.deleted_at is null and ce.status = 'completed' and ce.grade_points is not null
       and coalesce(ce.credits_attempted, c.credits) > 0
       and coalesce(ce.exit_date, current_date) <= current_date),
  gpa as (
    select ${BASE_W},
           case when grouping(x.subject) = 0 then 'subject'
                when grouping(x.school_id) = 0 then 'school' else 'total' end as breakdown,
           case when grouping(x.subject) = 0 then x.subject
                when grouping(x.school_id) = 0 then x.school_id::text else '' end as key,
           sum(x.points * x.credits) as points_x_credits, sum(x.credits) as credits,
           count(*) as enrollments
      from ${scoped('completed', 'school_id')} x
      join windows w on w.tenant_id = x.tenant_id and w.scope_kind = x.scope_kind
       and w.scope_id = x.scope_id and x.start_date <= w.end_date and x.end_date >= w.start_date
     group by grouping sets ((${BASE_W}), (${BASE_W}, x.subject), (${BASE_W}, x.school_id))),
  merged as (
    ${merge(
      [
        ...WINDOW_COLUMNS,
        ['students', 'int'],
        ['student_classes', 'int'],
        ['average_percent', 'float8'],
        ['failing_students', 'int'],
        ['missing_scores', 'int'],
        ['scores_due', 'int'],
        ['letter', 'text'],
        ['letter_count', 'int'],
        ['points_x_credits', 'numeric'],
        ['credits', 'numeric'],
        ['enrollments', 'int'],
        ['course_id', 'uuid'],
        ['subject', 'text'],
        ['school_id', 'uuid'],
      ],
      [
        windowPart,
        {
          values: {
            ...keyOf('f', 'f.breakdown', 'f.key'),
            students: 'f.students',
            student_classes: 'f.student_classes',
            average_percent: 'f.average_percent',
            failing_students: 'f.failing_students',
            missing_scores: 'f.missing_scores',
            scores_due: 'f.scores_due',
            course_id: `case when f.breakdown = 'class' then f.course_id end`,
            subject: `case when f.breakdown in ('class', 'subject') then f.subject end`,
            school_id: `case when f.breakdown in ('class', 'school') then f.school_id end`,
          },
          from: `from figures f where f.breakdown <> 'class' or f.scope_kind = 'school'`,
        },
        {
          values: {
            ...keyOf('l', 'l.breakdown', 'l.key'),
            letter: 'l.letter',
            letter_count: 'l.n',
          },
          from: `from letter_counts l where l.breakdown <> 'class' or l.scope_kind = 'school'`,
        },
        {
          values: {
            ...keyOf('g', 'g.breakdown', 'g.key'),
            points_x_credits: 'g.points_x_credits',
            credits: 'g.credits',
            enrollments: 'g.enrollments',
            subject: `case when g.breakdown = 'subject' then g.key end`,
            school_id: `case when g.breakdown = 'school' then g.key end`,
          },
          from: `from gpa g`,
        },
      ],
      {
        inputs: ['letter', 'letter_count'],
        outputs: {
          letters: `coalesce(jsonb_object_agg(letter, letter_count) filter (where letter is not null), '{}')`,
        },
      },
    )})
  select ${KEY}, ${WINDOW_SELECT},
         coalesce(students, 0) as students,
         coalesce(student_classes, 0) as student_classes,
         average_percent,
         letters,
         coalesce(failing_students, 0) as failing_students,
         ${ratio('failing_students', 'students')} as failing_rate,
         coalesce(missing_scores, 0) as missing_scores,
         coalesce(scores_due, 0) as scores_due,
         ${ratio('missing_scores', 'scores_due')} as missing_rate,
         -- Σ points × credits ÷ Σ credits, in double precision.
         case when breakdown <> 'class' and credits > 0
              then points_x_credits::float8 / credits::float8 end as gpa,
         ${fig('floor(credits::float8 * 100 + 0.5) / 100', ['total', 'subject', 'school'], 'credits_attempted')},
         ${fig('enrollments', ['total', 'subject', 'school'], 'completed_enrollments')},
         course_id, subject, school_id
    from merged`;

// ---------------------------------------------------------------- lead funnel

/**
 * Lead funnel (analytics/metrics/lead-funnel.ts). Breakdowns: `total` (window, leads, lost,
 * converted, first → last stage conversion), `stage` (key = stage: reached, lost, conversion
 * and median days from the previous stage), `source` and `week` (leads, reached per stage
 * in stage order, first → last stage conversion).
 */
const leadFunnelSql = `
  with recursive ${SCOPES},
  stages as (
    select tenant_id, key,
           (row_number() over (partition by tenant_id order by position, key collate "C") - 1)::int as idx
      from funnel_stages where deleted_at is null and not is_terminal),
  terminal as (
    select tenant_id, key from funnel_stages where deleted_at is null and is_terminal
    union
    select tenant_id, 'lost' from tenants),
  -- Leads by inquiry date up to today, with their stage as of today: the current one,
  -- unless the history has moves after today (then the target of the last move up to
  -- today). History is read per lead, through its index.
  cohort as (
    select l.tenant_id, l.id, coalesce(l.school_id, ${ZERO}) as unit, ${zoneOf('z')} as zone,
           coalesce(nullif(${code('l.source')}, ''), 'unknown') as source,
           l.first_touch_at as first_touch,
           (l.first_touch_at at time zone ${zoneOf('z')})::date as inquiry_date,
           coalesce((l.converted_at at time zone ${zoneOf('z')})::date <= current_date, false)
             as is_converted,
           case when exists (select 1 from lead_stage_history h
                              where h.tenant_id = l.tenant_id and h.lead_id = l.id
                                and (h.changed_at at time zone ${zoneOf('z')})::date > current_date)
                then coalesce((select h.to_stage from lead_stage_history h
                                where h.tenant_id = l.tenant_id and h.lead_id = l.id
                                  and (h.changed_at at time zone ${zoneOf('z')})::date <= current_date
                                order by h.changed_at desc, h.id desc limit 1),
                              (select s.key from stages s where s.tenant_id = l.tenant_id and s.idx = 0))
                else l.stage end as state
      from leads l
      ${joinZone('z', 'l.tenant_id', `coalesce(l.school_id, ${ZERO})`)}
     where l.deleted_at is null
       and (l.first_touch_at at time zone ${zoneOf('z')})::date <= current_date),
  -- Stage moves up to today (local to the lead's school), of the leads in the cohort.
  hist as (
    select h.tenant_id, h.id, h.lead_id, h.from_stage, h.to_stage, h.changed_at
      from cohort c
      join lead_stage_history h on h.tenant_id = c.tenant_id and h.lead_id = c.id
     where (h.changed_at at time zone c.zone)::date <= current_date),
  -- Per lead: the highest stage of its history, the stage it was last lost from, and the
  -- entry time of each stage (first move into it; the first touch for the first stage).
  history as (
    select tenant_id, lead_id,
           max(idx) filter (where part = 'reached') as max_idx,
           (array_agg(idx order by changed_at desc, id desc) filter (where part = 'lost'))[1] as lost_idx
      from (select h.tenant_id, h.lead_id, h.id, h.changed_at, s.idx, 'reached' as part
              from hist h join stages s on s.tenant_id = h.tenant_id and s.key in (h.from_stage, h.to_stage)
            union all
            select h.tenant_id, h.lead_id, h.id, h.changed_at, s.idx, 'lost'
              from hist h
              join stages s on s.tenant_id = h.tenant_id and s.key = h.from_stage
              join terminal t on t.tenant_id = h.tenant_id and t.key = h.to_stage) x
     group by tenant_id, lead_id),
  entries as (
    select tenant_id, lead_id, idx, min(entered) as entered
      from (select h.tenant_id, h.lead_id, s.idx, h.changed_at as entered
              from hist h join stages s on s.tenant_id = h.tenant_id and s.key = h.to_stage
            union all
            select tenant_id, id, 0, first_touch from cohort) e
     group by tenant_id, lead_id, idx),
  -- Days from entering a stage to entering the next one (when entered no earlier).
  steps as (
    select tenant_id, lead_id, array_agg(idx order by idx) as step_idx,
           array_agg(step_days order by idx) as step_days
      from (select tenant_id, lead_id, idx, ${days('entered - previous')} as step_days
              from (select e.*, lag(idx) over w as previous_idx, lag(entered) over w as previous
                      from entries e
                    window w as (partition by tenant_id, lead_id order by idx)) e
             where previous_idx = idx - 1 and entered >= previous) s
     group by tenant_id, lead_id),
  leads_as_of as (
    select c.tenant_id, c.id, c.unit, c.source, c.inquiry_date, c.is_converted,
           greatest(0, h.max_idx, s.idx) as max_idx, t.key is not null as is_lost,
           case when t.key is not null then coalesce(h.lost_idx, greatest(0, h.max_idx, s.idx)) end as lost_idx,
           st.step_idx, st.step_days
      from cohort c
      left join stages s on s.tenant_id = c.tenant_id and s.key = c.state
      left join terminal t on t.tenant_id = c.tenant_id and t.key = c.state
      left join history h on h.tenant_id = c.tenant_id and h.lead_id = c.id
      left join steps st on st.tenant_id = c.tenant_id and st.lead_id = c.id),
  cohorts as (
    select ${BASE_W}, x.id, x.source, date_trunc('week', x.inquiry_date::timestamp)::date as week_start,
           x.is_converted, x.is_lost, x.max_idx, x.lost_idx, x.step_idx, x.step_days
      from ${scoped('leads_as_of', 'unit')} x
      ${inWindow('x.inquiry_date')}),
  lead_counts as (
    select ${BASE}, grouping(source) = 0 as by_source, grouping(week_start) = 0 as by_week,
           source, week_start, count(*) as leads, count(*) filter (where is_lost) as lost,
           count(*) filter (where is_converted) as converted
      from cohorts
     group by grouping sets ((${BASE}), (${BASE}, source), (${BASE}, week_start))),
  stage_counts as (
    select x.tenant_id, x.scope_kind, x.scope_id, x.period,
           grouping(x.source) = 0 as by_source, grouping(x.week_start) = 0 as by_week,
           x.source, x.week_start, s.idx,
           count(*) filter (where x.max_idx >= s.idx) as reached,
           count(*) filter (where x.lost_idx = s.idx) as lost
      from cohorts x join stages s on s.tenant_id = x.tenant_id
     group by grouping sets ((x.tenant_id, x.scope_kind, x.scope_id, x.period, s.idx),
                             (x.tenant_id, x.scope_kind, x.scope_id, x.period, x.source, s.idx),
                             (x.tenant_id, x.scope_kind, x.scope_id, x.period, x.week_start, s.idx))),
  -- Reached per stage, in stage order, and the first and last stage's.
  breakdowns as (
    select ${BASE}, by_source, by_week, source, week_start,
           array_agg(reached order by idx) as reached,
           (array_agg(reached order by idx))[1] as first_reached,
           (array_agg(reached order by idx desc))[1] as last_reached
      from stage_counts
     group by ${BASE}, by_source, by_week, source, week_start),
  medians as (
    select x.tenant_id, x.scope_kind, x.scope_id, x.period, st.idx, ${median('st.step_days')} as median_days
      from cohorts x cross join unnest(x.step_idx, x.step_days) as st(idx, step_days)
     group by x.tenant_id, x.scope_kind, x.scope_id, x.period, st.idx),
  merged as (
    ${merge(
      [
        ...WINDOW_COLUMNS,
        ['leads', 'int'],
        ['lost', 'int'],
        ['converted', 'int'],
        ['first_reached', 'int'],
        ['last_reached', 'int'],
        ['stage_idx', 'int'],
        ['reached', 'int'],
        ['median_days', 'float8'],
        ['reached_by_stage', 'int[]'],
      ],
      [
        windowPart,
        {
          values: {
            ...keyOf(
              't',
              `case when t.by_source then 'source' when t.by_week then 'week' else 'total' end`,
              `coalesce(t.source, ${ymd('t.week_start')}, '')`,
            ),
            leads: 't.leads',
            lost: `case when not t.by_source and not t.by_week then t.lost end`,
            converted: `case when not t.by_source and not t.by_week then t.converted end`,
          },
          from: `from lead_counts t`,
        },
        {
          values: {
            ...keyOf(
              'b',
              `case when b.by_source then 'source' when b.by_week then 'week' else 'total' end`,
              `coalesce(b.source, ${ymd('b.week_start')}, '')`,
            ),
            first_reached: 'b.first_reached',
            last_reached: 'b.last_reached',
            reached_by_stage: `case when b.by_source or b.by_week then b.reached end`,
          },
          from: `from breakdowns b`,
        },
        {
          values: {
            ...keyOf('w', `'stage'`, 's.key'),
            stage_idx: 's.idx',
            reached: '0',
            lost: '0',
          },
          from: `from windows w join stages s on s.tenant_id = w.tenant_id`,
        },
        {
          values: { ...keyOf('c', `'stage'`, 's.key'), reached: 'c.reached', lost: 'c.lost' },
          from: `from stage_counts c join stages s on s.tenant_id = c.tenant_id and s.idx = c.idx
           where not c.by_source and not c.by_week`,
        },
        {
          values: { ...keyOf('m', `'stage'`, 's.key'), median_days: 'm.median_days' },
          from: `from medians m join stages s on s.tenant_id = m.tenant_id and s.idx = m.idx`,
        },
      ],
    )})
  select ${KEY}, ${WINDOW_SELECT},
         ${fig('leads', ['total', 'source', 'week'])},
         ${fig('lost', ['total', 'stage'])},
         ${fig('converted', ['total'])},
         case when breakdown in ('total', 'source', 'week')
              then ${ratio('coalesce(last_reached, 0)', 'first_reached')}
              when breakdown = 'stage' and stage_idx > 0
              then ${ratio(
                'reached',
                `lag(reached) over (partition by ${BASE}, breakdown order by stage_idx)`,
              )} end as conversion_rate,
         stage_idx, reached,
         case when stage_idx > 0 then median_days end as median_days_from_previous,
         reached_by_stage
    from merged`;

// ---------------------------------------------------------------- ESA

const ESA_STATUSES = ['draft', 'submitted', 'under_review', 'approved', 'denied', 'withdrawn'];
const ESA_COUNTS = ['applications', ...ESA_STATUSES];
const ESA_AMOUNTS = ['requested_cents', 'awarded_cents', 'disbursed_cents'];

/**
 * ESA (analytics/metrics/esa.ts). Breakdowns: `total` (window, figures), `program` (key =
 * program id, with its state), `school` (key = the school, the zero id for none).
 */
const esaSql = `
  with recursive ${SCOPES},
  disbursed as (
    select tenant_id, application_id, sum(amount_cents) as cents from esa_disbursements
     where deleted_at is null and status = 'disbursed' and disbursed_on <= current_date
     group by tenant_id, application_id),
  -- Applications dated (submitted, else created) up to today, with their status as of
  -- today: a decision after today is still under review.
  applications as (
    select a.tenant_id, a.id, a.program_id, p.state,
           coalesce(a.school_id, st.school_id, ${ZERO}) as unit,
           (coalesce(a.submitted_at, a.created_at) at time zone ${zoneOf('z')})::date as app_date,
           se.start_date as session_start, se.end_date as session_end,
           case when a.status in ('approved', 'denied')
                 and (a.decided_at at time zone ${zoneOf('z')})::date > current_date
                then 'under_review' else a.status end as status,
           a.submitted_at as submitted, a.decided_at as decided,
           a.amount_requested_cents, a.amount_awarded_cents, coalesce(d.cents, 0) as disbursed_cents
      from esa_applications a
      left join esa_programs p on p.tenant_id = a.tenant_id and p.id = a.program_id
       and p.deleted_at is null
      left join students st on st.tenant_id = a.tenant_id and st.id = a.student_id
       and st.deleted_at is null
      left join academic_sessions se on se.tenant_id = a.tenant_id and se.id = a.session_id
       and se.deleted_at is null
      left join disbursed d on d.tenant_id = a.tenant_id and d.application_id = a.id
      ${joinZone('z', 'a.tenant_id', `coalesce(a.school_id, st.school_id, ${ZERO})`)}
     where a.deleted_at is null
       and (coalesce(a.submitted_at, a.created_at) at time zone ${zoneOf('z')})::date <= current_date),
  -- school_year: applications whose school year overlaps the window; other periods (and
  -- applications without a session): dated in the window.
  figures as (
    select ${BASE_W},
           case when grouping(x.program_id) = 0 then 'program'
                when grouping(x.unit) = 0 then 'school' else 'total' end as breakdown,
           coalesce(x.program_id, x.unit)::text as key, x.state,
           count(*) as applications,
           ${ESA_STATUSES.map((s) => `count(*) filter (where x.status = '${s}') as ${s}`).join(',\n           ')},
           sum(x.amount_requested_cents) filter (where x.status not in ('draft', 'withdrawn')) as requested_cents,
           sum(x.amount_awarded_cents) filter (where x.status = 'approved') as awarded_cents,
           sum(x.disbursed_cents) as disbursed_cents,
           ${median(days('x.decided - x.submitted'))}
             filter (where x.status in ('approved', 'denied') and x.submitted is not null) as median_days
      from ${scoped('applications', 'unit')} x
      join windows w on w.tenant_id = x.tenant_id and w.scope_kind = x.scope_kind
       and w.scope_id = x.scope_id
       and case when w.period = 'school_year' and x.session_start is not null
                then x.session_start <= w.end_date and x.session_end >= w.start_date
                else x.app_date between w.start_date and w.end_date end
     group by grouping sets ((${BASE_W}), (${BASE_W}, x.program_id, x.state), (${BASE_W}, x.unit))),
  merged as (
    ${merge(
      [
        ...WINDOW_COLUMNS,
        ...ESA_COUNTS.map((n): Column => [n, 'int']),
        ...ESA_AMOUNTS.map((n): Column => [n, 'bigint']),
        ['median_days', 'float8'],
        ['state', 'text'],
      ],
      [
        windowPart,
        {
          values: {
            ...keyOf('f', 'f.breakdown', `case when f.breakdown = 'total' then '' else f.key end`),
            ...Object.fromEntries(
              [...ESA_COUNTS, ...ESA_AMOUNTS, 'median_days', 'state'].map((n) => [n, `f.${n}`]),
            ),
          },
          from: `from figures f`,
        },
      ],
    )})
  select ${KEY}, ${WINDOW_SELECT},
         ${[...ESA_COUNTS, ...ESA_AMOUNTS].map((n) => `coalesce(${n}, 0) as ${n}`).join(', ')},
         ${ratio('approved', 'approved + denied')} as approval_rate,
         median_days as median_days_to_decision,
         state
    from merged`;

// ---------------------------------------------------------------- finance

const AGING_BUCKETS = ['current', '1_30', '31_60', '61_90', '90_plus'];
const AGING_COLUMNS: Column[] = AGING_BUCKETS.flatMap((b): Column[] => [
  [`invoices_${b}`, 'int'],
  [`cents_${b}`, 'bigint'],
]);

/**
 * Finance (analytics/metrics/finance.ts). Breakdowns: `total` (window, invoiced, collected,
 * cohort collection rate, outstanding and AR aging at today, ESA share), `month` (key =
 * YYYY-MM, every month the window overlaps), `school` (key = the school, the zero id for none).
 */
const financeSql = `
  with recursive ${SCOPES},
  -- An invoice's school: its own, else its billing account's; its status today (one voided
  -- on a later local date in its school's zone was live today).
  invoice_units as (
    select i.tenant_id, i.id, i.unit, i.issue_date, i.due_date,
           case when i.status = 'void' and (i.voided_at at time zone ${zoneOf('z')})::date > current_date
                then 'open' else i.status end as status,
           i.total_cents, i.balance_cents
      from (select i.*, coalesce(i.school_id, ba.school_id, ${ZERO}) as unit
              from invoices i
              left join billing_accounts ba on ba.tenant_id = i.tenant_id and ba.id = i.account_id
               and ba.deleted_at is null
             where i.deleted_at is null) i
      ${joinZone('z', 'i.tenant_id', 'i.unit')}),
  allocations as (
    select pa.tenant_id, pa.invoice_id, pa.amount_cents,
           (p.received_at at time zone ${zoneOf('z')})::date as received_on, iu.unit
      from payment_allocations pa
      join payments p on p.tenant_id = pa.tenant_id and p.id = pa.payment_id
       and p.deleted_at is null and p.status = 'succeeded'
      join invoice_units iu on iu.tenant_id = pa.tenant_id and iu.id = pa.invoice_id
      ${joinZone('z', 'iu.tenant_id', 'iu.unit')}
     where pa.deleted_at is null),
  -- Per invoice: allocations received by today (cohort collection) and after (balance then).
  invoices_paid as (
    select iu.*, coalesce(p.to_date, 0) as paid_to_date, coalesce(p.later, 0) as paid_later
      from invoice_units iu
      left join (select tenant_id, invoice_id,
                        sum(amount_cents) filter (where received_on <= current_date) as to_date,
                        sum(amount_cents) filter (where received_on > current_date) as later
                   from allocations group by tenant_id, invoice_id) p
        on p.tenant_id = iu.tenant_id and p.invoice_id = iu.id),
  -- Money flows by date: invoices issued (with what they were paid by today), allocations
  -- collected, succeeded payments received.
  flows as (
    select tenant_id, unit, issue_date as day, 'invoice' as kind, total_cents as cents,
           paid_to_date as paid, false as esa
      from invoices_paid where status not in ('draft', 'void')
    union all
    select tenant_id, unit, received_on, 'allocation', amount_cents, 0, false from allocations
    union all
    select p.tenant_id, coalesce(ba.school_id, ${ZERO}),
           (p.received_at at time zone ${zoneOf('z')})::date, 'payment',
           p.amount_cents, 0, p.method = 'esa'
      from payments p
      left join billing_accounts ba on ba.tenant_id = p.tenant_id and ba.id = p.account_id
       and ba.deleted_at is null
      ${joinZone('z', 'p.tenant_id', `coalesce(ba.school_id, ${ZERO})`)}
     where p.deleted_at is null and p.status = 'succeeded'
       and (p.received_at at time zone ${zoneOf('z')})::date <= current_date),
  flow_figures as (
    select ${BASE_W},
           case when grouping(x.month) = 0 then 'month'
                when grouping(x.unit) = 0 then 'school' else 'total' end as breakdown,
           x.month, x.unit,
           count(*) filter (where x.kind = 'invoice') as invoices,
           count(*) filter (where x.kind = 'allocation') as allocations,
           sum(x.cents) filter (where x.kind = 'invoice') as invoiced,
           sum(x.paid) filter (where x.kind = 'invoice') as cohort_collected,
           sum(x.cents) filter (where x.kind = 'allocation') as collected,
           sum(x.cents) filter (where x.kind = 'payment') as payments,
           sum(x.cents) filter (where x.kind = 'payment' and x.esa) as esa
      from ${scoped(`(select flows.*, date_trunc('month', day::timestamp)::date as month from flows)`, 'unit')} x
      ${inWindow('x.day')}
     group by grouping sets ((${BASE_W}), (${BASE_W}, x.month), (${BASE_W}, x.unit))),
  -- Receivables today: open or paid invoices issued by today whose balance then (today's
  -- plus allocations received later) is positive, by days past due.
  aging as (
    select x.tenant_id, x.scope_kind, x.scope_id, grouping(x.unit) = 0 as by_school, x.unit,
           count(*) as open_invoices, sum(x.balance) as outstanding,
           ${AGING_BUCKETS.map(
             (b) =>
               `count(*) filter (where x.bucket = '${b}') as invoices_${b},
           sum(x.balance) filter (where x.bucket = '${b}') as cents_${b}`,
           ).join(',\n           ')}
      from ${scoped(
        `(select tenant_id, unit, balance_cents + paid_later as balance,
                 case when due_date is null or current_date - due_date <= 0 then 'current'
                      when current_date - due_date <= 30 then '1_30'
                      when current_date - due_date <= 60 then '31_60'
                      when current_date - due_date <= 90 then '61_90'
                      else '90_plus' end as bucket
            from invoices_paid
           where status in ('open', 'paid') and issue_date <= current_date
             and balance_cents + paid_later > 0)`,
        'unit',
      )} x
     group by grouping sets ((x.tenant_id, x.scope_kind, x.scope_id),
                             (x.tenant_id, x.scope_kind, x.scope_id, x.unit))),
  merged as (
    ${merge(
      [
        ...WINDOW_COLUMNS,
        ['invoiced_cents', 'bigint'],
        ['collected_cents', 'bigint'],
        ['payments_cents', 'bigint'],
        ['cohort_collected_cents', 'bigint'],
        ['esa_cents', 'bigint'],
        ['open_invoices', 'int'],
        ['outstanding_cents', 'bigint'],
        ...AGING_COLUMNS,
      ],
      [
        windowPart,
        {
          values: {
            ...keyOf(
              'f',
              'f.breakdown',
              `case f.breakdown when 'month' then to_char(f.month, 'YYYY-MM')
                                       when 'school' then f.unit::text else '' end`,
            ),
            invoiced_cents: 'f.invoiced',
            collected_cents: 'f.collected',
            payments_cents: `case when f.breakdown <> 'school' then f.payments end`,
            cohort_collected_cents: `case when f.breakdown = 'total' then f.cohort_collected end`,
            esa_cents: `case when f.breakdown <> 'school' then f.esa end`,
          },
          // By school: units with invoices or allocations in the window.
          from: `from flow_figures f
           where f.breakdown <> 'school' or f.invoices > 0 or f.allocations > 0`,
        },
        {
          // Every month the window overlaps.
          values: { ...keyOf('w', `'month'`, `to_char(m, 'YYYY-MM')`), invoiced_cents: '0' },
          from: `from windows w
           cross join generate_series(date_trunc('month', w.start_date::timestamp),
                                      date_trunc('month', w.end_date::timestamp), interval '1 month') m`,
        },
        {
          // Receivables are at today: the same in every period.
          values: {
            ...keyOf(
              'w',
              `case when a.by_school then 'school' else 'total' end`,
              `case when a.by_school then a.unit::text else '' end`,
            ),
            open_invoices: 'a.open_invoices',
            outstanding_cents: 'a.outstanding',
            ...Object.fromEntries(AGING_COLUMNS.map(([n]) => [n, `a.${n}`])),
          },
          from: `from windows w
           join aging a on a.tenant_id = w.tenant_id and a.scope_kind = w.scope_kind
            and a.scope_id = w.scope_id`,
        },
      ],
    )})
  select ${KEY}, ${WINDOW_SELECT},
         coalesce(invoiced_cents, 0) as invoiced_cents,
         coalesce(collected_cents, 0) as collected_cents,
         ${fig('payments_cents', ['total', 'month'])},
         case when breakdown = 'total' then coalesce(invoiced_cents, 0) end as cohort_invoiced_cents,
         ${fig('cohort_collected_cents', ['total'])},
         case when breakdown = 'total'
              then ${ratio('coalesce(cohort_collected_cents, 0)', 'invoiced_cents')} end as collection_rate,
         ${fig('open_invoices', ['total', 'school'])},
         ${fig('outstanding_cents', ['total', 'school'])},
         ${AGING_COLUMNS.map(([n]) => fig(n, ['total'])).join(',\n         ')},
         ${fig('esa_cents', ['total', 'month'])},
         case when breakdown = 'total' then ${ratio('coalesce(esa_cents, 0)', 'payments_cents')} end as esa_rate
    from merged`;

/** Materialized views computing the warehouse's figures: name → SELECT body, unique-index columns. */
export const MATVIEWS: Record<string, { sql: string; key: string }> = {
  bench_mv_attendance: { sql: attendanceSql, key: KEY },
  bench_mv_grades: { sql: gradesSql, key: KEY },
  bench_mv_lead_funnel: { sql: leadFunnelSql, key: KEY },
  bench_mv_esa: { sql: esaSql, key: KEY },
  bench_mv_finance: { sql: financeSql, key: KEY },
};

// ---------------------------------------------------------------- comparison

type Json = Record<string, any>;
/** Figures by label (`by_school[<id>].present_days`, …) of one scope and period. */
type Figures = Map<string, unknown>;

const ATTENDANCE_KEYS = ATTENDANCE_FIGURES.map(([n]) => n);
const GRADE_KEYS = [
  'students',
  'student_classes',
  'average_percent',
  'failing_students',
  'failing_rate',
  'missing_scores',
  'scores_due',
  'missing_rate',
];
const GPA_KEYS = GPA_FIGURES.map(([n]) => n);
/** What a class entry of the payload carries (`ClassGradeFigures`), letters aside. */
const CLASS_KEYS = [
  'students',
  'average_percent',
  'failing_students',
  'missing_scores',
  'scores_due',
  'course_id',
  'subject',
];

const windowText = (w: Json) => `${w.start} ${w.end} ${w.source} ${w.session_id ?? '-'}`;
const viewWindow = (r: Json) =>
  `${r.window_start} ${r.window_end} ${r.window_source} ${r.session_id ?? '-'}`;
const schoolLabel = (id: string | null) => (id === null || id === ZERO_ID ? 'none' : id);

function put(f: Figures, prefix: string, src: Json | undefined, keys: string[], rename = {}) {
  for (const k of keys) {
    const from = (rename as Record<string, string>)[k] ?? k;
    f.set(`${prefix}${k}`, src?.[from] ?? null);
  }
}

/** Letter counts as `A:7 B:3`, zero counts left out. */
const letterText = (counts: [string, number][]) =>
  counts
    .filter(([, n]) => n > 0)
    .map(([l, n]) => `${l}:${n}`)
    .sort()
    .join(' ');

const byBreakdown = (rows: Json[], breakdown: string) =>
  rows.filter((r) => r.breakdown === breakdown);

/** Per metric: the figures of a published payload, and the same figures from view rows. */
const FIGURES: Record<string, { payload: (p: Json) => Figures; view: (rows: Json[]) => Figures }> =
  {
    attendance: {
      payload(p) {
        const f: Figures = new Map([['window', windowText(p.window)]]);
        put(f, '', p, ATTENDANCE_KEYS);
        for (const g of p.by_grade) put(f, `by_grade[${g.grade_level}].`, g, ATTENDANCE_KEYS);
        for (const s of p.by_school) {
          put(f, `by_school[${s.school_id}].`, s, [
            ...ATTENDANCE_KEYS,
            'instructional_days',
            'days_without_attendance',
          ]);
        }
        for (const d of p.daily) {
          put(f, `daily[${d.date}].`, d, [
            'membership',
            'marked',
            'present',
            'absent',
            'unmarked',
            'rate_percent',
          ]);
        }
        put(f, 'completeness.', p.completeness, [
          'instructional_days',
          'days_without_attendance',
          'missing_truncated',
        ]);
        f.set(
          'completeness.missing',
          p.completeness.missing.map((m: Json) => `${m.date} ${m.school_id}`).join(', '),
        );
        return f;
      },
      view(rows) {
        const t = byBreakdown(rows, 'total')[0]!;
        const f: Figures = new Map([['window', viewWindow(t)]]);
        put(f, '', t, ATTENDANCE_KEYS);
        for (const g of byBreakdown(rows, 'grade'))
          put(f, `by_grade[${g.key}].`, g, ATTENDANCE_KEYS);
        for (const s of byBreakdown(rows, 'school')) {
          put(f, `by_school[${s.key}].`, s, [
            ...ATTENDANCE_KEYS,
            'instructional_days',
            'days_without_attendance',
          ]);
        }
        for (const d of byBreakdown(rows, 'day')) {
          put(
            f,
            `daily[${d.key}].`,
            d,
            ['membership', 'marked', 'present', 'absent', 'unmarked', 'rate_percent'],
            {
              membership: 'membership_days',
              marked: 'marked_days',
              present: 'present_days',
              absent: 'absent_days',
              unmarked: 'unmarked_days',
              rate_percent: 'ada_percent',
            },
          );
        }
        put(f, 'completeness.', t, ['instructional_days', 'days_without_attendance']);
        const missing = byBreakdown(rows, 'missing').sort((a, b) => a.rank - b.rank);
        f.set('completeness.missing_truncated', missing.length > MISSING_LIST_LIMIT);
        f.set(
          'completeness.missing',
          missing
            .slice(0, MISSING_LIST_LIMIT)
            .map((m) => m.key)
            .join(', '),
        );
        return f;
      },
    },
    grades: {
      payload(p) {
        const f: Figures = new Map([['window', windowText(p.window)]]);
        const add = (prefix: string, g: Json, keys: string[]) => {
          put(f, prefix, g, keys);
          f.set(`${prefix}letters`, letterText(g.letters.map((l: Json) => [l.letter, l.count])));
        };
        add('', p, [...GRADE_KEYS, ...GPA_KEYS]);
        for (const s of p.by_subject)
          add(`by_subject[${s.subject}].`, s, [...GRADE_KEYS, ...GPA_KEYS]);
        for (const s of p.by_school)
          add(`by_school[${s.school_id}].`, s, [...GRADE_KEYS, ...GPA_KEYS]);
        for (const c of p.classes) {
          const prefix = `classes[${c.class_id}].`;
          put(f, prefix, c, CLASS_KEYS);
          f.set(
            `${prefix}letters`,
            letterText(p.letters.map((l: Json, i: number) => [l.letter, c.letter_counts[i]])),
          );
        }
        return f;
      },
      view(rows) {
        const t = byBreakdown(rows, 'total')[0]!;
        const f: Figures = new Map([['window', viewWindow(t)]]);
        const add = (prefix: string, g: Json, keys: string[]) => {
          put(f, prefix, g, keys);
          f.set(`${prefix}letters`, letterText(Object.entries(g.letters ?? {})));
        };
        add('', t, [...GRADE_KEYS, ...GPA_KEYS]);
        for (const s of byBreakdown(rows, 'subject')) {
          add(`by_subject[${s.key}].`, s, [...GRADE_KEYS, ...GPA_KEYS]);
        }
        for (const s of byBreakdown(rows, 'school')) {
          add(`by_school[${s.key}].`, s, [...GRADE_KEYS, ...GPA_KEYS]);
        }
        for (const c of byBreakdown(rows, 'class')) add(`classes[${c.key}].`, c, CLASS_KEYS);
        return f;
      },
    },
    lead_funnel: {
      payload(p) {
        const f: Figures = new Map([['window', windowText(p.window)]]);
        f.set('leads', p.leads);
        f.set('lost', p.lost.total);
        f.set('converted_to_student', p.converted_to_student);
        f.set('inquiry_to_enrolled', p.inquiry_to_enrolled.rate);
        f.set('stage_keys', p.stage_keys.join(' '));
        for (const s of p.stages) {
          put(f, `stages[${s.key}].`, s, [
            'reached',
            'lost',
            'conversion_from_previous',
            'median_days_from_previous',
          ]);
        }
        for (const [list, key] of [
          ['by_source', 'source'],
          ['by_week', 'week_start'],
        ] as const) {
          for (const b of p[list]) {
            put(f, `${list}[${b[key]}].`, b, ['leads', 'conversion_rate']);
            f.set(`${list}[${b[key]}].reached`, b.reached.join(' '));
          }
        }
        return f;
      },
      view(rows) {
        const t = byBreakdown(rows, 'total')[0]!;
        const f: Figures = new Map([['window', viewWindow(t)]]);
        f.set('leads', t.leads);
        f.set('lost', t.lost);
        f.set('converted_to_student', t.converted);
        f.set('inquiry_to_enrolled', t.conversion_rate);
        const stages = byBreakdown(rows, 'stage').sort((a, b) => a.stage_idx - b.stage_idx);
        f.set('stage_keys', stages.map((s) => s.key).join(' '));
        for (const s of stages) {
          put(
            f,
            `stages[${s.key}].`,
            s,
            ['reached', 'lost', 'conversion_from_previous', 'median_days_from_previous'],
            { conversion_from_previous: 'conversion_rate' },
          );
        }
        for (const [list, breakdown] of [
          ['by_source', 'source'],
          ['by_week', 'week'],
        ] as const) {
          for (const b of byBreakdown(rows, breakdown)) {
            put(f, `${list}[${b.key}].`, b, ['leads', 'conversion_rate']);
            f.set(`${list}[${b.key}].reached`, b.reached_by_stage.join(' '));
          }
        }
        return f;
      },
    },
    esa: {
      payload(p) {
        const f: Figures = new Map([['window', windowText(p.window)]]);
        const add = (prefix: string, e: Json) => {
          put(f, prefix, e, [
            'applications',
            'approval_rate',
            'median_days_to_decision',
            ...ESA_AMOUNTS,
          ]);
          put(f, `${prefix}by_status.`, e.by_status, ESA_STATUSES);
        };
        add('', p);
        for (const e of p.by_program) {
          add(`by_program[${e.program_id}].`, e);
          f.set(`by_program[${e.program_id}].state`, e.state);
        }
        for (const e of p.by_school) add(`by_school[${schoolLabel(e.school_id)}].`, e);
        return f;
      },
      view(rows) {
        const t = byBreakdown(rows, 'total')[0]!;
        const f: Figures = new Map([['window', viewWindow(t)]]);
        const add = (prefix: string, e: Json) => {
          put(f, prefix, e, [
            'applications',
            'approval_rate',
            'median_days_to_decision',
            ...ESA_AMOUNTS,
          ]);
          put(f, `${prefix}by_status.`, e, ESA_STATUSES);
        };
        add('', t);
        for (const e of byBreakdown(rows, 'program')) {
          add(`by_program[${e.key}].`, e);
          f.set(`by_program[${e.key}].state`, e.state);
        }
        for (const e of byBreakdown(rows, 'school')) add(`by_school[${schoolLabel(e.key)}].`, e);
        return f;
      },
    },
    finance: {
      payload(p) {
        const f: Figures = new Map([['window', windowText(p.window)]]);
        for (const m of p.months) {
          put(f, `months[${m.month}].`, m, ['invoiced_cents', 'collected_cents', 'payments_cents']);
        }
        put(f, '', p, ['invoiced_cents', 'collected_cents']);
        put(f, 'collection_rate.', p.collection_rate, [
          'invoiced_cents',
          'collected_cents',
          'rate',
        ]);
        put(f, 'outstanding.', p.outstanding, ['open_invoices', 'balance_cents']);
        for (const a of p.ar_aging)
          put(f, `ar_aging[${a.bucket}].`, a, ['invoices', 'balance_cents']);
        put(f, 'esa_share.', p.esa_share, ['esa_cents', 'total_cents', 'rate']);
        for (const s of p.by_school) {
          put(f, `by_school[${schoolLabel(s.school_id)}].`, s, [
            'invoiced_cents',
            'collected_cents',
            'open_invoices',
            'outstanding_cents',
          ]);
        }
        return f;
      },
      view(rows) {
        const t = byBreakdown(rows, 'total')[0]!;
        const f: Figures = new Map([['window', viewWindow(t)]]);
        for (const m of byBreakdown(rows, 'month')) {
          put(f, `months[${m.key}].`, m, ['invoiced_cents', 'collected_cents', 'payments_cents']);
        }
        put(f, '', t, ['invoiced_cents', 'collected_cents']);
        put(f, 'collection_rate.', t, ['invoiced_cents', 'collected_cents', 'rate'], {
          invoiced_cents: 'cohort_invoiced_cents',
          collected_cents: 'cohort_collected_cents',
          rate: 'collection_rate',
        });
        put(f, 'outstanding.', t, ['open_invoices', 'balance_cents'], {
          balance_cents: 'outstanding_cents',
        });
        for (const b of AGING_BUCKETS) {
          put(f, `ar_aging[${b}].`, t, ['invoices', 'balance_cents'], {
            invoices: `invoices_${b}`,
            balance_cents: `cents_${b}`,
          });
        }
        put(f, 'esa_share.', t, ['esa_cents', 'total_cents', 'rate'], {
          total_cents: 'payments_cents',
          rate: 'esa_rate',
        });
        for (const s of byBreakdown(rows, 'school')) {
          put(f, `by_school[${schoolLabel(s.key)}].`, s, [
            'invoiced_cents',
            'collected_cents',
            'open_invoices',
            'outstanding_cents',
          ]);
        }
        return f;
      },
    },
  };

const scopeLabel = (kind: string, id: string | null, period: string) =>
  `${kind === 'tenant' ? 'tenant' : `school ${id}`} ${period}`;

/**
 * Compares the views' figures with the tenant's published snapshots (`metric_snapshots`),
 * for every metric, scope and period: every figure the views mirror (totals, breakdowns by
 * grade, school, day, subject, class, stage, source, week, program, month, the aging
 * buckets, windows). Returns human-readable mismatches (empty = equal). Run as a superuser
 * on the branch database, after the views were created or refreshed.
 */
/**
 * Figures are published unrounded, so a ratio or a median that PostgreSQL and JavaScript
 * reach by different sums of doubles may differ in its last bits: equal within 1e-12
 * relative.
 */
function sameFloat(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a), Math.abs(b));
}

export async function compareWithSnapshots(admin: pg.Client, tenantId: string): Promise<string[]> {
  const mismatches: string[] = [];
  const published = await admin.query<{
    metric: string;
    scope_kind: string;
    scope_id: string | null;
    period: string;
    payload: Json;
  }>(
    `select metric, scope_kind, scope_id::text as scope_id, period, payload from metric_snapshots
      where tenant_id = $1 and deleted_at is null`,
    [tenantId],
  );
  for (const [metric, figures] of Object.entries(FIGURES)) {
    const { rows } = await admin.query<{ r: Json }>(
      `select row_to_json(v) as r from bench_mv_${metric} v where tenant_id = $1`,
      [tenantId],
    );
    const viewRows = new Map<string, Json[]>();
    for (const { r } of rows) {
      const label = scopeLabel(r.scope_kind, r.scope_id, r.period);
      viewRows.set(label, [...(viewRows.get(label) ?? []), r]);
    }
    const snapshots = new Map(
      published.rows
        .filter((s) => s.metric === metric)
        .map((s) => [scopeLabel(s.scope_kind, s.scope_id, s.period), s.payload]),
    );
    for (const label of new Set([...snapshots.keys(), ...viewRows.keys()])) {
      const payload = snapshots.get(label);
      const view = viewRows.get(label);
      if (!payload || !view) {
        mismatches.push(`${metric} ${label}: ${payload ? 'not in the view' : 'not published'}`);
        continue;
      }
      const want = figures.payload(payload);
      const got = figures.view(view);
      for (const key of new Set([...want.keys(), ...got.keys()])) {
        const a = got.has(key) ? got.get(key) : '(missing)';
        const b = want.has(key) ? want.get(key) : '(missing)';
        if (a !== b && !(typeof a === 'number' && typeof b === 'number' && sameFloat(a, b))) {
          mismatches.push(`${metric} ${label} ${key}: view ${String(a)}, published ${String(b)}`);
        }
      }
    }
  }
  return mismatches;
}
