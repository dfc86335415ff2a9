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
  SCOPE_COLS,
  byScope,
  groupBy,
  ratio,
  scopeKey,
  segmentJoin,
} from './context.js';
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

interface LetterRow {
  scope_kind: string;
  scope_id: string;
  period: string;
  letter: string;
  count: number;
}

interface GpaRow {
  scope_kind: string;
  scope_id: string;
  period: string;
  points_x_credits: number;
  credits: number;
  enrollments: number;
}

/** Aggregates of (student, class) rows grouped by the scope and `group`. */
const figureSql = (group: string) => `
  SELECT scope_kind, scope_id, period${group ? `, ${group}` : ''},
         count(DISTINCT student_id) FILTER (pct IS NOT NULL)::INTEGER AS students,
         count(pct)::INTEGER AS student_classes,
         round(avg(pct), 2)::DOUBLE AS average_percent,
         count(DISTINCT student_id) FILTER (pct < 60)::INTEGER AS failing_students,
         sum(missing)::INTEGER AS missing_scores,
         sum(due)::INTEGER AS scores_due
    FROM _m_student_class`;

const letterSql = (group: string) => `
  SELECT scope_kind, scope_id, period${group ? `, ${group}` : ''}, letter, count(*)::INTEGER AS count
    FROM _m_student_class WHERE letter IS NOT NULL GROUP BY ALL`;

const gpaSql = (group: string) => `
  SELECT scope_kind, scope_id, period${group ? `, ${group}` : ''},
         sum(points * credits)::DOUBLE AS points_x_credits, sum(credits)::DOUBLE AS credits,
         count(*)::INTEGER AS enrollments
    FROM _m_gpa GROUP BY ALL`;

export async function gradesSnapshots(ctx: MetricContext): Promise<MetricSnapshot<'grades'>[]> {
  const asOf = ctx.asOfSql;
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
  const bands = await ctx.rows<{ letter: string; min_percent: number }>(
    `SELECT letter, min_percent::DOUBLE AS min_percent FROM _m_bands ORDER BY min_percent DESC, letter`,
  );
  // Scores summed per (student, class) and date segment, then per window.
  await ctx.temp(
    '_m_score_segments',
    `WITH x AS (
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
        WHERE a.due_date BETWEEN ${MIN_START} AND ${asOf})
     SELECT x.student_id, x.class_id, x.school_id, x.course_id, x.subject, b.b AS seg,
            sum(x.w_earned) FILTER (x.graded) AS earned,
            sum(x.w_possible) FILTER (x.graded) AS possible,
            count(*) FILTER (x.due) AS due,
            count(*) FILTER (x.missing) AS missing
       FROM x ASOF JOIN _m_bounds b ON x.due_date >= b.b
      GROUP BY ALL`,
  );
  await ctx.temp(
    '_m_student_class',
    `WITH pairs AS (
       SELECT ${SCOPE_COLS}, x.class_id, x.course_id, x.school_id, x.subject, x.student_id,
              sum(x.earned) AS earned, sum(x.possible) AS possible,
              sum(x.due) AS due, sum(x.missing) AS missing
         FROM _m_score_segments x ${segmentJoin('x', 'school_id')}
        GROUP BY ALL),
     pct AS (
       SELECT *, CASE WHEN possible > 0 THEN (earned * 100 / possible)::DOUBLE END AS pct FROM pairs)
     SELECT p.*,
            CASE WHEN p.pct IS NOT NULL
                 THEN coalesce(b.letter, (SELECT letter FROM _m_bands ORDER BY min_percent LIMIT 1))
            END AS letter
       FROM pct p ASOF LEFT JOIN _m_bands b ON p.pct >= b.min_percent`,
  );
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
  const totalBy = byScope(await ctx.rows<FigureRow>(`${figureSql('')} GROUP BY ALL`));
  const subjectBy = byScope(
    await ctx.rows<FigureRow & { subject: string }>(`${figureSql('subject')} GROUP BY ALL`),
  );
  const schoolBy = byScope(
    await ctx.rows<FigureRow & { school_id: string }>(
      `${figureSql('school_id::VARCHAR AS school_id')} GROUP BY ALL`,
    ),
  );
  const classBy = byScope(
    await ctx.rows<ClassRow>(
      `${figureSql('class_id::VARCHAR AS class_id, course_id::VARCHAR AS course_id, subject, school_id::VARCHAR AS school_id')}
        GROUP BY ALL ORDER BY class_id`,
    ),
  );
  const letters = {
    total: byScope(await ctx.rows<LetterRow>(letterSql(''))),
    subject: byScope(await ctx.rows<LetterRow & { subject: string }>(letterSql('subject'))),
    school: byScope(
      await ctx.rows<LetterRow & { school_id: string }>(
        letterSql('school_id::VARCHAR AS school_id'),
      ),
    ),
    class: byScope(
      await ctx.rows<LetterRow & { class_id: string }>(letterSql('class_id::VARCHAR AS class_id')),
    ),
  };
  const gpa = {
    total: byScope(await ctx.rows<GpaRow>(gpaSql(''))),
    subject: byScope(await ctx.rows<GpaRow & { subject: string }>(gpaSql('subject'))),
    school: byScope(
      await ctx.rows<GpaRow & { school_id: string }>(gpaSql('school_id::VARCHAR AS school_id')),
    ),
  };

  const letterList = (rows: LetterRow[] | undefined): LetterCount[] => {
    const counts = new Map((rows ?? []).map((r) => [r.letter, r.count]));
    return bands.map((b) => ({
      letter: b.letter,
      min_percent: b.min_percent,
      count: counts.get(b.letter) ?? 0,
    }));
  };
  const gradeFigures = (
    r: FigureRow | undefined,
    letterRows: LetterRow[] | undefined,
  ): GradeFigures => ({
    students: r?.students ?? 0,
    student_classes: r?.student_classes ?? 0,
    average_percent: r?.average_percent ?? null,
    letters: letterList(letterRows),
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
    const subjectLetters = groupBy(letters.subject.get(key), (r) => r.subject);
    const schoolLetters = groupBy(letters.school.get(key), (r) => r.school_id);
    const classLetters = groupBy(letters.class.get(key), (r) => r.class_id);
    const subjectGpa = groupBy(gpa.subject.get(key), (r) => r.subject);
    const schoolGpa = groupBy(gpa.school.get(key), (r) => r.school_id);
    const subjects = [...new Set([...subjectRows.keys(), ...subjectGpa.keys()])].sort();
    const schools = [...new Set([...schoolRows.keys(), ...schoolGpa.keys()])].sort();
    const payload: GradesPayload = {
      window: s.window,
      ...gradeFigures(totalBy.get(key)?.[0], letters.total.get(key)),
      ...gpaFigures(gpa.total.get(key)?.[0]),
      by_subject: subjects.map((subject) => ({
        subject,
        ...gradeFigures(subjectRows.get(subject)?.[0], subjectLetters.get(subject)),
        ...gpaFigures(subjectGpa.get(subject)?.[0]),
      })),
      by_school: schools.map((school_id) => ({
        school_id,
        ...gradeFigures(schoolRows.get(school_id)?.[0], schoolLetters.get(school_id)),
        ...gpaFigures(schoolGpa.get(school_id)?.[0]),
      })),
      classes: (classBy.get(key) ?? []).map((r) => ({
        class_id: r.class_id,
        course_id: r.course_id,
        subject: r.subject,
        school_id: r.school_id,
        ...gradeFigures(r, classLetters.get(r.class_id)),
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
