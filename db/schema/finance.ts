import { sql } from 'drizzle-orm';
import { date, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { oneOf, rule, tenantFk, tenantIndex, tenantKey, tenantPk, timestamps } from './columns.js';
import { orgUnits } from './org.js';
import { esaDisbursements } from './esa.js';
import { guardians, students } from './people.js';

export const INVOICE_STATUSES = ['draft', 'open', 'paid', 'void', 'uncollectible'] as const;
export const PAYMENT_METHODS = ['card', 'ach', 'esa', 'check', 'cash'] as const;

/** A family's billing account; amounts everywhere are integer cents. */
export const billingAccounts = pgTable(
  'billing_accounts',
  {
    ...tenantKey,
    accountNumber: text('account_number').notNull(),
    name: text('name').notNull(),
    primaryGuardianId: uuid('primary_guardian_id'),
    schoolId: uuid('school_id'),
    status: text('status').notNull().default('active'),
    ...timestamps,
  },
  (t) => [
    tenantPk('billing_accounts', t),
    tenantFk('billing_accounts_guardian_fk', t.tenantId, t.primaryGuardianId, guardians),
    tenantFk('billing_accounts_school_fk', t.tenantId, t.schoolId, orgUnits),
    uniqueIndex('billing_accounts_number_key')
      .on(t.tenantId, t.accountNumber)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('billing_accounts_guardian_idx', t.tenantId, t.primaryGuardianId),
    oneOf('billing_accounts_status_check', t.status, ['active', 'closed']),
  ],
);

/** Guardians who may see and pay an account (the primary guardian and any others). */
export const billingAccountGuardians = pgTable(
  'billing_account_guardians',
  {
    ...tenantKey,
    accountId: uuid('account_id').notNull(),
    guardianId: uuid('guardian_id').notNull(),
    ...timestamps,
  },
  (t) => [
    tenantPk('billing_account_guardians', t),
    tenantFk(
      'billing_account_guardians_account_fk',
      t.tenantId,
      t.accountId,
      billingAccounts,
    ).onDelete('cascade'),
    tenantFk('billing_account_guardians_guardian_fk', t.tenantId, t.guardianId, guardians).onDelete(
      'cascade',
    ),
    uniqueIndex('billing_account_guardians_key')
      .on(t.tenantId, t.accountId, t.guardianId)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('billing_account_guardians_guardian_idx', t.tenantId, t.guardianId),
  ],
);

export const invoices = pgTable(
  'invoices',
  {
    ...tenantKey,
    number: text('number').notNull(),
    accountId: uuid('account_id').notNull(),
    studentId: uuid('student_id'),
    schoolId: uuid('school_id'),
    issueDate: date('issue_date'),
    dueDate: date('due_date'),
    status: text('status').notNull().default('draft'),
    currency: text('currency').notNull().default('USD'),
    subtotalCents: integer('subtotal_cents').notNull().default(0),
    totalCents: integer('total_cents').notNull().default(0),
    amountPaidCents: integer('amount_paid_cents').notNull().default(0),
    balanceCents: integer('balance_cents').notNull().default(0),
    memo: text('memo'),
    issuedAt: timestamp('issued_at', { withTimezone: true }),
    paidAt: timestamp('paid_at', { withTimezone: true }),
    voidedAt: timestamp('voided_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    tenantPk('invoices', t),
    tenantFk('invoices_account_fk', t.tenantId, t.accountId, billingAccounts),
    tenantFk('invoices_student_fk', t.tenantId, t.studentId, students),
    tenantFk('invoices_school_fk', t.tenantId, t.schoolId, orgUnits),
    uniqueIndex('invoices_number_key').on(t.tenantId, t.number),
    tenantIndex('invoices_account_idx', t.tenantId, t.accountId),
    tenantIndex('invoices_status_due_idx', t.tenantId, t.status, t.dueDate),
    oneOf('invoices_status_check', t.status, INVOICE_STATUSES),
    rule(
      'invoices_amounts_check',
      sql`${t.subtotalCents} >= 0 and ${t.totalCents} >= 0 and ${t.amountPaidCents} >= 0`,
    ),
    rule('invoices_balance_check', sql`${t.balanceCents} = ${t.totalCents} - ${t.amountPaidCents}`),
    rule('invoices_overpaid_check', sql`${t.amountPaidCents} <= ${t.totalCents}`),
    rule(
      'invoices_dates_check',
      sql`${t.dueDate} is null or ${t.issueDate} is null or ${t.dueDate} >= ${t.issueDate}`,
    ),
    rule(
      'invoices_issued_check',
      sql`${t.status} = 'draft' or (${t.issueDate} is not null and ${t.dueDate} is not null)`,
    ),
  ],
);

export const invoiceLines = pgTable(
  'invoice_lines',
  {
    ...tenantKey,
    invoiceId: uuid('invoice_id').notNull(),
    position: integer('position').notNull(),
    description: text('description').notNull(),
    quantity: integer('quantity').notNull().default(1),
    unitAmountCents: integer('unit_amount_cents').notNull(),
    amountCents: integer('amount_cents').notNull(),
    ...timestamps,
  },
  (t) => [
    tenantPk('invoice_lines', t),
    tenantFk('invoice_lines_invoice_fk', t.tenantId, t.invoiceId, invoices).onDelete('cascade'),
    tenantIndex('invoice_lines_invoice_idx', t.tenantId, t.invoiceId, t.position),
    rule('invoice_lines_quantity_check', sql`${t.quantity} > 0`),
    rule(
      'invoice_lines_amount_check',
      sql`${t.amountCents} = ${t.quantity} * ${t.unitAmountCents}`,
    ),
  ],
);

/** Money received. An ESA payment points at the disbursement that funded it. */
export const payments = pgTable(
  'payments',
  {
    ...tenantKey,
    accountId: uuid('account_id').notNull(),
    method: text('method').notNull(),
    amountCents: integer('amount_cents').notNull(),
    /** Part of the payment not allocated to an invoice: the account's credit. */
    unappliedCents: integer('unapplied_cents').notNull().default(0),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    reference: text('reference'),
    esaDisbursementId: uuid('esa_disbursement_id'),
    status: text('status').notNull().default('succeeded'),
    ...timestamps,
  },
  (t) => [
    tenantPk('payments', t),
    tenantFk('payments_account_fk', t.tenantId, t.accountId, billingAccounts),
    tenantFk('payments_esa_disbursement_fk', t.tenantId, t.esaDisbursementId, esaDisbursements),
    tenantIndex('payments_account_idx', t.tenantId, t.accountId, t.receivedAt),
    tenantIndex('payments_disbursement_idx', t.tenantId, t.esaDisbursementId),
    oneOf('payments_method_check', t.method, PAYMENT_METHODS),
    oneOf('payments_status_check', t.status, ['succeeded', 'refunded', 'failed']),
    rule('payments_amount_check', sql`${t.amountCents} > 0`),
    rule('payments_unapplied_check', sql`${t.unappliedCents} between 0 and ${t.amountCents}`),
    rule('payments_esa_check', sql`${t.esaDisbursementId} is null or ${t.method} = 'esa'`),
  ],
);

export const paymentAllocations = pgTable(
  'payment_allocations',
  {
    ...tenantKey,
    paymentId: uuid('payment_id').notNull(),
    invoiceId: uuid('invoice_id').notNull(),
    amountCents: integer('amount_cents').notNull(),
    ...timestamps,
  },
  (t) => [
    tenantPk('payment_allocations', t),
    tenantFk('payment_allocations_payment_fk', t.tenantId, t.paymentId, payments),
    tenantFk('payment_allocations_invoice_fk', t.tenantId, t.invoiceId, invoices),
    uniqueIndex('payment_allocations_key')
      .on(t.tenantId, t.paymentId, t.invoiceId)
      .where(sql`${t.deletedAt} is null`),
    tenantIndex('payment_allocations_invoice_idx', t.tenantId, t.invoiceId),
    rule('payment_allocations_amount_check', sql`${t.amountCents} > 0`),
  ],
);
