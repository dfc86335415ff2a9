/**
 * Attendance (docs/metrics.md#attendance).
 *
 * - Membership day: an instructional calendar day of a school, on or before the as-of
 *   date, on which the student has a school enrolment there with entry ≤ day ≤ exit (or no
 *   exit). Overlapping enrolments at one school count the day once. Soft-deleted students
 *   (absent from the warehouse's `students`) have none.
 * - Outcome of a membership day, from the daily record (period null) of that student and
 *   date, whichever school filed it — a record belongs to the school the student was
 *   enrolled in that day: present, tardy and early_departure are present; absent and
 *   excused_absence are absences; a day with either is *marked*. No record leaves the day
 *   unmarked: membership, neither present nor absent, never an absence. Period records
 *   never decide a day; a daily record on a non-membership day is ignored.
 * - ADA % = present days ÷ marked membership days × 100; completeness % = marked ÷
 *   membership days × 100, reported beside it. Both unrounded (rounded at display).
 * - Chronic absenteeism: among students with ≥ 10 marked membership days in the window,
 *   those whose absences (excused or not) are ≥ 10 % of their marked membership days.
 * - School days without attendance: a school's instructional days (≤ as-of) on which no
 *   attendance record of any kind of a live student was filed at that school.
 *
 * This module builds and patches the base aggregates; `attendance/snapshots.ts` reads the
 * figures from them.
 */
import { MIN_START, MetricContext, type BaseMode, segmentJoin } from './context.js';
import { attendanceFromBase } from './attendance/snapshots.js';
import { mergeSums } from './sums.js';
import type { MetricSnapshot } from './types.js';

/**
 * Changed rows of these tables can be patched into the base aggregates. `students`: a
 * student deleted (or restored) leaves (or rejoins) every figure.
 */
export const ATTENDANCE_PATCHABLE = [
  'school_enrollments',
  'attendance_records',
  'students',
] as const;

/** Rows of live students: the warehouse's `students` holds no soft-deleted one. */
const LIVE = (alias = '') => `${alias}student_id IN (SELECT id FROM students)`;

/**
 * Membership days with their outcome. Overlapping enrolments of a student at a school are
 * merged into spans first (gaps and islands), so each membership day appears once without
 * a GROUP BY over millions of days. A span's grade is that of its latest enrolment.
 * `students` (a relation of student_id) or `days` (of school_id, date) restrict the rows;
 * `records` replaces `attendance_records`.
 */
function memberDaysCte(
  asOf: string,
  only: { students?: string; days?: string; records?: string } = {},
): string {
  const records = only.records ?? 'attendance_records';
  return `${spansCte(asOf, only)},
     -- At most one live daily record per student and date (unique in the branch).
     daily AS (
       SELECT student_id, school_id, date, status FROM ${records}
        WHERE period IS NULL AND date BETWEEN ${MIN_START} AND ${asOf}),
     member_days AS (
       SELECT sp.student_id, d.school_id, d.date, sp.grade_level, r.status
         FROM days d
         JOIN spans sp ON sp.school_id = d.school_id AND d.date BETWEEN sp.s AND sp.e
         -- Whichever school filed it: the record belongs to the school of the membership day.
       LEFT JOIN daily r ON r.student_id = sp.student_id AND r.date = d.date),
     segmented AS (
       SELECT md.*, b.b AS seg FROM member_days md ASOF JOIN _m_bounds b ON md.date >= b.b)`;
}

/**
 * CTEs `days` (instructional school days up to the as-of date) and `spans` (each student's
 * merged enrolments at a school, with the grade of the latest), restricted as in
 * `memberDaysCte`.
 */
function spansCte(asOf: string, only: { students?: string; days?: string } = {}): string {
  return `WITH days AS (
       SELECT DISTINCT cd.school_id, cd.date FROM calendar_days cd
       ${only.days ? `JOIN ${only.days} k ON k.school_id = cd.school_id AND k.date = cd.date` : ''}
        WHERE cd.kind = 'instructional' AND cd.date BETWEEN ${MIN_START} AND ${asOf}),
     enrolments AS (
       SELECT student_id, school_id, grade_level, entry_date AS s,
              coalesce(exit_date, DATE '9999-12-31') AS e
         FROM school_enrollments
        WHERE entry_date <= ${asOf} AND ${LIVE()}
        ${only.students ? `AND student_id IN (SELECT student_id FROM ${only.students})` : ''}
        ${only.days ? `AND school_id IN (SELECT school_id FROM ${only.days})` : ''}),
     ordered AS (
       SELECT *, max(e) OVER (PARTITION BY student_id, school_id ORDER BY s, e
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
         FROM enrolments),
     islands AS (
       SELECT *, sum(CASE WHEN reach IS NULL OR s > reach THEN 1 ELSE 0 END)
                   OVER (PARTITION BY student_id, school_id ORDER BY s, e) AS island
         FROM ordered),
     spans AS (
       SELECT student_id, school_id, min(s) AS s, max(e) AS e, arg_max(grade_level, s) AS grade_level
         FROM islands GROUP BY student_id, school_id, island)`;
}

const PRESENT = `('present', 'tardy', 'early_departure')`;
const ABSENT = `('absent', 'excused_absence')`;
/** A record whose status is none of these leaves its day unmarked. */
const MARKED = `('present', 'tardy', 'early_departure', 'absent', 'excused_absence')`;
const OUTCOMES = `count(*) AS membership,
            count(*) FILTER (status IN ${PRESENT}) AS present,
            count(*) FILTER (status IN ${ABSENT}) AS absent,
            count(*) FILTER (status = 'excused_absence') AS excused,
            count(*) FILTER (status IS NULL OR status NOT IN ${MARKED}) AS unmarked`;
/** The day sums of `att_segments`, `att_student_school` and `att_student`, added up. */
const DAY_SUMS = `sum(membership)::INTEGER AS membership, sum(present)::INTEGER AS present,
            sum(absent)::INTEGER AS absent, sum(excused)::INTEGER AS excused,
            sum(unmarked)::INTEGER AS unmarked`;
const SEGMENT_COLS = `student_id, school_id, seg, membership, present, absent, excused, unmarked,
            latest_grade AS grade_level, last_day`;
const SCHOOL_DAY_COLS = `school_id, date, grade_level, membership, present, absent, excused, unmarked`;

/** Per scope, period, student and school: the segments inside each window, summed. */
const studentSchoolSql = (segments: string, students?: string) => `
  SELECT sw.scope_kind, sw.scope_id, sw.period, x.student_id, x.school_id, ${DAY_SUMS},
         arg_max(x.grade_level, x.last_day) AS grade_level, max(x.last_day) AS last_day
    FROM ${segments} x ${segmentJoin('x', 'school_id')}
   ${students ? `WHERE x.student_id IN (SELECT student_id FROM ${students})` : ''}
   GROUP BY ALL`;

/** Per scope, period and student (over schools), with the grade of their latest day. */
const studentSql = (studentSchool: string, students?: string) => `
  SELECT scope_kind, scope_id, period, student_id, ${DAY_SUMS},
         arg_max(grade_level, last_day) AS grade_level
    FROM ${studentSchool}
   ${students ? `WHERE student_id IN (SELECT student_id FROM ${students})` : ''}
   GROUP BY ALL`;

/** Per school day, how many attendance records of any kind of live students it has. */
const takenSql = (records: string, asOf: string) => `
  SELECT school_id, date, count(*)::INTEGER AS records FROM ${records}
   WHERE date BETWEEN ${MIN_START} AND ${asOf} AND ${LIVE()} GROUP BY ALL`;

/**
 * The base aggregates: per student, school and date segment (`att_segments`); per scope,
 * period, student and school (`att_student_school`) and per scope, period and student
 * (`att_student`); per school, day and grade (`att_school_days`); and the records per
 * school day (`att_taken`: days with none have no row).
 */
export async function attendanceBase(ctx: MetricContext, mode: 'temp' | 'rebuild'): Promise<void> {
  const asOf = ctx.asOfSql;
  // One scan of the membership days yields both groupings.
  await ctx.temp(
    '_m_att_agg',
    `${memberDaysCte(asOf)}
     SELECT GROUPING(student_id) = 0 AS per_student, student_id, school_id, seg, date, grade_level,
            ${OUTCOMES},
            arg_max(grade_level, date) AS latest_grade,
            max(date) AS last_day
       FROM segmented
      GROUP BY GROUPING SETS ((student_id, school_id, seg), (school_id, date, grade_level))`,
  );
  await ctx.createBase(
    'att_segments',
    mode,
    `SELECT ${SEGMENT_COLS} FROM _m_att_agg WHERE per_student`,
  );
  await ctx.createBase(
    'att_school_days',
    mode,
    `SELECT ${SCHOOL_DAY_COLS} FROM _m_att_agg WHERE NOT per_student`,
  );
  await ctx.runner.run(`DROP TABLE temp._m_att_agg`);
  await ctx.createBase(
    'att_student_school',
    mode,
    studentSchoolSql(ctx.base('att_segments', mode)),
  );
  await ctx.createBase('att_student', mode, studentSql(ctx.base('att_student_school', mode)));
  await ctx.createBase('att_taken', mode, takenSql('attendance_records', asOf));
}

/**
 * Brings the kept base aggregates up to date with the changed enrolments and attendance
 * records of this run (`temp._delta_*`, old and new versions). Changed records alone do not
 * change which days are membership days, only their outcome: their contributions are added
 * to the kept sums. Changed enrolments do; the figures of every student they name, and of
 * the school days they cover, are then recomputed.
 */
export async function patchAttendanceBase(
  ctx: MetricContext,
  changed: ReadonlySet<string>,
): Promise<void> {
  // A student edited stays as they were here; one deleted or restored is recomputed.
  let comeOrGone = 0;
  if (changed.has('students')) {
    await ctx.temp(
      '_m_att_come_or_gone',
      `SELECT id AS student_id FROM temp._delta_students GROUP BY id
        HAVING count(*) FILTER (_old) <> count(*) FILTER (NOT _old)`,
    );
    const [row] = await ctx.rows<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM _m_att_come_or_gone`,
    );
    comeOrGone = row!.n;
  }
  if (changed.has('school_enrollments') || comeOrGone > 0) return recomputeAttendance(ctx, changed);
  if (changed.has('attendance_records')) return addRecordChanges(ctx);
}

/**
 * Changed attendance records, enrolments unchanged: each daily record, old (−1) or new (+1),
 * on a membership day moves that day from unmarked to its outcome; every record moves its
 * school day's record count.
 */
async function addRecordChanges(ctx: MetricContext): Promise<void> {
  const asOf = ctx.asOfSql;
  const delta = 'temp._delta_attendance_records';
  const sign = `CASE WHEN d._old THEN -1 ELSE 1 END`;
  await ctx.temp('_m_att_students', `SELECT DISTINCT student_id FROM ${delta}`);
  await ctx.temp(
    '_m_att_change',
    `${spansCte(asOf, { students: '_m_att_students' })}
     SELECT d.student_id, sp.school_id, d.date, sp.grade_level, b.b AS seg, 0 AS membership,
            ${sign} * (d.status IN ${PRESENT})::INTEGER AS present,
            ${sign} * (d.status IN ${ABSENT})::INTEGER AS absent,
            ${sign} * (d.status = 'excused_absence')::INTEGER AS excused,
            ${sign} * ((d.status NOT IN ${MARKED})::INTEGER - 1) AS unmarked
       FROM ${delta} d
       JOIN spans sp ON sp.student_id = d.student_id AND d.date BETWEEN sp.s AND sp.e
       JOIN days ON days.school_id = sp.school_id AND days.date = d.date
       ASOF JOIN _m_bounds b ON d.date >= b.b
      WHERE d.period IS NULL AND d.status IS NOT NULL`,
  );
  const sums = 'membership, present, absent, excused, unmarked';
  await mergeSums(
    ctx,
    ctx.base('att_segments', 'patch'),
    ['student_id', 'school_id', 'seg'],
    ['grade_level', 'last_day'],
    DAY_SUMS,
    `(SELECT student_id, school_id, seg, ${sums} FROM _m_att_change)`,
    'membership',
  );
  const inWindows = `FROM _m_att_change c ${segmentJoin('c', 'school_id')}`;
  await mergeSums(
    ctx,
    ctx.base('att_student_school', 'patch'),
    ['scope_kind', 'scope_id', 'period', 'student_id', 'school_id'],
    ['grade_level', 'last_day'],
    DAY_SUMS,
    `(SELECT sw.scope_kind, sw.scope_id, sw.period, c.student_id, c.school_id, ${sums} ${inWindows})`,
    'membership',
  );
  await mergeSums(
    ctx,
    ctx.base('att_student', 'patch'),
    ['scope_kind', 'scope_id', 'period', 'student_id'],
    ['grade_level'],
    DAY_SUMS,
    `(SELECT sw.scope_kind, sw.scope_id, sw.period, c.student_id, ${sums} ${inWindows})`,
    'membership',
  );
  await mergeSums(
    ctx,
    ctx.base('att_school_days', 'patch'),
    ['school_id', 'date', 'grade_level'],
    [],
    DAY_SUMS,
    `(SELECT school_id, date, grade_level, ${sums} FROM _m_att_change)`,
    'membership',
  );
  await mergeSums(
    ctx,
    ctx.base('att_taken', 'patch'),
    ['school_id', 'date'],
    [],
    'sum(records)::INTEGER AS records',
    `(SELECT school_id, date, ${sign} AS records FROM ${delta} d
       WHERE date BETWEEN ${MIN_START} AND ${asOf} AND ${LIVE('d.')})`,
    'records',
  );
}

/**
 * Changed enrolments, or students deleted or restored (`_m_att_come_or_gone`), and records:
 * the segments of every student they name, and the school days they touch, are recomputed
 * from the records.
 */
async function recomputeAttendance(ctx: MetricContext, changed: ReadonlySet<string>) {
  const asOf = ctx.asOfSql;
  const union = (xs: string[]) => xs.join('\n UNION ');
  const records = changed.has('attendance_records');
  const enrolments = changed.has('school_enrollments');
  const students = changed.has('students');
  const comeOrGone = `(SELECT student_id FROM _m_att_come_or_gone)`;
  await ctx.temp(
    '_m_att_students',
    `SELECT student_id FROM (${union([
      ...(enrolments ? [`SELECT student_id FROM temp._delta_school_enrollments`] : []),
      ...(records ? [`SELECT student_id FROM temp._delta_attendance_records`] : []),
      ...(students ? [`SELECT student_id FROM _m_att_come_or_gone`] : []),
    ])})`,
  );
  // School days whose records of any kind change (`att_taken`): the changed records' days,
  // and every record day of a student deleted or restored.
  const takenDays = [
    ...(records ? [`SELECT school_id, date FROM temp._delta_attendance_records`] : []),
    ...(students
      ? [`SELECT school_id, date FROM attendance_records WHERE student_id IN ${comeOrGone}`]
      : []),
  ];
  if (takenDays.length > 0)
    await ctx.temp(
      '_m_att_taken_days',
      `SELECT DISTINCT school_id, date FROM (${union(takenDays)})
        WHERE date BETWEEN ${MIN_START} AND ${asOf}`,
    );
  // School days whose per-day figures may change: those, the membership day each changed
  // record falls on, and every instructional day an old or new enrolment — or an enrolment
  // of a student deleted or restored — covers.
  const covered = (enrolmentsOf: string, where = '') =>
    `SELECT cd.school_id, cd.date FROM calendar_days cd
       JOIN ${enrolmentsOf} e ON e.school_id = cd.school_id
        AND cd.date BETWEEN e.entry_date AND coalesce(e.exit_date, ${asOf}) ${where}`;
  await ctx.temp(
    '_m_att_days',
    `SELECT DISTINCT school_id, date FROM (${union([
      ...(takenDays.length > 0 ? [`SELECT school_id, date FROM _m_att_taken_days`] : []),
      ...(records
        ? [
            `SELECT e.school_id, d.date FROM temp._delta_attendance_records d
               JOIN school_enrollments e ON e.student_id = d.student_id
                AND d.date BETWEEN e.entry_date AND coalesce(e.exit_date, DATE '9999-12-31')`,
          ]
        : []),
      ...(enrolments ? [covered('temp._delta_school_enrollments')] : []),
      ...(students ? [covered('school_enrollments', `WHERE e.student_id IN ${comeOrGone}`)] : []),
    ])})
      WHERE date BETWEEN ${MIN_START} AND ${asOf}`,
  );
  // One scan of the records for both recomputations: the students', the records filed on
  // those school days, and those of the schools' students on those dates filed elsewhere.
  await ctx.temp(
    '_m_att_records',
    `SELECT r.student_id, r.school_id, r.date, r.period, r.status FROM attendance_records r
      WHERE r.date BETWEEN ${MIN_START} AND ${asOf}
        AND (r.student_id IN (SELECT student_id FROM _m_att_students)
             OR EXISTS (SELECT 1 FROM _m_att_days k WHERE k.school_id = r.school_id AND k.date = r.date)
             OR (r.date IN (SELECT date FROM _m_att_days)
                 AND r.student_id IN (SELECT e.student_id FROM school_enrollments e
                                       WHERE e.school_id IN (SELECT school_id FROM _m_att_days))))`,
  );
  const segments = ctx.base('att_segments', 'patch');
  await ctx.runner.run(
    `DELETE FROM ${segments} WHERE student_id IN (SELECT student_id FROM _m_att_students)`,
  );
  await ctx.runner.run(
    `INSERT INTO ${segments}
     ${memberDaysCte(asOf, { students: '_m_att_students', records: '_m_att_records' })}
     SELECT ${SEGMENT_COLS} FROM (
       SELECT student_id, school_id, seg, ${OUTCOMES},
              arg_max(grade_level, date) AS latest_grade, max(date) AS last_day
         FROM segmented GROUP BY student_id, school_id, seg)`,
  );
  const studentSchool = ctx.base('att_student_school', 'patch');
  await ctx.runner.run(
    `DELETE FROM ${studentSchool} WHERE student_id IN (SELECT student_id FROM _m_att_students)`,
  );
  await ctx.runner.run(
    `INSERT INTO ${studentSchool} ${studentSchoolSql(segments, '_m_att_students')}`,
  );
  const student = ctx.base('att_student', 'patch');
  await ctx.runner.run(
    `DELETE FROM ${student} WHERE student_id IN (SELECT student_id FROM _m_att_students)`,
  );
  await ctx.runner.run(`INSERT INTO ${student} ${studentSql(studentSchool, '_m_att_students')}`);
  const schoolDays = ctx.base('att_school_days', 'patch');
  await ctx.runner.run(
    `DELETE FROM ${schoolDays} x USING _m_att_days k WHERE x.school_id = k.school_id AND x.date = k.date`,
  );
  await ctx.runner.run(
    `INSERT INTO ${schoolDays}
     ${memberDaysCte(asOf, { days: '_m_att_days', records: '_m_att_records' })}
     SELECT ${SCHOOL_DAY_COLS} FROM (
       SELECT school_id, date, grade_level, ${OUTCOMES} FROM segmented GROUP BY ALL)`,
  );
  if (takenDays.length > 0) {
    const taken = ctx.base('att_taken', 'patch');
    await ctx.runner.run(
      `DELETE FROM ${taken} x USING _m_att_taken_days k
        WHERE x.school_id = k.school_id AND x.date = k.date`,
    );
    await ctx.runner.run(
      `INSERT INTO ${taken} ${takenSql(
        `(SELECT r.* FROM _m_att_records r
           SEMI JOIN _m_att_taken_days k ON k.school_id = r.school_id AND k.date = r.date)`,
        asOf,
      )}`,
    );
  }
}

/** The attendance snapshots (built from scratch in `temp` mode; else from the kept tables). */
export async function attendanceSnapshots(
  ctx: MetricContext,
  mode: BaseMode = 'temp',
): Promise<MetricSnapshot<'attendance'>[]> {
  if (mode === 'temp') await attendanceBase(ctx, 'temp');
  return attendanceFromBase(ctx, mode);
}
