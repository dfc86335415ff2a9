import type * as t from '../../db/schema/tenant.js';
import { bandJson, lineOf, statusOf, type ScoreRow } from './score-lines.js';
import { finalBy, gpaOf, leftBy, letterFor, percentOf, round2, type GradeBand } from './compute.js';

type Enrollment = typeof t.classEnrollments.$inferSelect;

/**
 * Whether a score was graded by `asOf` (its local grading day; undated: it was): a score
 * graded later is not yet in a percentage as of that day (docs/metrics.md#grades).
 */
const gradedBy = (asOf: string) => (s: ScoreRow) => !s.graded_on || s.graded_on <= asOf;
type Assignment = typeof t.assignments.$inferSelect;

/** A student on a class's roster, as the gradebook lists them. */
export interface GradebookStudent {
  studentId: string;
  status: Enrollment['status'];
  exitDate: string | null;
  firstName: string;
  lastName: string;
}

export interface GradebookInput {
  classId: string;
  asOf: string;
  bands: readonly GradeBand[];
  /** In the gradebook's column order. */
  assignments: readonly Pick<
    Assignment,
    'id' | 'title' | 'category' | 'pointsPossible' | 'weight' | 'dueDate'
  >[];
  /** In the gradebook's row order. */
  students: readonly GradebookStudent[];
  scores: readonly ScoreRow[];
}

/**
 * A class's gradebook as of a date: students × assignments, each student's current
 * percentage and letter. A class dropped or withdrawn by the date has no current grade
 * (docs/metrics.md#grades).
 */
export function gradebookOf(input: GradebookInput) {
  const { asOf, bands, assignments } = input;
  const byStudent = new Map<string, ScoreRow[]>();
  for (const s of input.scores) {
    const list = byStudent.get(s.student_id) ?? [];
    list.push(s);
    byStudent.set(s.student_id, list);
  }
  return {
    class_id: input.classId,
    as_of: asOf,
    scale: bands.map(bandJson),
    assignments: assignments.map((a) => ({
      id: a.id,
      title: a.title,
      category: a.category,
      points_possible: a.pointsPossible,
      weight: a.weight,
      due_date: a.dueDate,
    })),
    students: input.students.map((st) => {
      const mine = byStudent.get(st.studentId) ?? [];
      const cells = new Map(mine.map((s) => [s.assignment_id, s]));
      const percent = leftBy(st.status, st.exitDate, asOf)
        ? null
        : percentOf(mine.filter(gradedBy(asOf)).map(lineOf), asOf);
      return {
        student_id: st.studentId,
        first_name: st.firstName,
        last_name: st.lastName,
        enrollment_status: st.status,
        scores: assignments.map((a) => {
          const s = cells.get(a.id);
          return s ? { points: s.points, status: statusOf(s), comment: s.comment } : null;
        }),
        current_percent: percent === null ? null : round2(percent),
        letter: letterFor(percent, bands),
      };
    }),
  };
}

/** One of a student's class enrollments, with its class and course. */
export type StudentEnrollment = Pick<
  Enrollment,
  | 'id'
  | 'classId'
  | 'status'
  | 'exitDate'
  | 'finalPercent'
  | 'finalGrade'
  | 'gradePoints'
  | 'creditsAttempted'
  | 'creditsEarned'
> & {
  className: string;
  courseId: string;
  courseName: string;
  subject: string;
  courseCredits: (typeof t.courses.$inferSelect)['credits'];
  sessionId: string;
};

export interface StudentGradesInput {
  studentId: string;
  asOf: string;
  /** In the report's order. */
  enrollments: readonly StudentEnrollment[];
  /** The grading scale of each enrolled class. */
  scales: ReadonlyMap<string, readonly GradeBand[]>;
  /** The student's scores in those classes. */
  scores: readonly ScoreRow[];
}

/**
 * A student's grades as of a date: the current grade of each class, the final grade of
 * each completed one, and the GPA and credits of the classes completed by then. A final
 * grade dated after the date does not count yet, and a class dropped or withdrawn by then
 * has no current grade (docs/metrics.md#grades).
 */
export function studentGradesOf(input: StudentGradesInput) {
  const { asOf, enrollments, scores } = input;
  const completed = enrollments.filter((e) => finalBy(e.status, e.exitDate, asOf));
  const credits = completed.map((e) => ({
    gradePoints: e.gradePoints,
    creditsAttempted: e.creditsAttempted ?? e.courseCredits,
    creditsEarned: e.creditsEarned ?? 0,
  }));
  return {
    student_id: input.studentId,
    as_of: asOf,
    gpa: gpaOf(credits),
    credits_attempted: round2(credits.reduce((n, e) => n + (e.creditsAttempted ?? 0), 0)),
    credits_earned: round2(credits.reduce((n, e) => n + e.creditsEarned, 0)),
    classes: enrollments.map((e) => {
      const percent = leftBy(e.status, e.exitDate, asOf)
        ? null
        : percentOf(
            scores.filter((s) => s.class_id === e.classId && gradedBy(asOf)(s)).map(lineOf),
            asOf,
          );
      return {
        enrollment_id: e.id,
        class_id: e.classId,
        class_name: e.className,
        course_id: e.courseId,
        course_name: e.courseName,
        subject: e.subject,
        session_id: e.sessionId,
        status: e.status,
        current_percent: percent === null ? null : round2(percent),
        letter: letterFor(percent, input.scales.get(e.classId)!),
        final:
          e.status === 'completed'
            ? {
                percent: e.finalPercent,
                grade: e.finalGrade,
                grade_points: e.gradePoints,
                credits_attempted: e.creditsAttempted,
                credits_earned: e.creditsEarned,
                exit_date: e.exitDate,
              }
            : null,
      };
    }),
  };
}
