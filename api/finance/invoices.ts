import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import { ApiError } from '../problems.js';
import { mapDbErrors } from '../resources/db-errors.js';
import { schoolToday } from '../org/school-today.js';
import type { TenantSchema } from '../../db/schema/types.js';
import { invoiceRefusal, type InvoiceStatus } from './ledger.js';

type InvoiceRow = typeof t.invoices.$inferSelect;

/** Refuses what invoiceRefusal refuses, as a conflict. */
const conflict = (reason: string | null) => {
  if (reason) throw new ApiError('conflict', reason);
};

const refusable = (inv: InvoiceRow) => inv as { status: InvoiceStatus; amountPaidCents: number };

/** The live lines of the invoices, by position. */
export async function invoiceLines(tx: Tx<TenantSchema>, ids: string[]) {
  if (ids.length === 0) return [];
  return tx
    .select()
    .from(t.invoiceLines)
    .where(and(inArray(t.invoiceLines.invoiceId, ids), isNull(t.invoiceLines.deletedAt)))
    .orderBy(asc(t.invoiceLines.position), asc(t.invoiceLines.id));
}

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * Issues a draft invoice (loaded and locked by the caller): draft → open, or straight to
 * paid when its lines add up to 0; totals from the lines. Issue date default: today at the
 * school; due date default: the draft's, else 30 days after issue. Refuses (ApiError)
 * anything but a draft (conflict), a draft without lines or due before issue
 * (unprocessable).
 */
export async function issueInvoice(
  tx: Tx<TenantSchema>,
  args: { invoice: InvoiceRow; tenantTimezone: string; issueDate?: string; dueDate?: string },
): Promise<{ invoice: InvoiceRow; issueDate: string; dueDate: string; totalCents: number }> {
  const before = args.invoice;
  conflict(invoiceRefusal('issue', refusable(before)));
  const lines = await invoiceLines(tx, [before.id]);
  if (lines.length === 0)
    throw new ApiError('unprocessable', 'An invoice needs at least one line to be issued.', {
      invalidParams: [{ name: 'lines', reason: 'at least one line is required' }],
    });
  const total = lines.reduce((s, l) => s + l.amountCents, 0);
  const issueDate = args.issueDate ?? (await schoolToday(tx, before.schoolId, args.tenantTimezone));
  const dueDate = args.dueDate ?? before.dueDate ?? addDays(issueDate, 30);
  if (dueDate < issueDate)
    throw new ApiError('unprocessable', 'The due date is before the issue date.', {
      invalidParams: [{ name: 'json.due_date', reason: 'must not be before the issue date' }],
    });
  const now = new Date();
  const [row] = await mapDbErrors(() =>
    tx
      .update(t.invoices)
      .set({
        status: total === 0 ? 'paid' : 'open',
        issueDate,
        dueDate,
        subtotalCents: total,
        totalCents: total,
        amountPaidCents: 0,
        balanceCents: total,
        issuedAt: now,
        paidAt: total === 0 ? now : null,
      })
      .where(eq(t.invoices.id, before.id))
      .returning(),
  );
  return { invoice: row!, issueDate, dueDate, totalCents: total };
}

export interface ReleasedAllocation {
  paymentId: string;
  amountCents: number;
  /** The payment's unapplied credit after the release. */
  unappliedCents: number;
}

/**
 * Voids an issued invoice (loaded and locked by the caller). Payments allocated to it are
 * released only when `releasePayments` says so: the money stays on the account as the
 * payments' unapplied credit. The void invoice keeps its amounts but is owed by no one.
 * Refuses (conflict) a draft or void invoice, and one with payments without
 * `releasePayments`.
 */
export async function voidInvoice(
  tx: Tx<TenantSchema>,
  args: { invoice: InvoiceRow; releasePayments?: boolean },
): Promise<{ invoice: InvoiceRow; released: ReleasedAllocation[] }> {
  const before = args.invoice;
  conflict(invoiceRefusal('void', refusable(before), { releasePayments: args.releasePayments }));
  const allocations = await tx
    .update(t.paymentAllocations)
    .set({ deletedAt: new Date() })
    .where(
      and(eq(t.paymentAllocations.invoiceId, before.id), isNull(t.paymentAllocations.deletedAt)),
    )
    .returning();
  const released: ReleasedAllocation[] = [];
  for (const a of allocations) {
    const [p] = await tx
      .update(t.payments)
      .set({ unappliedCents: sql`${t.payments.unappliedCents} + ${a.amountCents}` })
      .where(eq(t.payments.id, a.paymentId))
      .returning({ unapplied: t.payments.unappliedCents });
    released.push({
      paymentId: a.paymentId,
      amountCents: a.amountCents,
      unappliedCents: p!.unapplied,
    });
  }
  const [row] = await mapDbErrors(() =>
    tx
      .update(t.invoices)
      .set({
        status: 'void',
        amountPaidCents: 0,
        balanceCents: before.totalCents,
        paidAt: null,
        voidedAt: new Date(),
      })
      .where(eq(t.invoices.id, before.id))
      .returning(),
  );
  return { invoice: row!, released };
}
