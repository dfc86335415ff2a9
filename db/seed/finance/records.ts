import type { Rng } from '../random.js';

/**
 * What the finance simulation produces for one account, and how its records are made:
 * invoices with their lines, payments, allocations, with ordinals running across accounts.
 */

export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';
export type PaymentMethod = 'card' | 'ach' | 'esa' | 'check' | 'cash';

export interface InvoiceLine {
  description: string;
  quantity: number;
  unit: number;
}

export interface Invoice {
  ordinal: number;
  number: string;
  studentIdx: number;
  schoolIdx: number;
  /** -1 for a draft. */
  issueDay: number;
  dueDay: number;
  status: InvoiceStatus;
  lines: InvoiceLine[];
  total: number;
  paid: number;
  createdMs: number;
  issuedMs: number | null;
  paidMs: number | null;
  voidedMs: number | null;
  updatedMs: number;
  memo: string | null;
}

export interface Payment {
  ordinal: number;
  method: PaymentMethod;
  amount: number;
  unapplied: number;
  receivedMs: number;
  reference: string | null;
  /** Ordinal of the ESA disbursement that funded it, or -1. */
  disbursement: number;
  status: 'succeeded' | 'failed';
  updatedMs: number;
}

export interface Allocation {
  ordinal: number;
  payment: number;
  invoice: number;
  amount: number;
  ms: number;
}

export interface AccountBook {
  invoices: Invoice[];
  payments: Payment[];
  allocations: Allocation[];
}

/** Running ordinals across accounts, so ids follow the order rows are written in. */
export class FinanceOrdinals {
  invoice = 0;
  payment = 0;
  allocation = 0;
}

export function sumLines(lines: InvoiceLine[]): number {
  let total = 0;
  for (const l of lines) total += l.quantity * l.unit;
  return total;
}

export function newInvoice(
  book: AccountBook,
  ord: FinanceOrdinals,
  init: Pick<
    Invoice,
    | 'number'
    | 'studentIdx'
    | 'schoolIdx'
    | 'issueDay'
    | 'dueDay'
    | 'status'
    | 'lines'
    | 'createdMs'
    | 'issuedMs'
  >,
): Invoice {
  // An explicit literal (not a spread) keeps every invoice on one hidden class.
  const invoice: Invoice = {
    ordinal: ord.invoice++,
    number: init.number,
    studentIdx: init.studentIdx,
    schoolIdx: init.schoolIdx,
    issueDay: init.issueDay,
    dueDay: init.dueDay,
    status: init.status,
    lines: init.lines,
    total: sumLines(init.lines),
    paid: 0,
    createdMs: init.createdMs,
    issuedMs: init.issuedMs,
    paidMs: null,
    voidedMs: null,
    updatedMs: init.issuedMs ?? init.createdMs,
    memo: null,
  };
  book.invoices.push(invoice);
  return invoice;
}

export function newPayment(
  book: AccountBook,
  ord: FinanceOrdinals,
  rng: Rng,
  method: PaymentMethod,
  amount: number,
  ms: number,
): Payment {
  const ordinal = ord.payment++;
  const payment: Payment = {
    ordinal,
    method,
    amount,
    unapplied: 0,
    receivedMs: ms,
    reference: referenceFor(method, rng, ordinal),
    disbursement: -1,
    status: 'succeeded',
    updatedMs: ms,
  };
  book.payments.push(payment);
  return payment;
}

export function referenceFor(method: PaymentMethod, rng: Rng, ordinal: number): string | null {
  switch (method) {
    case 'card':
      return `ch_${rng.next().toString(16).padStart(8, '0')}${(rng.next() & 0xffff).toString(16).padStart(4, '0')}`;
    case 'ach':
      return `ACH${String(rng.next() % 1_000_000_000).padStart(9, '0')}`;
    case 'check':
      return `Check #${1001 + (ordinal % 8999)}`;
    case 'cash':
      return `Receipt R-${String(ordinal + 1).padStart(7, '0')}`;
    case 'esa':
      return null;
  }
}
