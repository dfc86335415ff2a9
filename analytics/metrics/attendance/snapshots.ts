/**
 * Attendance snapshots from the base aggregates (`../attendance.ts` builds and patches them):
 * the figures per scope and period, in total, by grade and by school, the daily trend and
 * the school days without attendance.
 */
import {
  MIN_START,
  MetricContext,
  type BaseMode,
  SCOPE_COLS,
  type ScopeWindow,
  asText,
  byScope,
  ratio,
  scopeKey,
} from '../context.js';
import type { AttendanceFigures, AttendancePayload, MetricSnapshot } from '../types.js';

interface FigureRow {
  scope_kind: string;
  scope_id: string;
  period: string;
  students: number;
  membership_days: number;
  present_days: number;
  absent_days: number;
  excused_absence_days: number;
  unmarked_days: number;
  chronic_eligible: number;
  chronically_absent: number;
}

const MISSING_LIST_LIMIT = 400;

/** a ÷ b, unrounded (figures are rounded once, at display); null when b is 0. */

function figures(r: FigureRow | undefined): AttendanceFigures {
  const f = {
    students: r?.students ?? 0,
    membership_days: r?.membership_days ?? 0,
    present_days: r?.present_days ?? 0,
    absent_days: r?.absent_days ?? 0,
    excused_absence_days: r?.excused_absence_days ?? 0,
    unmarked_days: r?.unmarked_days ?? 0,
    chronic_eligible: r?.chronic_eligible ?? 0,
    chronically_absent: r?.chronically_absent ?? 0,
  };
  const marked = f.membership_days - f.unmarked_days;
  return {
    ...f,
    marked_days: marked,
    ada_percent: ratio(f.present_days * 100, marked),
    completeness_percent: ratio(marked * 100, f.membership_days),
    chronic_absence_rate: ratio(f.chronically_absent, f.chronic_eligible),
  };
}

/** Per-student sums, re-aggregated by the grouping `key` (none, grade, school). */
const studentFigures = (extra: string) => `
  SELECT scope_kind, scope_id, period${extra ? `, ${extra}` : ''},
         count(*)::INTEGER AS students,
         sum(membership)::INTEGER AS membership_days,
         sum(present)::INTEGER AS present_days,
         sum(absent)::INTEGER AS absent_days,
         sum(excused)::INTEGER AS excused_absence_days,
         sum(unmarked)::INTEGER AS unmarked_days,
         count(*) FILTER (membership - unmarked >= 10)::INTEGER AS chronic_eligible,
         count(*) FILTER (membership - unmarked >= 10
                          AND absent * 10 >= membership - unmarked)::INTEGER AS chronically_absent`;

/** The student figures per scope and period: in total, by grade and by school. */
async function figureRows(ctx: MetricContext, mode: BaseMode) {
  const studentSchool = ctx.base('att_student_school', mode);
  const student = ctx.base('att_student', mode);
  const schoolDays = ctx.base('att_school_days', mode);

  const totals = await ctx.rows<FigureRow>(
    asText(`${studentFigures('')} FROM ${student} GROUP BY ALL`, []),
  );
  // By grade: chronic figures and students by the student's latest grade in the window;
  // day figures by the grade of each day.
  const byGradeChronic = await ctx.rows<FigureRow & { grade_level: string }>(
    asText(
      `${studentFigures('grade_level')} FROM ${student} GROUP BY ALL`,
      [],
      'ORDER BY grade_level',
    ),
  );
  const byGradeDays = await ctx.rows<FigureRow & { grade_level: string }>(
    `SELECT ${SCOPE_COLS}, d.grade_level,
            sum(d.membership)::INTEGER AS membership_days,
            sum(d.present)::INTEGER AS present_days,
            sum(d.absent)::INTEGER AS absent_days,
            sum(d.excused)::INTEGER AS excused_absence_days,
            sum(d.unmarked)::INTEGER AS unmarked_days
       FROM ${schoolDays} d
       JOIN _m_scope_windows sw ON sw.unit_id = d.school_id
        AND d.date BETWEEN sw.start_date AND sw.end_date
      GROUP BY ALL ORDER BY d.grade_level`,
  );
  const bySchool = await ctx.rows<FigureRow & { school_id: string }>(
    asText(
      `${studentFigures('school_id')} FROM ${studentSchool} GROUP BY ALL`,
      ['school_id'],
      'ORDER BY school_id',
    ),
  );
  return {
    totals: byScope(totals),
    gradeChronic: byScope(byGradeChronic),
    gradeDays: byScope(byGradeDays),
    school: byScope(bySchool),
  };
}

/** The day figures per scope and period: the daily trend and the days without attendance. */
async function dayRows(ctx: MetricContext, mode: BaseMode) {
  const asOf = ctx.asOfSql;
  const schoolDays = ctx.base('att_school_days', mode);
  const daily = await ctx.rows<{
    scope_kind: string;
    scope_id: string;
    period: string;
    date: string;
    membership: number;
    present: number;
    absent: number;
    unmarked: number;
  }>(
    `SELECT ${SCOPE_COLS}, d.date::VARCHAR AS date,
            sum(d.membership)::INTEGER AS membership,
            sum(d.present)::INTEGER AS present,
            sum(d.absent)::INTEGER AS absent,
            sum(d.unmarked)::INTEGER AS unmarked
       FROM ${schoolDays} d
       JOIN _m_scope_windows sw ON sw.unit_id = d.school_id
        AND d.date BETWEEN sw.start_date AND sw.end_date
      GROUP BY ALL ORDER BY date`,
  );
  await ctx.temp(
    '_m_school_days',
    `WITH days AS (
       SELECT DISTINCT school_id, date FROM calendar_days
        WHERE kind = 'instructional' AND date BETWEEN ${MIN_START} AND ${asOf}),
     taken AS (SELECT school_id, date FROM ${ctx.base('att_taken', mode)})
     SELECT ${SCOPE_COLS}, d.school_id, d.date, t.date IS NULL AS missing
       FROM days d
       JOIN _m_scope_windows sw ON sw.unit_id = d.school_id
        AND d.date BETWEEN sw.start_date AND sw.end_date
       LEFT JOIN taken t ON t.school_id = d.school_id AND t.date = d.date`,
  );
  const completenessBySchool = await ctx.rows<{
    scope_kind: string;
    scope_id: string;
    period: string;
    school_id: string;
    instructional_days: number;
    days_without_attendance: number;
  }>(
    `SELECT scope_kind, scope_id, period, school_id::VARCHAR AS school_id,
            count(*)::INTEGER AS instructional_days,
            count(*) FILTER (missing)::INTEGER AS days_without_attendance
       FROM _m_school_days GROUP BY ALL ORDER BY school_id`,
  );
  const missing = await ctx.rows<{
    scope_kind: string;
    scope_id: string;
    period: string;
    school_id: string;
    date: string;
  }>(
    `SELECT scope_kind, scope_id, period, school_id::VARCHAR AS school_id, date::VARCHAR AS date
       FROM (SELECT *, row_number() OVER (PARTITION BY scope_kind, scope_id, period
                                          ORDER BY date, school_id) AS rn
               FROM _m_school_days WHERE missing)
      WHERE rn <= ${MISSING_LIST_LIMIT + 1}
      ORDER BY date, school_id`,
  );
  return {
    daily: byScope(daily),
    completeness: byScope(completenessBySchool),
    missing: byScope(missing),
  };
}

/** One scope and period's payload from the figure and day rows. */
function attendancePayload(
  s: ScopeWindow,
  figs: Awaited<ReturnType<typeof figureRows>>,
  days: Awaited<ReturnType<typeof dayRows>>,
): AttendancePayload {
  const key = scopeKey(s.scopeKind, s.scopeId, s.period);
  const total = figures(figs.totals.get(key)?.[0]);
  const chronicByGrade = new Map((figs.gradeChronic.get(key) ?? []).map((r) => [r.grade_level, r]));
  const by_grade = (figs.gradeDays.get(key) ?? []).map((grade) => {
    const chronic = chronicByGrade.get(grade.grade_level);
    const f = figures({
      ...grade,
      students: chronic?.students ?? 0,
      chronic_eligible: chronic?.chronic_eligible ?? 0,
      chronically_absent: chronic?.chronically_absent ?? 0,
    });
    return { grade_level: grade.grade_level, ...f };
  });
  const compl = new Map((days.completeness.get(key) ?? []).map((r) => [r.school_id, r]));
  const schoolIds = [
    ...new Set([...(figs.school.get(key) ?? []).map((r) => r.school_id), ...compl.keys()]),
  ].sort();
  const schoolFigures = new Map((figs.school.get(key) ?? []).map((r) => [r.school_id, r]));
  const by_school = schoolIds.map((school_id) => ({
    school_id,
    ...figures(schoolFigures.get(school_id)),
    instructional_days: compl.get(school_id)?.instructional_days ?? 0,
    days_without_attendance: compl.get(school_id)?.days_without_attendance ?? 0,
  }));
  const missingRows = days.missing.get(key) ?? [];
  const payload: AttendancePayload = {
    window: s.window,
    ...total,
    daily: (days.daily.get(key) ?? []).map((d) => ({
      date: d.date,
      membership: d.membership,
      marked: d.membership - d.unmarked,
      present: d.present,
      absent: d.absent,
      unmarked: d.unmarked,
      rate_percent: ratio(d.present * 100, d.membership - d.unmarked),
    })),
    by_grade,
    by_school,
    completeness: {
      instructional_days: by_school.reduce((n, r) => n + r.instructional_days, 0),
      days_without_attendance: by_school.reduce((n, r) => n + r.days_without_attendance, 0),
      missing: missingRows
        .slice(0, MISSING_LIST_LIMIT)
        .map((r) => ({ school_id: r.school_id, date: r.date })),
      missing_truncated: missingRows.length > MISSING_LIST_LIMIT,
    },
  };
  return payload;
}

/** The attendance snapshots from the base aggregates held in `mode`. */
export async function attendanceFromBase(
  ctx: MetricContext,
  mode: BaseMode,
): Promise<MetricSnapshot<'attendance'>[]> {
  const figs = await figureRows(ctx, mode);
  const days = await dayRows(ctx, mode);
  return ctx.scopes.map((s) => ({
    metric: 'attendance' as const,
    scopeKind: s.scopeKind,
    scopeId: s.scopeId,
    period: s.period,
    asOf: ctx.asOf,
    payload: attendancePayload(s, figs, days),
  }));
}
