/**
 * Grades (docs/metrics.md#grades).
 *
 * - A (student, class) percentage is Σ(weight × points) ÷ Σ(weight × points possible) × 100
 *   over that student's scores on the class's assignments due in the window (and by the
 *   as-of date). Excused scores are left out entirely; a missing score counts as 0 points
 *   of its points possible; a score with no points that is neither missing nor excused is
 *   ungraded and left out. A pair whose weighted points possible are 0 has no percentage.
 * - Averages (class, subject, school, tenant) are means of (student, class) percentages.
 * - Letters use the tenant's default grading scale (`is_default`), else A ≥ 90, B ≥ 80,
 *   C ≥ 70, D ≥ 60, F < 60: a percentage gets the band with the highest minimum not above
 *   it (unrounded: 89.99 is a B); below every minimum, the lowest band.
 * - Failing rate: distinct students below 60 % in at least one class ÷ distinct students
 *   with a percentage.
 * - Missing-assignment rate: missing scores ÷ scores due (score rows on assignments due in
 *   the window, excused ones left out; ungraded rows count as due).
 * - GPA: Σ(grade points × credits attempted) ÷ Σ credits attempted over final grades:
 *   class enrolments with status `completed`, grade points set and credits attempted > 0
 *   (credits attempted null: the course's credits), in classes whose session overlaps the
 *   window, whose exit date (the date of the final grade) is not after the as-of date (an
 *   undated final grade counts). Grade points are capped at 4.0 (the 4.0 scale: honours
 *   weighting is not applied).
 * - A score graded after the as-of date (the local date of `graded_at` in the class's
 *   school's zone) is not yet there: it is in no figure (percentage, letter, missing, due).
 * - Dropped or withdrawn class enrolments (status `dropped`/`withdrawn`, exit date by the
 *   as-of date or none) are in no figure: their scores are left out of every percentage,
 *   letter, failing and missing count.
 *
 * The SQL (score facts, segments, (student, class) rows, contributions, GPA sums) is in
 * `grades/sql.ts`; this module builds and patches the base aggregates and reads the figures.
 */
import { MetricContext, type BaseMode, byScope, groupBy, ratio, scopeKey } from './context.js';
import {
  contributionCols,
  contributionSums,
  CLASS_KEY,
  STUDENT_KEY,
  FIGURE_KEY,
  grouping,
  byGrouping,
  figureRowsSql,
  gpaSql,
  GRADES_PATCHABLE,
  SEGMENT_SUMS,
  scoreFacts,
  scoreSegmentsSql,
  gradeBands,
  letterCase,
  studentClassSql,
} from './grades/sql.js';
import { mergeSums } from './sums.js';
import type {
  GpaFigures,
  GradeFigures,
  GradesPayload,
  LetterCount,
  MetricSnapshot,
} from './types.js';

export { GRADES_PATCHABLE } from './grades/sql.js';

interface FigureRow {
  scope_kind: string;
  scope_id: string;
  period: string;
  students: number;
  student_classes: number;
  average_percent: number | null;
  failing_students: number;
  missing_scores: number;
  scores_due: number;
}

interface GpaRow {
  scope_kind: string;
  scope_id: string;
  period: string;
  points_x_credits: number;
  credits: number;
  enrollments: number;
}

/**
 * The mean of percentages from their fixed-point sum `s` (percentages × 1e8, integers) and
 * count `n` (null when n is 0), unrounded: the sum is exact, so a figure does not depend on
 * the order in which rows were added or subtracted. Rounded only where it is shown.
 */
const meanSql = (s: string, n: string) =>
  `CASE WHEN ${n} > 0 THEN ${s}::DOUBLE / ${n}::DOUBLE / 1e8 END`;

/**
 * The base aggregates, from scratch: `score_segments` (above) and the figure sums of the
 * (student, class) rows (`studentClassSql`) —
 * - `gr_class`: per school scope, period and class, the sums of its (student, class) rows;
 * - `gr_student`: per scope, period, grouping (`byGrouping`) and student, the sums of that
 *   student's rows (what makes a student count once, and count as failing);
 * - `gr_figures`: per scope, period and grouping, the figures (`figureRowsSql`).
 */
export async function gradesBase(ctx: MetricContext, mode: 'temp' | 'rebuild'): Promise<void> {
  const bands = await gradeBands(ctx);
  const L = bands.map((b) => b.letter);
  await ctx.createBase('score_segments', mode, scoreSegmentsSql(ctx.asOfSql));
  if (mode === 'rebuild') await ctx.runner.run(`DROP TABLE IF EXISTS agg_student_class`);
  // The (student, class) rows are only needed to build the sums; patches recompute the rows
  // they reach from the segments.
  await ctx.temp(
    '_m_gr_student_class',
    studentClassSql(ctx.base('score_segments', mode), letterCase(bands)),
  );
  const pairs = 'temp._m_gr_student_class';
  await ctx.createBase(
    'gr_class',
    mode,
    `SELECT ${CLASS_KEY.join(', ')}, any_value(course_id) AS course_id,
            any_value(subject) AS subject, any_value(school_id) AS school_id,
            ${contributionSums(L)}
       FROM (SELECT * EXCLUDE (missing, due), ${contributionCols(L)} FROM ${pairs} WHERE scope_kind = 'school')
      GROUP BY ${CLASS_KEY.join(', ')}`,
  );
  // One grouping at a time keeps the aggregation's memory small.
  const perStudent = (g: number) => `
    SELECT ${STUDENT_KEY.join(', ')}, ${contributionSums(L)}
      FROM (SELECT * EXCLUDE (missing, due), ${contributionCols(L)} FROM (${grouping(pairs, g)}))
     GROUP BY ${STUDENT_KEY.join(', ')}`;
  await ctx.createBase('gr_student', mode, perStudent(0));
  const students = ctx.base('gr_student', mode);
  for (const g of [1, 2]) await ctx.runner.run(`INSERT INTO ${students} ${perStudent(g)}`);
  await ctx.createBase('gr_figures', mode, figureRowsSql(ctx.base('gr_student', mode), L));
  await ctx.createBase('gr_gpa', mode, gpaSql(ctx.asOfSql));
}

/**
 * Brings the kept grades aggregates up to date with the changed assignments and scores of
 * this run, touching only the rows those changes reach:
 * - segments: with only scores changed, each segment of a changed score gains the new
 *   version and loses the replaced one (sums); a changed assignment instead recomputes its
 *   classes' segments from the scores;
 * - (student, class) rows of the pairs whose segments changed are recomputed;
 * - the figure sums gain the new rows' contributions and lose the replaced rows'.
 */
export async function patchGradesBase(
  ctx: MetricContext,
  changed: ReadonlySet<string>,
): Promise<void> {
  // GPA sums are small and cheap: recomputed whenever final grades change.
  if (changed.has('class_enrollments'))
    await ctx.createBase('gr_gpa', 'patch', gpaSql(ctx.asOfSql));
  if (!GRADES_PATCHABLE.some((t) => changed.has(t))) return;
  const bands = await gradeBands(ctx);
  const segments = ctx.base('score_segments', 'patch');
  const letters = letterCase(bands);
  // The pairs reached: those of the changed scores (old and new versions) and every pair
  // of a class whose assignments changed. Their (student, class) rows are computed from
  // the segments before and after the update: the figures lose the first, gain the second.
  if (changed.has('assignments') || changed.has('class_enrollments'))
    await recomputeSegments(ctx, changed, segments, letters);
  else await addScoreChanges(ctx, segments, letters);
  await ctx.temp('_m_gr_sc_new', studentClassSql(segments, letters, true));
  await patchFigureSums(
    ctx,
    bands.map((b) => b.letter),
  );
}

/**
 * Changed assignments or class enrolments: the segments of the classes and (student, class)
 * pairs they reach are recomputed from the scores (a changed class enrolment — a drop, a
 * re-enrolment — reaches its pair). Leaves the reached pairs in `_m_gr_reach` and their
 * rows before the update in `_m_gr_sc_old`.
 */
async function recomputeSegments(
  ctx: MetricContext,
  changed: ReadonlySet<string>,
  segments: string,
  letters: string,
): Promise<void> {
  await ctx.temp(
    '_m_gr_classes',
    changed.has('assignments')
      ? `SELECT DISTINCT class_id FROM temp._delta_assignments`
      : `SELECT NULL::UUID AS class_id WHERE false`,
  );
  const assignmentClasses = changed.has('assignments')
    ? `(SELECT id, class_id FROM assignments UNION SELECT id, class_id FROM temp._delta_assignments)`
    : 'assignments';
  const pairs = [
    ...(changed.has('scores')
      ? [
          `SELECT d.student_id, a.class_id FROM temp._delta_scores d
             JOIN ${assignmentClasses} a ON a.id = d.assignment_id`,
        ]
      : []),
    ...(changed.has('class_enrollments')
      ? [`SELECT student_id, class_id FROM temp._delta_class_enrollments`]
      : []),
  ];
  await ctx.temp(
    '_m_gr_pairs',
    pairs.length
      ? `SELECT DISTINCT * FROM (${pairs.join(' UNION ALL ')})`
      : `SELECT NULL::UUID AS student_id, NULL::UUID AS class_id WHERE false`,
  );
  const classPairs = `SELECT student_id, class_id FROM ${segments}
                       WHERE class_id IN (SELECT class_id FROM _m_gr_classes)`;
  await ctx.temp('_m_gr_reach', `SELECT * FROM _m_gr_pairs UNION ${classPairs}`);
  await ctx.temp('_m_gr_sc_old', studentClassSql(segments, letters, true));
  await ctx.runner.run(
    `DELETE FROM ${segments} x
      WHERE x.class_id IN (SELECT class_id FROM _m_gr_classes)
         OR EXISTS (SELECT 1 FROM _m_gr_pairs p WHERE p.student_id = x.student_id AND p.class_id = x.class_id)`,
  );
  await ctx.runner.run(`INSERT INTO ${segments} ${scoreSegmentsSql(ctx.asOfSql, true)}`);
  // Pairs that only now have scores in those classes.
  await ctx.temp('_m_gr_reach', `SELECT * FROM _m_gr_reach UNION ${classPairs}`);
}

/**
 * Only scores changed (assignments unchanged): a score's contribution to its segment is the
 * same now as when it was added, so each segment loses the replaced version's and gains the
 * new one's. Leaves the reached pairs in `_m_gr_reach` and their rows before the update in
 * `_m_gr_sc_old`.
 */
async function addScoreChanges(
  ctx: MetricContext,
  segments: string,
  letters: string,
): Promise<void> {
  await ctx.temp(
    '_m_gr_seg_delta',
    `WITH x AS (${scoreFacts('temp._delta_scores', 'CASE WHEN s._old THEN -1 ELSE 1 END', ctx.asOfSql)})
     SELECT x.student_id, x.class_id, x.school_id, x.course_id, x.subject, b.b AS seg,
            ${SEGMENT_SUMS}
       FROM x ASOF JOIN _m_bounds b ON x.due_date >= b.b
      GROUP BY ALL`,
  );
  await ctx.temp('_m_gr_reach', `SELECT DISTINCT student_id, class_id FROM _m_gr_seg_delta`);
  await ctx.temp('_m_gr_sc_old', studentClassSql(segments, letters, true));
  await mergeSums(
    ctx,
    segments,
    ['student_id', 'class_id', 'seg'],
    ['school_id', 'course_id', 'subject'],
    `sum(rows)::INTEGER AS rows, sum(graded)::INTEGER AS graded,
     CASE WHEN sum(graded) > 0 THEN sum(earned) END AS earned,
     CASE WHEN sum(graded) > 0 THEN sum(possible) END AS possible,
     sum(due)::INTEGER AS due, sum(missing)::INTEGER AS missing`,
    '_m_gr_seg_delta',
    'rows',
  );
}

/**
 * The kept figure sums (per class, per student, per group) gain the contributions of the
 * reached pairs' new rows (`_m_gr_sc_new`) and lose those of their replaced ones
 * (`_m_gr_sc_old`); `L` the letters in band order.
 */
async function patchFigureSums(ctx: MetricContext, L: string[]): Promise<void> {
  // Their contributions: + the new rows, − the replaced ones.
  const contributions = (source: string) => `
    SELECT * EXCLUDE (missing, due), ${contributionCols(L, '1')} FROM (SELECT * FROM _m_gr_sc_new) ${source}
    UNION ALL BY NAME
    SELECT * EXCLUDE (missing, due), ${contributionCols(L, '-1')} FROM (SELECT * FROM _m_gr_sc_old) ${source}`;
  await ctx.temp(
    '_m_gr_class_delta',
    `SELECT ${CLASS_KEY.join(', ')}, any_value(course_id) AS course_id,
            any_value(subject) AS subject, any_value(school_id) AS school_id,
            ${contributionSums(L)}
       FROM (${contributions("WHERE scope_kind = 'school'")})
      GROUP BY ${CLASS_KEY.join(', ')}`,
  );
  await mergeSums(
    ctx,
    ctx.base('gr_class', 'patch'),
    CLASS_KEY,
    ['course_id', 'subject', 'school_id'],
    contributionSums(L),
    '_m_gr_class_delta',
    'pairs',
  );
  await ctx.temp(
    '_m_gr_student_delta',
    `SELECT ${STUDENT_KEY.join(', ')}, ${contributionSums(L)}
       FROM (SELECT * EXCLUDE (missing, due), ${contributionCols(L, '1')} FROM (${byGrouping('_m_gr_sc_new')})
             UNION ALL BY NAME
             SELECT * EXCLUDE (missing, due), ${contributionCols(L, '-1')} FROM (${byGrouping('_m_gr_sc_old')}))
      GROUP BY ${STUDENT_KEY.join(', ')}`,
  );
  await mergeSums(
    ctx,
    ctx.base('gr_student', 'patch'),
    STUDENT_KEY,
    [],
    contributionSums(L),
    '_m_gr_student_delta',
    'pairs',
    { old: '_m_gr_student_old', merged: '_m_gr_student_new' },
  );
  // A group's figures change by its students' new sums minus their old ones.
  await ctx.temp(
    '_m_gr_figure_delta',
    `${figureRowsSql('_m_gr_student_new', L)}
     UNION ALL BY NAME
     ${figureRowsSql('_m_gr_student_old', L, '-1')}`,
  );
  await mergeSums(
    ctx,
    ctx.base('gr_figures', 'patch'),
    FIGURE_KEY,
    [],
    `sum(pairs)::INTEGER AS pairs,
     ${L.map((_l, i) => `sum(l${i})::INTEGER AS l${i}`).join(', ')},
     sum(students)::INTEGER AS students, sum(n)::INTEGER AS n, sum(s)::BIGINT AS s,
     sum(failing_students)::INTEGER AS failing_students,
     sum(missing)::INTEGER AS missing, sum(due)::INTEGER AS due`,
    '_m_gr_figure_delta',
    'pairs',
  );
}

export async function gradesSnapshots(
  ctx: MetricContext,
  mode: BaseMode = 'temp',
): Promise<MetricSnapshot<'grades'>[]> {
  const bands = await gradeBands(ctx);
  if (mode === 'temp') await gradesBase(ctx, 'temp');
  type ClassRow = FigureRow & { class_id: string; course_id: string | null; subject: string };
  // Letter counts come as columns l0, l1, … (one per band, in `bands` order).
  const L = bands.map((b) => b.letter);
  const figureCols = (students: string, failing: string) => `
    ${L.map((_l, i) => `l${i}`).join(', ')}, ${students} AS students, n AS student_classes,
    ${meanSql('s', 'n')} AS average_percent, ${failing} AS failing_students,
    missing AS missing_scores, due AS scores_due`;
  const grouped = await ctx.rows<FigureRow & { g: number; gkey: string }>(
    `SELECT scope_kind, scope_id::VARCHAR AS scope_id, period, g, gkey,
            ${figureCols('students', 'failing_students')}
       FROM ${ctx.base('gr_figures', mode)}`,
  );
  const totalBy = byScope(grouped.filter((r) => r.g === 0));
  const subjectBy = byScope(
    grouped.filter((r) => r.g === 1).map((r) => ({ ...r, subject: r.gkey })),
  );
  const schoolBy = byScope(
    grouped.filter((r) => r.g === 2).map((r) => ({ ...r, school_id: r.gkey })),
  );
  const classBy = groupBy(
    await ctx.rows<ClassRow & { scope_id: string; period: string }>(
      `SELECT scope_id::VARCHAR AS scope_id, period, class_id::VARCHAR AS class_id,
              course_id::VARCHAR AS course_id, subject, ${figureCols('n', 'failing')}
         FROM ${ctx.base('gr_class', mode)} ORDER BY class_id`,
    ),
    (r) => scopeKey('school', r.scope_id, r.period),
  );
  const gpaRows = await ctx.rows<GpaRow & { g: number; gkey: string }>(
    `SELECT g, scope_kind, scope_id::VARCHAR AS scope_id, period, gkey, points_x_credits,
            credits, enrollments
       FROM ${ctx.base('gr_gpa', mode)}`,
  );
  const gpa = {
    total: byScope(gpaRows.filter((r) => r.g === 0)),
    subject: byScope(gpaRows.filter((r) => r.g === 1).map((r) => ({ ...r, subject: r.gkey }))),
    school: byScope(gpaRows.filter((r) => r.g === 2).map((r) => ({ ...r, school_id: r.gkey }))),
  };

  const letterList = (r: FigureRow | undefined): LetterCount[] => {
    const counts = new Map<string, number>();
    bands.forEach((b, i) => {
      const n = (r as unknown as Record<string, number> | undefined)?.[`l${i}`] ?? 0;
      if (!counts.has(b.letter)) counts.set(b.letter, n);
    });
    return bands.map((b) => ({
      letter: b.letter,
      min_percent: b.min_percent,
      count: counts.get(b.letter) ?? 0,
    }));
  };
  const gradeFigures = (r: FigureRow | undefined): GradeFigures => ({
    students: r?.students ?? 0,
    student_classes: r?.student_classes ?? 0,
    average_percent: r?.average_percent ?? null,
    letters: letterList(r),
    failing_students: r?.failing_students ?? 0,
    failing_rate: ratio(r?.failing_students ?? 0, r?.students ?? 0),
    missing_scores: r?.missing_scores ?? 0,
    scores_due: r?.scores_due ?? 0,
    missing_rate: ratio(r?.missing_scores ?? 0, r?.scores_due ?? 0),
  });
  const gpaFigures = (r: GpaRow | undefined): GpaFigures => ({
    gpa: r && r.credits > 0 ? r.points_x_credits / r.credits : null,
    credits_attempted: r ? Math.round(r.credits * 100) / 100 : 0,
    completed_enrollments: r?.enrollments ?? 0,
  });

  return ctx.scopes.map((s) => {
    const key = scopeKey(s.scopeKind, s.scopeId, s.period);
    const subjectRows = groupBy(subjectBy.get(key), (r) => r.subject);
    const schoolRows = groupBy(schoolBy.get(key), (r) => r.school_id);
    const subjectGpa = groupBy(gpa.subject.get(key), (r) => r.subject);
    const schoolGpa = groupBy(gpa.school.get(key), (r) => r.school_id);
    const subjects = [...new Set([...subjectRows.keys(), ...subjectGpa.keys()])].sort();
    const schools = [...new Set([...schoolRows.keys(), ...schoolGpa.keys()])].sort();
    const payload: GradesPayload = {
      window: s.window,
      ...gradeFigures(totalBy.get(key)?.[0]),
      ...gpaFigures(gpa.total.get(key)?.[0]),
      by_subject: subjects.map((subject) => ({
        subject,
        ...gradeFigures(subjectRows.get(subject)?.[0]),
        ...gpaFigures(subjectGpa.get(subject)?.[0]),
      })),
      by_school: schools.map((school_id) => ({
        school_id,
        ...gradeFigures(schoolRows.get(school_id)?.[0]),
        ...gpaFigures(schoolGpa.get(school_id)?.[0]),
      })),
      classes: (classBy.get(key) ?? []).map((r) => ({
        class_id: r.class_id,
        course_id: r.course_id,
        subject: r.subject,
        students: r.students,
        average_percent: r.average_percent,
        letter_counts: letterList(r).map((l) => l.count),
        failing_students: r.failing_students,
        missing_scores: r.missing_scores,
        scores_due: r.scores_due,
      })),
    };
    return {
      metric: 'grades' as const,
      scopeKind: s.scopeKind,
      scopeId: s.scopeId,
      period: s.period,
      asOf: ctx.asOf,
      payload,
    };
  });
}
