import * as t from '../../db/schema/tenant.js';
import type { Funnel } from './funnel.js';

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
