import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import { ApiError, type InvalidParam } from '../problems.js';
import { mapDbErrors } from '../resources/db-errors.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { statusOf, type ScoreStatus } from './score-lines.js';

/** Statuses that carry points; every other status has none. */
export const WITH_POINTS: readonly ScoreStatus[] = ['graded', 'late'];

export interface ScoreInput {
  studentId: string;
  points: number | null;
  /** Default: `graded` with points, `ungraded` without. */
  status?: ScoreStatus;
  /** Left out (undefined): keep the stored comment. */
  comment?: string | null;
}

export interface UpsertScoresInput {
  tenantId: string;
  /** The grader. */
  userId: string;
  /** The assignment, already loaded within the caller's write scope (and locked). */
  assignment: { id: string; classId: string; pointsPossible: number };
  scores: readonly ScoreInput[];
}

/** A score's points and status, as the audit row records it. */
export interface ScoreBrief {
  points: number | null;
  status: ScoreStatus;
}

export interface StoredScore extends ScoreBrief {
  id: string;
  studentId: string;
  comment: string | null;
  gradedAt: Date | null;
}

export interface UpsertScoresResult {
  created: number;
  updated: number;
  unchanged: number;
  /** The listed students' scores after the change, in the order given. */
  scores: StoredScore[];
  /** Each changed student's score before (updates only) and after. */
  before: Record<string, ScoreBrief>;
  after: Record<string, ScoreBrief>;
}

type Stored = {
  id: string;
  studentId: string;
  points: number | null;
  isLate: boolean;
  isMissing: boolean;
  isExcused: boolean;
  comment: string | null;
  gradedAt: Date | null;
};

const flagsOf = (s: ScoreInput) => {
  const status = s.status ?? (s.points === null ? 'ungraded' : 'graded');
  return {
    points: s.points,
    isLate: status === 'late',
    isMissing: status === 'missing',
    isExcused: status === 'excused',
  };
};

const brief = (s: Pick<Stored, 'points' | 'isLate' | 'isMissing' | 'isExcused'>): ScoreBrief => ({
  points: s.points,
  status: statusOf({
    points: s.points,
    is_late: s.isLate,
    is_missing: s.isMissing,
    is_excused: s.isExcused,
  }),
});

/**
 * Creates or replaces the scores of the listed students on one assignment; a score equal
 * to the stored one is left alone. Every student must be actively enrolled in the
 * assignment's class and points must not be negative, else `unprocessable` naming each bad
 * entry (`scores[i].student_id`, `scores[i].points`) and nothing is written. Points above
 * the points possible are extra credit and kept as entered.
 */
export async function upsertScores(
  tx: Tx<TenantSchema>,
  input: UpsertScoresInput,
): Promise<UpsertScoresResult> {
  const { assignment } = input;
  const studentIds = input.scores.map((s) => s.studentId);

  const enrolled = new Set(
    (
      await tx
        .select({ studentId: t.classEnrollments.studentId })
        .from(t.classEnrollments)
        .where(
          and(
            eq(t.classEnrollments.classId, assignment.classId),
            eq(t.classEnrollments.status, 'active'),
            isNull(t.classEnrollments.deletedAt),
            inArray(t.classEnrollments.studentId, studentIds),
          ),
        )
    ).map((r) => r.studentId),
  );
  const invalid: InvalidParam[] = [];
  input.scores.forEach((s, i) => {
    if (!enrolled.has(s.studentId))
      invalid.push({
        name: `scores[${i}].student_id`,
        reason: 'Not actively enrolled in the assignment’s class.',
      });
    if (s.points !== null && s.points < 0)
      invalid.push({ name: `scores[${i}].points`, reason: 'Must not be negative.' });
  });
  if (invalid.length)
    throw new ApiError('unprocessable', 'Some scores cannot be entered; nothing was saved.', {
      invalidParams: invalid,
    });

  const stored = async () =>
    (await tx
      .select()
      .from(t.scores)
      .where(
        and(
          eq(t.scores.assignmentId, assignment.id),
          isNull(t.scores.deletedAt),
          inArray(t.scores.studentId, studentIds),
        ),
      )) as Stored[];
  const existing = new Map((await stored()).map((r) => [r.studentId, r]));

  const before: Record<string, ScoreBrief> = {};
  const after: Record<string, ScoreBrief> = {};
  const writes: (typeof t.scores.$inferInsert)[] = [];
  let created = 0;
  let updated = 0;
  const now = new Date();
  for (const s of input.scores) {
    const flags = flagsOf(s);
    const old = existing.get(s.studentId);
    const comment = s.comment === undefined ? (old?.comment ?? null) : s.comment;
    if (old) {
      const same =
        old.points === flags.points &&
        old.isLate === flags.isLate &&
        old.isMissing === flags.isMissing &&
        old.isExcused === flags.isExcused &&
        old.comment === comment;
      if (same) continue;
      before[s.studentId] = brief(old);
      updated++;
    } else {
      created++;
    }
    after[s.studentId] = brief(flags);
    writes.push({
      tenantId: input.tenantId,
      assignmentId: assignment.id,
      studentId: s.studentId,
      ...flags,
      comment,
      gradedBy: input.userId,
      gradedAt: now,
    });
  }

  if (writes.length) {
    await mapDbErrors(() =>
      tx
        .insert(t.scores)
        .values(writes)
        .onConflictDoUpdate({
          target: [t.scores.tenantId, t.scores.assignmentId, t.scores.studentId],
          targetWhere: sql`${t.scores.deletedAt} is null`,
          set: {
            points: sql`excluded.points`,
            isLate: sql`excluded.is_late`,
            isMissing: sql`excluded.is_missing`,
            isExcused: sql`excluded.is_excused`,
            comment: sql`excluded.comment`,
            gradedBy: sql`excluded.graded_by`,
            gradedAt: sql`excluded.graded_at`,
          },
        }),
    );
  }

  const byStudent = new Map((await stored()).map((r) => [r.studentId, r]));
  return {
    created,
    updated,
    unchanged: input.scores.length - writes.length,
    scores: studentIds.map((id) => {
      const r = byStudent.get(id)!;
      return { id: r.id, studentId: id, ...brief(r), comment: r.comment, gradedAt: r.gradedAt };
    }),
    before,
    after,
  };
}
