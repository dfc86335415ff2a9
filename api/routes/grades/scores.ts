import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { ApiError, type InvalidParam } from '../../problems.js';
import { guarded, loadScoped, mount, valid } from '../../resources/crud.js';
import { mapDbErrors } from '../../resources/db-errors.js';
import { problemResponses } from '../openapi.js';
import { assignmentResource } from './assignments.js';
import { SCORE_STATUSES, statusOf, type ScoreStatus } from './shared.js';

const WITH_POINTS: readonly ScoreStatus[] = ['graded', 'late'];

const ScoreIn = z.object({
  student_id: z.uuid(),
  points: z.number().nullable().openapi({
    description: 'Points earned; null for a missing, excused or not yet graded score.',
  }),
  status: z.enum(SCORE_STATUSES).optional().openapi({
    description:
      '`graded` (default with points), `late` (graded, handed in late), `missing` (counts 0), `excused` (left out), `ungraded` (default without points; left out).',
  }),
  comment: z.string().trim().max(2000).nullable().optional(),
});

const ScoresIn = z
  .object({
    assignment_id: z.uuid(),
    scores: z.array(ScoreIn).min(1).max(1000),
  })
  .superRefine((body, ctx) => {
    const seen = new Set<string>();
    body.scores.forEach((s, i) => {
      if (seen.has(s.student_id))
        ctx.addIssue({
          code: 'custom',
          path: ['scores', i, 'student_id'],
          message: 'The student appears twice.',
        });
      seen.add(s.student_id);
      const status = s.status ?? (s.points === null ? 'ungraded' : 'graded');
      if (WITH_POINTS.includes(status) !== (s.points !== null))
        ctx.addIssue({
          code: 'custom',
          path: ['scores', i, 'points'],
          message: WITH_POINTS.includes(status)
            ? `A ${status} score needs points.`
            : `A ${status} score has no points (null).`,
        });
    });
  })
  .openapi('ScoresUpsert');

const ScoreOut = z
  .object({
    id: z.uuid(),
    student_id: z.uuid(),
    points: z.number().nullable(),
    status: z.enum(SCORE_STATUSES),
    comment: z.string().nullable(),
    graded_at: z.string().nullable(),
  })
  .openapi('Score');

const ScoresOut = z
  .object({
    assignment_id: z.uuid(),
    created: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
    scores: z.array(ScoreOut),
  })
  .openapi('ScoresUpsertResult');

type ScoreInput = z.infer<typeof ScoreIn>;
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

const brief = (s: Pick<Stored, 'points' | 'isLate' | 'isMissing' | 'isExcused'>) => ({
  points: s.points,
  status: statusOf({
    points: s.points,
    is_late: s.isLate,
    is_missing: s.isMissing,
    is_excused: s.isExcused,
  }),
});

export function registerScores(app: OpenAPIHono<AppEnv>): void {
  mount(
    app,
    createRoute({
      operationId: 'recordScores',
      method: 'post',
      path: '/v1/scores',
      tags: ['Grades'],
      summary: 'Enter scores for an assignment (bulk upsert)',
      description:
        'Creates or replaces the scores of the listed students on one assignment; one score per (assignment, student), so repeating a request changes nothing. Every student must be actively enrolled in the assignment’s class and points must be within 0..points possible: otherwise 422 naming each bad entry in `invalid_params` (`scores[i].student_id`, `scores[i].points`) and nothing is written. A `comment` left out keeps the stored one. One audit row per request (`scores.upsert` on the assignment) with the counts and each changed student’s points and status before and after.',
      middleware: guarded('grades.write'),
      request: {
        body: { content: { 'application/json': { schema: ScoresIn } }, required: true },
      },
      responses: {
        200: {
          description: 'The scores after the change',
          content: { 'application/json': { schema: ScoresOut } },
        },
        ...problemResponses(400, 401, 403, 404, 409, 413, 422),
      },
    }),
    async (c) => {
      const body = valid<z.infer<typeof ScoresIn>>(c, 'json');
      const assignment = await loadScoped(c, assignmentResource, body.assignment_id, 'write', {
        lock: true,
      });
      const tx = c.get('tx');
      const studentIds = body.scores.map((s) => s.student_id);

      const enrolled = new Set(
        (
          await tx
            .select({ studentId: t.classEnrollments.studentId })
            .from(t.classEnrollments)
            .where(
              and(
                eq(t.classEnrollments.classId, String(assignment.classId)),
                eq(t.classEnrollments.status, 'active'),
                isNull(t.classEnrollments.deletedAt),
                inArray(t.classEnrollments.studentId, studentIds),
              ),
            )
        ).map((r) => r.studentId),
      );
      const max = Number(assignment.pointsPossible);
      const invalid: InvalidParam[] = [];
      body.scores.forEach((s, i) => {
        if (!enrolled.has(s.student_id))
          invalid.push({
            name: `scores[${i}].student_id`,
            reason: 'Not actively enrolled in the assignment’s class.',
          });
        if (s.points !== null && (s.points < 0 || s.points > max))
          invalid.push({ name: `scores[${i}].points`, reason: `Must be between 0 and ${max}.` });
      });
      if (invalid.length)
        throw new ApiError('unprocessable', 'Some scores cannot be entered; nothing was saved.', {
          invalidParams: invalid,
        });

      const existing = new Map(
        (
          (await tx
            .select()
            .from(t.scores)
            .where(
              and(
                eq(t.scores.assignmentId, body.assignment_id),
                isNull(t.scores.deletedAt),
                inArray(t.scores.studentId, studentIds),
              ),
            )) as Stored[]
        ).map((r) => [r.studentId, r]),
      );

      const before: Record<string, unknown> = {};
      const after: Record<string, unknown> = {};
      const writes: (typeof t.scores.$inferInsert)[] = [];
      let created = 0;
      let updated = 0;
      const now = new Date();
      for (const s of body.scores) {
        const flags = flagsOf(s);
        const old = existing.get(s.student_id);
        const comment = s.comment === undefined ? (old?.comment ?? null) : s.comment;
        if (old) {
          const same =
            old.points === flags.points &&
            old.isLate === flags.isLate &&
            old.isMissing === flags.isMissing &&
            old.isExcused === flags.isExcused &&
            old.comment === comment;
          if (same) continue;
          before[s.student_id] = brief(old);
          updated++;
        } else {
          created++;
        }
        after[s.student_id] = brief(flags);
        writes.push({
          tenantId: c.get('tenant').id,
          assignmentId: body.assignment_id,
          studentId: s.student_id,
          ...flags,
          comment,
          gradedBy: c.get('principal').userId,
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
      const unchanged = body.scores.length - writes.length;
      await audit(c, {
        action: 'scores.upsert',
        entityType: 'assignment',
        entityId: body.assignment_id,
        before,
        after: { created, updated, unchanged, scores: after },
      });

      const rows = (await tx
        .select()
        .from(t.scores)
        .where(
          and(
            eq(t.scores.assignmentId, body.assignment_id),
            isNull(t.scores.deletedAt),
            inArray(t.scores.studentId, studentIds),
          ),
        )) as Stored[];
      const byStudent = new Map(rows.map((r) => [r.studentId, r]));
      return c.json(
        {
          assignment_id: body.assignment_id,
          created,
          updated,
          unchanged,
          scores: studentIds.map((id) => {
            const r = byStudent.get(id)!;
            return {
              id: r.id,
              student_id: id,
              ...brief(r),
              comment: r.comment,
              graded_at: r.gradedAt?.toISOString() ?? null,
            };
          }),
        },
        200,
      );
    },
  );
}
