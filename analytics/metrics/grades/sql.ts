/**
 * The grades metric's SQL (see `../grades.ts` for the definitions): score facts and their
 * date segments, the (student, class) rows with their percentage and letter, what each row
 * contributes to the kept sums, and the GPA sums.
 */
import { MIN_START, MetricContext, byAsOf, segmentJoin } from '../context.js';
import { lit } from '../../warehouse.js';

export const DEFAULT_BANDS: [string, number, number][] = [
  ['A', 90, 4],
  ['B', 80, 3],
  ['C', 70, 2],
  ['D', 60, 1],
  ['F', 0, 0],
];

/**
 * What one (student, class) row adds to the figures, times `sign` (+1 added, −1 removed):
 * the row itself, its letter (columns l0, l1, … in band order), whether it has a
 * percentage, the percentage fixed to 8 decimals, whether it is failing, missing and due.
 * Every figure column is a sum of these, so figures are kept up to date by adding the
 * contributions of new rows and subtracting those of the rows they replace.
 */
export const contributionCols = (letters: string[], sign = '1') => `
  ${sign} AS pairs,
  ${letters.map((l, i) => `${sign} * (letter IS NOT DISTINCT FROM ${lit(l)})::INTEGER AS l${i}`).join(', ')},
  ${sign} * (pct IS NOT NULL)::INTEGER AS n,
  ${sign} * coalesce(round(pct * 1e8)::BIGINT, 0) AS s,
  ${sign} * coalesce(pct < 60, false)::INTEGER AS failing,
  ${sign} * missing AS missing,
  ${sign} * due AS due`;

/** Sums of contribution columns (`contributionCols`), typed as the kept tables hold them. */
export const contributionSums = (letters: string[]) => `
  sum(pairs)::INTEGER AS pairs,
  ${letters.map((_l, i) => `sum(l${i})::INTEGER AS l${i}`).join(', ')},
  sum(n)::INTEGER AS n, sum(s)::BIGINT AS s, sum(failing)::INTEGER AS failing,
  sum(missing)::INTEGER AS missing, sum(due)::INTEGER AS due`;

/** Key columns of the kept figure tables (see `gradesBase`). */
export const CLASS_KEY = ['scope_id', 'period', 'class_id'];
export const STUDENT_KEY = ['scope_kind', 'scope_id', 'period', 'g', 'gkey', 'student_id'];
export const FIGURE_KEY = ['scope_kind', 'scope_id', 'period', 'g', 'gkey'];

/**
 * (student, class) rows of `source` with their grouping within the scope: `g` 0 the scope
 * as a whole (`gkey` empty), 1 a subject, 2 a school (`gkey` the subject or school id).
 */
export const grouping = (source: string, g: number) =>
  `SELECT *, ${g} AS g, ${["''", 'subject', 'school_id::VARCHAR'][g]} AS gkey FROM ${source}`;
export const byGrouping = (source: string) =>
  [0, 1, 2].map((g) => grouping(source, g)).join('\n  UNION ALL ');

/** Per-student sums to per-group figures: students counted once, failing students too. */
export const figureRowsSql = (students: string, letters: string[], sign = '1') => `
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
export const gpaSql = (asOf: string) => `WITH e AS (
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
export const droppedSql = (asOf: string) =>
  `SELECT student_id, class_id FROM class_enrollments
    WHERE status IN ('dropped', 'withdrawn') AND coalesce(exit_date, ${asOf}) <= ${asOf}`;

/** Changed rows of these tables can be patched into the base aggregate. */
export const GRADES_PATCHABLE = ['assignments', 'scores', 'class_enrollments'] as const;

/**
 * Weighted points, exact. Sums of DECIMAL come out 38 digits wide (HUGEINT-backed), which
 * DuckDB scans several times slower; 18 digits (BIGINT) hold any realistic total.
 */
export const WEIGHTED = 'DECIMAL(18,4)';
/**
 * Sums of a segment's scores: rows, graded rows (their weighted points earned and
 * possible; null when none), due and missing. All are sums, so a segment is kept up to
 * date by adding new scores and subtracting replaced ones (`patchGradesBase`).
 */
export const SEGMENT_SUMS = `sum(x.sign)::INTEGER AS rows,
            coalesce(sum(x.sign) FILTER (x.graded), 0)::INTEGER AS graded,
            (sum(x.sign * x.w_earned) FILTER (x.graded))::${WEIGHTED} AS earned,
            (sum(x.sign * x.w_possible) FILTER (x.graded))::${WEIGHTED} AS possible,
            coalesce(sum(x.sign) FILTER (x.due), 0)::INTEGER AS due,
            coalesce(sum(x.sign) FILTER (x.missing), 0)::INTEGER AS missing`;

/**
 * Scores (with their assignment, class and course) as segment facts: `sign` +1, or −1 for
 * the replaced versions in a delta.
 */
export const scoreFacts = (scores: string, sign: string, asOf: string) => `
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
export function scoreSegmentsSql(asOf: string, only = false): string {
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
export async function gradeBands(
  ctx: MetricContext,
): Promise<{ letter: string; min_percent: number }[]> {
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
export function letterCase(bands: { letter: string; min_percent: number }[]): string {
  if (!bands.length) return 'NULL::VARCHAR';
  return `CASE WHEN pct IS NULL THEN NULL
            ${bands.map((b) => `WHEN pct >= ${b.min_percent} THEN ${lit(b.letter)}`).join('\n')}
            ELSE ${lit(bands[bands.length - 1]!.letter)} END`;
}

/**
 * One row per scope, period, class and student with its sums and percentage (the class
 * fixes course, school and subject). `only`: the pairs in `temp._m_gr_reach`.
 */
export function studentClassSql(segments: string, letters: string, only = false): string {
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
