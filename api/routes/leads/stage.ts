import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { loadFunnel } from '../../admissions/funnel.js';
import { checkStaffMove } from '../../admissions/stage-moves.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { ApiError } from '../../problems.js';
import { checkIfMatch, etag, guarded, IfMatch, mount, valid } from '../../resources/crud.js';
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
  mount(app, route, async (c) => {
    const { id } = valid<{ id: string }>(c, 'param');
    const body = valid<z.infer<typeof StageMove>>(c, 'json');
    const reason = body.reason ? body.reason : null;
    const tx = c.get('tx');
    const lead = await loadLead(c, id, 'write', { lock: true });
    checkIfMatch(c, lead);
    const funnel = await loadFunnel(tx);
    switch (checkStaffMove(funnel, lead.stage, body.stage, reason)) {
      case 'unknown_stage':
        throw new ApiError('unprocessable', 'No such stage in this funnel.', {
          invalidParams: [
            {
              name: 'json.stage',
              reason: `must be one of ${funnel.stages.map((s) => s.key).join(', ')}`,
            },
          ],
        });
      case 'same_stage':
        throw new ApiError('conflict', `The lead is at ${lead.stage} already.`);
      case 'from_terminal':
        throw new ApiError('conflict', `The lead is ${lead.stage}: it cannot be moved any more.`);
      case 'reason_required':
        throw new ApiError('unprocessable', 'Say why the lead is lost.', {
          invalidParams: [{ name: 'json.reason', reason: 'required when the stage is lost' }],
        });
      case null:
        break;
    }
    const lost = body.stage === t.LOST_STAGE;
    const [moved] = await tx
      .update(t.leads)
      .set({
        stage: body.stage,
        lostAt: lost ? new Date() : null,
        lostReason: lost ? reason : null,
      })
      .where(eq(t.leads.id, id))
      .returning();
    const [history] = await tx
      .insert(t.leadStageHistory)
      .values({
        tenantId: c.get('tenant').id,
        leadId: id,
        fromStage: lead.stage,
        toStage: body.stage,
        changedBy: c.get('principal').userId,
        note: reason,
      })
      .returning({ id: t.leadStageHistory.id });
    // Stages and ids only; the reason (free text) stays in the stage history.
    await audit(c, {
      action: 'lead.stage',
      entityType: 'lead',
      entityId: id,
      before: { stage: lead.stage },
      after: { stage: body.stage, stage_history_id: history!.id },
    });
    c.header('ETag', etag(moved!));
    return c.json(await leadDetail(c, moved!), 200);
  });
}
