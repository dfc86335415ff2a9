import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { PAYMENT_METHODS } from '../../../db/schema/finance.js';
import { rowsOf } from '../../../db/connection.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { rowScope } from '../../auth/scope.js';
import {
  allocateExplicit,
  allocateOldestFirst,
  applyToInvoice,
  MAX_CENTS,
  type AllocationPlan,
} from '../../finance/ledger.js';
import { IDEMPOTENCY_KEY, idempotency } from '../../middleware/idempotency.js';
import { ApiError, type InvalidParam } from '../../problems.js';
import {
  guarded,
  loadScoped,
  mount,
  present,
  registerResource,
  valid,
  type Ctx,
  type ResourceDef,
  type Row,
} from '../../resources/crud.js';
import { mapDbErrors } from '../../resources/db-errors.js';
import { scoped } from '../../resources/scopes.js';
import { esaRules } from '../esa/scope.js';
import { problemResponses, replayedHeader } from '../openapi.js';
import { accountScope, financePermissions } from './accounts.js';
import { accountRules, invoiceRules } from './scope.js';

const AllocationOut = z.object({ invoice_id: z.uuid(), amount_cents: z.number().int() });

const Payment = z
  .object({
    id: z.uuid(),
    account_id: z.uuid(),
    method: z.enum(PAYMENT_METHODS),
    amount_cents: z.number().int(),
    unapplied_cents: z.number().int().describe('Not allocated to an invoice: account credit.'),
    received_at: z.string(),
    reference: z.string().nullable(),
    esa_disbursement_id: z.uuid().nullable(),
    status: z.enum(['succeeded', 'refunded', 'failed']),
    allocations: z.array(AllocationOut),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Payment');

const PaymentCreate = z
  .object({
    account_id: z.uuid(),
    method: z.enum(PAYMENT_METHODS),
    amount_cents: z.number().int().min(1).max(MAX_CENTS),
    received_at: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: 'Default: now.' }),
    reference: z.string().trim().min(1).max(200).nullable().optional(),
    esa_disbursement_id: z.uuid().optional().openapi({
      description: 'Required for `method: esa`: the disbursement that funded the payment.',
    }),
    allocations: z
      .array(
        z.object({ invoice_id: z.uuid(), amount_cents: z.number().int().min(1).max(MAX_CENTS) }),
      )
      .max(100)
      .refine((a) => new Set(a.map((x) => x.invoice_id)).size === a.length, {
        error: 'an invoice may appear once',
      })
      .optional()
      .openapi({
        description:
          'Explicit allocations to open invoices of the account. Omitted: the payment goes to the open invoices oldest first (by due date). What is left is credit.',
      }),
  })
  .openapi('PaymentCreate');

const PaymentFilters = z.object({
  account_id: z.uuid().optional(),
  method: z.enum(PAYMENT_METHODS).optional(),
});

const RequiredIdempotencyKey = z.object({
  'idempotency-key': z.string().regex(IDEMPOTENCY_KEY).openapi({
    description:
      'Required. The same key with the same body returns the stored response (with `Idempotency-Replayed: true`); with another body, 422. Keys live 24 hours.',
    example: '5f0c7c5e-8f0e-4f57-9d3b-0a0f0c4b7a51',
  }),
});

export const paymentScope = scoped(financePermissions, accountRules(t.payments.accountId));

const visibleInvoices = scoped(financePermissions, invoiceRules);

/** A payment's allocations to the invoices the caller may read (not another school's). */
async function allocationsOf(c: Ctx, paymentIds: string[]) {
  if (paymentIds.length === 0) return [];
  const tx = c.get('tx');
  const visible = await visibleInvoices(c, 'read');
  return tx
    .select()
    .from(t.paymentAllocations)
    .where(
      and(
        inArray(t.paymentAllocations.paymentId, paymentIds),
        isNull(t.paymentAllocations.deletedAt),
        visible &&
          inArray(
            t.paymentAllocations.invoiceId,
            tx.select({ id: t.invoices.id }).from(t.invoices).where(visible),
          ),
      ),
    )
    .orderBy(asc(t.paymentAllocations.createdAt), asc(t.paymentAllocations.id));
}

export const paymentResource: ResourceDef<
  typeof PaymentCreate,
  typeof PaymentCreate,
  typeof PaymentFilters
> = {
  entity: 'payment',
  path: '/v1/payments',
  tag: 'Finance',
  plural: 'payments',
  table: t.payments,
  permissions: financePermissions,
  schemas: { out: Payment, create: PaymentCreate, update: PaymentCreate, filters: PaymentFilters },
  scope: paymentScope,
  order: { column: t.payments.receivedAt, direction: 'desc' },
  operations: ['list', 'read'],
  filters: (q) => [
    q.account_id ? eq(t.payments.accountId, q.account_id) : undefined,
    q.method ? eq(t.payments.method, q.method) : undefined,
  ],
  decorate: async (c, rows) => {
    const allocations = await allocationsOf(
      c,
      rows.map((r) => String(r.id)),
    );
    return rows.map((r) => ({
      ...r,
      allocations: allocations
        .filter((a) => a.paymentId === r.id)
        .map((a) => ({ invoice_id: a.invoiceId, amount_cents: a.amountCents })),
    }));
  },
  descriptions: {
    list: 'Payments of the accounts within the caller’s scope, newest first, with their allocations (to the invoices the caller may read).',
  },
};

const unprocessable = (detail: string, invalidParams: InvalidParam[]) =>
  new ApiError('unprocessable', detail, { invalidParams });

/**
 * The disbursement an ESA payment is funded by: visible to the caller, disbursed, for a
 * child of the account's family, and not already paid in beyond its amount.
 */
async function checkDisbursement(c: Ctx, accountId: string, id: string, amount: number) {
  const tx = c.get('tx');
  const scope = await rowScope(
    tx,
    c.get('principal'),
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

/** Records a payment and allocates it; see the route description. */
async function recordPayment(c: Ctx, body: z.infer<typeof PaymentCreate>): Promise<Row> {
  const tx = c.get('tx');
  let account: Row;
  try {
    account = await loadScoped(
      c,
      { table: t.billingAccounts, scope: accountScope },
      body.account_id,
      'write',
      {
        lock: true,
      },
    );
  } catch (err) {
    if (err instanceof ApiError && err.code === 'not_found')
      throw unprocessable('No such account.', [
        { name: 'json.account_id', reason: 'no such account' },
      ]);
    throw err;
  }
  if (account.status !== 'active')
    throw new ApiError('conflict', 'The account is closed; reopen it to record a payment.');
  if (body.method === 'esa' && !body.esa_disbursement_id)
    throw unprocessable('An ESA payment names the disbursement that funded it.', [
      { name: 'json.esa_disbursement_id', reason: 'required when method is esa' },
    ]);
  if (body.method !== 'esa' && body.esa_disbursement_id)
    throw unprocessable('Only an ESA payment is funded by a disbursement.', [
      { name: 'json.esa_disbursement_id', reason: 'only for method esa' },
    ]);
  if (body.esa_disbursement_id)
    await checkDisbursement(c, body.account_id, body.esa_disbursement_id, body.amount_cents);

  // Open invoices, oldest first, locked so concurrent payments serialize on them.
  const open = await tx
    .select()
    .from(t.invoices)
    .where(
      and(
        eq(t.invoices.accountId, body.account_id),
        eq(t.invoices.status, 'open'),
        isNull(t.invoices.deletedAt),
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
    const checked = allocateExplicit(
      body.amount_cents,
      body.allocations.map((a) => ({ invoiceId: a.invoice_id, amountCents: a.amount_cents })),
      payable,
    );
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
    plan = allocateOldestFirst(body.amount_cents, payable);
  }

  const [payment] = await mapDbErrors(() =>
    tx
      .insert(t.payments)
      .values({
        tenantId: c.get('tenant').id,
        accountId: body.account_id,
        method: body.method,
        amountCents: body.amount_cents,
        unappliedCents: plan.unappliedCents,
        ...(body.received_at ? { receivedAt: new Date(body.received_at) } : {}),
        reference: body.reference ?? null,
        esaDisbursementId: body.esa_disbursement_id ?? null,
        status: 'succeeded',
      })
      .returning(),
  );
  const byId = new Map(open.map((i) => [i.id, i]));
  const now = new Date();
  for (const a of plan.allocations) {
    const inv = byId.get(a.invoiceId)!;
    const next = applyToInvoice(inv, a.amountCents);
    await tx.insert(t.paymentAllocations).values({
      tenantId: c.get('tenant').id,
      paymentId: payment!.id,
      invoiceId: a.invoiceId,
      amountCents: a.amountCents,
    });
    await tx
      .update(t.invoices)
      .set({ ...next, paidAt: next.status === 'paid' ? now : null })
      .where(eq(t.invoices.id, a.invoiceId));
    await audit(c, {
      action: 'invoice.payment_applied',
      entityType: 'invoice',
      entityId: a.invoiceId,
      before: { status: inv.status, amount_paid_cents: inv.amountPaidCents },
      after: {
        status: next.status,
        amount_paid_cents: next.amountPaidCents,
        payment_id: payment!.id,
      },
    });
  }
  return payment!;
}

export function registerPayments(app: OpenAPIHono<AppEnv>): void {
  const json = (schema: z.ZodType) => ({ 'application/json': { schema } });
  mount(
    app,
    createRoute({
      operationId: 'createPayment',
      method: 'post',
      path: '/v1/payments',
      tags: ['Finance'],
      summary: 'Record a payment',
      description:
        'Records money received on an account and allocates it to open invoices: the given `allocations`, or oldest first. A partly paid invoice stays `open` with a smaller balance; a fully paid one becomes `paid`; no allocation exceeds an invoice’s balance; what is left is credit (`unapplied_cents`). An ESA payment names its (disbursed) disbursement. Requires an `Idempotency-Key`.',
      middleware: [
        ...guarded(financePermissions.write),
        idempotency({ scope: 'payments:record', required: true }),
      ] as const,
      request: {
        headers: RequiredIdempotencyKey,
        body: { content: json(PaymentCreate), required: true },
      },
      responses: {
        201: {
          description: 'Recorded (or replayed for a repeated Idempotency-Key)',
          headers: replayedHeader,
          content: json(Payment),
        },
        ...problemResponses(400, 401, 403, 409, 413, 422),
      },
    }),
    async (c) => {
      const body = valid<z.infer<typeof PaymentCreate>>(c, 'json');
      const payment = await recordPayment(c, body);
      const [shown] = await paymentResource.decorate!(c, [payment]);
      const after = present(paymentResource, shown!);
      await audit(c, {
        action: 'payment.record',
        entityType: 'payment',
        entityId: String(payment.id),
        after,
      });
      c.header('Location', `/v1/payments/${String(payment.id)}`);
      return c.json(after, 201);
    },
  );
  registerResource(app, paymentResource);
}
