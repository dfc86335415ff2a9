import { DEFAULT_GRADING_SCALE, type GradeBand } from '../../db/tenant-defaults.js';

/**
 * Grade arithmetic (docs/metrics.md#grades), the definitions the warehouse's grades metric uses
 * (analytics/metrics/grades.ts), as pure functions the API computes with:
 *
 * - percentage = Σ(weight × points) ÷ Σ(weight × points possible) × 100 over the scores on
 *   assignments due by the as-of date (in the reports, graded by it too: api/grades/reports.ts). Excused scores are left out; a missing score counts
 *   0 of its points possible; a score with no points, neither missing nor excused, is
 *   ungraded and left out. Weighted points possible of 0 → no percentage (null).
 * - letter: the band with the highest minimum not above the unrounded percentage; below
 *   every minimum, the lowest band.
 * - GPA = Σ(grade points × credits attempted) ÷ Σ credits attempted over completed
 *   enrollments with grade points and credits attempted > 0, whose exit date is not after
 *   the as-of date; grade points capped at 4.0.
 * - A class enrollment dropped or withdrawn by the as-of date (`leftBy`) has no current
 *   grade and is in no figure.
 */

export type { GradeBand };

/** One score row with its assignment's points possible, weight and due date. */
export interface ScoreLine {
  points: number | null;
  pointsPossible: number;
  weight: number;
  isMissing: boolean;
  isExcused: boolean;
  /** YYYY-MM-DD. */
  dueDate: string;
}

/** The weighted percentage over the lines due by `asOf` (YYYY-MM-DD); null when nothing counts. */
export function percentOf(lines: readonly ScoreLine[], asOf?: string): number | null {
  let earned = 0;
  let possible = 0;
  for (const l of lines) {
    if (asOf !== undefined && l.dueDate > asOf) continue;
    if (l.isExcused) continue;
    if (!l.isMissing && l.points === null) continue;
    earned += l.weight * (l.isMissing ? 0 : (l.points ?? 0));
    possible += l.weight * l.pointsPossible;
  }
  return possible > 0 ? (earned * 100) / possible : null;
}

/**
 * The usable bands of a stored scale (jsonb), highest minimum first; the default A–F scale
 * when the value holds no usable band.
 */
export function bandsOf(value: unknown): GradeBand[] {
  const bands = Array.isArray(value)
    ? value.flatMap((b): GradeBand[] => {
        if (typeof b !== 'object' || b === null) return [];
        const { letter, min_percent, points } = b as Record<string, unknown>;
        if (typeof letter !== 'string' || letter === '') return [];
        if (typeof min_percent !== 'number' || !Number.isFinite(min_percent)) return [];
        return [
          {
            letter,
            min_percent,
            points: typeof points === 'number' && Number.isFinite(points) ? points : NaN,
          },
        ];
      })
    : [];
  const chosen = bands.length > 0 ? bands : DEFAULT_GRADING_SCALE;
  return [...chosen].sort(
    (a, b) => b.min_percent - a.min_percent || a.letter.localeCompare(b.letter),
  );
}

/** The band a percentage falls in (bands as `bandsOf` returns them). */
export function bandFor(percent: number, bands: readonly GradeBand[]): GradeBand {
  return bands.find((b) => percent >= b.min_percent) ?? bands[bands.length - 1]!;
}

/** The letter of a percentage; null when there is no percentage. */
export function letterFor(percent: number | null, bands: readonly GradeBand[]): string | null {
  return percent === null ? null : bandFor(percent, bands).letter;
}

/** Whether a class enrollment was dropped or withdrawn by `asOf` (undated: it was). */
export function leftBy(status: string, exitDate: string | null, asOf: string): boolean {
  return (
    (status === 'dropped' || status === 'withdrawn') && (exitDate === null || exitDate <= asOf)
  );
}

/** Whether a completed enrollment's final grade counts as of `asOf` (undated: it does). */
export function finalBy(status: string, exitDate: string | null, asOf: string): boolean {
  return status === 'completed' && (exitDate === null || exitDate <= asOf);
}

export interface CompletedClass {
  gradePoints: number | null;
  creditsAttempted: number | null;
}

/** GPA on the 4.0 scale, rounded to 2 decimals; null when no completed class counts. */
export function gpaOf(classes: readonly CompletedClass[]): number | null {
  let weighted = 0;
  let credits = 0;
  for (const c of classes) {
    if (c.gradePoints === null || c.creditsAttempted === null || !(c.creditsAttempted > 0))
      continue;
    weighted += Math.min(c.gradePoints, 4) * c.creditsAttempted;
    credits += c.creditsAttempted;
  }
  return credits > 0 ? round2(weighted / credits) : null;
}

export interface FinalGrade {
  finalPercent: number;
  finalGrade: string;
  gradePoints: number | null;
  creditsAttempted: number;
  creditsEarned: number;
}

/**
 * The final grade of a completed enrollment: percentage (2 decimals), letter and grade
 * points from the band of the unrounded percentage; the course's credits are attempted
 * and earned unless the band carries 0 grade points (a failing grade).
 */
export function finalGradeOf(
  percent: number,
  bands: readonly GradeBand[],
  credits: number,
): FinalGrade {
  const band = bandFor(percent, bands);
  const gradePoints = Number.isFinite(band.points) ? band.points : null;
  const passed = gradePoints !== null && gradePoints > 0;
  return {
    finalPercent: round2(percent),
    finalGrade: band.letter,
    gradePoints,
    creditsAttempted: credits,
    creditsEarned: passed ? credits : 0,
  };
}

export const round2 = (n: number) => Math.round(n * 100) / 100;
