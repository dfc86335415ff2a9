import type { GradeBand, ScoreLine } from './compute.js';

/**
 * A score as the gradebook reads it (one row of `scores` joined to its assignment), and
 * what the API derives from it: its status and its line for the grade computations.
 */

export type ScoreRow = {
  student_id: string;
  class_id: string;
  assignment_id: string;
  points: number | null;
  points_possible: number;
  weight: number;
  due_date: string;
  is_late: boolean;
  is_missing: boolean;
  is_excused: boolean;
  comment: string | null;
  /** The day it was graded in the class's school's time zone (the tenant's without one). */
  graded_on?: string | null;
};

export const lineOf = (r: ScoreRow): ScoreLine => ({
  points: r.points,
  pointsPossible: r.points_possible,
  weight: r.weight,
  isMissing: r.is_missing,
  isExcused: r.is_excused,
  dueDate: r.due_date,
});

export const SCORE_STATUSES = ['graded', 'late', 'missing', 'excused', 'ungraded'] as const;
export type ScoreStatus = (typeof SCORE_STATUSES)[number];

/** A score's status as the API names it, from its flags. */
export function statusOf(s: {
  points: number | null;
  is_late: boolean;
  is_missing: boolean;
  is_excused: boolean;
}): ScoreStatus {
  if (s.is_excused) return 'excused';
  if (s.is_missing) return 'missing';
  if (s.points === null) return 'ungraded';
  return s.is_late ? 'late' : 'graded';
}

export const bandJson = (b: GradeBand) => ({
  letter: b.letter,
  min_percent: b.min_percent,
  points: Number.isFinite(b.points) ? b.points : null,
});
