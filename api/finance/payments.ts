import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import type { PAYMENT_METHODS } from '../../db/schema/finance.js';
import * as t from '../../db/schema/tenant.js';
import type { Principal } from '../auth/principal.js';
import { rowScope } from '../auth/scope.js';
import { ApiError, type InvalidParam } from '../problems.js';
import { mapDbErrors } from '../resources/db-errors.js';
import { esaRules } from '../esa/scope.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { statementPart } from './statement.js';
import {
  allocateExplicit,
  allocateOldestFirst,
  applyToInvoice,
  type AllocationPlan,
} from './ledger.js';

const unprocessable = (detail: string, invalidParams: InvalidParam[]) =>
  new ApiError('unprocessable', detail, { invalidParams });

/**
 * The disbursement an ESA payment is funded by: visible to the caller, disbursed, for a
 * child of the account's family, and not already paid in beyond its amount.
 */
async function checkDisbursement(
  tx: Tx<TenantSchema>,
  principal: Principal,
  accountId: string,
  id: string,
  amount: number,
) {
  const scope = await rowScope(
    tx,
    principal,
    'esa.read',
    esaRules(t.esaApplications.studentId, t.esaApplications.schoolId),
  );
  const [d] = await tx
    .select({
      id: t.esaDisbursements.id,
      status: t.esaDisbursements.status,
      amountCents: t.esaDisbursements.amountCents,
      studentId: t.esaApplications.studentId,
    })
    .from(t.esaDisbursements)
    .innerJoin(
      t.esaApplications,
      and(
        eq(t.esaApplications.tenantId, t.esaDisbursements.tenantId),
        eq(t.esaApplications.id, t.esaDisbursements.applicationId),
      ),
    )
    .where(
      and(
        eq(t.esaDisbursements.id, id),
        isNull(t.esaDisbursements.deletedAt),
        isNull(t.esaApplications.deletedAt),
        scope,
      ),
    )
    .for('update', { of: t.esaDisbursements });
  const param = (reason: string) => [{ name: 'json.esa_disbursement_id', reason }];
  if (!d) throw unprocessable('No such ESA disbursement.', param('no such disbursement'));
  if (d.status !== 'disbursed')
    throw unprocessable('The disbursement has not been disbursed.', param(`is ${d.status}`));
  const [family] = rowsOf<{ ok: boolean }>(
    await tx.execute(sql`select exists (
      select 1 from student_guardians sg
      join billing_account_guardians bag on bag.tenant_id = sg.tenant_id
        and bag.guardian_id = sg.guardian_id and bag.deleted_at is null
      where sg.deleted_at is null and sg.student_id = ${d.studentId}::uuid
        and bag.account_id = ${accountId}::uuid
      union all
      select 1 from invoices i where i.deleted_at is null and i.account_id = ${accountId}::uuid
        and i.student_id = ${d.studentId}::uuid) as ok`),
  );
  if (!family?.ok)
    throw unprocessable(
      'The disbursement is for a student outside this account’s family.',
      param('not for a student of this account'),
    );
  const [paid] = await tx
    .select({ cents: sql<string>`coalesce(sum(${t.payments.amountCents}), 0)::text` })
    .from(t.payments)
    .where(
      and(
        eq(t.payments.esaDisbursementId, id),
        isNull(t.payments.deletedAt),
        eq(t.payments.status, 'succeeded'),
      ),
    );
  const left = d.amountCents - Number(paid?.cents ?? 0);
  if (amount > left)
    throw unprocessable(`Only ${left} cents of the disbursement are left to pay in.`, [
      { name: 'json.amount_cents', reason: `exceeds what is left of the disbursement (${left})` },
    ]);
}

export interface PaymentInput {
  method: (typeof PAYMENT_METHODS)[number];
  amountCents: number;
  /** ISO date-time; default now. */
  receivedAt?: string;
  reference?: string | null;
  /** Required for (and only for) an ESA payment: the disbursement that funded it. */
  esaDisbursementId?: string;
  /** Explicit allocations; left out: the open invoices oldest first (by due date). */
  allocations?: { invoiceId: string; amountCents: number }[];
}

/** An allocation's effect on its invoice. */
export interface AppliedPayment {
  invoiceId: string;
  before: { status: string; amountPaidCents: number };
  after: { status: string; amountPaidCents: number };
}

/**
 * Records a payment on an account (loaded and locked by the caller within its write
 * scope) and allocates it to the account's open invoices: the given allocations or oldest
 * first; a partly paid invoice stays open with a smaller balance, a fully paid one becomes
 * paid; what is left is credit. An ESA payment's disbursement must be one the principal
 * may read, disbursed, for a child of the account's family and not paid in beyond its
 * amount. Refuses (ApiError) a closed account (conflict) and anything else that does not
 * fit (unprocessable, naming each field as `json.…`).
 */
export async function recordPayment(
  tx: Tx<TenantSchema>,
  args: {
    tenantId: string;
    principal: Principal;
    account: { id: string; status: string };
    payment: PaymentInput;
  },
): Promise<{ payment: typeof t.payments.$inferSelect; applied: AppliedPayment[] }> {
  const { account, payment: body } = args;
  if (account.status !== 'active')
    throw new ApiError('conflict', 'The account is closed; reopen it to record a payment.');
  if (body.method === 'esa' && !body.esaDisbursementId)
    throw unprocessable('An ESA payment names the disbursement that funded it.', [
      { name: 'json.esa_disbursement_id', reason: 'required when method is esa' },
    ]);
  if (body.method !== 'esa' && body.esaDisbursementId)
    throw unprocessable('Only an ESA payment is funded by a disbursement.', [
      { name: 'json.esa_disbursement_id', reason: 'only for method esa' },
    ]);
  if (body.esaDisbursementId)
    await checkDisbursement(
      tx,
      args.principal,
      account.id,
      body.esaDisbursementId,
      body.amountCents,
    );

  // Open invoices, oldest first, locked so concurrent payments serialize on them. Staff who
  // reach only some of a family's schools pay only their schools' invoices: the rest of the
  // payment is credit, never an invoice of a school they do not serve.
  const part = await statementPart(tx, args.principal, account.id, 'finance.write');
  const open = await tx
    .select()
    .from(t.invoices)
    .where(
      and(
        eq(t.invoices.accountId, account.id),
        eq(t.invoices.status, 'open'),
        isNull(t.invoices.deletedAt),
        part,
      ),
    )
    .orderBy(
      asc(t.invoices.dueDate),
      asc(t.invoices.issueDate),
      asc(t.invoices.createdAt),
      asc(t.invoices.id),
    )
    .for('update');
  const payable = open.map((i) => ({ id: i.id, balanceCents: i.balanceCents }));
  let plan: AllocationPlan;
  if (body.allocations) {
    const checked = allocateExplicit(body.amountCents, body.allocations, payable);
    if (checked.issues.length > 0)
      throw unprocessable(
        'The allocations do not fit the open invoices of this account.',
        checked.issues.map((i) => ({
          name:
            i.index === null
              ? 'json.allocations'
              : `json.allocations.${i.index}.${i.field ?? 'invoice_id'}`,
          reason: i.reason,
        })),
      );
    plan = checked.plan;
  } else {
    plan = allocateOldestFirst(body.amountCents, payable);
  }

  const [payment] = await mapDbErrors(() =>
    tx
      .insert(t.payments)
      .values({
        tenantId: args.tenantId,
        accountId: account.id,
        method: body.method,
        amountCents: body.amountCents,
        unappliedCents: plan.unappliedCents,
        ...(body.receivedAt ? { receivedAt: new Date(body.receivedAt) } : {}),
        reference: body.reference ?? null,
        esaDisbursementId: body.esaDisbursementId ?? null,
        status: 'succeeded',
      })
      .returning(),
  );
  const byId = new Map(open.map((i) => [i.id, i]));
  const now = new Date();
  const applied: AppliedPayment[] = [];
  for (const a of plan.allocations) {
    const inv = byId.get(a.invoiceId)!;
    const next = applyToInvoice(inv, a.amountCents);
    await tx.insert(t.paymentAllocations).values({
      tenantId: args.tenantId,
      paymentId: payment!.id,
      invoiceId: a.invoiceId,
      amountCents: a.amountCents,
    });
    await tx
      .update(t.invoices)
      .set({ ...next, paidAt: next.status === 'paid' ? now : null })
      .where(eq(t.invoices.id, a.invoiceId));
    applied.push({
      invoiceId: a.invoiceId,
      before: { status: inv.status, amountPaidCents: inv.amountPaidCents },
      after: { status: next.status, amountPaidCents: next.amountPaidCents },
    });
  }
  return { payment: payment!, applied };
}
