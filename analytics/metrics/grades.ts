/**
 * Grades (SPEC §7).
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
 * - GPA: Σ(grade points × credits attempted) ÷ Σ credits attempted over class enrolments
 *   with status `completed`, grade points set and credits attempted > 0 (credits attempted
 *   null: the course's credits), in classes whose session overlaps the window. Grade
 *   points are capped at 4.0 (the 4.0 scale: honours weighting is not applied).
 */
import {
  MIN_START,
  MetricContext,
  type BaseMode,
  SCOPE_COLS,
  byScope,
  groupBy,
  asText,
  ratio,
  scopeKey,
  segmentJoin,
} from './context.js';
import { lit } from '../warehouse.js';
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
 * Aggregates of (student, class) rows grouped by the scope and `group`. The mean is taken
 * over percentages fixed to 8 decimals, summed and rounded (half up, to 2 decimals) in
 * integer arithmetic: exact, so the figure does not depend on the order parallel threads
 * add in. Grouped by class (`perClass`), each
 * student has one row per group, so counting rows counts students.
 */
const figureSql = (source: string, group: string, letters: string[], perClass = false) => `
  SELECT scope_kind, scope_id, period${group ? `, ${group}` : ''},
         ${letters.map((l, i) => `count(*) FILTER (letter = ${lit(l)})::INTEGER AS l${i},`).join(' ')}
         ${perClass ? 'count(pct)' : 'count(DISTINCT student_id) FILTER (pct IS NOT NULL)'}::INTEGER AS students,
         count(pct)::INTEGER AS student_classes,
         CASE WHEN count(pct) > 0
              THEN ((2 * sum(round(pct * 1e8)::BIGINT) + count(pct) * 1000000)
                    // (2 * count(pct) * 1000000)) / 100
         END::DOUBLE AS average_percent,
         ${perClass ? 'count(*) FILTER (pct < 60)' : 'count(DISTINCT student_id) FILTER (pct < 60)'}::INTEGER AS failing_students,
         sum(missing)::INTEGER AS missing_scores,
         sum(due)::INTEGER AS scores_due
    FROM ${source}`;

const gpaSql = (group: string) => `
  SELECT scope_kind, scope_id, period${group ? `, ${group}` : ''},
         sum(points * credits)::DOUBLE AS points_x_credits, sum(credits)::DOUBLE AS credits,
         count(*)::INTEGER AS enrollments
    FROM _m_gpa GROUP BY ALL`;

/** Changed rows of these tables can be patched into the base aggregate. */
export const GRADES_PATCHABLE = ['assignments', 'scores'] as const;

/**
 * Scores summed per (student, class) and date segment. `only` restricts the rows to the
 * classes in `temp._m_gr_classes` and the (student, class) pairs in `temp._m_gr_pairs`.
 */
function scoreSegmentsSql(asOf: string, only = false): string {
  return `WITH x AS (
       SELECT s.student_id, a.class_id, c.school_id, c.course_id,
              coalesce(co.subject, 'unknown') AS subject, a.due_date,
              NOT s.is_excused AS due,
              s.is_missing AS missing,
              NOT s.is_excused AND (s.is_missing OR s.points IS NOT NULL) AS graded,
              a.weight * CASE WHEN s.is_missing THEN 0 ELSE s.points END AS w_earned,
              a.weight * a.points_possible AS w_possible
         FROM scores s
         JOIN assignments a ON a.id = s.assignment_id
         JOIN classes c ON c.id = a.class_id
         LEFT JOIN courses co ON co.id = c.course_id
        WHERE a.due_date BETWEEN ${MIN_START} AND ${asOf}
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
            sum(x.w_earned) FILTER (x.graded) AS earned,
            sum(x.w_possible) FILTER (x.graded) AS possible,
            count(*) FILTER (x.due) AS due,
            count(*) FILTER (x.missing) AS missing
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
 * fixes course, school and subject). `only`: the classes and pairs being patched.
 */
function studentClassSql(segments: string, letters: string, only = false): string {
  return `WITH pairs AS (
       SELECT sw.scope_kind, sw.scope_id, sw.period, x.class_id, x.student_id,
              any_value(x.course_id) AS course_id, any_value(x.school_id) AS school_id,
              any_value(x.subject) AS subject,
              sum(x.earned) AS earned, sum(x.possible) AS possible,
              sum(x.due)::INTEGER AS due, sum(x.missing)::INTEGER AS missing
         FROM ${segments} x ${segmentJoin('x', 'school_id')}
        ${
          only
            ? `WHERE x.class_id IN (SELECT class_id FROM _m_gr_classes)
                  OR EXISTS (SELECT 1 FROM _m_gr_pairs p
                              WHERE p.student_id = x.student_id AND p.class_id = x.class_id)`
            : ''
        }
        GROUP BY sw.scope_kind, sw.scope_id, sw.period, x.class_id, x.student_id)
     SELECT *, ${letters} AS letter FROM (
       SELECT *, CASE WHEN possible > 0 THEN (earned * 100 / possible)::DOUBLE END AS pct FROM pairs)`;
}

/** The base aggregates `score_segments` and `student_class`, from scratch. */
export async function gradesBase(ctx: MetricContext, mode: 'temp' | 'rebuild'): Promise<void> {
  await ctx.createBase('score_segments', mode, scoreSegmentsSql(ctx.asOfSql));
  await ctx.createBase(
    'student_class',
    mode,
    studentClassSql(ctx.base('score_segments', mode), letterCase(await gradeBands(ctx))),
  );
}

/**
 * Brings the kept `score_segments` up to date with the changed assignments and scores of
 * this run: every class an old or new assignment belongs to, and every (student, class)
 * pair an old or new score belongs to, is recomputed.
 */
export async function patchGradesBase(
  ctx: MetricContext,
  changed: ReadonlySet<string>,
): Promise<void> {
  if (!GRADES_PATCHABLE.some((t) => changed.has(t))) return;
  await ctx.temp(
    '_m_gr_classes',
    changed.has('assignments')
      ? `SELECT DISTINCT class_id FROM temp._delta_assignments`
      : `SELECT NULL::UUID AS class_id WHERE false`,
  );
  await ctx.temp(
    '_m_gr_pairs',
    changed.has('scores')
      ? `SELECT DISTINCT d.student_id, a.class_id FROM temp._delta_scores d
           JOIN (SELECT id, class_id FROM assignments
                 ${changed.has('assignments') ? 'UNION SELECT id, class_id FROM temp._delta_assignments' : ''}) a
             ON a.id = d.assignment_id`
      : `SELECT NULL::UUID AS student_id, NULL::UUID AS class_id WHERE false`,
  );
  const segments = ctx.base('score_segments', 'patch');
  await ctx.runner.run(
    `DELETE FROM ${segments} x
      WHERE x.class_id IN (SELECT class_id FROM _m_gr_classes)
         OR EXISTS (SELECT 1 FROM _m_gr_pairs p WHERE p.student_id = x.student_id AND p.class_id = x.class_id)`,
  );
  await ctx.runner.run(`INSERT INTO ${segments} ${scoreSegmentsSql(ctx.asOfSql, true)}`);
  const pairs = ctx.base('student_class', 'patch');
  await ctx.runner.run(
    `DELETE FROM ${pairs} x
      WHERE x.class_id IN (SELECT class_id FROM _m_gr_classes)
         OR EXISTS (SELECT 1 FROM _m_gr_pairs p WHERE p.student_id = x.student_id AND p.class_id = x.class_id)`,
  );
  await ctx.runner.run(
    `INSERT INTO ${pairs} ${studentClassSql(segments, letterCase(await gradeBands(ctx)), true)}`,
  );
}

export async function gradesSnapshots(
  ctx: MetricContext,
  mode: BaseMode = 'temp',
): Promise<MetricSnapshot<'grades'>[]> {
  const bands = await gradeBands(ctx);
  if (mode === 'temp') await gradesBase(ctx, 'temp');
  const source = ctx.base('student_class', mode);
  await ctx.temp(
    '_m_gpa',
    `SELECT ${SCOPE_COLS}, c.school_id, coalesce(co.subject, 'unknown') AS subject,
            least(ce.grade_points, 4.0) AS points,
            coalesce(ce.credits_attempted, co.credits) AS credits
       FROM class_enrollments ce
       JOIN classes c ON c.id = ce.class_id
       LEFT JOIN courses co ON co.id = c.course_id
       JOIN academic_sessions se ON se.id = c.session_id
       JOIN _m_scope_windows sw ON sw.unit_id = c.school_id
        AND se.start_date <= sw.end_date AND se.end_date >= sw.start_date
      WHERE ce.status = 'completed' AND ce.grade_points IS NOT NULL
        AND coalesce(ce.credits_attempted, co.credits) > 0`,
  );

  type ClassRow = FigureRow & {
    class_id: string;
    course_id: string | null;
    subject: string;
    school_id: string;
  };
  // Letter counts come as columns l0, l1, … (one per band, in `bands` order).
  const L = bands.map((b) => b.letter);
  const totalBy = byScope(
    await ctx.rows<FigureRow>(asText(`${figureSql(source, '', L)} GROUP BY ALL`, [])),
  );
  const subjectBy = byScope(
    await ctx.rows<FigureRow & { subject: string }>(
      asText(`${figureSql(source, 'subject', L)} GROUP BY ALL`, []),
    ),
  );
  const schoolBy = byScope(
    await ctx.rows<FigureRow & { school_id: string }>(
      asText(`${figureSql(source, 'school_id', L)} GROUP BY ALL`, ['school_id']),
    ),
  );
  const classBy = byScope(
    await ctx.rows<ClassRow>(
      asText(
        `${figureSql(source, 'class_id, any_value(course_id) AS course_id, any_value(subject) AS subject, any_value(school_id) AS school_id', L, true)}
          GROUP BY scope_kind, scope_id, period, class_id`,
        ['class_id', 'course_id', 'school_id'],
        'ORDER BY class_id',
      ),
    ),
  );
  const gpa = {
    total: byScope(await ctx.rows<GpaRow>(gpaSql(''))),
    subject: byScope(await ctx.rows<GpaRow & { subject: string }>(gpaSql('subject'))),
    school: byScope(
      await ctx.rows<GpaRow & { school_id: string }>(gpaSql('school_id::VARCHAR AS school_id')),
    ),
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
    gpa: r && r.credits > 0 ? Math.round((r.points_x_credits / r.credits) * 100) / 100 : null,
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
        school_id: r.school_id,
        ...gradeFigures(r),
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
