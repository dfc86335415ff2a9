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
 */
import {
  MIN_START,
  MetricContext,
  type BaseMode,
  byAsOf,
  byScope,
  groupBy,
  ratio,
  scopeKey,
  segmentJoin,
} from './context.js';
import { lit } from '../warehouse.js';
import { mergeSums } from './sums.js';
import type {
  GpaFigures,
  GradeFigures,
  GradesPayload,
  LetterCount,
  MetricSnapshot,
} from './types.js';

const DEFAULT_BANDS: [string, number, number][] = [
  ['A', 90, 4],
  ['B', 80, 3],
  ['C', 70, 2],
  ['D', 60, 1],
  ['F', 0, 0],
];

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
 * What one (student, class) row adds to the figures, times `sign` (+1 added, −1 removed):
 * the row itself, its letter (columns l0, l1, … in band order), whether it has a
 * percentage, the percentage fixed to 8 decimals, whether it is failing, missing and due.
 * Every figure column is a sum of these, so figures are kept up to date by adding the
 * contributions of new rows and subtracting those of the rows they replace.
 */
const contributionCols = (letters: string[], sign = '1') => `
  ${sign} AS pairs,
  ${letters.map((l, i) => `${sign} * (letter IS NOT DISTINCT FROM ${lit(l)})::INTEGER AS l${i}`).join(', ')},
  ${sign} * (pct IS NOT NULL)::INTEGER AS n,
  ${sign} * coalesce(round(pct * 1e8)::BIGINT, 0) AS s,
  ${sign} * coalesce(pct < 60, false)::INTEGER AS failing,
  ${sign} * missing AS missing,
  ${sign} * due AS due`;

/** Sums of contribution columns (`contributionCols`), typed as the kept tables hold them. */
const contributionSums = (letters: string[]) => `
  sum(pairs)::INTEGER AS pairs,
  ${letters.map((_l, i) => `sum(l${i})::INTEGER AS l${i}`).join(', ')},
  sum(n)::INTEGER AS n, sum(s)::BIGINT AS s, sum(failing)::INTEGER AS failing,
  sum(missing)::INTEGER AS missing, sum(due)::INTEGER AS due`;

/** Key columns of the kept figure tables (see `gradesBase`). */
const CLASS_KEY = ['scope_id', 'period', 'class_id'];
const STUDENT_KEY = ['scope_kind', 'scope_id', 'period', 'g', 'gkey', 'student_id'];
const FIGURE_KEY = ['scope_kind', 'scope_id', 'period', 'g', 'gkey'];

/**
 * (student, class) rows of `source` with their grouping within the scope: `g` 0 the scope
 * as a whole (`gkey` empty), 1 a subject, 2 a school (`gkey` the subject or school id).
 */
const grouping = (source: string, g: number) =>
  `SELECT *, ${g} AS g, ${["''", 'subject', 'school_id::VARCHAR'][g]} AS gkey FROM ${source}`;
const byGrouping = (source: string) =>
  [0, 1, 2].map((g) => grouping(source, g)).join('\n  UNION ALL ');

/** Per-student sums to per-group figures: students counted once, failing students too. */
const figureRowsSql = (students: string, letters: string[], sign = '1') => `
  SELECT ${FIGURE_KEY.join(', ')},
         sum(${sign} * pairs)::INTEGER AS pairs,
         ${letters.map((_l, i) => `sum(${sign} * l${i})::INTEGER AS l${i}`).join(', ')},
         sum(${sign} * (n > 0)::INTEGER)::INTEGER AS students,
         sum(${sign} * n)::INTEGER AS n, sum(${sign} * s)::BIGINT AS s,
         sum(${sign} * (failing > 0)::INTEGER)::INTEGER AS failing_students,
         sum(${sign} * missing)::INTEGER AS missing, sum(${sign} * due)::INTEGER AS due
    FROM ${students} GROUP BY ${FIGURE_KEY.join(', ')}`;

/**
 * GPA sums per scope and period, over final grades (completed class enrolments with grade
 * points and credits): in total (`g` 0), per subject (1) and per school (2).
 */
const gpaSql = (asOf: string) => `WITH e AS (
     SELECT sw.scope_kind, sw.scope_id, sw.period, c.school_id::VARCHAR AS school_id,
            coalesce(co.subject, 'unknown') AS subject,
            least(ce.grade_points, 4.0) AS points,
            coalesce(ce.credits_attempted, co.credits) AS credits
       FROM class_enrollments ce
       JOIN classes c ON c.id = ce.class_id
       LEFT JOIN courses co ON co.id = c.course_id
       JOIN academic_sessions se ON se.id = c.session_id
       JOIN _m_scope_windows sw ON sw.unit_id = c.school_id
        AND se.start_date <= sw.end_date AND se.end_date >= sw.start_date
      WHERE ce.status = 'completed' AND ce.grade_points IS NOT NULL
        AND coalesce(ce.credits_attempted, co.credits) > 0
        AND coalesce(ce.exit_date, ${asOf}) <= ${asOf})
  ${(
    [
      [0, `''`],
      [1, 'subject'],
      [2, 'school_id'],
    ] as const
  )
    .map(
      ([g, key]) => `
  SELECT ${g} AS g, scope_kind, scope_id, period, ${key} AS gkey,
         sum(points * credits)::DOUBLE AS points_x_credits, sum(credits)::DOUBLE AS credits,
         count(*)::INTEGER AS enrollments
    FROM e GROUP BY scope_kind, scope_id, period${g === 0 ? '' : `, ${key}`}`,
    )
    .join('\n  UNION ALL')}`;

/**
 * (student, class) pairs whose class enrolment was dropped or withdrawn by the as-of date:
 * their scores count nowhere.
 */
const droppedSql = (asOf: string) =>
  `SELECT student_id, class_id FROM class_enrollments
    WHERE status IN ('dropped', 'withdrawn') AND coalesce(exit_date, ${asOf}) <= ${asOf}`;

/** Changed rows of these tables can be patched into the base aggregate. */
export const GRADES_PATCHABLE = ['assignments', 'scores', 'class_enrollments'] as const;

/**
 * Weighted points, exact. Sums of DECIMAL come out 38 digits wide (HUGEINT-backed), which
 * DuckDB scans several times slower; 18 digits (BIGINT) hold any realistic total.
 */
const WEIGHTED = 'DECIMAL(18,4)';
/**
 * Sums of a segment's scores: rows, graded rows (their weighted points earned and
 * possible; null when none), due and missing. All are sums, so a segment is kept up to
 * date by adding new scores and subtracting replaced ones (`patchGradesBase`).
 */
const SEGMENT_SUMS = `sum(x.sign)::INTEGER AS rows,
            coalesce(sum(x.sign) FILTER (x.graded), 0)::INTEGER AS graded,
            (sum(x.sign * x.w_earned) FILTER (x.graded))::${WEIGHTED} AS earned,
            (sum(x.sign * x.w_possible) FILTER (x.graded))::${WEIGHTED} AS possible,
            coalesce(sum(x.sign) FILTER (x.due), 0)::INTEGER AS due,
            coalesce(sum(x.sign) FILTER (x.missing), 0)::INTEGER AS missing`;

/**
 * Scores (with their assignment, class and course) as segment facts: `sign` +1, or −1 for
 * the replaced versions in a delta.
 */
const scoreFacts = (scores: string, sign: string, asOf: string) => `
       SELECT ${sign} AS sign, s.student_id, a.class_id, c.school_id, c.course_id,
              coalesce(co.subject, 'unknown') AS subject, a.due_date,
              NOT s.is_excused AS due,
              s.is_missing AS missing,
              NOT s.is_excused AND (s.is_missing OR s.points IS NOT NULL) AS graded,
              a.weight * CASE WHEN s.is_missing THEN 0 ELSE s.points END AS w_earned,
              a.weight * a.points_possible AS w_possible
         FROM ${scores} s
         JOIN assignments a ON a.id = s.assignment_id
         JOIN classes c ON c.id = a.class_id
         LEFT JOIN courses co ON co.id = c.course_id
         ANTI JOIN (${droppedSql(asOf)}) dr ON dr.student_id = s.student_id AND dr.class_id = a.class_id
        WHERE a.due_date BETWEEN ${MIN_START} AND ${asOf}
          AND (s.graded_at IS NULL OR ${byAsOf('s.graded_at', 'c.school_id')})`;

/**
 * Scores summed per (student, class) and date segment. `only` restricts the rows to the
 * classes in `temp._m_gr_classes` and the (student, class) pairs in `temp._m_gr_pairs`.
 */
function scoreSegmentsSql(asOf: string, only = false): string {
  return `WITH x AS (${scoreFacts('scores', '1', asOf)}
        ${
          only
            ? `AND (s.student_id IN (SELECT student_id FROM _m_gr_pairs)
                    OR s.assignment_id IN (SELECT id FROM assignments
                                            WHERE class_id IN (SELECT class_id FROM _m_gr_classes)))
               AND (a.class_id IN (SELECT class_id FROM _m_gr_classes)
                    OR EXISTS (SELECT 1 FROM _m_gr_pairs p
                                WHERE p.student_id = s.student_id AND p.class_id = a.class_id))`
            : ''
        })
     SELECT x.student_id, x.class_id, x.school_id, x.course_id, x.subject, b.b AS seg,
            ${SEGMENT_SUMS}
       FROM x ASOF JOIN _m_bounds b ON x.due_date >= b.b
      GROUP BY ALL`;
}

/** The tenant's letter bands (default scale), highest minimum first. */
async function gradeBands(ctx: MetricContext): Promise<{ letter: string; min_percent: number }[]> {
  const defaults = DEFAULT_BANDS.map(([l, m, p]) => `('${l}', ${m}, ${p})`).join(', ');
  await ctx.temp(
    '_m_bands',
    `WITH scale AS (
       SELECT bands_base64 FROM grading_scales WHERE is_default ORDER BY id LIMIT 1),
     parsed AS (
       SELECT unnest(from_json(decode(from_base64(bands_base64)),
                '[{"letter":"VARCHAR","min_percent":"DOUBLE","points":"DOUBLE"}]'), recursive := true)
         FROM scale),
     tenant AS (SELECT letter, min_percent, points FROM parsed
                 WHERE letter IS NOT NULL AND min_percent IS NOT NULL)
     SELECT * FROM tenant
     UNION ALL
     SELECT * FROM (VALUES ${defaults}) d(letter, min_percent, points)
      WHERE NOT EXISTS (SELECT 1 FROM tenant)`,
  );
  return ctx.rows<{ letter: string; min_percent: number }>(
    `SELECT letter, min_percent::DOUBLE AS min_percent FROM _m_bands ORDER BY min_percent DESC, letter`,
  );
}

/**
 * The letter of a percentage: the band with the highest minimum not above it, else the
 * lowest band (`bands` sorted by minimum, highest first).
 */
function letterCase(bands: { letter: string; min_percent: number }[]): string {
  if (!bands.length) return 'NULL::VARCHAR';
  return `CASE WHEN pct IS NULL THEN NULL
            ${bands.map((b) => `WHEN pct >= ${b.min_percent} THEN ${lit(b.letter)}`).join('\n')}
            ELSE ${lit(bands[bands.length - 1]!.letter)} END`;
}

/**
 * One row per scope, period, class and student with its sums and percentage (the class
 * fixes course, school and subject). `only`: the pairs in `temp._m_gr_reach`.
 */
function studentClassSql(segments: string, letters: string, only = false): string {
  const source = only
    ? `(SELECT x.* FROM ${segments} x
          SEMI JOIN _m_gr_reach r ON r.student_id = x.student_id AND r.class_id = x.class_id)`
    : segments;
  return `WITH pairs AS (
       SELECT sw.scope_kind, sw.scope_id, sw.period, x.class_id, x.student_id,
              any_value(x.course_id) AS course_id, any_value(x.school_id) AS school_id,
              any_value(x.subject) AS subject,
              sum(x.earned) AS earned, sum(x.possible) AS possible,
              sum(x.due)::INTEGER AS due, sum(x.missing)::INTEGER AS missing
         FROM ${source} x ${segmentJoin('x', 'school_id')}
        GROUP BY sw.scope_kind, sw.scope_id, sw.period, x.class_id, x.student_id)
     SELECT *, ${letters} AS letter FROM (
       SELECT *, CASE WHEN possible > 0 THEN (earned * 100 / possible)::DOUBLE END AS pct FROM pairs)`;
}

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
  const L = bands.map((b) => b.letter);
  const segments = ctx.base('score_segments', 'patch');
  const letters = letterCase(bands);
  // The pairs reached: those of the changed scores (old and new versions) and every pair
  // of a class whose assignments changed. Their (student, class) rows are computed from
  // the segments before and after the update: the figures lose the first, gain the second.
  // A changed class enrolment (a drop, a re-enrolment) reaches its (student, class) pair:
  // its segments are recomputed from the scores like those of a changed assignment's class.
  if (changed.has('assignments') || changed.has('class_enrollments')) {
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
  } else {
    // Assignments unchanged: a score's contribution to its segment is the same now as when
    // it was added, so the replaced version's is subtracted and the new one's added.
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
  await ctx.temp('_m_gr_sc_new', studentClassSql(segments, letters, true));

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
