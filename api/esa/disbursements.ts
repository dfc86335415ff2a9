import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import { ApiError } from '../problems.js';
import { mapDbErrors } from '../resources/db-errors.js';
import type { TenantSchema } from '../../db/schema/types.js';

export const DISBURSEMENT_STATUSES = ['scheduled', 'disbursed', 'returned', 'cancelled'] as const;
export type DisbursementStatus = (typeof DISBURSEMENT_STATUSES)[number];
type Move = 'disbursed' | 'returned' | 'cancelled';

type DisbursementRow = typeof t.esaDisbursements.$inferSelect;

/** Where a disbursement may go next; returned and cancelled are final. */
const DISBURSEMENT_MOVES: Record<DisbursementStatus, readonly Move[]> = {
  scheduled: ['disbursed', 'cancelled'],
  disbursed: ['returned'],
  returned: [],
  cancelled: [],
};

/** Refuses a date on a disbursement that is not disbursed, and no date on one that is. */
function checkDated(disbursed: boolean, disbursedOn: string | undefined, detail: string) {
  if (disbursed !== (disbursedOn !== undefined))
    throw new ApiError('unprocessable', detail, {
      invalidParams: [
        {
          name: 'json.disbursed_on',
          reason: disbursed ? 'required when disbursed' : 'only when disbursed',
        },
      ],
    });
}

/**
 * Schedules or records a disbursement of an approved application's award (the
 * application loaded and locked by the caller). Refuses (ApiError) an application not
 * approved (conflict), a date on a scheduled one or none on a disbursed one, and more
 * than is left of the award once scheduled and disbursed amounts are counted
 * (unprocessable).
 */
export async function createDisbursement(
  tx: Tx<TenantSchema>,
  args: {
    tenantId: string;
    application: { id: string; status: string; amountAwardedCents: number | null };
    amountCents: number;
    scheduledOn: string;
    /** Default `scheduled`. */
    status?: 'scheduled' | 'disbursed';
    disbursedOn?: string;
    reference?: string;
  },
): Promise<DisbursementRow> {
  const { application } = args;
  if (application.status !== 'approved')
    throw new ApiError('conflict', `A ${application.status} application has no award to disburse.`);
  const status = args.status ?? 'scheduled';
  checkDated(
    status === 'disbursed',
    args.disbursedOn,
    'A disbursed payment has a date; a scheduled one not.',
  );
  const [committed] = await tx
    .select({ cents: sql<string>`coalesce(sum(${t.esaDisbursements.amountCents}), 0)::text` })
    .from(t.esaDisbursements)
    .where(
      and(
        eq(t.esaDisbursements.applicationId, application.id),
        isNull(t.esaDisbursements.deletedAt),
        inArray(t.esaDisbursements.status, ['scheduled', 'disbursed']),
      ),
    );
  const left = (application.amountAwardedCents as number) - Number(committed?.cents ?? 0);
  if (args.amountCents > left)
    throw new ApiError('unprocessable', `Only ${left} cents of the award are left.`, {
      invalidParams: [
        { name: 'json.amount_cents', reason: `exceeds what is left of the award (${left})` },
      ],
    });
  const [row] = await mapDbErrors(() =>
    tx
      .insert(t.esaDisbursements)
      .values({
        tenantId: args.tenantId,
        applicationId: application.id,
        amountCents: args.amountCents,
        scheduledOn: args.scheduledOn,
        disbursedOn: args.disbursedOn ?? null,
        status,
        reference: args.reference ?? null,
      })
      .returning(),
  );
  return row!;
}

/**
 * Moves a disbursement of the application: scheduled → disbursed (dated) or cancelled;
 * disbursed → returned unless payments were made from it. Refuses (ApiError) a
 * disbursement not of the application (not_found), any other move (conflict, naming the
 * allowed ones), a date on anything but disbursed or none on it (unprocessable).
 */
export async function setDisbursementStatus(
  tx: Tx<TenantSchema>,
  args: {
    applicationId: string;
    disbursementId: string;
    to: Move;
    disbursedOn?: string;
    reference?: string;
  },
): Promise<{ before: DisbursementRow; after: DisbursementRow }> {
  const { to } = args;
  const [before] = await tx
    .select()
    .from(t.esaDisbursements)
    .where(
      and(
        eq(t.esaDisbursements.id, args.disbursementId),
        eq(t.esaDisbursements.applicationId, args.applicationId),
        isNull(t.esaDisbursements.deletedAt),
      ),
    )
    .for('update');
  if (!before) throw new ApiError('not_found');
  const allowed = DISBURSEMENT_MOVES[before.status as DisbursementStatus];
  if (!allowed.includes(to))
    throw new ApiError(
      'conflict',
      `A ${before.status} disbursement cannot become ${to}; allowed next: ${allowed.length ? allowed.join(', ') : 'none (final)'}.`,
      {
        invalidParams: [
          {
            name: 'json.to',
            reason: allowed.length
              ? `must be one of: ${allowed.join(', ')}`
              : `${before.status} is final`,
          },
        ],
      },
    );
  checkDated(
    to === 'disbursed',
    args.disbursedOn,
    'A disbursement is dated when it is disbursed only.',
  );
  if (to === 'returned') {
    const [used] = await tx
      .select({ id: t.payments.id })
      .from(t.payments)
      .where(
        and(
          eq(t.payments.esaDisbursementId, args.disbursementId),
          isNull(t.payments.deletedAt),
          eq(t.payments.status, 'succeeded'),
        ),
      )
      .limit(1);
    if (used)
      throw new ApiError(
        'conflict',
        'Payments were made from this disbursement; refund them before returning it.',
      );
  }
  const [row] = await mapDbErrors(() =>
    tx
      .update(t.esaDisbursements)
      .set({
        status: to,
        ...(to === 'disbursed' ? { disbursedOn: args.disbursedOn } : {}),
        ...(args.reference ? { reference: args.reference } : {}),
      })
      .where(eq(t.esaDisbursements.id, args.disbursementId))
      .returning(),
  );
  return { before, after: row! };
}
