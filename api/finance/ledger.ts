/**
 * Invoice and payment arithmetic, free of HTTP and SQL. Amounts are integer cents.
 *
 * Invoice statuses: `draft` (editable, not owed) → `open` (issued, owed) → `paid` (balance
 * 0); `open`/`paid`/`uncollectible` → `void`. A void invoice keeps its row amounts
 * (`balance = total - amount_paid`) but is owed by no one; it may be voided only once no
 * payment is allocated to it, so an account's balance is always
 * Σ balance of its open/paid/uncollectible invoices − Σ unapplied credit of its payments.
 */

/** Largest amount an `integer` column takes that the API accepts. */
export const MAX_CENTS = 2_000_000_000;

export interface LineInput {
  description: string;
  quantity: number;
  unit_amount_cents: number;
}

export interface PricedLine {
  position: number;
  description: string;
  quantity: number;
  unitAmountCents: number;
  amountCents: number;
}

/** Lines with their amounts (negative lines are discounts) and the invoice total. */
export function priceLines(lines: readonly LineInput[]): {
  lines: PricedLine[];
  totalCents: number;
} {
  const priced = lines.map((l, i) => ({
    position: i + 1,
    description: l.description,
    quantity: l.quantity,
    unitAmountCents: l.unit_amount_cents,
    amountCents: l.quantity * l.unit_amount_cents,
  }));
  return { lines: priced, totalCents: priced.reduce((s, l) => s + l.amountCents, 0) };
}

export interface PayableInvoice {
  id: string;
  balanceCents: number;
}

export interface Allocation {
  invoiceId: string;
  amountCents: number;
}

export interface AllocationPlan {
  allocations: Allocation[];
  unappliedCents: number;
}

/** Spreads a payment over invoices in the order given (oldest first); the rest is credit. */
export function allocateOldestFirst(
  amountCents: number,
  invoices: readonly PayableInvoice[],
): AllocationPlan {
  let left = amountCents;
  const allocations: Allocation[] = [];
  for (const inv of invoices) {
    if (left === 0) break;
    const take = Math.min(left, inv.balanceCents);
    if (take > 0) {
      allocations.push({ invoiceId: inv.id, amountCents: take });
      left -= take;
    }
  }
  return { allocations, unappliedCents: left };
}

export interface AllocationIssue {
  /** Index in the requested list, or null for the list as a whole. */
  index: number | null;
  field: 'invoice_id' | 'amount_cents' | null;
  reason: string;
}

/**
 * Checks an explicit allocation list against the payable invoices: each must be one of
 * them, take at most its balance, and together at most the payment. The rest is credit.
 */
export function allocateExplicit(
  amountCents: number,
  requested: readonly Allocation[],
  payable: readonly PayableInvoice[],
): { plan: AllocationPlan; issues: AllocationIssue[] } {
  const byId = new Map(payable.map((p) => [p.id, p]));
  const issues: AllocationIssue[] = [];
  requested.forEach((r, index) => {
    const inv = byId.get(r.invoiceId);
    if (!inv)
      issues.push({ index, field: 'invoice_id', reason: 'not an open invoice of this account' });
    else if (r.amountCents > inv.balanceCents)
      issues.push({
        index,
        field: 'amount_cents',
        reason: `exceeds the invoice balance (${inv.balanceCents})`,
      });
  });
  const sum = requested.reduce((s, r) => s + r.amountCents, 0);
  if (sum > amountCents)
    issues.push({
      index: null,
      field: null,
      reason: `allocations (${sum}) exceed the payment (${amountCents})`,
    });
  return {
    plan: { allocations: [...requested], unappliedCents: Math.max(0, amountCents - sum) },
    issues,
  };
}

export interface InvoiceAmounts {
  totalCents: number;
  amountPaidCents: number;
}

/** An invoice's amounts and status after `cents` more is applied to it. */
export function applyToInvoice(
  inv: InvoiceAmounts,
  cents: number,
): { amountPaidCents: number; balanceCents: number; status: 'open' | 'paid' } {
  const amountPaidCents = inv.amountPaidCents + cents;
  if (cents <= 0 || amountPaidCents > inv.totalCents)
    throw new RangeError('an allocation must be positive and within the invoice balance');
  const balanceCents = inv.totalCents - amountPaidCents;
  return { amountPaidCents, balanceCents, status: balanceCents === 0 ? 'paid' : 'open' };
}

export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';
export type InvoiceAction = 'edit' | 'issue' | 'void' | 'pay';

/** The statuses each action starts from. */
export const INVOICE_ACTIONS_FROM: Record<InvoiceAction, readonly InvoiceStatus[]> = {
  edit: ['draft'],
  issue: ['draft'],
  void: ['open', 'paid', 'uncollectible'],
  pay: ['open'],
};

/** Why `action` is not possible on an invoice now, or null when it is. */
export function invoiceRefusal(
  action: InvoiceAction,
  inv: { status: InvoiceStatus; amountPaidCents: number },
  options: { releasePayments?: boolean } = {},
): string | null {
  const from = INVOICE_ACTIONS_FROM[action];
  if (!from.includes(inv.status))
    return `A ${inv.status} invoice cannot be ${PAST[action]}; only ${from.join(' or ')} invoices can.`;
  if (action === 'void' && inv.amountPaidCents > 0 && !options.releasePayments)
    return `${inv.amountPaidCents} cents of payments are allocated to this invoice; void it with "release_payments": true to return them to the account as credit.`;
  return null;
}

const PAST: Record<InvoiceAction, string> = {
  edit: 'edited',
  issue: 'issued',
  void: 'voided',
  pay: 'paid',
};
