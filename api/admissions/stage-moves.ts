import { eq } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import { ApiError } from '../problems.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { loadFunnel, type Funnel } from './funnel.js';

/** The stage a converted lead must be at. */
export const ENROLLED_STAGE = 'enrolled';

/**
 * Where a lead's journey ends: `lost`, `enrolled`, and any stage the tenant marks
 * terminal. Staff cannot move a lead out of one (a lost lead comes back only when the
 * family writes again, see forwardMove; an enrolled lead is converted, not moved).
 */
export function isTerminal(funnel: Funnel, key: string): boolean {
  return key === t.LOST_STAGE || key === ENROLLED_STAGE || funnel.byKey.get(key)?.terminal === true;
}

export type StaffMoveRefusal =
  /** Not a stage of the tenant's funnel (422). */
  | 'unknown_stage'
  /** The lead is at that stage already (409). */
  | 'same_stage'
  /** The lead is at a terminal stage (409). */
  | 'from_terminal'
  /** A move to `lost` needs a reason (422). */
  | 'reason_required';

/**
 * Whether staff may move a lead from `current` to `target`. Any stage of the funnel may
 * be chosen — skipping stages forward, or back to correct a mistake: the funnel metrics
 * count a lead as having reached every stage up to the highest one in its history — but
 * never out of a terminal stage, and never to `lost` without a reason.
 */
export function checkStaffMove(
  funnel: Funnel,
  current: string,
  target: string,
  reason: string | null,
): StaffMoveRefusal | null {
  if (!funnel.byKey.has(target)) return 'unknown_stage';
  if (current === target) return 'same_stage';
  if (isTerminal(funnel, current)) return 'from_terminal';
  if (target === t.LOST_STAGE && !reason) return 'reason_required';
  return null;
}

/**
 * Staff moves a lead (loaded and locked by the caller) to another stage of the funnel,
 * with a stage-history entry; refused (ApiError) as checkStaffMove says: an unknown stage
 * or a lost one without a reason is unprocessable, the same or a terminal stage a conflict.
 */
export async function moveLeadStage(
  tx: Tx<TenantSchema>,
  args: {
    tenantId: string;
    userId: string;
    lead: typeof t.leads.$inferSelect;
    stage: string;
    reason: string | null;
  },
): Promise<{ lead: typeof t.leads.$inferSelect; historyId: string }> {
  const { lead, stage, reason } = args;
  const funnel = await loadFunnel(tx);
  switch (checkStaffMove(funnel, lead.stage, stage, reason)) {
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
  const lost = stage === t.LOST_STAGE;
  const [moved] = await tx
    .update(t.leads)
    .set({ stage, lostAt: lost ? new Date() : null, lostReason: lost ? reason : null })
    .where(eq(t.leads.id, lead.id))
    .returning();
  const [history] = await tx
    .insert(t.leadStageHistory)
    .values({
      tenantId: args.tenantId,
      leadId: lead.id,
      fromStage: lead.stage,
      toStage: stage,
      changedBy: args.userId,
      note: reason,
    })
    .returning({ id: t.leadStageHistory.id });
  return { lead: moved!, historyId: history!.id };
}
