import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { moveLeadStage } from '../../admissions/stage-moves.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { checkIfMatch, etag, guarded, IfMatch } from '../../resources/crud.js';
import { problemResponses } from '../openapi.js';
import { IdParam, LEAD_PERMISSIONS, LeadDetail, leadDetail, loadLead } from './shape.js';

const StageMove = z
  .object({
    stage: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/)
      .max(64)
      .openapi({ description: 'A stage key of the organisation’s funnel.', example: 'accepted' }),
    reason: z
      .string()
      .trim()
      .max(500)
      .nullish()
      .openapi({ description: 'Why: required for `lost`, kept in the stage history.' }),
  })
  .openapi('LeadStageMove');

const route = createRoute({
  operationId: 'moveLeadStage',
  method: 'post',
  path: '/v1/leads/{id}/stage',
  tags: ['Leads'],
  summary: 'Move a lead to another funnel stage',
  description: [
    'Any stage of the organisation’s funnel (unknown → 422): stages may be skipped, or a lead moved back to correct a mistake.',
    '`lost` requires a `reason` (422). `lost` and `enrolled` are terminal: a lead there is not moved (409); a lost lead comes back into the funnel when the family writes again (a new inquiry or tour request).',
    'Each move adds a stage-history entry. Send `If-Match` with the ETag you read to refuse the move if the lead changed meanwhile (412).',
  ].join(' '),
  middleware: guarded(LEAD_PERMISSIONS.write),
  request: {
    params: IdParam,
    headers: IfMatch,
    body: { content: { 'application/json': { schema: StageMove } }, required: true },
  },
  responses: {
    200: { description: 'The moved lead', content: { 'application/json': { schema: LeadDetail } } },
    ...problemResponses(400, 401, 403, 404, 409, 412, 413, 422),
  },
});

export function registerLeadStage(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const lead = await loadLead(c, id, 'write', { lock: true });
    checkIfMatch(c, lead);
    const moved = await moveLeadStage(c.get('tx'), {
      tenantId: c.get('tenant').id,
      userId: c.get('principal').userId,
      lead,
      stage: body.stage,
      reason: body.reason ? body.reason : null,
    });
    // Stages and ids only; the reason (free text) stays in the stage history.
    await audit(c, {
      action: 'lead.stage',
      entityType: 'lead',
      entityId: id,
      before: { stage: lead.stage },
      after: { stage: body.stage, stage_history_id: moved.historyId },
    });
    c.header('ETag', etag(moved.lead));
    return c.json(await leadDetail(c, moved.lead), 200);
  });
}
