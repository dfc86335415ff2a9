import { describe, expect, it } from 'vitest';
import { bandsOf } from '../../api/grades/compute.js';
import {
  gradebookOf,
  studentGradesOf,
  type GradebookStudent,
  type StudentEnrollment,
} from '../../api/grades/reports.js';
import type { ScoreRow } from '../../api/grades/score-lines.js';

/** The gradebook and a student's grades from plain rows, without a request or a database. */

const SCALE = bandsOf(null);
const CLASS = 'c0000000-0000-4000-8000-000000000001';

const score = (over: Partial<ScoreRow>): ScoreRow => ({
  student_id: 's1',
  class_id: CLASS,
  assignment_id: 'a1',
  points: 9,
  points_possible: 10,
  weight: 1,
  due_date: '2026-09-10',
  is_late: false,
  is_missing: false,
  is_excused: false,
  comment: null,
  ...over,
});

const student = (over: Partial<GradebookStudent>): GradebookStudent => ({
  studentId: 's1',
  status: 'active',
  exitDate: null,
  firstName: 'Ada',
  lastName: 'Lovelace',
  ...over,
});

const enrollment = (over: Partial<StudentEnrollment>): StudentEnrollment => ({
  id: 'e1',
  classId: CLASS,
  status: 'active',
  exitDate: null,
  finalPercent: null,
  finalGrade: null,
  gradePoints: null,
  creditsAttempted: null,
  creditsEarned: null,
  className: 'Math 5',
  courseId: 'k1',
  courseName: 'Math',
  subject: 'math',
  courseCredits: 1,
  sessionId: 'y1',
  ...over,
});

describe('gradebookOf', () => {
  const assignment = {
    id: 'a1',
    title: 'Quiz',
    category: 'quiz' as const,
    pointsPossible: 10,
    weight: 1,
    dueDate: '2026-09-10',
  };

  it('gives a current grade to an enrolled student and none to one who dropped the class by the date', () => {
    const book = gradebookOf({
      classId: CLASS,
      asOf: '2026-10-01',
      bands: SCALE,
      assignments: [assignment],
      students: [
        student({}),
        student({ studentId: 's2', status: 'dropped', exitDate: '2026-09-20' }),
      ],
      scores: [score({}), score({ student_id: 's2', points: 5 })],
    });
    expect(book.students.map((s) => [s.student_id, s.current_percent, s.letter])).toEqual([
      ['s1', 90, 'A'],
      ['s2', null, null],
    ]);
    expect(book.students[1]!.scores).toEqual([{ points: 5, status: 'graded', comment: null }]);
  });

  it('leaves a score graded after the date out of the current grade as of that date', () => {
    const quiz2 = { ...assignment, id: 'a2' };
    const book = (asOf: string) =>
      gradebookOf({
        classId: CLASS,
        asOf,
        bands: SCALE,
        assignments: [assignment, quiz2],
        students: [student({})],
        scores: [
          score({ graded_on: '2026-09-11' }),
          score({ assignment_id: 'a2', points: 0, graded_on: '2026-10-02' }),
        ],
      }).students[0]!.current_percent;
    expect(book('2026-10-01')).toBe(90);
    expect(book('2026-10-02')).toBe(45);
  });
});

describe('studentGradesOf', () => {
  it('counts a final grade in the GPA and credits only from its exit date on', () => {
    const completed = enrollment({
      status: 'completed',
      exitDate: '2026-12-18',
      finalPercent: 85,
      finalGrade: 'B',
      gradePoints: 3,
      creditsAttempted: 1,
      creditsEarned: 1,
    });
    const input = { studentId: 's1', scales: new Map([[CLASS, SCALE]]), scores: [score({})] };
    const before = studentGradesOf({ ...input, asOf: '2026-12-17', enrollments: [completed] });
    const after = studentGradesOf({ ...input, asOf: '2026-12-18', enrollments: [completed] });
    expect([before.gpa, before.credits_earned]).toEqual([null, 0]);
    expect([after.gpa, after.credits_earned]).toEqual([3, 1]);
    expect(after.classes[0]!.final?.grade).toBe('B');
  });

  it('leaves a score graded after the date out of the current percentage as of that date', () => {
    const input = {
      studentId: 's1',
      scales: new Map([[CLASS, SCALE]]),
      enrollments: [enrollment({})],
      scores: [
        score({ graded_on: null }),
        score({ assignment_id: 'a2', points: 0, graded_on: '2026-10-02' }),
      ],
    };
    const percent = (asOf: string) =>
      studentGradesOf({ ...input, asOf }).classes[0]!.current_percent;
    expect(percent('2026-10-01')).toBe(90);
    expect(percent('2026-10-02')).toBe(45);
  });
});
