import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { upsertScores, WITH_POINTS } from '../../grades/scores.js';
import { guarded, loadScoped } from '../../resources/crud.js';
import { problemResponses } from '../openapi.js';
import { assignmentResource } from './assignments.js';
import { SCORE_STATUSES } from '../../grades/score-lines.js';

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

const route = createRoute({
  operationId: 'recordScores',
  method: 'post',
  path: '/v1/scores',
  tags: ['Grades'],
  summary: 'Enter scores for an assignment (bulk upsert)',
  description:
    'Creates or replaces the scores of the listed students on one assignment; one score per (assignment, student), so repeating a request changes nothing. Every student must be actively enrolled in the assignment’s class and points must not be negative (points above the points possible are extra credit, kept as entered): otherwise 422 naming each bad entry in `invalid_params` (`scores[i].student_id`, `scores[i].points`) and nothing is written. A `comment` left out keeps the stored one. One audit row per request (`scores.upsert` on the assignment) with the counts and each changed student’s points and status before and after.',
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
});

export function registerScores(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const body = c.req.valid('json');
    const assignment = await loadScoped(c, assignmentResource, body.assignment_id, 'write', {
      lock: true,
    });
    const result = await upsertScores(c.get('tx'), {
      tenantId: c.get('tenant').id,
      userId: c.get('principal').userId,
      assignment: {
        id: body.assignment_id,
        classId: String(assignment.classId),
        pointsPossible: Number(assignment.pointsPossible),
      },
      scores: body.scores.map((s) => ({
        studentId: s.student_id,
        points: s.points,
        status: s.status,
        comment: s.comment,
      })),
    });
    const { created, updated, unchanged } = result;
    await audit(c, {
      action: 'scores.upsert',
      entityType: 'assignment',
      entityId: body.assignment_id,
      before: result.before,
      after: { created, updated, unchanged, scores: result.after },
    });
    return c.json(
      {
        assignment_id: body.assignment_id,
        created,
        updated,
        unchanged,
        scores: result.scores.map((r) => ({
          id: r.id,
          student_id: r.studentId,
          points: r.points,
          status: r.status,
          comment: r.comment,
          graded_at: r.gradedAt?.toISOString() ?? null,
        })),
      },
      200,
    );
  });
}
