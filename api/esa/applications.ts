import { eq } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import type { EsaApplicationStatus } from '../../db/schema/esa.js';
import * as t from '../../db/schema/tenant.js';
import { ApiError } from '../problems.js';
import { mapDbErrors } from '../resources/db-errors.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { allowedNext, canMove, DECISIONS } from './transitions.js';

type ApplicationRow = typeof t.esaApplications.$inferSelect;

/**
 * Moves an ESA application (loaded and locked by the caller, who has checked the
 * permission the move needs) to its next status: stamps `submitted_at` / `decided_at`,
 * keeps the reason as the decision note of a decision or withdrawal, and sets the award
 * on approval (default: the amount requested, else the programme's award; never more
 * than the programme's award). Refuses (ApiError) a move the life cycle does not allow
 * (conflict, naming the allowed next statuses) and an award other than on approval or
 * above the programme's (unprocessable).
 */
export async function transitionApplication(
  tx: Tx<TenantSchema>,
  args: {
    application: ApplicationRow;
    to: EsaApplicationStatus;
    reason?: string;
    amountAwardedCents?: number;
  },
): Promise<ApplicationRow> {
  const { application: before, to } = args;
  const from = before.status as EsaApplicationStatus;
  if (!canMove(from, to)) {
    const next = allowedNext(from);
    throw new ApiError(
      'conflict',
      `An application cannot move from ${from} to ${to}; allowed next: ${next.length ? next.join(', ') : 'none (final)'}.`,
      {
        invalidParams: [
          {
            name: 'json.to',
            reason: next.length ? `must be one of: ${next.join(', ')}` : `${from} is final`,
          },
        ],
      },
    );
  }
  if (args.amountAwardedCents !== undefined && to !== 'approved')
    throw new ApiError('unprocessable', 'An award is given on approval only.', {
      invalidParams: [{ name: 'json.amount_awarded_cents', reason: 'only with to: approved' }],
    });
  const deciding = DECISIONS.has(to);
  const now = new Date();
  const values: Partial<typeof t.esaApplications.$inferInsert> = { status: to };
  if (to === 'submitted') values.submittedAt = now;
  if (deciding) values.decidedAt = now;
  if (args.reason && (deciding || to === 'withdrawn')) values.decisionNote = args.reason;
  if (to === 'approved') {
    const [program] = await tx
      .select({ award: t.esaPrograms.awardAmountCents })
      .from(t.esaPrograms)
      .where(eq(t.esaPrograms.id, before.programId));
    const cap = program?.award ?? 0;
    const requested = before.amountRequestedCents;
    const award = args.amountAwardedCents ?? (requested > 0 ? Math.min(requested, cap) : cap);
    if (award > cap)
      throw new ApiError('unprocessable', `The programme awards at most ${cap} cents.`, {
        invalidParams: [{ name: 'json.amount_awarded_cents', reason: `must be at most ${cap}` }],
      });
    values.amountAwardedCents = award;
  }
  const [row] = await mapDbErrors(() =>
    tx.update(t.esaApplications).set(values).where(eq(t.esaApplications.id, before.id)).returning(),
  );
  return row!;
}
