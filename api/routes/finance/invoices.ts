import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, isNull } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { INVOICE_STATUSES } from '../../../db/schema/finance.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { rowScope } from '../../auth/scope.js';
import {
  invoiceRefusal,
  MAX_CENTS,
  priceLines,
  type InvoiceStatus,
  type LineInput,
} from '../../finance/ledger.js';
import { ApiError } from '../../problems.js';
import { invoiceLines, issueInvoice, voidInvoice } from '../../finance/invoices.js';
import {
  guarded,
  loadScoped,
  registerResource,
  type Ctx,
  type ResourceDef,
  type Row,
  idParam,
} from '../../resources/crud.js';
import { scoped } from '../../resources/scopes.js';
import { problemResponses } from '../openapi.js';
import { accountScope, financePermissions } from './accounts.js';
import { invoiceRules } from '../../finance/scope.js';

const Line = z.object({
  id: z.uuid(),
  position: z.number().int(),
  description: z.string(),
  quantity: z.number().int(),
  unit_amount_cents: z.number().int(),
  amount_cents: z.number().int(),
});

const Invoice = z
  .object({
    id: z.uuid(),
    number: z.string(),
    account_id: z.uuid(),
    student_id: z.uuid().nullable(),
    school_id: z.uuid().nullable(),
    issue_date: z.string().nullable(),
    due_date: z.string().nullable(),
    status: z.enum(INVOICE_STATUSES),
    currency: z.string(),
    subtotal_cents: z.number().int(),
    total_cents: z.number().int(),
    amount_paid_cents: z.number().int(),
    balance_cents: z.number().int(),
    memo: z.string().nullable(),
    issued_at: z.string().nullable(),
    paid_at: z.string().nullable(),
    voided_at: z.string().nullable(),
    lines: z.array(Line),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Invoice');

const LineIn = z.object({
  description: z.string().trim().min(1).max(200),
  quantity: z.number().int().min(1).max(1000),
  unit_amount_cents: z
    .number()
    .int()
    .min(-1_000_000)
    .max(1_000_000)
    .openapi({ description: 'Negative for a discount.' }),
});

const Lines = z.array(LineIn).max(100);

const InvoiceCreate = z
  .object({
    account_id: z.uuid(),
    number: z.string().trim().min(1).max(40).optional().openapi({
      description: 'Unique in the tenant; generated when omitted.',
    }),
    student_id: z.uuid().nullable().optional(),
    school_id: z.uuid().nullable().optional().openapi({
      description: 'Defaults to the student’s school, else the account’s.',
    }),
    due_date: z.iso.date().nullable().optional(),
    memo: z.string().trim().max(2000).nullable().optional(),
    lines: Lines.default([]),
  })
  .openapi('InvoiceCreate');

const InvoiceUpdate = InvoiceCreate.omit({ account_id: true, lines: true })
  .partial()
  .extend({
    lines: Lines.optional().openapi({ description: 'Replaces every line.' }),
  })
  .openapi('InvoiceUpdate');

const InvoiceFilters = z.object({
  account_id: z.uuid().optional(),
  student_id: z.uuid().optional(),
  status: z.enum(INVOICE_STATUSES).optional(),
});

export const invoiceScope = scoped(financePermissions, invoiceRules);

const generatedNumber = () => `INV-${crypto.randomUUID().slice(0, 8).toUpperCase()}`;

/** Lines priced and checked: the total may not be negative nor exceed what a column holds. */
function pricedOrRefused(lines: LineInput[]) {
  const priced = priceLines(lines);
  if (priced.totalCents < 0 || priced.totalCents > MAX_CENTS)
    throw new ApiError('unprocessable', 'The invoice total must be between 0 and 2,000,000,000.', {
      invalidParams: [{ name: 'json.lines', reason: 'the lines must add up to 0 or more' }],
    });
  return priced;
}

async function replaceLines(c: Ctx, invoiceId: string, lines: ReturnType<typeof priceLines>) {
  const tx = c.get('tx');
  await tx.delete(t.invoiceLines).where(eq(t.invoiceLines.invoiceId, invoiceId));
  if (lines.lines.length === 0) return;
  await tx
    .insert(t.invoiceLines)
    .values(lines.lines.map((l) => ({ ...l, tenantId: c.get('tenant').id, invoiceId })));
}

const linesOf = (c: Ctx, ids: string[]) => invoiceLines(c.get('tx'), ids);

const lineJson = (l: typeof t.invoiceLines.$inferSelect) => ({
  id: l.id,
  position: l.position,
  description: l.description,
  quantity: l.quantity,
  unit_amount_cents: l.unitAmountCents,
  amount_cents: l.amountCents,
});

const conflict = (reason: string | null) => {
  if (reason) throw new ApiError('conflict', reason);
};

/** The account an invoice is written on, within the caller's write scope (else 422). */
async function writableAccount(c: Ctx, accountId: string): Promise<Row> {
  try {
    return await loadScoped(
      c,
      { table: t.billingAccounts, scope: accountScope },
      accountId,
      'write',
    );
  } catch (err) {
    if (err instanceof ApiError && err.code === 'not_found')
      throw new ApiError('unprocessable', 'No such account.', {
        invalidParams: [{ name: 'json.account_id', reason: 'no such account' }],
      });
    throw err;
  }
}

export const invoiceResource: ResourceDef<
  typeof InvoiceCreate,
  typeof InvoiceUpdate,
  typeof InvoiceFilters
> = {
  entity: 'invoice',
  path: '/v1/invoices',
  tag: 'Finance',
  plural: 'invoices',
  table: t.invoices,
  permissions: financePermissions,
  schemas: { out: Invoice, create: InvoiceCreate, update: InvoiceUpdate, filters: InvoiceFilters },
  scope: invoiceScope,
  order: { column: t.invoices.createdAt, direction: 'asc' },
  filters: (q) => [
    q.account_id ? eq(t.invoices.accountId, q.account_id) : undefined,
    q.student_id ? eq(t.invoices.studentId, q.student_id) : undefined,
    q.status ? eq(t.invoices.status, q.status) : undefined,
  ],
  prepareCreate: async (c, input) => {
    const account = await writableAccount(c, input.account_id);
    if (account.status !== 'active')
      throw new ApiError('conflict', 'The account is closed; reopen it to invoice it.');
    let schoolId = input.school_id ?? null;
    if (input.school_id === undefined) {
      const [student] = input.student_id
        ? await c
            .get('tx')
            .select({ schoolId: t.students.schoolId })
            .from(t.students)
            .where(and(eq(t.students.id, input.student_id), isNull(t.students.deletedAt)))
        : [];
      schoolId = student?.schoolId ?? (account.schoolId as string | null);
    }
    const priced = pricedOrRefused(input.lines);
    return {
      number: input.number ?? generatedNumber(),
      accountId: input.account_id,
      studentId: input.student_id ?? null,
      schoolId,
      dueDate: input.due_date ?? null,
      memo: input.memo ?? null,
      status: 'draft',
      subtotalCents: priced.totalCents,
      totalCents: priced.totalCents,
      amountPaidCents: 0,
      balanceCents: priced.totalCents,
    };
  },
  afterCreate: async (c, row, input) => {
    await replaceLines(c, String(row.id), priceLines(input.lines));
  },
  prepareUpdate: async (c, input, before) => {
    conflict(invoiceRefusal('edit', before as { status: InvoiceStatus; amountPaidCents: number }));
    const values: Row = {};
    if (input.number !== undefined) values.number = input.number;
    if (input.student_id !== undefined) values.studentId = input.student_id;
    if (input.school_id !== undefined) values.schoolId = input.school_id;
    if (input.due_date !== undefined) values.dueDate = input.due_date;
    if (input.memo !== undefined) values.memo = input.memo;
    if (input.lines !== undefined) {
      const priced = pricedOrRefused(input.lines);
      const id = String(before.id);
      const old = await linesOf(c, [id]);
      await replaceLines(c, id, priced);
      Object.assign(values, {
        subtotalCents: priced.totalCents,
        totalCents: priced.totalCents,
        balanceCents: priced.totalCents,
        updatedAt: new Date(),
      });
      await audit(c, {
        action: 'invoice.lines_replace',
        entityType: 'invoice',
        entityId: id,
        before: { lines: old.map(lineJson) },
        after: { lines: input.lines },
      });
    }
    return values;
  },
  beforeDelete: async (c, row) => {
    if (row.status !== 'draft')
      throw new ApiError('conflict', 'Only a draft invoice can be deleted; void an issued one.');
  },
  decorate: async (c, rows) => {
    const lines = await linesOf(
      c,
      rows.map((r) => String(r.id)),
    );
    return rows.map((r) => ({
      ...r,
      lines: lines.filter((l) => l.invoiceId === r.id).map(lineJson),
    }));
  },
  descriptions: {
    list: 'Invoices within the caller’s scope: a parent their own family’s; school staff those of their school(s)’ students (of a family with children at two schools, only their school’s); tenant-wide roles every one.',
    create:
      'Creates a draft with its lines (negative lines are discounts; the total may not be negative). The account must be active and within the caller’s reach (else 422).',
    update:
      'Only a draft can be changed (409 otherwise); `lines` replaces every line and the totals follow.',
    delete: 'Only a draft can be deleted (409 otherwise).',
  },
};

const IdParam = idParam('Invoice');

const IssueBody = z
  .object({
    issue_date: z.iso.date().optional().openapi({ description: 'Default: today at the school.' }),
    due_date: z.iso
      .date()
      .optional()
      .openapi({ description: 'Default: the draft’s due date, else 30 days after issue.' }),
  })
  .openapi('InvoiceIssue');

const VoidBody = z
  .object({
    reason: z.string().trim().min(1).max(500).optional(),
    release_payments: z.boolean().optional().openapi({
      description:
        'Required (true) when payments are allocated: the allocations are released and the money stays on the account as credit.',
    }),
  })
  .openapi('InvoiceVoid');

/** An invoice with its lines as the API shows it (the `Invoice` schema). */
function invoiceJson(
  i: typeof t.invoices.$inferSelect,
  lines: readonly (typeof t.invoiceLines.$inferSelect)[],
): z.infer<typeof Invoice> {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: i.id,
    number: i.number,
    account_id: i.accountId,
    student_id: i.studentId,
    school_id: i.schoolId,
    issue_date: i.issueDate,
    due_date: i.dueDate,
    // The status column's check constraint holds it to these values.
    status: i.status as z.infer<typeof Invoice>['status'],
    currency: i.currency,
    subtotal_cents: i.subtotalCents,
    total_cents: i.totalCents,
    amount_paid_cents: i.amountPaidCents,
    balance_cents: i.balanceCents,
    memo: i.memo,
    issued_at: iso(i.issuedAt),
    paid_at: iso(i.paidAt),
    voided_at: iso(i.voidedAt),
    lines: lines.filter((l) => l.invoiceId === i.id).map(lineJson),
    created_at: i.createdAt.toISOString(),
    updated_at: i.updatedAt.toISOString(),
  };
}

/** 200 with the invoice and its lines. */
async function respond(c: Ctx, row: typeof t.invoices.$inferSelect) {
  return c.json(invoiceJson(row, await linesOf(c, [row.id])), 200);
}

/** Invoice CRUD (drafts), issuing and voiding. */
export function registerInvoices(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, invoiceResource);
  const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });

  app.openapi(
    createRoute({
      operationId: 'issueInvoice',
      method: 'post',
      path: '/v1/invoices/{id}/issue',
      tags: ['Finance'],
      summary: 'Issue a draft invoice',
      description:
        'draft → open (or straight to paid when the lines add up to 0). The totals are taken from the lines; an invoice without lines cannot be issued (422). Issuing anything but a draft answers 409.',
      middleware: guarded(financePermissions.write),
      request: { params: IdParam, body: { content: json(IssueBody), required: false } },
      responses: {
        200: { description: 'The issued invoice', content: json(Invoice) },
        ...problemResponses(400, 401, 403, 404, 409, 422),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json') ?? {};
      const before = await loadScoped(c, invoiceResource, id, 'write', { lock: true });
      const issued = await issueInvoice(c.get('tx'), {
        invoice: before as typeof t.invoices.$inferSelect,
        tenantTimezone: c.get('tenant').timezone,
        issueDate: body.issue_date,
        dueDate: body.due_date,
      });
      const row = issued.invoice;
      await audit(c, {
        action: 'invoice.issue',
        entityType: 'invoice',
        entityId: id,
        before: { status: before.status },
        after: {
          status: row.status,
          issue_date: issued.issueDate,
          due_date: issued.dueDate,
          total_cents: issued.totalCents,
        },
      });
      return respond(c, row);
    },
  );

  app.openapi(
    createRoute({
      operationId: 'voidInvoice',
      method: 'post',
      path: '/v1/invoices/{id}/void',
      tags: ['Finance'],
      summary: 'Void an issued invoice',
      description:
        'open, paid or uncollectible → void (409 from draft or void: delete a draft instead). When payments are allocated to the invoice the request must say `release_payments: true`: the allocations are released and the money stays on the account as unapplied credit; otherwise 409. The void invoice keeps its amounts (`balance_cents = total_cents - amount_paid_cents`) but is no longer owed. Needs `finance.void`.',
      middleware: guarded('finance.void'),
      request: { params: IdParam, body: { content: json(VoidBody), required: false } },
      responses: {
        200: { description: 'The void invoice', content: json(Invoice) },
        ...problemResponses(400, 401, 403, 404, 409),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json') ?? {};
      const scope = () => rowScope(c.get('tx'), c.get('principal'), 'finance.void', invoiceRules);
      const before = await loadScoped(c, { table: t.invoices, scope }, id, 'write', { lock: true });
      const { invoice: row, released } = await voidInvoice(c.get('tx'), {
        invoice: before as typeof t.invoices.$inferSelect,
        releasePayments: body.release_payments,
      });
      for (const a of released)
        await audit(c, {
          action: 'payment.allocation_release',
          entityType: 'payment',
          entityId: a.paymentId,
          after: { invoice_id: id, amount_cents: a.amountCents, unapplied_cents: a.unappliedCents },
        });
      await audit(c, {
        action: 'invoice.void',
        entityType: 'invoice',
        entityId: id,
        before: { status: before.status, amount_paid_cents: before.amountPaidCents },
        after: {
          status: 'void',
          reason: body.reason ?? null,
          released: released.map((a) => ({ payment_id: a.paymentId, amount_cents: a.amountCents })),
        },
      });
      return respond(c, row);
    },
  );
}
