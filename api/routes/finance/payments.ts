import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { PAYMENT_METHODS } from '../../../db/schema/finance.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { MAX_CENTS } from '../../finance/ledger.js';
import { recordPayment } from '../../finance/payments.js';
import { allocationsTo } from '../../finance/statement.js';
import { IDEMPOTENCY_KEY, idempotency } from '../../middleware/idempotency.js';
import { ApiError } from '../../problems.js';
import {
  guarded,
  loadScoped,
  registerResource,
  type Ctx,
  type ResourceDef,
  type Row,
} from '../../resources/crud.js';
import { scoped } from '../../resources/scopes.js';
import { problemResponses, replayedHeader } from '../openapi.js';
import { accountScope, financePermissions } from './accounts.js';
import { accountRules, invoiceRules } from '../../finance/scope.js';

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
  return allocationsTo(c.get('tx'), paymentIds, await visibleInvoices(c, 'read'));
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
    return rows.map((r) => ({ ...r, allocations: allocationsJson(allocations, String(r.id)) }));
  },
  descriptions: {
    list: 'Payments of the accounts within the caller’s scope, newest first, with their allocations (to the invoices the caller may read).',
  },
};

type Allocation = Awaited<ReturnType<typeof allocationsOf>>[number];

/** A payment's allocations (among `allocations`) as the API shows them. */
function allocationsJson(allocations: readonly Allocation[], paymentId: string) {
  return allocations
    .filter((a) => a.paymentId === paymentId)
    .map((a) => ({ invoice_id: a.invoiceId, amount_cents: a.amountCents }));
}

/** A payment with its allocations as the API shows it (the `Payment` schema). */
function paymentJson(
  p: typeof t.payments.$inferSelect,
  allocations: readonly Allocation[],
): z.infer<typeof Payment> {
  return {
    id: p.id,
    account_id: p.accountId,
    // The method and status columns' check constraints hold them to these values.
    method: p.method as z.infer<typeof Payment>['method'],
    amount_cents: p.amountCents,
    unapplied_cents: p.unappliedCents,
    received_at: p.receivedAt.toISOString(),
    reference: p.reference,
    esa_disbursement_id: p.esaDisbursementId,
    status: p.status as z.infer<typeof Payment>['status'],
    allocations: allocationsJson(allocations, p.id),
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
  };
}

/** The account a payment is recorded on, locked, within the caller's write scope (else 422). */
async function writableAccount(c: Ctx, accountId: string): Promise<Row> {
  try {
    return await loadScoped(
      c,
      { table: t.billingAccounts, scope: accountScope },
      accountId,
      'write',
      {
        lock: true,
      },
    );
  } catch (err) {
    if (err instanceof ApiError && err.code === 'not_found')
      throw new ApiError('unprocessable', 'No such account.', {
        invalidParams: [{ name: 'json.account_id', reason: 'no such account' }],
      });
    throw err;
  }
}

export function registerPayments(app: OpenAPIHono<AppEnv>): void {
  const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });
  app.openapi(
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
      const body = c.req.valid('json');
      const account = await writableAccount(c, body.account_id);
      const { payment, applied } = await recordPayment(c.get('tx'), {
        tenantId: c.get('tenant').id,
        principal: c.get('principal'),
        account: { id: body.account_id, status: String(account.status) },
        payment: {
          method: body.method,
          amountCents: body.amount_cents,
          receivedAt: body.received_at,
          reference: body.reference,
          esaDisbursementId: body.esa_disbursement_id,
          allocations: body.allocations?.map((a) => ({
            invoiceId: a.invoice_id,
            amountCents: a.amount_cents,
          })),
        },
      });
      for (const a of applied)
        await audit(c, {
          action: 'invoice.payment_applied',
          entityType: 'invoice',
          entityId: a.invoiceId,
          before: { status: a.before.status, amount_paid_cents: a.before.amountPaidCents },
          after: {
            status: a.after.status,
            amount_paid_cents: a.after.amountPaidCents,
            payment_id: payment.id,
          },
        });
      const after = paymentJson(payment, await allocationsOf(c, [payment.id]));
      await audit(c, {
        action: 'payment.record',
        entityType: 'payment',
        entityId: payment.id,
        after,
      });
      c.header('Location', `/v1/payments/${payment.id}`);
      return c.json(after, 201);
    },
  );
  registerResource(app, paymentResource);
}
